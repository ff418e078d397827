/** Helpers for the operations tests: real `inflow` processes, the audit log, waiting for the store. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run, type ClientResult } from './ftp-clients';
import { sleep, waitForOutput } from './wait';
import { dataLayout } from '../../config/layout';
import { openStore, type Store } from '../../store';
import { AUDIT_FLUSH_EVERY_MS, type AuditLog } from '../../store/audit-log';

export { sleep, waitFor } from './wait';

export const BIN = path.join(__dirname, '..', '..', 'bin', 'inflow.js');

/** inflowSync runs the built CLI and waits for it, on no data directory or Redis from the environment. */
export function inflowSync(args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, INFLOW_DATA_DIR: '', REDIS_URL: '' },
    timeout: 30000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** inflowAsync runs the built CLI without blocking this process (its in-process workers keep running). */
export function inflowAsync(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<ClientResult> {
  return run(process.execPath, [BIN, ...args], { env: { INFLOW_DATA_DIR: '', REDIS_URL: '', ...env }, timeoutMs });
}

export interface Proc {
  child: ChildProcess;
  out(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** spawnInflow starts `inflow <args>` and resolves once its stdout contains `ready`. */
export async function spawnInflow(args: string[], env: NodeJS.ProcessEnv, ready: string | RegExp, timeoutMs = 30_000): Promise<Proc> {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await waitForOutput(child, () => out, ready, `inflow ${args[0]} to start`, timeoutMs);
  return { child, out: () => out, exited };
}

/** One audited event as the tests look at it: its details beside when, where and what. */
export type AuditEntry = { at: string; host: string; pid: number; event: string; [k: string]: unknown };

/**
 * auditEvents reads the audit trail from the store, oldest first. Every process buffers its events for up to
 * AUDIT_FLUSH_EVERY_MS: this process's buffer (a service started in the test) is flushed first, and the others'
 * are given that long to reach the store. `from` is a test service or a data directory.
 */
export async function auditEvents(from: { store: Store; audit?: AuditLog } | string): Promise<AuditEntry[]> {
  const own = typeof from === 'string' ? null : from;
  if (own?.audit) await own.audit.flush();
  await sleep(AUDIT_FLUSH_EVERY_MS + 100); // the other processes' buffers (see above)
  const store = own
    ? own.store
    : fs.existsSync(dataLayout(from as string).db)
      ? await openStore({ sqlite: dataLayout(from as string).db })
      : null;
  if (!store) return [];
  try {
    return (await store.audit.list()).map((e) => ({ ...e.fields, at: e.at, host: e.host, pid: e.pid, event: e.event }));
  } finally {
    if (!own) await store.close();
  }
}

/** The environment a CLI process needs to share a test service's data directory, Redis and queue. */
export function envFor(
  svc: { dir: string; redisUrl: string; settings: { queuePrefix: string } },
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return { INFLOW_DATA_DIR: svc.dir, REDIS_URL: svc.redisUrl, INFLOW_QUEUE_PREFIX: svc.settings.queuePrefix, ...extra };
}
