/**
 * The queue serves accounts fairly (jobs/queue.ts): one account's 400 queued files delay another account's nightly
 * file by at most one file. The pile is taken in through the real intake into the real queue; the worker is started
 * once it is queued, so the order it takes the files in is the queue's.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { csvBatch, vin } from './helpers/batch';
import { auditEvents } from './helpers/ops';
import { waitFor } from './helpers/wait';
import { startFileWorker, type FileWorker } from '../jobs/worker';
import { Intake } from '../intake/intake';

const BUSY = '2123456692';
const NIGHTLY = '2200000085';
const PW = 'fairness test password';
const PILE = 400;
/** Records of the pile's first file: enough to keep the worker busy while the nightly file comes in. */
const LONG_FILE_RECORDS = 200_000;

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

/** queuePile takes the busy account's pile in: its first file long, the others one record each. */
async function queuePile(): Promise<void> {
  const intake = new Intake({
    store: svc.store,
    queue: svc.queue,
    layout: svc.layout,
    settings: svc.settings,
    audit: svc.audit,
  });
  const account = (await svc.store.accounts.byEstablishment(BUSY))!;
  const incoming = path.join(svc.dir, 'pile');
  fs.mkdirSync(incoming);
  for (let i = 0; i < PILE; i++) {
    const records = i === 0 ? Array.from({ length: LONG_FILE_RECORDS }, (_, n) => ({ vin: vin(10_000 + n) })) : [{ vin: vin(100 + i) }];
    const src = path.join(incoming, `pile-${i}.csv`);
    fs.writeFileSync(src, csvBatch(BUSY, records, { trailer: true }));
    await intake.takeInExisting(account, `pile-${i}.csv`, src);
  }
}

/** The names of the files whose receipts were written, in the order they were written. */
async function receiptOrder(): Promise<string[]> {
  const names = new Map((await svc.store.files.list()).map((f) => [f.id, f.name]));
  return (await auditEvents(svc)).filter((e) => e.event === 'receipt').map((e) => names.get(String(e.file))!);
}

it("takes another account's file right after the one being processed, not after the pile of one account", async () => {
  await queuePile();
  await waitFor('the pile queued', async () => (await svc.store.files.list()).every((f) => f.status === 'queued'), 60_000);
  worker = await startFileWorker(svc.redisUrl, svc.settings, svc.layout);
  await waitFor('the long file processing', async () => (await svc.store.files.list()).some((f) => f.status === 'processing'), 60_000, 20);

  const nightly = await svc.connect(NIGHTLY, PW);
  await nightly.uploadFrom(Readable.from([Buffer.from(csvBatch(NIGHTLY, [{ vin: vin(1) }], { trailer: true }))]), 'nightly.csv');
  // The nightly file must have come in while the long file was being processed, or the test shows nothing.
  expect(await receiptOrder()).toEqual([]);
  await waitForReceipt(nightly, 'nightly.csv.receipt.csv', 120_000);
  nightly.close();

  expect((await receiptOrder()).slice(0, 2)).toEqual(['pile-0.csv', 'nightly.csv']);
}, 240_000);

it('with nothing being processed, another account waits for at most one file of the pile', async () => {
  await worker?.close(0);
  worker = null;
  await waitFor('the queue idle', async () => (await svc.queue.queue.getActiveCount()) === 0, 30_000);
  const before = (await receiptOrder()).length;
  const nightly = await svc.connect(NIGHTLY, PW);
  await nightly.uploadFrom(Readable.from([Buffer.from(csvBatch(NIGHTLY, [{ vin: vin(2) }], { trailer: true }))]), 'second-nightly.csv');
  worker = await startFileWorker(svc.redisUrl, svc.settings, svc.layout);
  await waitForReceipt(nightly, 'second-nightly.csv.receipt.csv', 120_000);
  nightly.close();

  const after = (await receiptOrder()).slice(before);
  expect(after.indexOf('second-nightly.csv')).toBeLessThanOrEqual(1);
  expect(after.filter((n) => n !== 'second-nightly.csv').every((n) => n.startsWith('pile-'))).toBe(true);
}, 240_000);
