/**
 * The stack one backend's stages run on: a private Redis, `inflow serve --workers 0` (the FTPS front) and
 * `inflow worker` processes, all on one store (SQLite in the data directory, or a PostgreSQL database of the run's
 * own). Saving and putting back a state (untimed): the data directory is copied; on PostgreSQL the database too,
 * with `CREATE DATABASE … TEMPLATE …` while the stack is stopped.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'basic-ftp';
import { startRedisServer, freePort, type PrivateRedis } from '../app/redis-server';
import { DEFAULTS } from '../config/defaults';
import { dataLayout } from '../config/layout';
import { workerExecArgv } from '../jobs/worker-processes';
import { spawnInflow, waitForOutput, stopChild, runInflow, RssSampler, type Child } from './bench-procs';
import { benchDatabaseName, createDatabase, dropDatabase, withDatabase } from './bench-pg';
import { ESTABLISHMENT } from './bench-stages';

export type BackendName = 'sqlite' | 'postgres';
export const BACKEND_LABEL: Record<BackendName, string> = { sqlite: 'SQLite', postgres: 'PostgreSQL' };

export class BenchFailure extends Error {}

export const log = (msg: string) => process.stderr.write(`bench: ${msg}\n`);

/** Set by Ctrl-C (or SIGTERM/SIGHUP): the signal handler cleans up and exits; a stage waiting for receipts just stops. */
export const signals = { interrupted: false };

/** One backend's run: its directory under the bench's temp directory, its store, its processes. */
export interface Run {
  backend: BackendName;
  /** tmp/<backend>: data directory, logs, saved states. */
  dir: string;
  dataDir: string;
  password: string;
  /** PostgreSQL: the server URL (its admin database) and the names of the run's databases; null on SQLite. */
  pg: { server: string; db: string; saved: Map<string, string> } | null;
  timeoutSeconds: number | null;
  redis: PrivateRedis | null;
  server: Child | null;
  workers: Child[];
  sampler: RssSampler;
  ftpPort: number;
  /** The web services' port (`--http-port 0`: the one `serve` printed). */
  httpPort: number;
  cert: string;
  /** Whether the account exists in the current store. */
  accountMade: boolean;
  /** Redis directories used (each start gets a fresh one). */
  redisStarts: number;
}

export function newRun(backend: BackendName, tmp: string, pgServer: string, timeoutSeconds: number | null): Run {
  const dir = path.join(tmp, backend);
  for (const d of ['logs', 'snapshots']) fs.mkdirSync(path.join(dir, d), { recursive: true });
  const pg = backend === 'postgres' ? { server: pgServer, db: benchDatabaseName(), saved: new Map<string, string>() } : null;
  if (pg) createDatabase(pg.server, pg.db);
  return {
    backend,
    dir,
    dataDir: path.join(dir, 'data'),
    password: 'bench-' + crypto.randomBytes(12).toString('hex'),
    pg,
    timeoutSeconds,
    redis: null,
    server: null,
    workers: [],
    sampler: new RssSampler(100),
    ftpPort: 0,
    httpPort: 0,
    cert: '',
    accountMade: false,
    redisStarts: 0,
  };
}

/** The run's database URL (PostgreSQL), or null (SQLite in the data directory). */
export function databaseUrl(run: Run): string | null {
  return run.pg ? withDatabase(run.pg.server, run.pg.db) : null;
}

/** The flags every `inflow` command of this run takes to open its store. */
export function storeArgs(run: Run): string[] {
  const url = databaseUrl(run);
  return ['--data-dir', run.dataDir, ...(url ? ['--database-url', url] : [])];
}

export function allChildren(run: Run): Child[] {
  return [...run.workers, ...(run.server ? [run.server] : [])];
}

/** startStack: a fresh private Redis, the account (once per store), `inflow serve --workers 0`. Workers are started per stage. */
export async function startStack(run: Run): Promise<void> {
  run.redis = await startRedisServer({ dir: path.join(run.dir, `redis-${++run.redisStarts}`) });
  run.sampler.watch('redis', run.redis.pid);
  if (!run.accountMade) {
    addAccount(run, ESTABLISHMENT, 'Bench');
    run.accountMade = true;
  }
  run.ftpPort = await freePort();
  const pasvBase = 20_000 + crypto.randomInt(0, 500) * 20;
  const args = ['serve', '--workers', '0', '--no-demo', ...storeArgs(run), '--redis-url', run.redis.url];
  args.push('--ftp-port', String(run.ftpPort), '--pasv-range', `${pasvBase}-${pasvBase + 19}`, '--http-port', '0');
  run.server = spawnInflow('server', args, path.join(run.dir, 'logs'));
  await waitForOutput(run.server, 'odo-inflow is serving', 60_000);
  await waitForOutput(run.server, '  HTTPS:', 5_000);
  run.httpPort = servedHttpPort(run.server);
  run.sampler.watch('server', run.server.pid);
  run.sampler.start();
  run.cert = fs.readFileSync(path.join(dataLayout(run.dataDir).tlsDir, 'cert.pem'), 'utf8');
  log(
    `${run.backend}: redis ${run.redis.url} (pid ${run.redis.pid}), FTPS on port ${run.ftpPort}, HTTPS on port ${run.httpPort} (server pid ${run.server.pid})`,
  );
}

/** servedHttpPort reads the port from the line `serve` prints: `  HTTPS:    https://127.0.0.1:PORT/api/v1 …`. */
function servedHttpPort(server: Child): number {
  const line = server.tail.find((l) => l.includes('  HTTPS:'));
  const m = line && /https:\/\/[^\s/]+:(\d+)\//.exec(line);
  if (!m) throw new BenchFailure(`cannot read the HTTPS port from the server's output: ${line ?? '(no HTTPS line)'}`);
  return Number(m[1]);
}

/** addAccount adds a garage account with the run's password to the current store (`inflow accounts add`). */
export function addAccount(run: Run, establishment: string, name: string): void {
  const add = runInflow(['accounts', 'add', establishment, '--name', name, '--password-stdin', ...storeArgs(run)], run.password + '\n');
  if (add.status !== 0) throw new BenchFailure(`inflow accounts add ${establishment} failed (exit ${add.status}): ${add.stderr.trim()}`);
}

/** stopStack stops the workers, the server and Redis (each closes its store: SQLite's WAL is checkpointed, PostgreSQL's sessions end). */
export async function stopStack(run: Run): Promise<void> {
  run.sampler.stop();
  await setWorkers(run, 0);
  if (run.server) await stopChild(run.server, 15_000);
  run.server = null;
  if (run.redis) await run.redis.stop();
  run.redis = null;
}

/** saveSnapshot saves the stopped stack's state under `name`, then starts the stack again. Untimed. */
export async function saveSnapshot(run: Run, name: string): Promise<void> {
  await stopStack(run);
  const dest = path.join(run.dir, 'snapshots', name);
  fs.rmSync(dest, { recursive: true, force: true });
  fs.cpSync(run.dataDir, dest, { recursive: true });
  if (run.pg) {
    const copy = run.pg.saved.get(name) ?? `${run.pg.db}_${name.replace(/[^a-z0-9]/g, '')}`;
    dropDatabase(run.pg.server, copy);
    createDatabase(run.pg.server, copy, run.pg.db);
    run.pg.saved.set(name, copy);
  }
  log(`${run.backend}: saved the state as "${name}"`);
  await startStack(run);
}

/** restoreSnapshot puts back a saved state and starts the stack on it with an empty Redis. Untimed. */
export async function restoreSnapshot(run: Run, name: string): Promise<void> {
  await stopStack(run);
  fs.rmSync(run.dataDir, { recursive: true, force: true });
  fs.cpSync(path.join(run.dir, 'snapshots', name), run.dataDir, { recursive: true });
  if (run.pg) {
    dropDatabase(run.pg.server, run.pg.db);
    createDatabase(run.pg.server, run.pg.db, run.pg.saved.get(name));
  }
  log(`${run.backend}: put back the state "${name}"`);
  await startStack(run);
}

/** freshStore stops the stack and empties the store (a new data directory; on PostgreSQL a new database). */
export async function freshStore(run: Run): Promise<void> {
  await stopStack(run);
  fs.rmSync(run.dataDir, { recursive: true, force: true });
  if (run.pg) {
    dropDatabase(run.pg.server, run.pg.db);
    createDatabase(run.pg.server, run.pg.db);
  }
  run.accountMade = false;
}

/**
 * setWorkers starts or stops `inflow worker` processes until `n` run; those it starts get `jobs[i]` as `--jobs`
 * (none: the default, files and observations).
 */
export async function setWorkers(run: Run, n: number, jobs: readonly string[] = []): Promise<void> {
  while (run.workers.length > n) await stopChild(run.workers.pop()!, 15_000);
  while (run.workers.length < n) {
    const name = `worker${run.workers.length + 1}`;
    const only = jobs[run.workers.length];
    const args = ['worker', ...storeArgs(run), '--redis-url', run.redis!.url, ...(only ? ['--jobs', only] : [])];
    // Started as docs/deployment.md says to start `inflow worker`: with the heap limit serve gives its own.
    const w = spawnInflow(name, args, path.join(run.dir, 'logs'), workerExecArgv(DEFAULTS, []));
    run.workers.push(w);
    await waitForOutput(w, 'is running', 60_000);
    run.sampler.watch(name, w.pid);
    log(`${run.backend}: ${name} started (pid ${w.pid})`);
  }
}

export async function connect(run: Run): Promise<Client> {
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

/** endRun stops the run's processes and, unless `keep`, drops its databases. Idempotent. */
export async function endRun(run: Run, keep: boolean): Promise<void> {
  await stopStack(run);
  if (run.pg && !keep) {
    for (const db of [run.pg.db, ...run.pg.saved.values()]) dropDatabase(run.pg.server, db);
    run.pg.saved.clear();
  }
}
