/**
 * Crash safety with real processes and real signals (docs/guarantees.md, issue 6): a worker killed with SIGKILL in the middle
 * of a 200,000-record file, then a new worker, ends with exactly the receipt, readings and error numbers of an
 * uninterrupted run; a worker stopped with SIGTERM hands its file back to the queue at once and exits 0.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Readable } from 'node:stream';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { parseReceipt } from './helpers/receipt';
import { csvBatch, daysAgo, vin, type R } from './helpers/batch';
import { BIN, auditEvents, envFor, sleep, spawnInflow, waitFor, type Proc } from './helpers/ops';

const GARAGE = '2123456692';
const PW = 'crash test password';
const N = 200_000;
const BATCH = 5000;
// Short locks so a dead worker's file is taken over in seconds (defaults: 30 s).
const FAST = { batchSize: BATCH, jobLockMs: 2000, stalledIntervalMs: 1000 };
const FAST_ENV = { INFLOW_BATCH_SIZE: String(BATCH), INFLOW_JOB_LOCK_MS: '2000', INFLOW_STALLED_INTERVAL_MS: '1000' };

/** A nightly file with something of everything: first and second readings, roll-backs, late ones, bad VINs, repeats. */
function bigFile(n: number, base: number): string {
  const half = n / 2;
  const recs: R[] = [];
  for (let i = 0; i < n; i++) {
    if (i % 1000 === 999)
      recs.push({ vin: 'TSTVNZZZ00000000I', ref: `BAD-${i}` }); // E12
    else if (i % 5000 === 1234)
      recs.push({ ...recs[i - 1] }); // E21: same as the line before
    else if (i < half)
      recs.push({ vin: vin(base + i), date: i % 10 === 0 ? daysAgo(30) : daysAgo(4), odometer: 10_000 + i, ref: `WO-${i}` });
    else recs.push({ vin: vin(base + i - half), date: daysAgo(2), odometer: i % 7 === 0 ? 5000 : 20_000 + i, ref: `WO-${i}` });
  }
  return csvBatch(GARAGE, recs, { trailer: true });
}

interface Outcome {
  receipt: ReturnType<typeof parseReceipt>;
  readings: unknown[];
  issues: unknown[];
  totalReadings: number;
}

async function outcome(svc: TestService, name: string): Promise<Outcome> {
  const c = await svc.connect(GARAGE, PW);
  const receipt = parseReceipt(await waitForReceipt(c, `${name}.receipt.csv`, 120_000));
  c.close();
  const file = (await svc.store.files.list()).find((f) => f.name === name)!;
  return {
    receipt: { ...receipt, received: '', processed: '' },
    readings: await svc.store.readings.forFile(file.pk),
    issues: await svc.store.issues.forFile(file.pk),
    totalReadings: await svc.store.readings.count(),
  };
}

const text = bigFile(N, 100_000);
const services: TestService[] = [];
const procs: Proc[] = [];

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  for (const s of services) await s.teardown();
});

async function service(workers: number): Promise<TestService> {
  const svc = await startTestService({ workers, ...FAST });
  services.push(svc);
  await svc.addAccount(GARAGE, PW);
  return svc;
}

async function upload(svc: TestService, body: string, name: string): Promise<void> {
  const c = await svc.connect(GARAGE, PW);
  await c.uploadFrom(Readable.from([Buffer.from(body)]), name);
  c.close();
}

const worker = async (svc: TestService, extra: NodeJS.ProcessEnv = {}) => {
  const p = await spawnInflow(['worker'], envFor(svc, { ...FAST_ENV, ...extra }), 'is running');
  procs.push(p);
  return p;
};

let clean: Outcome;

it('a clean run of the 200,000-record file (the reference)', async () => {
  const svc = await service(1);
  await upload(svc, text, 'big.csv');
  clean = await outcome(svc, 'big.csv');
  expect(clean.receipt).toMatchObject({ status: 'PARTIAL', records: N });
  expect(clean.receipt.rejected).toBeGreaterThan(200);
  expect(clean.receipt.anomalies).toBeGreaterThan(10_000);
  expect(clean.receipt.warnings).toBeGreaterThan(5_000);
}, 120_000);

it('SIGKILL of the worker in the middle of the file, then a new worker: the same receipt and database', async () => {
  const svc = await service(0);
  const first = await worker(svc);
  await upload(svc, text, 'big.csv');
  const file = (await svc.store.files.list())[0];
  // Kill it once a few batches are committed and many are left.
  const killedAt = await waitFor(
    'a few committed batches',
    async () => {
      const f = (await svc.store.files.get(file.pk))!;
      return f.status === 'processing' && f.progressLine > N / 4 ? f.progressLine : 0;
    },
    60_000,
    20,
  );
  // Time must pass here, on purpose: the kill lands at an arbitrary moment inside the next batch, most likely in its
  // write transaction (from outside no event marks "inside a transaction"; what must hold holds for any moment).
  await sleep(120);
  first.child.kill('SIGKILL');
  expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
  expect(killedAt).toBeLessThan((3 * N) / 4);
  expect((await svc.store.files.get(file.pk))!.status).toBe('processing');
  // The killed reader had read ahead of the storing: its spool is left behind, for the next attempt to remove.
  expect(fs.readdirSync(svc.layout.spoolDir).filter((n) => n.startsWith(`${file.id}.`))).toHaveLength(1);

  const second = await worker(svc);
  const got = await outcome(svc, 'big.csv');
  expect(got.receipt).toEqual(clean.receipt);
  expect(got.readings).toEqual(clean.readings);
  expect(got.issues).toEqual(clean.issues); // same error numbers: none issued twice, none skipped
  expect(got.totalReadings).toBe(clean.totalReadings);

  const row = (await svc.store.files.get(file.pk))!;
  expect(row).toMatchObject({ status: 'done', attempts: 2 });
  expect(fs.readdirSync(svc.layout.spoolDir)).toEqual([]);
  const events = await auditEvents(svc);
  expect(events).toContainEqual(expect.objectContaining({ event: 'requeued', file: file.id, pid: second.child.pid }));
  expect(events).toContainEqual(expect.objectContaining({ event: 'receipt', file: file.id, pid: second.child.pid }));
  process.stdout.write(`crash: killed after line ${killedAt} of ${N + 1} was committed; resumed by worker ${second.child.pid}\n`);
}, 180_000);

it('SIGTERM: the worker hands its file back at once, exits 0, and the next worker finishes it', async () => {
  const svc = services[1];
  const small = bigFile(60_000, 600_000);
  // The worker of the previous test is still running, idle: SIGTERM stops it at once.
  const idle = procs[procs.length - 1];
  idle.child.kill('SIGTERM');
  expect((await idle.exited).code).toBe(0);
  const w = await worker(svc, { INFLOW_SHUTDOWN_GRACE_MS: '200' });

  await upload(svc, small, 'small.csv');
  const file = (await svc.store.files.list()).find((f) => f.name === 'small.csv')!;
  await waitFor('processing to start', async () => (await svc.store.files.get(file.pk))!.progressLine > 0, 60_000, 20);
  const t0 = Date.now();
  w.child.kill('SIGTERM');
  const exit = await w.exited;
  const exitMs = Date.now() - t0;
  expect(exit.code).toBe(0);
  expect(exitMs).toBeLessThan(6000);
  expect(w.out()).toContain('SIGTERM: worker');
  // Handed back: waiting for the next worker now (in its account's turn: jobs carry a priority), not locked until
  // its lock expires.
  expect(['waiting', 'prioritized']).toContain(await svc.queue.queue.getJobState(file.id));
  expect(await auditEvents(svc)).toContainEqual(expect.objectContaining({ event: 'handed_back', file: file.id, pid: w.child.pid }));
  const stoppedAt = (await svc.store.files.get(file.pk))!.progressLine;
  expect(stoppedAt).toBeLessThan(60_001);

  await worker(svc);
  const got = await outcome(svc, 'small.csv');
  expect(got.receipt).toMatchObject({ status: 'PARTIAL', records: 60_000 });
  expect(got.readings).toHaveLength(got.receipt.accepted);
  expect((await svc.store.files.get(file.pk))!.attempts).toBe(2);
  process.stdout.write(`sigterm: handed back at line ${stoppedAt}, exit after ${exitMs} ms\n`);
}, 120_000);

it('a worker process started without Redis fails with one line (no hang)', async () => {
  const child = spawn(process.execPath, [BIN, 'worker'], {
    env: { ...process.env, INFLOW_DATA_DIR: services[1].dir, REDIS_URL: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const code = await new Promise((r) => child.once('exit', r));
  expect(code).toBe(1);
  expect(err.trim().split('\n')).toHaveLength(1);
});

it("a file meeting a dead worker's file waits until that file is taken over and closed, then sees all of it", async () => {
  const svc = await service(0);
  const first = await worker(svc);
  await upload(svc, text, 'big.csv');
  const big = (await svc.store.files.list())[0];
  await waitFor('a few committed batches', async () => (await svc.store.files.get(big.pk))!.progressLine > N / 4, 60_000, 20);
  first.child.kill('SIGKILL');
  await first.exited;
  // Later readings of vehicles the dead worker's file holds, lower than the big file's readings of its second half
  // (not stored yet at the kill): this file must wait until the big one is closed, and then flags them all (A40).
  const small = csvBatch(
    GARAGE,
    Array.from({ length: 100 }, (_, i) => ({ vin: vin(100_000 + i), date: daysAgo(1), odometer: 110_000 + i })),
    {
      trailer: true,
    },
  );
  await upload(svc, small, 'small.csv');
  const second = await worker(svc);
  const got = await outcome(svc, 'big.csv');
  expect(got.receipt).toEqual(clean.receipt);
  expect(got.issues).toEqual(clean.issues);
  const c = await svc.connect(GARAGE, PW);
  const smallReceipt = parseReceipt(await waitForReceipt(c, 'small.csv.receipt.csv', 60_000));
  c.close();
  expect(smallReceipt.records).toBe(100);
  const smallFile = (await svc.store.files.list()).find((f) => f.name === 'small.csv')!;
  const events = await auditEvents(svc);
  const at = (event: string, file: string) => events.findIndex((e) => e.event === event && e.file === file);
  expect(at('receipt', big.id)).toBeLessThan(at('receipt', smallFile.id));
  expect(events).toContainEqual(expect.objectContaining({ event: 'receipt', file: smallFile.id, pid: second.child.pid }));
  // Its checks saw the whole big file: A40 wherever the big file's second reading is 20,000 + its index (not 5000).
  const a40 = (await svc.store.issues.forFile(smallFile.pk)).filter((i) => i.code === 'A40').map((i) => i.line - 2);
  expect(a40).toEqual(Array.from({ length: 100 }, (_, i) => i).filter((i) => (i + N / 2) % 7 !== 0));
}, 180_000);
