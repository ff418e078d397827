/**
 * `npm run bench` (issues #4 and #15): the real stack on this machine, in one run, on SQLite, on PostgreSQL or on both.
 *
 *   node dist/scripts/bench.js [--store sqlite|postgres|both] [--records N] [--history N[,M…]] [--database-url URL]
 *                              [--observations N] [--clients N] [--json] [--keep] [--tenfold] [--all-errors]
 *                              [--timeout SECONDS]
 *
 * Per backend, in a temp directory: a private redis-server, `inflow serve --workers 0 --no-demo` (the FTPS front)
 * and `inflow worker` child processes, each one's memory sampled separately (VmRSS every 100 ms from /proc), on
 * one store: SQLite in the data directory, or a PostgreSQL database of the run's own (dropped at the end unless
 * --keep). Each stage uploads its file(s) over FTPS at once and is timed from the start of the uploads until every
 * receipt is in the account's receipts folder; each receipt must say ACCEPTED with every record accepted (the
 * --all-errors stage's: PARTIAL with every record rejected), or the bench fails (a bench of a broken pipeline is
 * worthless). The nightly stage is also run as the backend's own bulk import (bench-native.ts): the native baseline.
 * With --history, a fresh store per backend is filled with N readings through the same stack (untimed, but its
 * time is reported) before the nightly file is timed again, for each N.
 *
 * The last stage sends observations over HTTPS while a nightly-sized file is processed (bench-observations.ts).
 *
 * The stages are in bench-stages.ts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { datasetRecords, writeBatch, MAX_VEHICLES } from './bench-data';
import { nativeBaseline } from './bench-native';
import { checkServer, DEFAULT_PG_SERVER, PgAdminError, redact } from './bench-pg';
import { runObservationStage, type ObservationResult } from './bench-observations';
import { INFLOW_BIN, procStatusKb } from './bench-procs';
import { renderReport, type BackendReport, type HistoryResult } from './bench-report';
import { round1, runStage, type StageFile } from './bench-stage';
import {
  allChildren,
  BenchFailure,
  endRun,
  freshStore,
  log,
  newRun,
  restoreSnapshot,
  saveSnapshot,
  setWorkers,
  signals,
  startStack,
  type BackendName,
  type Run,
} from './bench-stack';
import { ESTABLISHMENT, historyPlan, maxObservations, stageList, type HistoryStep, type StageSpec } from './bench-stages';

// ─── Options ─────────────────────────────────────────────────────────────────────────────────────────────────

interface Options {
  records: number;
  stores: BackendName[];
  databaseUrl: string;
  history: number[];
  json: boolean;
  keep: boolean;
  tenfold: boolean;
  allErrors: boolean;
  /** The observations stage's observations (0: no such stage) and concurrent clients. */
  observations: number;
  clients: number;
  timeoutSeconds: number | null;
}

const USAGE = `usage: node dist/scripts/bench.js [--store sqlite|postgres|both] [--records N] [--history N[,M…]]
                                  [--database-url URL] [--observations N] [--clients N] [--json] [--keep] [--tenfold]
                                  [--all-errors] [--timeout SECONDS]
  --store S          sqlite (the default), postgres, or both: the same stages on SQLite, then on PostgreSQL, in one
                     table side by side (records/s, PostgreSQL/SQLite, peak RSS of the front and the workers)
  --records N        readings per nightly-sized file (N/2 vehicles × 2); a multiple of 4; default 1000000
  --history N[,M…]   after the stages, per backend: a fresh store filled with N readings (at least --records: the
                     nightly's vehicles' own two earlier readings, the rest other vehicles'), then the nightly file
                     timed onto it; then filled on up to M, and so on. The filling goes through FTPS and the pipeline
                     (2 workers), untimed; its time is printed
  --database-url URL the PostgreSQL server (and a database to connect to for admin) on which the bench makes its
                     own databases; default ${DEFAULT_PG_SERVER} (INFLOW_DATABASE_URL is not read)
  --observations N   the last stage, "observations during nightly": while a nightly-sized file (half the vehicles,
                     4 readings each) is processed, N readings of the other half's vehicles are sent one at a time
                     over HTTPS (POST /observations, then GET ?wait= until final), by --clients clients at once;
                     timed: observations/s, p50/p99 time to the final status; at most --records / 4; default 5000
                     (or --records / 4 if less); 0: no such stage
  --clients N        concurrent HTTPS clients of the observations stage, each a DMS with an account of its own (the
                     rate limit is per account); default 20
  --json             print the results as JSON instead of tables
  --keep             keep the temp directory (data dirs, files, logs) and the PostgreSQL databases; print where
  --tenfold          add two last stages: one CSV file of 10 × N readings and one XML file ten times the XML
                     stage's (memory must stay as for the smaller files)
  --all-errors       add a last stage: a file of N readings that are all rejected (E15), whose receipt lists N
                     issues (memory must stay as for the nightly file)
  --timeout SECONDS  longest wait for one stage's receipts (default 300 + 3 ms per record)`;

class UsageError extends Error {}

function parseOptions(argv: string[]): Options {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        records: { type: 'string' },
        store: { type: 'string' },
        history: { type: 'string' },
        'database-url': { type: 'string' },
        json: { type: 'boolean' },
        keep: { type: 'boolean' },
        tenfold: { type: 'boolean' },
        'all-errors': { type: 'boolean' },
        observations: { type: 'string' },
        clients: { type: 'string' },
        timeout: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (v.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const records = whole('records', v.records) ?? 1_000_000;
  if (records < 4 || records % 4 !== 0)
    throw new UsageError(`--records must be a multiple of 4 (N/2 vehicles, split in two halves), got ${records}`);
  if (records / 2 > MAX_VEHICLES) throw new UsageError(`--records is at most ${MAX_VEHICLES * 2}`);
  const stores = { sqlite: ['sqlite'], postgres: ['postgres'], both: ['sqlite', 'postgres'] }[v.store ?? 'sqlite'] as
    BackendName[] | undefined;
  if (!stores) throw new UsageError(`--store is sqlite, postgres or both, got "${v.store}"`);
  const history = v.history === undefined ? [] : v.history.split(',').map((s) => whole('history', s)!);
  for (const n of history)
    if (n < records) throw new UsageError(`--history ${n}: at least --records (${records}), the nightly's vehicles' own earlier readings`);
  const observations = whole('observations', v.observations) ?? Math.min(5_000, maxObservations(records / 2));
  if (observations > maxObservations(records / 2))
    throw new UsageError(`--observations is at most --records / 4 (${maxObservations(records / 2)}): one each for half the vehicles`);
  const clients = whole('clients', v.clients) ?? 20;
  if (clients < 1) throw new UsageError('--clients is at least 1');
  const databaseUrl = v['database-url'] ?? DEFAULT_PG_SERVER;
  if (!/^postgres(ql)?:\/\//.test(databaseUrl)) throw new UsageError(`--database-url must be postgres://… or postgresql://…`);
  return {
    records,
    stores,
    databaseUrl,
    history,
    json: !!v.json,
    keep: !!v.keep,
    tenfold: !!v.tenfold,
    allErrors: !!v['all-errors'],
    observations,
    clients,
    timeoutSeconds: whole('timeout', v.timeout),
  };
}

function whole(name: string, s: string | undefined): number | null {
  if (s === undefined) return null;
  const t = s.replace(/_/g, '').trim();
  if (!/^\d+$/.test(t)) throw new UsageError(`--${name} takes whole numbers, got "${s}"`);
  return Number(t);
}

// ─── The run ─────────────────────────────────────────────────────────────────────────────────────────────────

interface BenchFiles {
  stages: StageFile[][];
  history: { seed: StageFile[]; nightly: StageFile[] }[];
}

/** Every run started (for the cleanup on error or Ctrl-C). */
const runs: Run[] = [];
let tmpDir: string | null = null;
let keep = false;
let cleaning: Promise<void> | null = null;

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  const versions = preflight(opts);
  // The children get their store from the flags alone: an INFLOW_DATABASE_URL of the caller's must not send the
  // SQLite run's children to a PostgreSQL server.
  delete process.env.INFLOW_DATABASE_URL;
  keep = opts.keep;
  const tmp = (tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-bench-')));
  installCleanup();

  const observations = opts.observations > 0 ? { clients: opts.clients, count: opts.observations } : null;
  const stages = stageList(opts.records / 2, { tenfold: opts.tenfold, allErrors: opts.allErrors, observations });
  const plan = historyPlan(opts.history, opts.records);
  if (opts.tenfold) {
    // The children inherit these: the tenfold file is beyond the default limits (512 MiB, 5,000,000 records).
    process.env.INFLOW_MAX_FILE_BYTES = String(8 * 2 ** 30);
    process.env.INFLOW_MAX_RECORDS = String(Math.max(5_000_000, opts.records * 11));
  }
  const files = await generateFiles(tmp, stages, plan);

  const reports: BackendReport[] = [];
  for (const backend of opts.stores) reports.push(await benchBackend(backend, tmp, opts, stages, plan, files, versions[backend]!));

  if (opts.json) {
    const machine = { cpus: os.cpus().length, memoryMb: Math.round(os.totalmem() / 2 ** 20), node: process.version };
    const out = { records: opts.records, vehicles: opts.records / 2, machine, tmpDir: opts.keep ? tmp : null, backends: reports };
    process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  } else process.stdout.write(renderReport(reports, opts.records, opts.keep ? tmp : null) + '\n');
  await cleanup();
}

/** preflight checks what the chosen backends need; returns each one's version (sqlite3's, the PostgreSQL server's). */
function preflight(opts: Options): Partial<Record<BackendName, string>> {
  if (!fs.existsSync('/proc/self/status')) throw new BenchFailure('this bench reads /proc/<pid>/status: it needs Linux');
  if (!fs.existsSync(path.resolve(__dirname, '..', 'cli', 'main.js')))
    throw new BenchFailure(`dist/cli/main.js is missing (${INFLOW_BIN} needs it): run npm run build`);
  const versions: Partial<Record<BackendName, string>> = {};
  if (opts.stores.includes('sqlite')) {
    const r = spawnSync('sqlite3', ['-version'], { encoding: 'utf8' });
    if (r.status !== 0) throw new BenchFailure('the sqlite3 command-line tool is missing (Debian: apt-get install -y sqlite3)');
    versions.sqlite = 'sqlite3 ' + r.stdout.split(' ')[0];
  }
  if (opts.stores.includes('postgres')) {
    try {
      versions.postgres = checkServer(opts.databaseUrl);
    } catch (err) {
      throw new BenchFailure(`PostgreSQL at ${redact(opts.databaseUrl)}: ${(err as Error).message}`);
    }
  }
  return versions;
}

/** generateFiles writes every stage's and history step's files (and the native rows up to the last native stage), untimed. */
async function generateFiles(tmp: string, stages: StageSpec[], plan: HistoryStep[]): Promise<BenchFiles> {
  for (const d of ['files', 'native']) fs.mkdirSync(path.join(tmp, d));
  const lastNative = stages.map((s) => !!s.native).lastIndexOf(true);
  const written = new Map<string, StageFile>();
  const t0 = Date.now();
  const make = async (list: StageSpec, withNative: boolean): Promise<StageFile[]> => {
    const out: StageFile[] = [];
    for (const spec of list.files) {
      const file = path.join(tmp, 'files', `bench-${spec.dataset.name}-${datasetRecords(spec.dataset)}.${spec.format}`);
      let f = written.get(file); // a stage that uploads an earlier stage's file
      if (!f) {
        const native = withNative ? path.join(tmp, 'native', `${spec.dataset.name}.rows`) : null;
        f = { batch: await writeBatch(spec.dataset, spec.format, ESTABLISHMENT, file, native ?? undefined), native, spec };
        written.set(file, f);
      }
      out.push({ ...f, spec });
    }
    return out;
  };
  const files: BenchFiles = { stages: [], history: [] };
  for (let s = 0; s < stages.length; s++) files.stages.push(await make(stages[s], s <= lastNative));
  for (const step of plan) files.history.push({ seed: await make(step.seed, false), nightly: await make(step.nightly, false) });
  const bytes = [...written.values()].reduce((a, f) => a + f.batch.bytes, 0);
  log(`generated ${written.size} files, ${(bytes / 2 ** 20).toFixed(0)} MB, in ${((Date.now() - t0) / 1000).toFixed(1)} s (${tmp})`);
  return files;
}

/** benchBackend runs every stage, then the history steps, on one backend; stops its processes at the end. */
async function benchBackend(
  backend: BackendName,
  tmp: string,
  opts: Options,
  stages: StageSpec[],
  plan: HistoryStep[],
  files: BenchFiles,
  version: string,
): Promise<BackendReport> {
  const run = newRun(backend, tmp, opts.databaseUrl, opts.timeoutSeconds);
  runs.push(run);
  await startStack(run);
  const results: BackendReport['stages'] = [];
  let observations: ObservationResult | null = null;
  for (let s = 0; s < stages.length; s++) {
    if (stages[s].snapshot) await saveSnapshot(run, stages[s].snapshot!);
    if (stages[s].restore) await restoreSnapshot(run, stages[s].restore!);
    let r: BackendReport['stages'][number];
    if (stages[s].observations) {
      const o = await runObservationStage(run, stages[s], files.stages[s]);
      [r, observations] = [o.stage, o.observations];
      log(
        `${backend}: ${r.stage}: ${observations.observations} observations in ${observations.seconds.toFixed(2)} s = ` +
          `${observations.observationsPerSecond}/s, p50 ${observations.p50Seconds} s, p99 ${observations.p99Seconds} s`,
      );
    } else r = await runStage(run, stages[s], files.stages[s]);
    if (stages[s].native) r.native = nativeBaseline(run, files.stages, s, r.seconds);
    results.push(r);
    log(`${backend}: ${r.stage}: ${r.records} records in ${r.seconds.toFixed(2)} s = ${Math.round(r.recordsPerSecond)} records/s`);
  }
  const history = await benchHistory(run, plan, files);
  const lifetime: BackendReport['lifetime'] = {};
  for (const [name, pid] of [['redis', run.redis!.pid], ...allChildren(run).map((c) => [c.name, c.pid] as const)] as [string, number][]) {
    const hwm = procStatusKb(pid, 'VmHWM');
    lifetime[name] = { peakRssMb: round1(run.sampler.runPeakMb(name)), vmHwmMb: hwm === null ? null : round1(hwm / 1024) };
  }
  await endRun(run, opts.keep);
  if (opts.keep && run.pg) log(`${backend}: kept the databases ${[run.pg.db, ...run.pg.saved.values()].join(', ')}`);
  return { backend, version, stages: results, observations, history, lifetime };
}

/**
 * benchHistory: a fresh store, then per history size: seed it (untimed for the nightly, its own time reported),
 * save the state, time the nightly file, put the state back (so the next size adds to the history alone).
 */
async function benchHistory(run: Run, plan: HistoryStep[], files: BenchFiles): Promise<HistoryResult[]> {
  if (!plan.length) return [];
  await freshStore(run);
  await startStack(run);
  const out: HistoryResult[] = [];
  for (let i = 0; i < plan.length; i++) {
    const last = i === plan.length - 1;
    const seed = await runStage(run, plan[i].seed, files.history[i].seed); // never empty: each step adds readings
    log(`${run.backend}: history: seeded ${seed.records} readings (${plan[i].readings} stored) in ${seed.seconds.toFixed(1)} s`);
    // The nightly gets a fresh worker (its peak memory is its own, not the seeding's): saving the state restarts them.
    if (!last) await saveSnapshot(run, 'history');
    else await setWorkers(run, 0);
    const nightly = await runStage(run, plan[i].nightly, files.history[i].nightly);
    log(
      `${run.backend}: ${nightly.stage}: ${nightly.records} records in ${nightly.seconds.toFixed(2)} s = ${nightly.recordsPerSecond} records/s`,
    );
    if (!last) await restoreSnapshot(run, 'history');
    out.push({ readings: plan[i].readings, seededRecords: seed.records, seedSeconds: seed.seconds, nightly });
  }
  return out;
}

// ─── Cleanup ─────────────────────────────────────────────────────────────────────────────────────────────────

function installCleanup(): void {
  const onSignal = (sig: NodeJS.Signals, code: number) => () => {
    signals.interrupted = true;
    log(`${sig}: stopping the children…`);
    void cleanup().finally(() => process.exit(code));
  };
  process.once('SIGINT', onSignal('SIGINT', 130));
  process.once('SIGTERM', onSignal('SIGTERM', 143));
  process.once('SIGHUP', onSignal('SIGHUP', 129));
  // Last resort (an exit without cleanup): no child outlives the bench. startRedisServer does the same for Redis.
  process.on('exit', () => {
    for (const run of runs) for (const c of allChildren(run)) if (!c.exited) c.proc.kill('SIGKILL');
  });
}

/** cleanup stops every run's processes, drops its databases and removes the temp directory, unless --keep. Idempotent. */
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    for (const run of runs) await endRun(run, keep).catch((err: Error) => log(`cleanup of ${run.backend}: ${err.message}`));
    if (!tmpDir) return;
    if (keep) log(`kept ${tmpDir}`);
    else fs.rmSync(tmpDir, { recursive: true, force: true });
  })();
  return cleaning;
}

main().catch(async (err) => {
  if (signals.interrupted) return; // the signal handler stops the children and exits
  const known = err instanceof BenchFailure || err instanceof PgAdminError;
  process.stderr.write(`bench FAILED: ${known ? (err as Error).message : ((err as Error).stack ?? String(err))}\n`);
  await cleanup().catch(() => {});
  process.exit(1);
});
