/**
 * `npm run bench` (issue #4): the real stack on this machine, in one run, against the sqlite3 command-line tool.
 *
 *   node dist/scripts/bench.js [--records N] [--json] [--keep] [--tenfold] [--all-errors] [--timeout SECONDS]
 *
 * In a temp directory: a private redis-server, `inflow serve --workers 0 --no-demo` (the FTPS front) and
 * `inflow worker` child processes, each one's memory sampled separately (VmRSS every 100 ms from /proc). Each
 * stage uploads its file(s) over FTPS at once and is timed from the start of the uploads until every receipt is
 * in the account's receipts folder; each receipt must say ACCEPTED with every record accepted (the --all-errors
 * stage's: PARTIAL with every record rejected), or the bench fails (a bench of a broken pipeline is worthless).
 * The nightly stage is also run as a plain `sqlite3 .import` into a table keyed (vin, date, odometer) WITHOUT ROWID
 * that already holds the preload: the native baseline.
 *
 * The stages are in `stageList` below.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from 'basic-ftp';
import { startRedisServer, freePort, type PrivateRedis } from '../app/redis-server';
import { dataLayout } from '../config/layout';
import { openStore, type AuditRecord } from '../store';
import { daysAgo, datasetRecords, writeBatch, MAX_VEHICLES, type BenchFormat, type Dataset, type WrittenFile } from './bench-data';
import {
  spawnInflow,
  waitForOutput,
  stopChild,
  runInflow,
  describeTail,
  procStatusKb,
  RssSampler,
  INFLOW_BIN,
  type Child,
} from './bench-procs';

/** The uploading account (the demo establishment number: 10 digits, valid mod-97 check). */
const ESTABLISHMENT = '2123456692';

// ─── Stages ──────────────────────────────────────────────────────────────────────────────────────────────────

interface FileSpec {
  dataset: Dataset;
  format: BenchFormat;
  /** What its receipt must say: every record accepted (the default), or every record rejected (PARTIAL). */
  expect?: 'accepted' | 'rejected';
}

interface StageSpec {
  name: string;
  /** `inflow worker` processes running during the stage (started or stopped before it, untimed). */
  workers: number;
  /** Uploaded at the same time, each over its own FTPS connection. */
  files: FileSpec[];
  /**
   * Also time `sqlite3 .import` of this stage's records into a table that already holds every earlier stage's
   * records (imported untimed).
   */
  native?: boolean;
  /**
   * Before the stage (untimed): stop the stack, copy its data directory aside under this name, start it again.
   * With `restore`, two stages start from the same database: a comparison of like with like.
   */
  snapshot?: string;
  /** Before the stage (untimed): stop the stack, put back the data directory saved by `snapshot`, start it again with an empty Redis. */
  restore?: string;
}

/**
 * THE STAGE LIST. N records = N/2 vehicles × 2 readings. Each vehicle's readings must keep increasing: a stage
 * that reuses vehicles takes later steps (odometer = base + step × increment, see bench-data.ts) and dates not
 * before the earlier stages'. Dates stay within 4 days (never today): no E17 (future), no W50 (late).
 * Steps used so far: 0–1 preload, 2–3 nightly, 4–5 the XML stage, 6–9 the two-file stages (both start from the
 * same snapshot and upload the same files), 10–29 the --tenfold stage, 30–49 the --tenfold XML stage. Steps from 50
 * on are free (the --all-errors stage stores nothing).
 */
function stageList(vehicles: number, tenfold: boolean, allErrors: boolean): StageSpec[] {
  const half = vehicles / 2;
  const [d4, d3, d2, d1] = [daysAgo(4), daysAgo(3), daysAgo(2), daysAgo(1)];
  // Disjoint halves of the vehicles (no two files race for a VIN), 4 later readings each on the last date.
  const pairFiles: FileSpec[] = [
    { format: 'csv', dataset: { name: 'pair-a', from: 0, to: half, dates: [d1, d1, d1, d1], firstStep: 6 } },
    { format: 'csv', dataset: { name: 'pair-b', from: half, to: vehicles, dates: [d1, d1, d1, d1], firstStep: 6 } },
  ];
  return [
    // The history the nightly file is checked against (measured too, but its records have no predecessor).
    {
      name: 'preload',
      workers: 1,
      files: [{ format: 'csv', dataset: { name: 'preload', from: 0, to: vehicles, dates: [d4, d3], firstStep: 0 } }],
    },
    // Every reading has a predecessor in the history. Compared with sqlite3.
    {
      name: 'nightly',
      workers: 1,
      native: true,
      files: [{ format: 'csv', dataset: { name: 'nightly', from: 0, to: vehicles, dates: [d2, d1], firstStep: 2 } }],
    },
    // The nightly load as XML (issue #5): a fifth of the nightly size (200,000 readings at the default --records), the
    // first fifth of the vehicles, two later readings each on the last date, onto the same history as the nightly.
    {
      name: 'nightly xml',
      workers: 1,
      files: [
        {
          format: 'xml',
          dataset: { name: 'nightly-xml', from: 0, to: Math.max(1, Math.round(vehicles / 5)), dates: [d1, d1], firstStep: 4 },
        },
      ],
    },
    // Two nightly-sized files at once: does a second `inflow worker` process raise or lower total records/s? Both
    // stages start from the same saved database and upload the same two files: the 1-worker stage is the control.
    { name: '2 files, 1 worker', workers: 1, snapshot: 'pairs', files: pairFiles },
    { name: '2 files, 2 workers', workers: 2, restore: 'pairs', files: pairFiles },
    // --tenfold: a file ten times the nightly's (every vehicle, 20 more readings on the last date): is the
    // workers' peak memory any higher? The limits of the run are raised for it (see main).
    ...(tenfold
      ? [
          {
            name: 'nightly x10',
            workers: 1,
            files: [
              {
                format: 'csv' as const,
                dataset: { name: 'tenfold', from: 0, to: vehicles, dates: Array<string>(20).fill(d1), firstStep: 10 },
              },
            ],
          },
          // And the XML stage's file ten times bigger (issue #5: peak memory no higher): its vehicles, 20 more readings.
          {
            name: 'nightly xml x10',
            workers: 1,
            files: [
              {
                format: 'xml' as const,
                dataset: {
                  name: 'tenfold-xml',
                  from: 0,
                  to: Math.max(1, Math.round(vehicles / 5)),
                  dates: Array<string>(20).fill(d1),
                  firstStep: 30,
                },
              },
            ],
          },
        ]
      : []),
    ...(allErrors ? [allErrorsStage(vehicles, d2, d1)] : []),
  ];
}

/**
 * --all-errors: a nightly-sized file whose every record is rejected (unit KMS, E15): each travels as an object and
 * gets an issue, stored and listed in the receipt (issue #13). Its worker memory is to stay as the nightly's.
 */
function allErrorsStage(vehicles: number, d2: string, d1: string): StageSpec {
  const dataset = { name: 'all-errors', from: 0, to: vehicles, dates: [d2, d1], firstStep: 50, unit: 'KMS' };
  return { name: 'all errors', workers: 1, files: [{ format: 'csv', expect: 'rejected', dataset }] };
}

// ─── Options ─────────────────────────────────────────────────────────────────────────────────────────────────

interface Options {
  records: number;
  json: boolean;
  keep: boolean;
  tenfold: boolean;
  allErrors: boolean;
  timeoutSeconds: number | null;
}

const USAGE = `usage: node dist/scripts/bench.js [--records N] [--json] [--keep] [--tenfold] [--all-errors] [--timeout SECONDS]
  --records N        readings per nightly-sized file (N/2 vehicles × 2); a multiple of 4; default 1000000
  --json             print the results as JSON instead of a table
  --keep             keep the temp directory (data dir, files, logs) and print its path
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
        json: { type: 'boolean' },
        keep: { type: 'boolean' },
        tenfold: { type: 'boolean' },
        'all-errors': { type: 'boolean' },
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
  const whole = (name: string, s: string | undefined, def: number | null): number | null => {
    if (s === undefined) return def;
    const t = s.replace(/[_,]/g, '');
    if (!/^\d+$/.test(t)) throw new UsageError(`--${name} must be a whole number, got "${s}"`);
    return Number(t);
  };
  const records = whole('records', v.records, 1_000_000)!;
  if (records < 4 || records % 4 !== 0)
    throw new UsageError(`--records must be a multiple of 4 (N/2 vehicles, split in two halves), got ${records}`);
  if (records / 2 > MAX_VEHICLES) throw new UsageError(`--records is at most ${MAX_VEHICLES * 2}`);
  return {
    records,
    json: !!v.json,
    keep: !!v.keep,
    tenfold: !!v.tenfold,
    allErrors: !!v['all-errors'],
    timeoutSeconds: whole('timeout', v.timeout, null),
  };
}

// ─── Results ─────────────────────────────────────────────────────────────────────────────────────────────────

interface NativeResult {
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** Records already in the table (imported untimed). */
  preloaded: number;
  /** native seconds / our seconds for the same records. */
  ratio: number;
}

interface StageResult {
  stage: string;
  files: number;
  workers: number;
  records: number;
  bytes: number;
  /** Start of the uploads until the last 226. */
  uploadSeconds: number;
  /** Start of the uploads until the last receipt is present. */
  seconds: number;
  recordsPerSecond: number;
  /** Peak VmRSS during the stage (sampled every 100 ms), MB. */
  serverPeakMb: number | null;
  workerPeakMb: (number | null)[];
  receipts: { file: string; status: string; records: number; accepted: number; receiptSeconds: number }[];
  native?: NativeResult;
}

// ─── The run ─────────────────────────────────────────────────────────────────────────────────────────────────

const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

interface Run {
  opts: Options;
  tmp: string;
  dataDir: string;
  password: string;
  redis: PrivateRedis | null;
  server: Child | null;
  workers: Child[];
  sampler: RssSampler;
  ftpPort: number;
  cert: string;
  /** The audit trail is read from after this time. */
  auditSince: string;
  /** Times the stack was started (each start gets a fresh Redis directory). */
  starts: number;
}

function allChildren(run: Run): Child[] {
  return [...run.workers, ...(run.server ? [run.server] : [])];
}

class BenchFailure extends Error {}

async function main(): Promise<void> {
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    process.exit(2);
  }
  preflight();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-bench-'));
  const run: Run = {
    opts,
    tmp,
    dataDir: path.join(tmp, 'data'),
    password: 'bench-' + crypto.randomBytes(12).toString('hex'),
    redis: null,
    server: null,
    workers: [],
    sampler: new RssSampler(100),
    ftpPort: 0,
    cert: '',
    auditSince: new Date().toISOString(),
    starts: 0,
  };
  for (const d of ['files', 'logs', 'native', 'snapshots']) fs.mkdirSync(path.join(tmp, d));
  installCleanup(run);

  const vehicles = opts.records / 2;
  const stages = stageList(vehicles, opts.tenfold, opts.allErrors);
  if (opts.tenfold) {
    // The children inherit these: the tenfold file is beyond the default limits (512 MiB, 5,000,000 records).
    process.env.INFLOW_MAX_FILE_BYTES = String(8 * 2 ** 30);
    process.env.INFLOW_MAX_RECORDS = String(Math.max(5_000_000, opts.records * 11));
  }
  const files = await generateFiles(run, stages);
  await startStack(run);

  const results: StageResult[] = [];
  for (let s = 0; s < stages.length; s++) {
    if (stages[s].snapshot) await saveSnapshot(run, stages[s].snapshot!);
    if (stages[s].restore) await restoreSnapshot(run, stages[s].restore!);
    const r = await runStage(run, stages[s], files[s]);
    if (stages[s].native) r.native = nativeBaseline(run, stages, files, s, r.seconds);
    results.push(r);
    log(`${r.stage}: ${r.records} records in ${r.seconds.toFixed(2)} s = ${Math.round(r.recordsPerSecond)} records/s`);
  }

  const lifetime: Record<string, { peakRssMb: number | null; vmHwmMb: number | null }> = {};
  for (const [name, pid] of [['redis', run.redis!.pid], ...allChildren(run).map((c) => [c.name, c.pid] as const)] as [string, number][]) {
    const hwm = procStatusKb(pid, 'VmHWM');
    lifetime[name] = { peakRssMb: round1(run.sampler.runPeakMb(name)), vmHwmMb: hwm === null ? null : round1(hwm / 1024) };
  }
  const report = {
    records: opts.records,
    vehicles,
    machine: { cpus: os.cpus().length, memoryMb: Math.round(os.totalmem() / 2 ** 20), node: process.version, sqlite3: sqliteVersion() },
    tmpDir: opts.keep ? tmp : null,
    stages: results,
    lifetime,
  };
  if (opts.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else process.stdout.write(renderTable(results, lifetime, opts) + '\n');
  await cleanup(run);
}

function preflight(): void {
  if (!fs.existsSync('/proc/self/status')) throw new BenchFailure('this bench reads /proc/<pid>/status: it needs Linux');
  if (!fs.existsSync(path.resolve(__dirname, '..', 'cli', 'main.js')))
    throw new BenchFailure(`dist/cli/main.js is missing (${INFLOW_BIN} needs it): run npm run build`);
  if (spawnSync('sqlite3', ['-version']).status !== 0)
    throw new BenchFailure('the sqlite3 command-line tool is missing (Debian: apt-get install -y sqlite3)');
}

function sqliteVersion(): string {
  return (spawnSync('sqlite3', ['-version'], { encoding: 'utf8' }).stdout ?? '').split(' ')[0];
}

/** generateFiles writes every stage's files (and the sqlite3 rows up to the last native stage), untimed. */
async function generateFiles(run: Run, stages: StageSpec[]): Promise<{ batch: WrittenFile; native: string | null; spec: FileSpec }[][]> {
  const lastNative = stages.map((s) => !!s.native).lastIndexOf(true);
  const out: { batch: WrittenFile; native: string | null; spec: FileSpec }[][] = [];
  const t0 = Date.now();
  for (let s = 0; s < stages.length; s++) {
    const list = [];
    for (const spec of stages[s].files) {
      const file = path.join(run.tmp, 'files', `bench-${spec.dataset.name}-${datasetRecords(spec.dataset)}.${spec.format}`);
      const native = s <= lastNative ? path.join(run.tmp, 'native', `${spec.dataset.name}.rows`) : null;
      const earlier = out.flat().find((f) => f.batch.path === file); // a stage that uploads an earlier stage's file
      const batch = earlier?.batch ?? (await writeBatch(spec.dataset, spec.format, ESTABLISHMENT, file, native ?? undefined));
      list.push({ batch, native: earlier ? earlier.native : native, spec });
    }
    out.push(list);
  }
  const unique = [...new Map(out.flat().map((f) => [f.batch.path, f.batch])).values()];
  const bytes = unique.reduce((a, f) => a + f.bytes, 0);
  log(`generated ${unique.length} files, ${(bytes / 2 ** 20).toFixed(0)} MB, in ${((Date.now() - t0) / 1000).toFixed(1)} s (${run.tmp})`);
  return out;
}

/** startStack: a fresh private Redis, the account (first start only), `inflow serve --workers 0`. Workers are started per stage. */
async function startStack(run: Run): Promise<void> {
  run.redis = await startRedisServer({ dir: path.join(run.tmp, `redis-${++run.starts}`) });
  run.sampler.watch('redis', run.redis.pid);
  if (run.starts === 1) {
    const add = runInflow(
      ['accounts', 'add', ESTABLISHMENT, '--name', 'Bench', '--password-stdin', '--data-dir', run.dataDir],
      run.password + '\n',
    );
    if (add.status !== 0) throw new BenchFailure(`inflow accounts add failed (exit ${add.status}): ${add.stderr.trim()}`);
  }

  run.ftpPort = await freePort();
  const pasvBase = 20_000 + crypto.randomInt(0, 500) * 20;
  run.server = spawnInflow(
    'server',
    [
      'serve',
      '--workers',
      '0',
      '--no-demo',
      '--data-dir',
      run.dataDir,
      '--redis-url',
      run.redis.url,
      '--ftp-port',
      String(run.ftpPort),
      '--pasv-range',
      `${pasvBase}-${pasvBase + 19}`,
    ],
    path.join(run.tmp, 'logs'),
  );
  await waitForOutput(run.server, 'odo-inflow is serving', 30_000);
  run.sampler.watch('server', run.server.pid);
  run.sampler.start();
  run.cert = fs.readFileSync(path.join(dataLayout(run.dataDir).tlsDir, 'cert.pem'), 'utf8');
  log(`redis ${run.redis.url} (pid ${run.redis.pid}), FTPS server on port ${run.ftpPort} (pid ${run.server.pid})`);
}

/** stopStack stops the workers, the server and Redis (each closes its database: the WAL is checkpointed). */
async function stopStack(run: Run): Promise<void> {
  run.sampler.stop();
  await setWorkers(run, 0);
  if (run.server) await stopChild(run.server, 15_000);
  run.server = null;
  if (run.redis) await run.redis.stop();
  run.redis = null;
}

/** saveSnapshot copies the stopped stack's data directory aside, then starts the stack again. Untimed. */
async function saveSnapshot(run: Run, name: string): Promise<void> {
  await stopStack(run);
  fs.cpSync(run.dataDir, path.join(run.tmp, 'snapshots', name), { recursive: true });
  log(`saved the data directory as snapshot "${name}"`);
  await startStack(run);
}

/** restoreSnapshot puts back a saved data directory and starts the stack on it with an empty Redis. Untimed. */
async function restoreSnapshot(run: Run, name: string): Promise<void> {
  await stopStack(run);
  fs.rmSync(run.dataDir, { recursive: true, force: true });
  fs.cpSync(path.join(run.tmp, 'snapshots', name), run.dataDir, { recursive: true });
  run.auditSince = new Date().toISOString();
  log(`restored the data directory from snapshot "${name}"`);
  await startStack(run);
}

/** setWorkers starts or stops `inflow worker` processes until `n` run. */
async function setWorkers(run: Run, n: number): Promise<void> {
  while (run.workers.length > n) await stopChild(run.workers.pop()!, 15_000);
  while (run.workers.length < n) {
    const name = `worker${run.workers.length + 1}`;
    const w = spawnInflow(name, ['worker', '--data-dir', run.dataDir, '--redis-url', run.redis!.url], path.join(run.tmp, 'logs'));
    run.workers.push(w);
    await waitForOutput(w, 'is running', 30_000);
    run.sampler.watch(name, w.pid);
    log(`${name} started (pid ${w.pid})`);
  }
}

async function connect(run: Run): Promise<Client> {
  const client = new Client(10 * 60_000);
  await client.access({
    host: '127.0.0.1',
    port: run.ftpPort,
    user: ESTABLISHMENT,
    password: run.password,
    secure: true,
    secureOptions: { ca: [run.cert], servername: 'localhost' },
  });
  return client;
}

async function runStage(run: Run, stage: StageSpec, files: { batch: WrittenFile; spec: FileSpec }[]): Promise<StageResult> {
  await setWorkers(run, stage.workers);
  const records = files.reduce((a, f) => a + f.batch.records, 0);
  const receiptsDir = dataLayout(run.dataDir).receiptsDir(ESTABLISHMENT);
  const names = files.map((f) => path.basename(f.batch.path));
  const receiptPaths = files.map((f, i) => path.join(receiptsDir, `${names[i]}.receipt.${f.spec.format === 'xml' ? 'xml' : 'csv'}`));
  const clients = await Promise.all(files.map(() => connect(run)));
  log(`${stage.name}: uploading ${files.length} file(s), ${records} records, ${stage.workers} worker(s)…`);

  run.sampler.resetPeaks();
  const t0 = performance.now();
  const failed: { error: Error | null } = { error: null };
  const uploadsDone: number[] = [];
  const uploads = Promise.all(
    files.map((f, i) =>
      clients[i].uploadFrom(f.batch.path, names[i]).then(
        () => {
          uploadsDone.push(performance.now());
          clients[i].close();
        },
        (err: Error) => {
          failed.error ??= new BenchFailure(`upload of ${names[i]} failed: ${err.message}`);
          clients[i].close();
        },
      ),
    ),
  );
  const timeoutMs = (run.opts.timeoutSeconds ?? 300 + records * 0.003) * 1000;
  const receiptAt = await waitForReceipts(run, stage, receiptPaths, t0, timeoutMs, () => failed.error);
  const t1 = Math.max(...receiptAt);
  run.sampler.sample();
  await uploads;
  if (failed.error) throw failed.error;

  const seconds = (t1 - t0) / 1000;
  const receipts = files.map((f, i) => {
    const r = checkedReceipt(run, stage, f, receiptPaths[i]);
    return {
      file: names[i],
      status: r.status,
      records: r.records,
      accepted: r.accepted,
      receiptSeconds: round2((receiptAt[i] - t0) / 1000),
    };
  });
  return {
    stage: stage.name,
    files: files.length,
    workers: stage.workers,
    records,
    bytes: files.reduce((a, f) => a + f.batch.bytes, 0),
    uploadSeconds: round2((Math.max(...uploadsDone) - t0) / 1000),
    seconds: round2(seconds),
    recordsPerSecond: Math.round(records / seconds),
    serverPeakMb: round1(run.sampler.stagePeakMb('server')),
    workerPeakMb: run.workers.map((w) => round1(run.sampler.stagePeakMb(w.name))),
    receipts,
  };
}

/** checkedReceipt reads a file's receipt and fails the bench unless it says what the file's spec expects. */
function checkedReceipt(run: Run, stage: StageSpec, f: { batch: WrittenFile; spec: FileSpec }, receiptPath: string): ParsedReceipt {
  const r = parseReceipt(receiptPath, f.spec.format);
  const rejected = f.spec.expect === 'rejected';
  const expected = { status: rejected ? 'PARTIAL' : 'ACCEPTED', accepted: rejected ? 0 : f.batch.records };
  if (r.status !== expected.status || r.records !== f.batch.records || r.accepted !== expected.accepted) {
    throw new BenchFailure(
      `stage "${stage.name}": receipt of ${path.basename(f.batch.path)} says ${r.status}, ${r.records} records, ${r.accepted} accepted; ` +
        `expected ${expected.status} with ${f.batch.records} records, ${expected.accepted} accepted.\n${r.head}\n` +
        run.workers.map((w) => describeTail(w)).join('\n'),
    );
  }
  return r;
}

/**
 * waitForReceipts polls the receipts folder on disk every 100 ms (receipts are written to a temp name and
 * renamed: present means complete). Fails at once when a child exits, an upload fails, or the audit log records
 * a file that failed for good; fails with the files' states after `timeoutMs`.
 */
async function waitForReceipts(
  run: Run,
  stage: StageSpec,
  paths: string[],
  t0: number,
  timeoutMs: number,
  uploadFailure: () => Error | null,
): Promise<number[]> {
  const at: (number | null)[] = paths.map(() => null);
  let lastAuditCheck = 0;
  for (;;) {
    if (interrupted) throw new BenchFailure('interrupted');
    const now = performance.now();
    paths.forEach((p, i) => {
      if (at[i] === null && fs.existsSync(p)) at[i] = now;
    });
    if (at.every((t) => t !== null)) return at as number[];
    const fail = (why: string) => {
      throw new BenchFailure(`stage "${stage.name}" failed after ${((now - t0) / 1000).toFixed(1)} s: ${why}\n${diagnostics(run)}`);
    };
    const up = uploadFailure();
    if (up) fail(up.message);
    for (const c of allChildren(run))
      if (c.exited) fail(`${c.name} (pid ${c.pid}) exited: code ${c.exited.code}, signal ${c.exited.signal}`);
    if (now - lastAuditCheck > 1000) {
      lastAuditCheck = now;
      const failed = await newFailures(run);
      if (failed.length) fail(`file failed for good: ${failed.map((e) => JSON.stringify(e)).join('; ')}`);
    }
    if (now - t0 > timeoutMs)
      fail(
        `no receipt for ${paths
          .filter((_, i) => at[i] === null)
          .map((p) => path.basename(p))
          .join(', ')} within ${(timeoutMs / 1000).toFixed(0)} s (--timeout)`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** newFailures: the files the audit trail says failed for good since the last call. */
async function newFailures(run: Run): Promise<AuditRecord[]> {
  const store = await openStore({ sqlite: dataLayout(run.dataDir).db });
  try {
    const events = (await store.audit.list({ since: run.auditSince, event: 'file_failed' })).filter((e) => e.at > run.auditSince);
    if (events.length) run.auditSince = events[events.length - 1].at;
    return events;
  } finally {
    await store.close();
  }
}

/** diagnostics: the files' states (via the CLI) and the last lines of every child. */
function diagnostics(run: Run): string {
  const parts: string[] = [];
  const list = runInflow(['files', 'list', '--json', '--data-dir', run.dataDir]);
  try {
    const files = JSON.parse(list.stdout) as { id: string; name: string; status: string; result: string | null; records: number | null }[];
    parts.push('--- inflow files list ---');
    for (const f of files) {
      parts.push(`${f.id} ${f.name} status=${f.status} result=${f.result ?? '-'} records=${f.records ?? '-'}`);
      if (f.status !== 'done') {
        const show = runInflow(['files', 'show', f.id, '--json', '--data-dir', run.dataDir]);
        try {
          const s = JSON.parse(show.stdout) as { attempts: number; error: string | null };
          parts.push(`  attempts=${s.attempts} error=${s.error ?? '-'}`);
        } catch {
          parts.push(`  files show: ${show.stderr.trim()}`);
        }
      }
    }
  } catch {
    parts.push(`inflow files list failed: ${list.stderr.trim()}`);
  }
  for (const c of allChildren(run)) parts.push(describeTail(c));
  return parts.join('\n');
}

interface ParsedReceipt {
  status: string;
  records: number;
  accepted: number;
  /** The first lines, for a failure message. */
  head: string;
}

/** parseReceipt reads the receipt's header (docs/receipts.md). Reads only the start: a bad receipt may be huge. */
function parseReceipt(file: string, format: BenchFormat): ParsedReceipt {
  const fd = fs.openSync(file, 'r');
  const buf = Buffer.alloc(8192);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  fs.closeSync(fd);
  const text = buf.subarray(0, n).toString('utf8');
  const head = text.split('\n').slice(0, 12).join('\n');
  if (format === 'csv') {
    const h = text.split('\n')[0].split(';');
    if (h[0] !== 'H' || h[1] !== 'INFLOW-RECEIPT') throw new BenchFailure(`${file} does not start with an INFLOW-RECEIPT header:\n${head}`);
    return { status: h[8], records: Number(h[9]), accepted: Number(h[10]), head };
  }
  // XML receipt (schemas/inflow-receipt-1.xsd): the counts are attributes of the <receipt> start tag.
  const start = /<receipt\s[^>]*>/.exec(text)?.[0];
  const attr = (name: string) => (start ? new RegExp(`\\s${name}="([^"]*)"`).exec(start)?.[1] : undefined);
  const status = attr('status');
  if (status === undefined) throw new BenchFailure(`cannot find <receipt status=…> in the XML receipt ${file}:\n${head}`);
  return { status, records: Number(attr('records')), accepted: Number(attr('accepted')), head };
}

// ─── Native baseline ─────────────────────────────────────────────────────────────────────────────────────────

function sqlite(db: string, commands: string[]): string {
  const r = spawnSync('sqlite3', ['-bail', db, ...commands], { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  if (r.status !== 0)
    throw new BenchFailure(`sqlite3 ${commands.join(' ')} failed (exit ${r.status}): ${(r.stderr || String(r.error)).slice(0, 2000)}`);
  return r.stdout;
}

const importCommands = (rows: string) => ['.mode csv', '.separator ;', `.import "${rows}" readings`];

/**
 * nativeBaseline: `sqlite3 .import` of the stage's rows into a WITHOUT ROWID table keyed (vin, date, odometer)
 * that already holds every earlier stage's rows (imported untimed). Timed: the sqlite3 process of the import.
 */
function nativeBaseline(
  run: Run,
  stages: StageSpec[],
  files: { batch: WrittenFile; native: string | null }[][],
  s: number,
  oursSeconds: number,
): NativeResult {
  const db = path.join(run.tmp, 'native', 'native.db');
  fs.rmSync(db, { force: true });
  sqlite(db, [
    'CREATE TABLE readings (ref TEXT, vin TEXT NOT NULL, plate TEXT, date TEXT NOT NULL, odometer INTEGER NOT NULL, unit TEXT, ' +
      'work TEXT, replaced TEXT, digits TEXT, corrects TEXT, PRIMARY KEY (vin, date, odometer)) WITHOUT ROWID;',
  ]);
  let preloaded = 0;
  for (let e = 0; e < s; e++) {
    for (const f of files[e]) {
      sqlite(db, importCommands(f.native!));
      preloaded += f.batch.records;
    }
  }
  const rows = files[s].map((f) => f.native!);
  const records = files[s].reduce((a, f) => a + f.batch.records, 0);
  const t0 = performance.now();
  sqlite(
    db,
    rows.flatMap((r) => importCommands(r)),
  );
  const seconds = (performance.now() - t0) / 1000;
  const count = Number(sqlite(db, ['SELECT count(*) FROM readings;']).trim());
  if (count !== preloaded + records)
    throw new BenchFailure(`native baseline: the table holds ${count} rows, expected ${preloaded + records}`);
  fs.rmSync(db, { force: true });
  log(`${stages[s].name}: sqlite3 .import of ${records} records onto ${preloaded} in ${seconds.toFixed(2)} s`);
  return {
    records,
    seconds: round2(seconds),
    recordsPerSecond: Math.round(records / seconds),
    preloaded,
    ratio: round4(seconds / oursSeconds),
  };
}

// ─── Output ──────────────────────────────────────────────────────────────────────────────────────────────────

const round1 = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
const round2 = (x: number) => Math.round(x * 100) / 100;
const round4 = (x: number) => Math.round(x * 10_000) / 10_000;
const int = (x: number) => Math.round(x).toLocaleString('en-US');
const mb = (x: number | null) => (x === null ? '-' : x.toFixed(0));

function renderTable(
  results: StageResult[],
  lifetime: Record<string, { peakRssMb: number | null; vmHwmMb: number | null }>,
  opts: Options,
): string {
  const head = ['stage', 'workers', 'records', 'upload s', 'seconds', 'records/s', 'server MB', 'worker MB', 'native/ours'];
  const rows: string[][] = [];
  for (const r of results) {
    rows.push([
      r.stage,
      String(r.workers),
      int(r.records),
      r.uploadSeconds.toFixed(2),
      r.seconds.toFixed(2),
      int(r.recordsPerSecond),
      mb(r.serverPeakMb),
      r.workerPeakMb.map(mb).join(' / '),
      r.native ? r.native.ratio.toFixed(4) : '',
    ]);
    if (r.native) {
      rows.push([
        `  sqlite3 .import (onto ${int(r.native.preloaded)})`,
        '',
        int(r.native.records),
        '',
        r.native.seconds.toFixed(2),
        int(r.native.recordsPerSecond),
        '',
        '',
        '',
      ]);
    }
  }
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i])))
      .join('  ')
      .trimEnd();
  const out = [line(head), width.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
  out.push('');
  out.push(`seconds: start of the upload(s) until the last receipt is in /receipts/ (upload s: until the last 226).`);
  out.push(`MB: peak VmRSS during the stage, sampled every 100 ms. native/ours: sqlite3 seconds / our seconds, same records.`);
  out.push(
    `lifetime VmHWM MB: ` +
      Object.entries(lifetime)
        .map(([k, v]) => `${k} ${mb(v.vmHwmMb)}`)
        .join(', '),
  );
  out.push(
    `${os.cpus().length} CPUs, node ${process.version}, sqlite3 ${sqliteVersion()}; ${int(opts.records)} records per nightly-sized file.`,
  );
  if (opts.keep) out.push(`kept: ${currentTmp}`);
  return out.join('\n');
}

// ─── Cleanup ─────────────────────────────────────────────────────────────────────────────────────────────────

let currentTmp: string | null = null;
let currentRun: Run | null = null;
let cleaning: Promise<void> | null = null;
/** Set by Ctrl-C (or SIGTERM/SIGHUP): the signal handler cleans up and exits; the run just stops. */
let interrupted = false;

function installCleanup(run: Run): void {
  currentRun = run;
  currentTmp = run.tmp;
  const onSignal = (sig: NodeJS.Signals, code: number) => () => {
    interrupted = true;
    log(`${sig}: stopping the children…`);
    void cleanup(run).finally(() => process.exit(code));
  };
  process.once('SIGINT', onSignal('SIGINT', 130));
  process.once('SIGTERM', onSignal('SIGTERM', 143));
  process.once('SIGHUP', onSignal('SIGHUP', 129));
  // Last resort (an exit without cleanup): no child outlives the bench. startRedisServer does the same for Redis.
  process.on('exit', () => {
    for (const c of allChildren(run)) if (!c.exited) c.proc.kill('SIGKILL');
  });
}

/** cleanup stops workers, then the server, then Redis; removes the temp directory unless --keep. Idempotent. */
function cleanup(run: Run): Promise<void> {
  cleaning ??= (async () => {
    run.sampler.stop();
    await Promise.all(run.workers.map((w) => stopChild(w, 5000)));
    if (run.server) await stopChild(run.server, 5000);
    if (run.redis) await run.redis.stop();
    if (run.opts.keep) log(`kept ${run.tmp}`);
    else fs.rmSync(run.tmp, { recursive: true, force: true });
  })();
  return cleaning;
}

main().catch(async (err) => {
  if (interrupted) return; // the signal handler stops the children and exits
  process.stderr.write(`bench FAILED: ${err instanceof BenchFailure ? err.message : ((err as Error).stack ?? String(err))}\n`);
  if (currentRun) await cleanup(currentRun).catch(() => {});
  process.exit(1);
});
