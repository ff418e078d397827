/** A private Redis Sentinel set for tests: a master, a replica and two sentinels, on free ports in a temp folder. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { freePort, startRedisServer, type PrivateRedis } from '../../app/redis-server';
import { waitFor } from './wait';

export const MASTER_NAME = 'mymaster';

export interface SentinelSet {
  /** `redis+sentinel://:<password>@127.0.0.1:<p1>,127.0.0.1:<p2>/mymaster` */
  url: string;
  password: string;
  /** The port of the server the sentinels call master now. */
  masterPort(): Promise<number>;
  /** failover has the sentinels promote the replica and resolves once they name the new master. */
  failover(): Promise<number>;
  stop(): Promise<void>;
}

function spawnRedis(args: string[]): ChildProcess {
  const child = spawn('redis-server', args, { stdio: 'ignore' });
  child.once('error', () => {});
  process.once('exit', () => child.kill('SIGKILL'));
  return child;
}

async function answers(port: number, password?: string): Promise<IORedis> {
  const conn = new IORedis({ port, host: '127.0.0.1', password, lazyConnect: true, retryStrategy: () => null });
  conn.on('error', () => {});
  await waitFor(
    `redis on port ${port}`,
    async () =>
      conn.connect().then(
        () => true,
        () => false,
      ),
    10_000,
    100,
  );
  return conn;
}

/** startSentinelSet starts the set and resolves once the sentinels see the replica in sync. */
export async function startSentinelSet(): Promise<SentinelSet> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-sentinel-'));
  const master: PrivateRedis = await startRedisServer({ dir: path.join(dir, 'master') });
  const password = new URL(master.url).password;
  const admin = await answers(master.port, password);
  await admin.config('SET', 'masterauth', password); // for when it comes back as the new master's replica
  admin.disconnect();

  const replicaPort = await freePort();
  fs.mkdirSync(path.join(dir, 'replica'));
  // prettier-ignore
  const children = [spawnRedis([
    '--bind', '127.0.0.1', '--port', String(replicaPort), '--dir', path.join(dir, 'replica'), '--save', '',
    '--appendonly', 'yes', '--requirepass', password, '--masterauth', password,
    '--replicaof', '127.0.0.1', String(master.port),
  ])];
  const sentinelPorts = [await freePort(), await freePort()];
  for (const [i, port] of sentinelPorts.entries()) {
    const conf = path.join(dir, `sentinel-${i}.conf`);
    // prettier-ignore
    fs.writeFileSync(conf, [
      `bind 127.0.0.1`, `port ${port}`, `dir "${dir}"`,
      `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${master.port} 1`,
      `sentinel auth-pass ${MASTER_NAME} ${password}`,
      `sentinel down-after-milliseconds ${MASTER_NAME} 1000`,
      `sentinel failover-timeout ${MASTER_NAME} 5000`,
    ].join('\n') + '\n');
    children.push(spawnRedis([conf, '--sentinel']));
  }
  const sentinel = await answers(sentinelPorts[0]);
  await waitFor(
    'the sentinels to see the replica in sync',
    async () => {
      const replicas = (await sentinel.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as string[][];
      return replicas.some((r) => r[r.indexOf('master-link-status') + 1] === 'ok' && !r[r.indexOf('flags') + 1].includes('down'));
    },
    15_000,
    100,
  );
  const masterPort = async () => Number(((await sentinel.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as string[])[1]);
  return {
    url: `redis+sentinel://:${password}@${sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${MASTER_NAME}`,
    password,
    masterPort,
    failover: async () => {
      const before = await masterPort();
      await sentinel.call('SENTINEL', 'FAILOVER', MASTER_NAME);
      await waitFor('the sentinels to name a new master', async () => (await masterPort()) !== before, 15_000, 100);
      return masterPort();
    },
    stop: async () => {
      sentinel.disconnect();
      for (const c of children) c.kill('SIGKILL');
      await master.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
