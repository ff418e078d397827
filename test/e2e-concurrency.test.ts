/**
 * Check-and-store is atomic per vehicle (SPEC §4): two worker processes handling two files with interleaved
 * readings of the same vehicles give, for every vehicle, the issues of one of the two serial orders.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { parseReceipt } from './helpers/receipt';
import { csvBatch, daysAgo, vin } from './helpers/batch';

const S1 = '2123456692';
const S2 = '2200000085';
const PW = 'concurrency password';
const N = 3000;

let svc: TestService;
const workers: ChildProcess[] = [];

/** startWorkers starts the two worker processes at once and resolves when both are ready. */
async function startWorkers(): Promise<void> {
  const started = [0, 1].map(() => {
    const w = spawn(process.execPath, [path.join(__dirname, '..', 'bin', 'inflow.js'), 'worker'], {
      env: {
        ...process.env,
        INFLOW_DATA_DIR: svc.dir,
        REDIS_URL: svc.redisUrl,
        INFLOW_QUEUE_PREFIX: svc.settings.queuePrefix,
        INFLOW_BATCH_SIZE: '50',
        INFLOW_GLOBAL_CONCURRENCY: '2',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    workers.push(w);
    return new Promise<void>((resolve) => w.stdout!.once('data', () => resolve()));
  });
  await Promise.all(started);
}

beforeAll(async () => {
  svc = await startTestService({ workers: 0, batchSize: 50, globalConcurrency: 2 });
  await svc.addAccount(S1, PW);
  await svc.addAccount(S2, PW);
});

afterAll(async () => {
  for (const w of workers) w.kill('SIGKILL');
  await svc?.teardown();
});

it('gives every vehicle the issues of one serial order of its two readings', async () => {
  // File A: each vehicle at day -2 with a lower value than file B's reading at day -4: whichever comes second is
  // flagged (A after B: A40 on A; B after A: A41 on B). B lists the vehicles in reverse, so the two workers meet
  // in the middle: early vehicles of each file are seen by that file first.
  const a = csvBatch(
    S1,
    Array.from({ length: N }, (_, i) => ({ vin: vin(700000 + i), date: daysAgo(2), odometer: 10000 + i })),
    { trailer: true },
  );
  const b = csvBatch(
    S2,
    Array.from({ length: N }, (_, k) => N - 1 - k).map((i) => ({ vin: vin(700000 + i), date: daysAgo(4), odometer: 20000 + i })),
    { trailer: true },
  );
  const ca = await svc.connect(S1, PW);
  const cb = await svc.connect(S2, PW);
  await Promise.all([ca.uploadFrom(Readable.from([Buffer.from(a)]), 'a.csv'), cb.uploadFrom(Readable.from([Buffer.from(b)]), 'b.csv')]);
  // Both files are queued before any worker runs: each worker takes one, and they start together.
  await startWorkers();
  const [ra, rb] = await Promise.all([
    waitForReceipt(ca, 'a.csv.receipt.csv', 120000),
    waitForReceipt(cb, 'b.csv.receipt.csv', 120000),
  ]).then((x) => x.map(parseReceipt));
  ca.close();
  cb.close();

  const codesA = new Map(ra.issues.filter((i) => i.code !== 'W50').map((i) => [i.line - 2, i.code]));
  const codesB = new Map(rb.issues.filter((i) => i.code !== 'W50').map((i) => [N - 1 - (i.line - 2), i.code]));
  let aFirst = 0;
  let bFirst = 0;
  const wrong: string[] = [];
  for (let i = 0; i < N; i++) {
    const got = `${codesA.get(i) ?? '-'}/${codesB.get(i) ?? '-'}`;
    if (got === '-/A41') aFirst++;
    else if (got === 'A40/-') bFirst++;
    else wrong.push(`${vin(700000 + i)}: ${got}`);
  }
  expect(wrong).toEqual([]);
  expect(aFirst + bFirst).toBe(N);
  expect(aFirst).toBeGreaterThan(0); // the files really were processed at the same time
  expect(bFirst).toBeGreaterThan(0);
  expect(ra.anomalies + rb.anomalies).toBe(N);
  // Both worker processes took part, each on one file.
  const receipts = fs
    .readFileSync(svc.layout.auditLog, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l))
    .filter((e) => e.event === 'receipt' && (e.name === 'a.csv' || e.name === 'b.csv'));
  expect(new Set(receipts.map((e) => e.pid)).size).toBe(2);
  // Each receipt event says where the time went (README, audit log).
  for (const e of receipts) expect(Object.keys(e.ms).sort()).toEqual(['close', 'read', 'receipt']);
  for (const e of receipts) for (const v of Object.values(e.ms)) expect(v).toBeGreaterThanOrEqual(0);
  process.stdout.write(`concurrency: ${aFirst} vehicles saw A first, ${bFirst} saw B first\n`);
}, 180000);
