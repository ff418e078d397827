/**
 * The whole service as `inflow serve` runs it: data directory, SQLite, Redis (given or private), TLS, the FTPS
 * front, the HTTPS web services, N worker processes and the reconciler. Tests start it the same way.
 *
 * This process serves the FTPS sessions, so nothing in it may stall its event loop: the workers run in processes of
 * their own (jobs/worker-processes.ts), and its store waits for their write transactions on timers
 * (`intakeDbWaitMs`), never inside a call.
 *
 * stop() is the graceful shutdown (SIGTERM/SIGINT): the FTPS front stops listening and refuses new logins and
 * uploads, uploads in progress may finish (`shutdownGraceMs`); the reconciler stops; workers stop taking jobs and
 * finish the current file or hand it back to the queue; then Redis connections, SQLite and the private Redis close.
 */
import fs from 'node:fs';
import type { Settings } from '../config/defaults';
import { layoutOf, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, type DataLayout } from '../config/layout';
import { openStore, type Store } from '../store';
import { AuditLog } from '../store/audit-log';
import { startRedisServer, type PrivateRedis } from './redis-server';
import { openFileQueue, type FileQueue } from '../jobs/queue';
import { startWorkerProcesses, type WorkerProcesses } from '../jobs/worker-processes';
import { startReconciler } from '../jobs/reconciler';
import { loadOrCreateTls } from './tls-cert';
import { Intake } from '../intake/intake';
import { startOrphanSweep } from '../intake/stored-orphans';
import { startFtpsServer, type FtpsServer } from '../ftps/ftps-server';
import { createDemoAccount, type DemoLogin } from './demo-account';
import { LoginGuard, loginGuardOptions, type LoginGuardOptions } from '../intake/login-guard';
import { PasswordChecks } from '../intake/passwords';
import { startHttpServer, type HttpServer } from '../http/http-server';
import { ObservationDesk } from '../intake/observation-desk';
import { openDrainQueue } from '../jobs/observation-drain';

export interface ServiceOptions {
  settings: Settings;
  /** Make the demo account when the database has no account yet. */
  demo: boolean;
  /** Overrides the lockout settings (settings.loginMaxFailures, loginIpMaxFailures, loginWindowMs, loginLockMs). */
  loginGuard?: LoginGuardOptions;
  /** Start the HTTPS web services (default true; `serve --no-http`). */
  http?: boolean;
}

export interface Service {
  settings: Settings;
  layout: DataLayout;
  store: Store;
  /** This process's audit trail (buffered: flush() waits until its events are in the store). */
  audit: AuditLog;
  redisUrl: string;
  ftpPort: number;
  /** The HTTPS web services' port; null when they are off. */
  httpPort: number | null;
  tlsCert: string;
  demo: DemoLogin | null;
  queue: FileQueue;
  /** Readings sent one at a time (docs/observations.md): what the web services' observation routes call. */
  observations: ObservationDesk;
  workers: WorkerProcesses;
  /** stop shuts down gracefully; graceMs overrides settings.shutdownGraceMs. */
  stop(graceMs?: number): Promise<void>;
}

/** startService starts everything and resolves when the FTPS port is listening. */
export async function startService(opts: ServiceOptions): Promise<Service> {
  const { settings } = opts;
  const layout = layoutOf(settings);
  fs.mkdirSync(layout.root, { recursive: true, mode: PRIVATE_DIR_MODE });
  fs.mkdirSync(layout.filesRoot, { recursive: true, mode: PRIVATE_DIR_MODE });
  const store = await openStore({
    sqlite: layout.db,
    databaseUrl: settings.databaseUrl,
    durable: true,
    lockWaitMs: settings.intakeDbWaitMs,
    watchAccounts: true,
  });
  if (!settings.databaseUrl) fs.chmodSync(layout.db, 0o600); // password hashes live here
  const audit = new AuditLog(store.audit);

  let privateRedis: PrivateRedis | null = null;
  let redisUrl = settings.redisUrl;
  if (!redisUrl) {
    privateRedis = await startRedisServer({ dir: layout.redisDir });
    redisUrl = privateRedis.url;
    fs.rmSync(layout.redisUrlFile, { force: true }); // one a crash left: mode 600 applies to a new file only
    fs.writeFileSync(layout.redisUrlFile, redisUrl + '\n', { mode: PRIVATE_FILE_MODE }); // holds the password
  }
  const tls = await loadOrCreateTls(layout.tlsDir, settings.tlsCert, settings.tlsKey, [settings.ftpHost, settings.pasvUrl ?? '']);
  const queue = openFileQueue(redisUrl, settings);
  const intake = new Intake({ store, queue, layout, settings, audit });
  const orphans = startOrphanSweep({ store, layout, settings, audit });
  // One lockout and one set of password-check slots for both front ends: a failure over HTTPS counts for FTPS too.
  const guard = new LoginGuard(opts.loginGuard ?? loginGuardOptions(settings));
  const checks = new PasswordChecks({ concurrency: settings.loginCheckConcurrency, queue: settings.loginCheckQueue });
  const ftps: FtpsServer = await startFtpsServer({ settings, layout, store, intake, audit, tls, guard, checks });
  const drain = openDrainQueue(redisUrl, settings);
  const observations = new ObservationDesk({ store, drain, settings });
  const http: HttpServer | null =
    opts.http === false ? null : await startHttpServer({ settings, layout, store, intake, audit, guard, checks, observations }, tls);
  const workers = await startWorkerProcesses(settings.workers, redisUrl, settings);
  const reconciler = startReconciler(store, queue, settings, audit, drain);
  audit.write('service', {
    action: 'start',
    pid: process.pid,
    ftpPort: ftps.port,
    httpPort: http?.port ?? null,
    workers: settings.workers,
  });

  let demo: DemoLogin | null = null;
  if (opts.demo && (await store.accounts.count()) === 0) {
    demo = await createDemoAccount(store, layout.demoAccountFile, { host: settings.ftpHost, port: ftps.port });
  }

  let stopped = false;
  return {
    settings,
    layout,
    store,
    audit,
    redisUrl,
    ftpPort: ftps.port,
    httpPort: http?.port ?? null,
    tlsCert: tls.cert,
    demo,
    queue,
    observations,
    workers,
    stop: async (graceMs = settings.shutdownGraceMs) => {
      if (stopped) return;
      stopped = true;
      const started = Date.now();
      await Promise.all([ftps.drain(graceMs).catch(() => {}), http?.close(graceMs).catch(() => {})]);
      await ftps.close().catch(() => {});
      await reconciler.stop();
      await orphans.stop();
      const left = Math.max(0, graceMs - (Date.now() - started));
      observations.close();
      await workers.close(left).catch(() => {});
      await queue.close();
      await drain.close();
      audit.write('service', { action: 'stop', pid: process.pid });
      await audit.close();
      await store.close();
      if (privateRedis) {
        await privateRedis.stop();
        fs.rmSync(layout.redisUrlFile, { force: true });
      }
    },
  };
}
