/**
 * The queue serves accounts fairly (jobs/queue.ts, issue 13): one account's pile of queued files does not hold
 * back another account's nightly file by more than one file. Real uploads over FTPS into the real queue; the worker
 * starts once everything is queued, so the order it takes the files in is the queue's.
 */
import { Readable } from 'node:stream';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { csvBatch, vin } from './helpers/batch';
import { auditEvents } from './helpers/ops';
import { waitFor } from './helpers/wait';
import { startFileWorker, type FileWorker } from '../jobs/worker';

const BUSY = '2123456692';
const NIGHTLY = '2200000085';
const PW = 'fairness test password';
const PILE = 12;

let svc: TestService;
let worker: FileWorker | null = null;
beforeAll(async () => {
  svc = await startTestService({ workers: 0 });
  await svc.addAccount(BUSY, PW);
  await svc.addAccount(NIGHTLY, PW);
});
afterAll(async () => {
  await worker?.close(0);
  await svc?.teardown();
});

it("takes another account's file second, not after the pile of one account", async () => {
  const busy = await svc.connect(BUSY, PW);
  for (let i = 0; i < PILE; i++) {
    await busy.uploadFrom(Readable.from([Buffer.from(csvBatch(BUSY, [{ vin: vin(100 + i) }], { trailer: true }))]), `pile-${i}.csv`);
  }
  const nightly = await svc.connect(NIGHTLY, PW);
  await nightly.uploadFrom(Readable.from([Buffer.from(csvBatch(NIGHTLY, [{ vin: vin(1) }], { trailer: true }))]), 'nightly.csv');
  await waitFor('every file queued', async () => (await svc.store.files.list()).every((f) => f.status === 'queued'));

  worker = startFileWorker(svc.redisUrl, svc.settings, svc.layout);
  await waitForReceipt(nightly, 'nightly.csv.receipt.csv', 60_000);
  await waitFor('the pile processed', async () => (await svc.store.files.list()).every((f) => f.status === 'done'), 60_000);
  busy.close();
  nightly.close();

  const files = new Map((await svc.store.files.list()).map((f) => [f.id, f.name]));
  const order = auditEvents(svc.layout.auditLog)
    .filter((e) => e.event === 'receipt')
    .map((e) => files.get(String(e.file)));
  expect(order).toHaveLength(PILE + 1);
  expect(order.indexOf('nightly.csv')).toBeLessThanOrEqual(1);
  expect(order.filter((n) => n !== 'nightly.csv')).toEqual(Array.from({ length: PILE }, (_, i) => `pile-${i}.csv`));
}, 120_000);
