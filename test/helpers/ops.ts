/** Helpers for the operations tests: real `inflow` processes, the audit log, waiting for the store. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { run, type ClientResult } from './ftp-clients';
import { waitForOutput } from './wait';

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

/** auditEvents reads the audit log (JSON lines). */
export function auditEvents(file: string): { ts: string; event: string; [k: string]: unknown }[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));
}

/** The environment a CLI process needs to share a test service's data directory, Redis and queue. */
export function envFor(
  svc: { dir: string; redisUrl: string; settings: { queuePrefix: string } },
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return { INFLOW_DATA_DIR: svc.dir, REDIS_URL: svc.redisUrl, INFLOW_QUEUE_PREFIX: svc.settings.queuePrefix, ...extra };
}
