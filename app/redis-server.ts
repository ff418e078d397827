/**
 * A private redis-server child process: what `inflow serve` runs when no Redis is configured, and what the tests
 * run instead of touching the machine's shared Redis. AOF is on and eviction off, as BullMQ requires.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export interface PrivateRedis {
  url: string;
  port: number;
  pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

export class RedisBinaryMissingError extends Error {
  readonly code = 'REDIS_MISSING';
  constructor() {
    super(
      'redis-server was not found on PATH. Install it (Debian/Ubuntu: `apt-get install -y redis-server`) ' +
        'or point to a running Redis with --redis-url / REDIS_URL.',
    );
  }
}

/** freePort asks the kernel for a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function redisBinaryPresent(bin: string): boolean {
  const r = spawnSync(bin, ['--version'], { stdio: 'ignore' });
  return !r.error && r.status === 0;
}

function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`redis-server exited with code ${child.exitCode}`));
      const sock = net.connect(port, '127.0.0.1');
      sock.once('connect', () => {
        sock.write('PING\r\n');
        sock.once('data', (d) => {
          sock.destroy();
          if (d.toString().startsWith('+PONG')) resolve();
          else setTimeout(attempt, 50);
        });
      });
      sock.once('error', () => {
        sock.destroy();
        if (Date.now() > deadline) reject(new Error(`redis-server did not answer on port ${port}`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

export interface StartRedisOptions {
  /** Folder for the AOF files and the log. */
  dir: string;
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** The redis-server binary. @defaultValue 'redis-server' */
  bin?: string;
  /** Kill the server when this process exits. @defaultValue true */
  killOnExit?: boolean;
}

/** startRedisServer starts a private redis-server on 127.0.0.1 and resolves once it answers PING. */
export async function startRedisServer(opts: StartRedisOptions): Promise<PrivateRedis> {
  const bin = opts.bin ?? 'redis-server';
  if (!redisBinaryPresent(bin)) throw new RedisBinaryMissingError();
  fs.mkdirSync(opts.dir, { recursive: true });
  for (let tries = 0; ; tries++) {
    const port = opts.port ?? (await freePort());
    const child = spawn(
      bin,
      // one option and its value a line
      // prettier-ignore
      [
        '--bind', '127.0.0.1',
        '--port', String(port),
        '--dir', path.resolve(opts.dir),
        '--appendonly', 'yes',
        '--appendfsync', 'everysec',
        '--save', '',
        '--maxmemory-policy', 'noeviction',
        '--logfile', path.resolve(opts.dir, 'redis.log'),
        '--daemonize', 'no',
      ],
      { stdio: 'ignore', detached: false },
    );
    const onExit = () => child.kill('SIGKILL');
    if (opts.killOnExit !== false) process.once('exit', onExit);
    try {
      await waitForPort(port, child, 10_000);
    } catch (err) {
      child.kill('SIGKILL');
      process.removeListener('exit', onExit);
      if (tries < 3 && opts.port === undefined) continue; // lost a race for the port
      throw err;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      pid: child.pid!,
      stop: () =>
        new Promise<void>((resolve) => {
          process.removeListener('exit', onExit);
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const t = setTimeout(() => child.kill('SIGKILL'), 5000);
          child.once('exit', () => {
            clearTimeout(t);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    };
  }
}
