/**
 * Nothing that got its 226 is lost (docs/guarantees.md, issue 6), with real processes and real signals: a Redis outage at
 * upload time, the whole `serve` process killed right after a 226, a SIGTERM during an upload, and the fleet
 * layout (`serve --workers 0` + `inflow worker` processes).
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { parseReceipt } from './helpers/receipt';
import { csvBatch, vin } from './helpers/batch';
import { auditEvents, BIN, spawnInflow, type Proc } from './helpers/ops';
import { partialUpload, sleep, waitFor, waitForOutput } from './helpers/wait';
import { openStore } from '../store';
import { freePort, startRedisServer, type PrivateRedis } from '../app/redis-server';

const GARAGE = '2123456692';
const PW = 'recovery test password';
const FAST_ENV = { INFLOW_JOB_LOCK_MS: '2000', INFLOW_STALLED_INTERVAL_MS: '1000', INFLOW_RECONCILE_SECONDS: '1' };

const file = (n: number, base: number) =>
  csvBatch(
    GARAGE,
    Array.from({ length: n }, (_, i) => ({ vin: vin(base + i), odometer: 1000 + i })),
    { trailer: true },
  );

describe('a Redis outage at upload time', () => {
  let redisDir: string;
  let redis: PrivateRedis | null = null;
  let svc: TestService | null = null;

  afterAll(async () => {
    await svc?.teardown();
    await redis?.stop();
    fs.rmSync(redisDir, { recursive: true, force: true });
  });

  it('the upload gets its 226, and once Redis is back the file is processed without anyone acting', async () => {
    // Our own redis-server: stopping the run's shared one would break the test files running beside this one.
    redisDir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-outage-'));
    redis = await startRedisServer({ dir: redisDir });
    const port = redis.port;
    svc = await startTestService({ redisUrl: redis.url, workers: 1, reconcileSeconds: 1 });
    await svc.addAccount(GARAGE, PW);
    const client = await svc.connect(GARAGE, PW);

    await redis.stop();
    redis = null;
    await client.uploadFrom(Readable.from([Buffer.from(file(50, 1000))]), 'outage.csv'); // resolves on 226
    const row = (await svc.store.files.list()).find((f) => f.name === 'outage.csv')!;
    expect(row.status).toBe('received');
    // Time must pass here: the file must stay 'received' over several reconciler passes (every 1 s) that fail
    // while Redis is away; a failed pass leaves no trace to wait for (it ends quietly, for the next one).
    await sleep(2500);
    expect((await svc.store.files.get(row.pk))!.status).toBe('received');

    redis = await startRedisServer({ dir: redisDir, port }); // same port, same AOF
    const receipt = parseReceipt(await waitForReceipt(client, 'outage.csv.receipt.csv', 60_000));
    client.close();
    expect(receipt).toMatchObject({ status: 'ACCEPTED', records: 50, accepted: 50 });
    expect(await svc.store.readings.forFile(row.pk)).toHaveLength(50);
    const events = (await auditEvents(svc)).filter((e) => e.file === row.id).map((e) => e.event);
    expect(events).toEqual(['upload', 'requeued', 'receipt']);
  }, 90_000);
});

describe('serve killed and stopped', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-recovery-'));
  const prefix = 'test-' + crypto.randomUUID();
  const procs: Proc[] = [];
  let ftpPort: number;
  const pasv = 20000 + crypto.randomInt(0, 800) * 50;
  const env = {
    INFLOW_DATA_DIR: dir,
    REDIS_URL: process.env.INFLOW_TEST_REDIS_URL,
    INFLOW_QUEUE_PREFIX: prefix,
    INFLOW_PASV_MIN: String(pasv),
    INFLOW_PASV_MAX: String(pasv + 39),
    ...FAST_ENV,
  };

  beforeAll(async () => {
    ftpPort = await freePort();
    const add = spawnSync(process.execPath, [BIN, 'accounts', 'add', GARAGE, '--name', 'Garage', '--password-stdin'], {
      env: { ...process.env, ...env },
      input: PW + '\n',
      encoding: 'utf8',
    });
    expect(add.status).toBe(0);
  });

  afterAll(() => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const serve = async (workers: number, extra: NodeJS.ProcessEnv = {}) => {
    const p = await spawnInflow(
      ['serve', '--no-demo', '--ftp-port', String(ftpPort), '--workers', String(workers)],
      { ...env, ...extra },
      'Ctrl-C stops it.',
    );
    procs.push(p);
    return p;
  };
  const worker = async () => {
    const p = await spawnInflow(['worker'], env, 'is running');
    procs.push(p);
    return p;
  };
  const connect = async () => {
    const c = new Client(20000);
    await c.access({
      host: '127.0.0.1',
      port: ftpPort,
      user: GARAGE,
      password: PW,
      secure: true,
      secureOptions: { ca: [fs.readFileSync(path.join(dir, 'tls', 'cert.pem'))], servername: 'localhost' },
    });
    return c;
  };
  const audit = () => auditEvents(dir);

  it('kill -9 of serve right after a 226, then a restart: the file is processed', async () => {
    const s = await serve(1);
    const c = await connect();
    await c.uploadFrom(Readable.from([Buffer.from(file(20_000, 20_000))]), 'killed.csv');
    s.child.kill('SIGKILL'); // right after the 226
    expect((await s.exited).signal).toBe('SIGKILL');
    c.close();
    // serve's worker process outlives it for its grace time (it stops when its parent is gone): it may finish the
    // file it had taken, or leave it to the restarted serve. Either way the file is processed once.
    await serve(1);
    const c2 = await connect();
    const receipt = parseReceipt(await waitForReceipt(c2, 'killed.csv.receipt.csv', 60_000));
    c2.close();
    expect(receipt).toMatchObject({ status: 'ACCEPTED', records: 20_000, accepted: 20_000 });
    expect((await audit()).filter((e) => e.event === 'receipt' && e.name === 'killed.csv')).toHaveLength(1);
  }, 90_000);

  it('SIGTERM during an upload: the upload still gets its 226, new logins are refused, serve exits 0', async () => {
    const s = procs[procs.length - 1];
    const c = await connect();
    const body = Buffer.from(file(2000, 50_000));
    // A slow client: the upload takes about 2 s.
    const slow = Readable.from(
      (async function* () {
        for (let i = 0; i < body.length; i += 8192) {
          yield body.subarray(i, i + 8192);
          await sleep(2000 / (body.length / 8192)); // a slow client's pace (time must pass)
        }
      })(),
    );
    const upload = c.uploadFrom(slow, 'during-stop.csv');
    await waitFor('the upload to be under way on the server', () => partialUpload(path.join(dir, 'drop', GARAGE)), 10_000, 20);
    s.child.kill('SIGTERM');
    // serve prints this, then at once (same tick) stops listening.
    await waitForOutput(s.child, s.out, 'SIGTERM: stopping', 'serve to take the SIGTERM', 10_000);
    await expect(connect()).rejects.toThrow(); // not listening any more
    await upload.catch((e) => {
      throw new Error(e.message + '\n' + s.out());
    }); // the 226
    c.close();
    const exit = await s.exited;
    expect(exit.code).toBe(0);
    expect(s.out()).toContain('SIGTERM: stopping');
    const events = await audit();
    expect(events).toContainEqual(expect.objectContaining({ event: 'upload', name: 'during-stop.csv' }));
    expect(events[events.length - 1]).toMatchObject({ event: 'service', action: 'stop' });
  }, 60_000);

  it('kill -9 of serve between moving a file into the store and recording it: after a restart no stored file lacks its row', async () => {
    // INFLOW_TEST_DIE_AFTER_STORE_MOVE (intake/intake.ts): serve kills itself with SIGKILL right after moving the
    // upload of that name into the store, before its row is recorded; a short database wait makes the grace short.
    const s = await serve(1, { INFLOW_TEST_DIE_AFTER_STORE_MOVE: 'dies.csv', INFLOW_INTAKE_DB_WAIT_MS: '1000' });
    const c = await connect();
    await c.uploadFrom(Readable.from([Buffer.from(file(30, 90_000))]), 'kept.csv'); // its 226
    await expect(c.uploadFrom(Readable.from([Buffer.from(file(30, 91_000))]), 'dies.csv')).rejects.toThrow();
    expect((await s.exited).signal).toBe('SIGKILL');
    c.close();
    const storeDir = path.join(dir, 'store');
    const recorded = await storedNames();
    const orphan = fs.readdirSync(storeDir).filter((n) => !recorded.has(n));
    expect(orphan).toHaveLength(1);

    await serve(1, { INFLOW_INTAKE_DB_WAIT_MS: '1000' });
    // The orphan is removed once it is older than the grace (1 s + 10 s), by the pass at start-up or the one after.
    await waitFor('the orphan removed', () => !fs.existsSync(path.join(storeDir, orphan[0])), 60_000, 200);
    expect(fs.readdirSync(storeDir).sort()).toEqual([...(await storedNames())].sort());
    expect((await audit()).filter((e) => e.event === 'orphan_removed')).toMatchObject([{ stored: orphan[0] }]);
    const c2 = await connect();
    expect(parseReceipt(await waitForReceipt(c2, 'kept.csv.receipt.csv', 60_000))).toMatchObject({ status: 'ACCEPTED', records: 30 });
    // Sent again, the file that got no 226 is taken in as any new file.
    await c2.uploadFrom(Readable.from([Buffer.from(file(30, 91_000))]), 'dies.csv');
    expect(parseReceipt(await waitForReceipt(c2, 'dies.csv.receipt.csv', 60_000))).toMatchObject({ status: 'ACCEPTED', records: 30 });
    c2.close();
    procs[procs.length - 1].child.kill('SIGTERM');
    expect((await procs[procs.length - 1].exited).code).toBe(0);
  }, 120_000);

  /** The names of the stored files the database records (read through a store of its own). */
  const storedNames = async () => {
    const store = await openStore({ sqlite: path.join(dir, 'inflow.db') });
    try {
      return new Set((await store.files.list()).map((f) => path.basename(f.storedPath)));
    } finally {
      await store.close();
    }
  };

  it('a fleet: serve --workers 0 takes files in, separate worker processes process them', async () => {
    const front = await serve(0);
    const workers = [await worker(), await worker()];
    const c = await connect();
    for (let i = 0; i < 3; i++) await c.uploadFrom(Readable.from([Buffer.from(file(300, 70_000 + i * 1000))]), `fleet-${i}.csv`);
    for (const name of ['during-stop.csv', 'fleet-0.csv', 'fleet-1.csv', 'fleet-2.csv']) {
      expect(parseReceipt(await waitForReceipt(c, `${name}.receipt.csv`, 60_000)).status).toBe('ACCEPTED');
    }
    c.close();
    const pids = new Set(workers.map((w) => w.child.pid));
    const receipts = (await audit()).filter((e) => e.event === 'receipt' && /^fleet-/.test(String(e.name)));
    expect(receipts).toHaveLength(3);
    for (const r of receipts) expect(pids.has(r.pid as number)).toBe(true);
    expect(receipts.some((r) => r.pid === front.child.pid)).toBe(false);
    for (const p of [front, ...workers]) p.child.kill('SIGTERM');
    for (const p of [front, ...workers]) expect((await p.exited).code).toBe(0);
  }, 90_000);
});
