/**
 * Every service default in one place, with its unit and why. The CLI flags and `INFLOW_*` environment variables
 * override these keys (see README "Configuration"); nothing else in the code hard-codes them.
 */
import { parseRedisUrl, redactRedisUrl, RedisUrlError } from './redis-url';
import { isPostgresUrl, redactDatabaseUrl } from './database-url';

export interface Settings {
  /** Data directory: this host's own things (SQLite db, TLS certificate, private Redis, spool). @defaultValue './var' */
  dataDir: string;
  /**
   * Files directory: stored uploads, drop zones and receipts, which every host of a fleet must see (an NFS mount,
   * docs/deployment.md); null = the data directory.
   */
  filesDir: string | null;
  /** FTPS control address. 127.0.0.1 so a first start is not exposed; use 0.0.0.0 in production. */
  ftpHost: string;
  /** FTPS control port (explicit FTPS). 2121: no root needed. */
  ftpPort: number;
  /** Passive data port range (inclusive). Open it in the firewall with the control port. */
  pasvMin: number;
  pasvMax: number;
  /** Address announced in PASV replies; defaults to ftpHost (EPSV does not need it). */
  pasvUrl: string | null;
  /** Redis URL (redis://, rediss:// or redis+sentinel://, config/redis-url.ts); null = start a private redis-server in <dataDir>/redis. */
  redisUrl: string | null;
  /**
   * The PostgreSQL database (`postgres://user:password@host:5432/name`, docs/postgres.md); null = SQLite in the
   * data directory.
   */
  databaseUrl: string | null;
  /** In-process workers started by `serve` (0 = FTPS front only, for a fleet). */
  workers: number;
  /** Jobs one worker runs at once. Files are CPU and SQLite bound: 1 per process, scale with processes. */
  concurrency: number;
  /**
   * What a worker process runs (WORKER_JOBS, comma-separated): files (the file queue), observations (the drainer of
   * readings sent one at a time), or both. A process of its own for observations keeps them off the thread a file's
   * checks hold for a batch at a time.
   */
  workerJobs: string;
  /**
   * Files processed at once across the whole fleet. SQLite has one writer: two files writing at once only take
   * turns on the lock and empty each other's page cache (measured: half the throughput), so 1. Other worker
   * processes stand by and take over from one that dies. On PostgreSQL files are stored side by side (their
   * vehicles locked by batch), so the default is POSTGRES_GLOBAL_CONCURRENCY there.
   */
  globalConcurrency: number;
  /** TLS certificate and key (PEM); null = self-signed pair made in <dataDir>/tls on first start. */
  tlsCert: string | null;
  tlsKey: string | null;
  /** Largest accepted upload, bytes (F06 beyond). 512 MiB. */
  maxFileBytes: number;
  /** Most records in one file (F06 beyond). */
  maxRecords: number;
  /**
   * Records per write transaction: big enough for throughput, small enough to keep BullMQ's lock renewed. On
   * PostgreSQL a batch's fetched histories and pending rows are held in memory: POSTGRES_BATCH_SIZE there.
   */
  batchSize: number;
  /** Processing attempts per file before it is kept as `failed`. */
  jobAttempts: number;
  /** First retry delay, ms (exponential back-off). */
  jobBackoffMs: number;
  /** BullMQ key prefix; tests give each run its own. */
  queuePrefix: string;
  /** Seconds between reconciler passes (files received but not queued, or whose job is gone, are queued again). */
  reconcileSeconds: number;
  /**
   * How long a worker's lock on a file's job lasts, ms (BullMQ `lockDuration`; renewed every half of it). A worker
   * that dies keeps the file until the lock expires; a batch commit must take less than half of it, or a live
   * worker's file is taken over.
   */
  jobLockMs: number;
  /** How often each worker looks for jobs whose lock expired (a dead worker's), ms (BullMQ `stalledInterval`). */
  stalledIntervalMs: number;
  /** Times a file may be taken back from a dead worker before it is `failed` (BullMQ `maxStalledCount`). */
  maxStalledCount: number;
  /**
   * On SIGTERM/SIGINT: how long uploads in progress and files being processed may run on, ms. A file still being
   * processed then is handed back to the queue (another worker resumes it from its last committed batch).
   */
  shutdownGraceMs: number;
  /**
   * Brute force (docs/ftps.md): password checks that may fail within loginWindowMs for one username from IPs it has
   * not logged in from, and for one (username, IP it logged in from before), before that one is locked.
   */
  loginMaxFailures: number;
  loginWindowMs: number;
  /** How long a locked username or IP is refused, ms. */
  loginLockMs: number;
  /**
   * An FTPS control connection with no command for this long is closed, ms. The timer stands still while a
   * transfer runs (ftp-srv's own `timeout` would cut long uploads, ftp-srv #387).
   */
  ftpIdleMs: number;
  /** A transfer (upload or download) that moves no byte for this long is cut, ms. Long uploads that move are never cut. */
  transferIdleMs: number;
  /** Allowed decrease before A40/A41, km. */
  decreaseToleranceKm: number;
  /** Above this average km/day since the previous reading: A42. */
  maxKmPerDay: number;
  /**
   * Passive data ports one account may hold at once, across all its control connections (0: no limit). Each
   * control connection holds at most one (a new PASV/EPSV closes the previous); one account holding many would leave
   * the others without.
   */
  pasvPortsPerAccount: number;
  /**
   * A passive data port that no transfer uses is closed after this long, ms (0: never): one nobody connected to, one
   * whose connection did not finish its TLS handshake, or a data connection left idle.
   */
  dataIdleMs: number;
  /**
   * Control connections open at once from one IP address; one more is answered 421 and closed. Room for a fleet's
   * back office sending in parallel, not for a client that opens connections and keeps them. 0: no limit.
   */
  maxConnectionsPerIp: number;
  /** Logged-in control connections of one account at once; a login beyond it is answered 421 and closed. 0: no limit. */
  maxConnectionsPerAccount: number;
  /** A control connection not logged in this long after connecting is closed (421), ms; the TLS handshake counts. 0: none. */
  loginTimeoutMs: number;
  /** Commands a connection may send before it logs in (a client's login takes a handful); one more: 421. 0: no limit. */
  maxCommandsBeforeLogin: number;
  /** A held file (`.part`, `.tmp`, dot name) is deleted this long after its last write, ms. 24 h: a night's run. 0: never. */
  heldFileMaxAgeMs: number;
  /** Bytes of held files one account may keep (552 beyond): twice the largest upload. 0: no limit. */
  heldBytesPerAccount: number;
  /**
   * Login limits (docs/ftps.md, "Logins and lockout"). Failed logins from one IP within loginWindowMs after which
   * that IP may log in only to accounts that logged in from it before. Above loginMaxFailures: a garage chain's
   * branches behind one NAT share an address, and their mistypes must not lock each other out.
   */
  loginIpMaxFailures: number;
  /**
   * Password checks (scrypt) run at once. Each holds a thread of libuv's pool (4 threads), which file I/O shares:
   * a burst of logins must leave threads for the uploads.
   */
  loginCheckConcurrency: number;
  /** Password checks that may wait for a free slot; an attempt beyond them is refused at once (530). */
  loginCheckQueue: number;
  /**
   * How long taking a file in may wait for the database while another writer (a worker's batch) holds it, ms. The
   * FTPS front waits on timers, never blocking its sessions; past this the upload is answered 451 (send it again).
   */
  intakeDbWaitMs: number;
  /** HTTPS web services address (docs/web-services.md). 127.0.0.1 like ftpHost; use 0.0.0.0 in production. */
  httpHost: string;
  /** HTTPS web services port; 0 = any free port (the one taken is printed). */
  httpPort: number;
  /**
   * Requests one account may make per minute over HTTPS (429 beyond, with Retry-After): a DMS sending readings one
   * by one as work orders close stays far below it, a loop gone wrong does not take the service with it. 0: no limit.
   */
  httpRequestsPerMinute: number;
  /**
   * Most observations checked in one round (docs/observations.md): one store change per round, so the more come at
   * once, the fewer changes per observation; small enough that a round's change stays short beside a nightly file.
   */
  observationRoundMax: number;
  /** How often waiters for observations look whether theirs are settled, ms (one look for all of them). */
  observationPollMs: number;
  /**
   * On SQLite (one writer for all), while others want the writer (observations, uploads), how long one change of a
   * file may hold it, ms: its batches are then stored in parts of the records it stores in that time
   * (docs/observations.md). Shorter: observations wait less, the file goes slower.
   */
  writerTurnMs: number;
  /**
   * V8 old-space limit of each worker process `serve` starts, MB (`inflow worker`: NODE_OPTIONS, docs/deployment.md);
   * 0 = node's own. A batch's garbage is large and short-lived, and left alone V8 let it pile up to 360-430 MB
   * before collecting while the live data stayed under 80 MB (PostgreSQL, 24 readings a vehicle). Measured with
   * 256: every bench stage's worker at 157-284 MB on PostgreSQL (tenfold files included); 160 and 192 held too, and
   * all three cost PostgreSQL some records/s (about a tenth in one back-to-back pair of runs, within the noise in others).
   */
  workerHeapMb: number;
}

/** globalConcurrency's default on PostgreSQL: two files at once on this kind of 2-core machine. */
export const POSTGRES_GLOBAL_CONCURRENCY = 2;
/**
 * batchSize's default on PostgreSQL: a batch's fetched histories and pending rows stay in memory until it commits,
 * and the next batch is checked while it is written (docs/postgres.md). Measured on a 1,000,000-record nightly,
 * one batch at a time: 10,000 gave 17,500 records/s and a 258 MB worker, 25,000 12,700 and 369 MB. With the next
 * batch checked meanwhile, 10,000 peaked the worker at 300 and 380 MB in the bench's --tenfold stages, 5,000 at 232
 * and 276 MB.
 */
export const POSTGRES_BATCH_SIZE = 5_000;

export const DEFAULTS: Readonly<Settings> = Object.freeze({
  dataDir: './var',
  filesDir: null,
  ftpHost: '127.0.0.1',
  ftpPort: 2121,
  pasvMin: 50000,
  pasvMax: 50100,
  pasvUrl: null,
  redisUrl: null,
  databaseUrl: null,
  workers: 1,
  concurrency: 1,
  workerJobs: 'files,observations',
  globalConcurrency: 1,
  tlsCert: null,
  tlsKey: null,
  maxFileBytes: 512 * 1024 * 1024,
  maxRecords: 5_000_000,
  batchSize: 100_000,
  jobAttempts: 5,
  jobBackoffMs: 2_000,
  queuePrefix: 'inflow',
  reconcileSeconds: 30,
  jobLockMs: 30_000,
  stalledIntervalMs: 30_000,
  maxStalledCount: 2,
  shutdownGraceMs: 20_000,
  loginMaxFailures: 5,
  loginWindowMs: 15 * 60_000,
  loginLockMs: 15 * 60_000,
  ftpIdleMs: 5 * 60_000,
  transferIdleMs: 60_000,
  decreaseToleranceKm: 0,
  maxKmPerDay: 1_000,
  pasvPortsPerAccount: 4,
  dataIdleMs: 30_000,
  maxConnectionsPerIp: 20,
  maxConnectionsPerAccount: 8,
  loginTimeoutMs: 60_000,
  maxCommandsBeforeLogin: 20,
  heldFileMaxAgeMs: 24 * 3600_000,
  heldBytesPerAccount: 1024 * 1024 * 1024,
  loginIpMaxFailures: 20,
  loginCheckConcurrency: 2,
  loginCheckQueue: 32,
  intakeDbWaitMs: 15_000,
  httpHost: '127.0.0.1',
  httpPort: 8443,
  httpRequestsPerMinute: 600,
  observationRoundMax: 500,
  observationPollMs: 20,
  writerTurnMs: 250,
  workerHeapMb: 256,
});

/** Environment variable for each key: INFLOW_ + upper snake case (REDIS_URL is also read, as docs/cli.md says). */
export function envName(key: keyof Settings): string {
  return 'INFLOW_' + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

/**
 * resolveSettings lays defaults under environment values under explicit values, converting numbers and
 * failing fast with the name of a bad setting.
 */
export function resolveSettings(explicit: Partial<Settings>, env: NodeJS.ProcessEnv = process.env): Settings {
  const out: Record<string, unknown> = { ...DEFAULTS };
  const given = new Set<keyof Settings>();
  for (const key of Object.keys(DEFAULTS) as (keyof Settings)[]) {
    let raw: unknown = env[envName(key)];
    if (key === 'redisUrl' && raw === undefined) raw = env.REDIS_URL;
    if (key === 'dataDir' && raw === undefined) raw = env.INFLOW_DATA_DIR;
    if (explicit[key] !== undefined) raw = explicit[key];
    if (raw === undefined || raw === '') continue;
    given.add(key);
    const def = DEFAULTS[key];
    if (typeof def === 'number') {
      const n = typeof raw === 'number' ? raw : Number(raw);
      if (!Number.isFinite(n) || n < 0) throw new SettingError(key, raw);
      out[key] = n;
    } else {
      out[key] = String(raw);
    }
  }
  const s = out as unknown as Settings;
  workerJobsOf(s);
  if (s.pasvMin > s.pasvMax) throw new SettingError('pasvMin', `${s.pasvMin} > pasvMax ${s.pasvMax}`);
  if (s.loginCheckConcurrency < 1) throw new SettingError('loginCheckConcurrency', `${s.loginCheckConcurrency}: at least 1`);
  if ((s.tlsCert === null) !== (s.tlsKey === null)) throw new SettingError('tlsCert', 'give both --tls-cert and --tls-key');
  if (s.redisUrl !== null) checkRedisUrl(s.redisUrl);
  if (s.databaseUrl !== null && !isPostgresUrl(s.databaseUrl))
    throw new SettingError('databaseUrl', `${redactDatabaseUrl(s.databaseUrl)}: must start with postgres:// or postgresql://`);
  if (s.databaseUrl !== null && !given.has('globalConcurrency')) s.globalConcurrency = POSTGRES_GLOBAL_CONCURRENCY;
  if (s.databaseUrl !== null && !given.has('batchSize')) s.batchSize = POSTGRES_BATCH_SIZE;
  return s;
}

/** What a worker process may run (Settings.workerJobs). */
export const WORKER_JOBS = ['files', 'observations'] as const;

/** workerJobsOf reads settings.workerJobs: which of WORKER_JOBS this worker process runs (at least one). */
export function workerJobsOf(s: Pick<Settings, 'workerJobs'>): { files: boolean; observations: boolean } {
  const named = s.workerJobs.split(',').map((j) => j.trim());
  const unknown = named.filter((j) => !(WORKER_JOBS as readonly string[]).includes(j));
  if (unknown.length > 0 || named.length === 0)
    throw new SettingError('workerJobs', `${s.workerJobs}: a comma-separated list of ${WORKER_JOBS.join(', ')}`);
  return { files: named.includes('files'), observations: named.includes('observations') };
}

/** checkRedisUrl fails on a malformed Redis URL, quoting it without its passwords. */
function checkRedisUrl(url: string): void {
  try {
    parseRedisUrl(url);
  } catch (err) {
    if (err instanceof RedisUrlError) throw new SettingError('redisUrl', `${redactRedisUrl(url)}: ${err.reason}`);
    throw err;
  }
}

/** A setting that cannot be used; names the setting and its environment variable. */
export class SettingError extends Error {
  readonly code = 'BAD_SETTING';
  constructor(key: keyof Settings, value: unknown) {
    super(`invalid setting ${key} (${envName(key)}): ${String(value)}`);
  }
}
