/**
 * `inflow serve` as a user starts it: a real process in a fresh working directory (data in ./var), on free ports,
 * with the caller's extra arguments; its demo login, and a receipt fetched with curl as a DMS's script would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../app/redis-server';
import { curlDownload } from './ftp-clients';
import { waitFor, waitForOutput } from './wait';

const BIN = path.join(__dirname, '..', '..', 'bin', 'inflow.js');

export interface ServeProcess {
  child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  out(): string;
}

/** Where and how the demo account logs in (from ./var/demo-account.txt). */
export interface DemoAccess {
  host: string;
  port: number;
  user: string;
  password: string;
}

/**
 * spawnServe starts `inflow serve` in `cwd` with `args` and resolves once it is serving. The environment's
 * REDIS_URL, INFLOW_DATA_DIR and INFLOW_DATABASE_URL are cleared: the arguments alone decide.
 */
export async function spawnServe(cwd: string, args: string[] = []): Promise<ServeProcess> {
  const port = await freePort();
  const pasv = 20000 + Math.floor(Math.random() * 800) * 50;
  const child = spawn(process.execPath, [BIN, 'serve', ...args, '--ftp-port', String(port), '--pasv-range', `${pasv}-${pasv + 39}`], {
    cwd,
    env: { ...process.env, REDIS_URL: '', INFLOW_DATA_DIR: '', INFLOW_DATABASE_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await waitForOutput(child, () => out, 'Ctrl-C stops it.', 'serve to start', 30000);
  return { child, out: () => out };
}

/** demoAccess reads the demo login that serve wrote in `cwd`/var. */
export function demoAccess(cwd: string): DemoAccess {
  const text = fs.readFileSync(path.join(cwd, 'var', 'demo-account.txt'), 'utf8');
  const password = /password:\s+(\S+)/.exec(text)![1];
  const port = Number(/ftp:\/\/127\.0\.0\.1:(\d+)/.exec(text)![1]);
  return { host: '127.0.0.1', port, user: '2123456692', password };
}

/** curlReceipt waits until curl can download the receipt of `name` to `localFile`; returns its text. */
export async function curlReceipt(access: DemoAccess, name: string, localFile: string, timeoutMs = 30000): Promise<string> {
  let last = '';
  await waitFor(
    `the receipt of ${name}`,
    async () => {
      const r = await curlDownload({ ...access, remotePath: `/receipts/${name}.receipt.csv`, localFile });
      last = r.stderr;
      return r.code === 0;
    },
    timeoutMs,
    300,
    () => last,
  );
  return fs.readFileSync(localFile, 'utf8');
}
