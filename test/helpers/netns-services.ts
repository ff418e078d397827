/**
 * The database host of a test network (test/helpers/netns.ts): a PostgreSQL cluster of its own (initdb + pg_ctl, as
 * the `postgres` user: initdb refuses root) and a redis-server with a password, both listening only on the host's
 * address on that network, their data in a temp directory.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { runTempDir, type Host, type TestNet } from './netns';
import { waitFor } from './wait';

export interface NetService {
  url: string;
  stop(): Promise<void>;
}

/** The PostgreSQL 15 binaries: on PATH on this kind of machine, else where Debian's packages put them. */
function pgBin(name: string): string {
  const onPath = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
  if (onPath) return onPath;
  const debian = `/usr/lib/postgresql/15/bin/${name}`;
  if (fs.existsSync(debian)) return debian;
  throw new Error(`${name} not found: install PostgreSQL (initdb, pg_ctl) or put its bin/ on PATH`);
}

/** listening resolves once a TCP connection to host:port from the root namespace succeeds. */
async function listening(what: string, host: string, port: number): Promise<void> {
  const tryOnce = () =>
    new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
  await waitFor(`${what} on ${host}:${port}`, tryOnce, 20_000, 100);
}

/**
 * startPostgres makes and starts a cluster in `host`'s namespace, trusting every address of the test network and
 * nothing else; `url` names its `postgres` database as user `postgres`.
 */
export async function startPostgres(tn: TestNet, host: Host): Promise<NetService> {
  const dir = runTempDir('pg');
  const data = path.join(dir, 'data');
  fs.chownSync(dir, uidOf('postgres'), gidOf('postgres'));
  const asPostgres = (args: string[]) => tn.runIn(host, 'runuser', ['-u', 'postgres', '--', ...args]);
  asPostgres([pgBin('initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  fs.appendFileSync(path.join(data, 'pg_hba.conf'), `host all postgres ${tn.subnet} trust\n`);
  // A throwaway cluster: durability off for speed; its own socket directory (the machine's cluster has the default one).
  const opts = [
    `-c listen_addresses=${host.ip}`,
    '-c port=5432',
    `-c unix_socket_directories=${dir}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
  ].join(' ');
  asPostgres([pgBin('pg_ctl'), '-D', data, '-l', path.join(dir, 'log'), '-o', opts, '-w', '-t', '30', 'start']);
  await listening('PostgreSQL', host.ip, 5432);
  return {
    url: `postgres://postgres@${host.ip}:5432/postgres`,
    stop: async () => {
      try {
        asPostgres([pgBin('pg_ctl'), '-D', data, '-m', 'immediate', 'stop']);
      } catch {
        // already gone (the host's processes are killed with its namespace anyway)
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** startRedis starts a redis-server in `host`'s namespace on its address, with a random password, no persistence. */
export async function startRedis(tn: TestNet, host: Host): Promise<NetService> {
  const dir = runTempDir('redis');
  const password = crypto.randomBytes(12).toString('hex');
  const port = 6390;
  // prettier-ignore
  const child = tn.spawnIn(host, 'redis-server', [
    '--bind', host.ip, '--port', String(port), '--requirepass', password, '--dir', dir,
    '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
  ], { stdio: 'ignore' });
  child.once('error', () => {});
  await listening('redis-server', host.ip, port);
  return {
    url: `redis://:${password}@${host.ip}:${port}`,
    stop: async () => {
      child.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function uidOf(user: string): number {
  return Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim());
}

function gidOf(user: string): number {
  return Number(spawnSync('id', ['-g', user], { encoding: 'utf8' }).stdout.trim());
}
