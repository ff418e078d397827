/**
 * A private redis-server child process: what `inflow serve` runs when no Redis is configured, and what the tests
 * run instead of touching the machine's shared Redis. AOF is on and eviction off, as BullMQ requires.
 *
 * Any local user can reach 127.0.0.1, so the server asks for a password: generated on the first start in its folder,
 * kept in its configuration file there (mode 600, never on a command line, which `ps` shows to everyone) and reused
 * when the same folder is started again. The server runs with umask 077: its AOF, RDB and log are private too.
 */
import { spawn, spawnSync, ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../config/layout';

export interface PrivateRedis {
  /** `redis://:<password>@127.0.0.1:<port>`. */
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

/** waitForPort resolves once the server on `port` accepts the password and answers PING. */
function waitForPort(port: number, password: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const again = () => {
      if (Date.now() > deadline) reject(new Error(`redis-server did not answer on port ${port}`));
      else setTimeout(attempt, 50);
    };
    const attempt = () => {
      if (child.exitCode !== null) return reject(new Error(`redis-server exited with code ${child.exitCode}`));
      const sock = net.connect(port, '127.0.0.1');
      let answer = '';
      sock.once('connect', () => sock.write(`AUTH ${password}\r\nPING\r\n`));
      sock.on('data', (d) => {
        answer += d.toString();
        if (answer.includes('+PONG')) {
          sock.destroy();
          resolve();
        } else if (answer.startsWith('-') || answer.split('\r\n').length > 2) {
          sock.destroy(); // still loading its AOF (or another server took the port): look again
          again();
        }
      });
      sock.once('error', () => {
        sock.destroy();
        again();
      });
    };
    attempt();
  });
}

/** The password in the folder's configuration from an earlier start, else a new one (hex: safe in a URL). */
function passwordFor(confFile: string): string {
  const earlier = fs.existsSync(confFile) ? /^requirepass "([0-9a-f]+)"$/m.exec(fs.readFileSync(confFile, 'utf8')) : null;
  return earlier ? earlier[1] : crypto.randomBytes(24).toString('hex');
}

/** writeConfig writes the server's configuration, password included, mode 600 from its creation. */
function writeConfig(confFile: string, dir: string, port: number, password: string): void {
  const q = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  // one option and its value a line
  // prettier-ignore
  const lines = [
    `bind 127.0.0.1`,
    `port ${port}`,
    `dir ${q(path.resolve(dir))}`,
    `appendonly yes`,
    `appendfsync everysec`,
    `save ""`,
    `maxmemory-policy noeviction`,
    `logfile ${q(path.resolve(dir, 'redis.log'))}`,
    `daemonize no`,
    `requirepass ${q(password)}`,
  ];
  const tmp = `${confFile}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, lines.join('\n') + '\n', { mode: PRIVATE_FILE_MODE });
  fs.renameSync(tmp, confFile);
}

export interface StartRedisOptions {
  /** Folder for the configuration (with the password), the AOF files and the log. */
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
  fs.mkdirSync(opts.dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const confFile = path.join(opts.dir, 'redis.conf');
  const password = passwordFor(confFile);
  for (let tries = 0; ; tries++) {
    const port = opts.port ?? (await freePort());
    writeConfig(confFile, opts.dir, port, password);
    // umask 077 before exec: every file the server makes (AOF, RDB, log) is private from its creation.
    const child = spawn('sh', ['-c', 'umask 077 && exec "$0" "$@"', bin, confFile], { stdio: 'ignore', detached: false });
    child.once('error', () => {}); // no shell: waitForPort times out and says so
    const onExit = () => child.kill('SIGKILL');
    if (opts.killOnExit !== false) process.once('exit', onExit);
    try {
      await waitForPort(port, password, child, 10_000);
    } catch (err) {
      child.kill('SIGKILL');
      process.removeListener('exit', onExit);
      if (tries < 3 && opts.port === undefined) continue; // lost a race for the port
      throw err;
    }
    return {
      url: `redis://:${password}@127.0.0.1:${port}`,
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
