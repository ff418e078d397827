/**
 * Issue #13, finding 1: `inflow serve`'s own worker processes a big file off the FTPS front's event loop. While
 * the worker is inside a batch's write transaction (seen from here: SQLite's write lock is taken), a NOOP is
 * answered; uploads from two accounts meanwhile get their 226 (taking a file in goes before the worker's next
 * batch); and the receipt is written by the worker process, not by the front's. A worker process that dies is
 * replaced; one whose `serve` is killed stops by itself.
 */
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import Database from 'better-sqlite3';
import type { Client } from 'basic-ftp';
import { useTestService, waitForReceipt } from './helpers/service';
import { csvBatch, vin, type R } from './helpers/batch';
import { auditEvents, spawnInflow, waitFor } from './helpers/ops';
import { freePort } from '../app/redis-server';
import { DEFAULTS } from '../config/defaults';
import { workerExecArgv } from '../jobs/worker-processes';

const GARAGE = '2123456692';
const OTHER = '2234567818';
const PW = 'worker process password';
const N = 300_000;

const upload = (c: Client, name: string, body: string) => c.uploadFrom(Readable.from([Buffer.from(body)]), name);

const svc = useTestService({ workers: 1, batchSize: 50_000, intakeDbWaitMs: 10_000 }, [GARAGE, OTHER], PW);

it('answers a NOOP and takes uploads in while its worker is in the middle of a big file', async () => {
  const recs: R[] = Array.from({ length: N }, (_, i) => ({ vin: vin(i), odometer: 10_000 + i, ref: `WO-${i}` }));
  const a = await svc.connect(GARAGE, PW);
  const b = await svc.connect(OTHER, PW);
  expect((await upload(a, 'big.csv', csvBatch(GARAGE, recs, { trailer: true }))).code).toBe(226);
  const big = (await svc.store.files.list())[0];

  // From a connection that never waits: true while another connection holds the write lock.
  const probe = new Database(svc.layout.db, { timeout: 0 });
  const writerInside = () => {
    try {
      probe.exec('BEGIN IMMEDIATE');
      probe.exec('ROLLBACK');
      return false;
    } catch (err) {
      if ((err as { code?: string }).code?.startsWith('SQLITE_BUSY')) return true;
      throw err;
    }
  };
  const now = async () => (await svc.store.files.get(big.pk))!;
  try {
    // Inside one transaction from before the NOOP to after its reply: no batch committed in between.
    await waitFor(
      "a NOOP answered inside one of the worker's write transactions",
      async () => {
        const f = await now();
        if (f.status === 'done') throw new Error('the file was processed without a NOOP answered inside a write transaction');
        if (f.status !== 'processing' || !writerInside()) return false;
        const reply = await b.send('NOOP');
        return reply.code === 200 && writerInside() && (await now()).progressLine === f.progressLine;
      },
      120_000,
      5,
    );
  } finally {
    probe.close();
  }

  const small = (est: string, i: number) => csvBatch(est, [{ vin: vin(N + i) }]);
  const [c, d] = [await svc.connect(OTHER, PW), await svc.connect(GARAGE, PW)];
  const replies = await Promise.all([
    upload(b, 'small-1.csv', small(OTHER, 1)),
    upload(c, 'small-2.csv', small(OTHER, 2)),
    upload(d, 'small-3.csv', small(GARAGE, 3)),
  ]);
  c.close();
  d.close();
  expect(replies.map((r) => r.code)).toEqual([226, 226, 226]);
  // Taken in while the big file was still being processed (it would have had to be finished to let them in).
  expect((await now()).processedAt).toBeNull();
  expect((await svc.store.files.list()).filter((f) => f.name.startsWith('small-'))).toHaveLength(3);

  await waitForReceipt(a, 'big.csv.receipt.csv', 120_000);
  const receipt = (await auditEvents(svc)).find((e) => e.event === 'receipt' && e.file === big.id)!;
  expect(svc.workers.pids()).toContain(receipt.pid);
  expect(receipt.pid).not.toBe(process.pid);
  a.close();
  b.close();
}, 240_000);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

it('runs its worker processes with the heap limit of INFLOW_WORKER_HEAP_MB, unless node was given one', () => {
  const [pid] = svc.workers.pids();
  const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  expect(cmdline).toContain(`--max-old-space-size=${DEFAULTS.workerHeapMb}`);
  expect(workerExecArgv({ workerHeapMb: 160 }, ['--inspect=9229', '--enable-source-maps'])).toEqual([
    '--enable-source-maps',
    '--max-old-space-size=160',
  ]);
  expect(workerExecArgv({ workerHeapMb: 160 }, ['--max-old-space-size=512'])).toEqual(['--max-old-space-size=512']);
  expect(workerExecArgv({ workerHeapMb: 0 }, [])).toEqual([]);
});

it('replaces a worker process that dies, and the new one processes the files', async () => {
  // Killed with no file in hand (a file in hand is taken over once its lock expires: ops-crash.test.ts).
  await waitFor('every file processed', async () => (await svc.store.files.list()).every((f) => f.status === 'done'), 120_000);
  const [dead] = svc.workers.pids();
  process.kill(dead, 'SIGKILL');
  const next = await waitFor('another worker process', () => svc.workers.pids().find((p) => p !== dead && alive(p)), 30_000, 50);
  const c = await svc.connect(GARAGE, PW);
  expect((await upload(c, 'after-crash.csv', csvBatch(GARAGE, [{ vin: vin(N + 10) }]))).code).toBe(226);
  await waitForReceipt(c, 'after-crash.csv.receipt.csv', 60_000);
  const file = (await svc.store.files.list()).find((f) => f.name === 'after-crash.csv')!;
  expect(await auditEvents(svc)).toContainEqual(expect.objectContaining({ event: 'receipt', file: file.id, pid: next }));
  c.close();
}, 90_000);

it('a worker process whose serve is killed stops by itself', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-orphan-'));
  const env = {
    INFLOW_DATA_DIR: dir,
    REDIS_URL: process.env.INFLOW_TEST_REDIS_URL,
    INFLOW_QUEUE_PREFIX: 'test-' + crypto.randomUUID(),
  };
  const serve = await spawnInflow(['serve', '--no-demo', '--ftp-port', String(await freePort())], env, 'Ctrl-C stops it.');
  let children: number[] = [];
  try {
    children = execFileSync('ps', ['-o', 'pid=', '--ppid', String(serve.child.pid)], { encoding: 'utf8' })
      .split('\n')
      .map((l) => Number(l.trim()))
      .filter(Boolean);
    expect(children).toHaveLength(1);
    serve.child.kill('SIGKILL');
    await serve.exited;
    await waitFor('the worker process to stop', () => !alive(children[0]), 30_000, 50);
  } finally {
    if (serve.child.exitCode === null && serve.child.signalCode === null) serve.child.kill('SIGKILL');
    for (const pid of children) if (alive(pid)) process.kill(pid, 'SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
