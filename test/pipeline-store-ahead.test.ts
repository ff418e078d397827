/**
 * The first batch of a file is checked and stored while the scan is still reading the file (pipeline/process-file.ts,
 * scanAndStore): committed only when the scan passes, rolled back when it fails or takes too long. The scan is held
 * back here by a gate, so each path is taken for sure; SQLite and the readers are the real ones.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveSettings } from '../config/defaults';
import { dataLayout } from '../config/layout';
import { Store, type FileRecord } from '../store';
import { AuditLog } from '../store/audit-log';
import { scanAndStore, type PipelineContext } from '../pipeline/process-file';
import { openRecordSource, type RecordSource } from '../pipeline/record-source';
import type { ScanResult } from '../pipeline/scan-file';
import { csvBatch, daysAgo, vin } from './helpers/batch';

const SENDER = '2123456692';
let dir: string;
let ctx: PipelineContext;
let reader: Store;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-ahead-'));
  const layout = dataLayout(dir);
  const store = Store.open(layout.db);
  ctx = { store, layout, settings: resolveSettings({ dataDir: dir }), audit: new AuditLog(layout.auditLog) };
  reader = Store.open(layout.db); // another connection: sees only what is committed
});

afterEach(() => {
  reader.close();
  ctx.store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

const records = Array.from({ length: 10 }, (_, i) => ({ vin: vin(i + 1), date: daysAgo(2), odometer: 1000 + i }));

function received(text: string): FileRecord {
  const account = ctx.store.accounts.add({ establishment: SENDER, name: 'T', role: 'garage', passwordHash: 'x' });
  const file = path.join(dir, 'in.csv');
  fs.writeFileSync(file, text);
  const row = ctx.store.files.insertReceived({
    accountId: account.id, name: 'in.csv', storedPath: file, size: text.length, sha256: 'a'.repeat(64), receivedAt: new Date().toISOString(),
  });
  return ctx.store.files.get(row.pk)!;
}

const request = (file: FileRecord, batchSize: number) => ({
  path: file.storedPath, allowedSenders: [SENDER], maxRecords: 1000, today: daysAgo(0), resumeAfter: 0, batchSize, ahead: 2,
});

/** After a roll-back: the records after the committed progress, as processFile reopens them. */
const reopen = (file: FileRecord, batchSize: number) => () =>
  openRecordSource({ ...request(file, batchSize), resumeAfter: ctx.store.files.get(file.pk)!.progressLine }, { scan: false });

/** A real record source whose scan result is released only by `open()`. */
async function gatedSource(file: FileRecord, batchSize = 1000): Promise<{ source: RecordSource; open: () => void }> {
  const real = await openRecordSource(request(file, batchSize));
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const scan = async (): Promise<ScanResult> => {
    const s = await real.scan();
    await gate;
    return s;
  };
  return { source: { scan, batches: () => real.batches(), close: () => real.close() }, open };
}

const until = async (what: string, fn: () => boolean) => {
  for (let i = 0; i < 200 && !fn(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!fn()) throw new Error(`timed out waiting for ${what}`);
};

/** Lets the scan end; the file passes and its 10 readings are committed. */
async function releaseAndPass(open: () => void, done: Promise<{ findings: unknown[] }>, source: RecordSource): Promise<void> {
  open();
  const verdict = await done;
  await source.close();
  expect(verdict.findings).toEqual([]);
  expect(ctx.store.db.inTransaction).toBe(false);
  expect(reader.readings.count()).toBe(10);
}

test('the first batch is stored before the scan ends and committed when it passes', async () => {
  const file = received(csvBatch(SENDER, records, { trailer: true }));
  const { source, open } = await gatedSource(file);
  const done = scanAndStore(ctx, file, source, { reopen: reopen(file, 1000) });
  await until('the batch to be stored ahead', () => ctx.store.db.inTransaction);
  expect(reader.readings.count()).toBe(0); // stored, not committed
  await releaseAndPass(open, done, source);
  expect(reader.files.get(file.pk)!.progressLine).toBe(11);
});

test('a scan that fails rolls the stored-ahead batch back: nothing of the file is stored', async () => {
  const file = received(csvBatch(SENDER, records, { trailer: { count: 11, sum: 0 } }));
  const { source, open } = await gatedSource(file);
  const done = scanAndStore(ctx, file, source, { reopen: reopen(file, 1000) });
  await until('the batch to be stored ahead', () => ctx.store.db.inTransaction);
  open();
  const verdict = await done;
  await source.close();
  expect(verdict.findings.map((f) => f.code)).toContain('F04');
  expect(ctx.store.db.inTransaction).toBe(false);
  expect(reader.readings.count()).toBe(0);
  expect(reader.issues.forFile(file.pk)).toEqual([]);
  expect(reader.files.get(file.pk)!.progressLine).toBe(0);
});

test('several batches are stored ahead in the one transaction, and committed together', async () => {
  const file = received(csvBatch(SENDER, records, { trailer: true }));
  const { source, open } = await gatedSource(file, 3); // 4 batches: 3 + 3 + 3 + 1
  const done = scanAndStore(ctx, file, source, { reopen: reopen(file, 3) });
  await until('every batch to be stored ahead', () => ctx.store.readings.count() === 10); // this connection sees its own writes
  expect(ctx.store.db.inTransaction).toBe(true);
  expect(reader.readings.count()).toBe(0);
  await releaseAndPass(open, done, source);
  expect(reader.files.get(file.pk)!.progressLine).toBe(11);
});

test('a scan slower than the wait: the batches are rolled back, then read again and stored once after the scan', async () => {
  const file = received(csvBatch(SENDER, records, { trailer: true }));
  const { source, open } = await gatedSource(file, 3);
  const calls: string[] = [];
  const traced: RecordSource = { ...source, close: () => (calls.push('close'), source.close()) };
  const again = reopen(file, 3);
  const done = scanAndStore(ctx, file, traced, { aheadWaitMs: 100, reopen: () => (calls.push('reopen'), again()) });
  await until('the batch to be stored ahead', () => ctx.store.db.inTransaction);
  await until('the roll-back after the wait', () => !ctx.store.db.inTransaction); // the write lock is free again
  expect(reader.readings.count()).toBe(0);
  await releaseAndPass(open, done, source);
  expect(reader.readings.forFile(file.pk).map((r) => r.odometer)).toEqual(records.map((r) => r.odometer));
  // The first reader is stopped before the second starts: never two alive at once (memory).
  expect(calls).toEqual(['close', 'reopen']);
});
