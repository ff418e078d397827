/**
 * processFile, the real pipeline (its reader thread from dist/) on a real SQLite store in a temp directory:
 * - a file whose batch needs a vehicle with pending records of another file (stored, but that file has not passed
 *   its file-level checks yet) waits: it goes on once that file passes (and then sees its records) or is rejected
 *   (and then sees nothing of it);
 * - the refusals decided before the file is read: F07 (same content as an earlier file) and F06 (too big).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveSettings } from '../config/defaults';
import { dataLayout } from '../config/layout';
import { openStore, type Store } from '../store';
import { AuditLog } from '../store/audit-log';
import { processFile, type PipelineContext } from '../pipeline/process-file';
import { csvBatch, daysAgo, vin } from './helpers/batch';

const SENDER = '2123456692';
let dir: string;
let store: Store;
let ctx: PipelineContext;
let accountId: number;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-pending-'));
  const layout = dataLayout(dir);
  store = await openStore({ sqlite: layout.db });
  ctx = { store, layout, settings: resolveSettings({ dataDir: dir }, {}), audit: new AuditLog(store.audit) };
  accountId = (await store.accounts.add({ establishment: SENDER, name: 'Garage', role: 'garage', passwordHash: 'x' })).id;
});
afterEach(async () => {
  await ctx.audit.close();
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** receive records a file as the intake does, its content on disk. */
async function receive(name: string, text: string) {
  const storedPath = path.join(dir, name);
  fs.writeFileSync(storedPath, text);
  return store.files.receive({ accountId, name, storedPath, size: text.length, sha256: name, receivedAt: new Date().toISOString() });
}

/** A file whose one reading of vin(1) is stored and pending: its file has not passed its checks. */
async function pendingFile(): Promise<number> {
  const a = await receive('a.csv', 'not read by this test');
  const blocked = await store.storeBatch(
    { filePk: a.pk, sender: SENDER, lastLine: 2, lookups: () => ({ vins: [vin(1)], plates: [], issueIds: [] }) },
    (_v, w) =>
      w.addReading({
        line: 2,
        reading: {
          ref: null,
          vin: vin(1),
          plate: null,
          date: daysAgo(4),
          odometer: 50_000,
          unit: 'km',
          km: 50_000,
          work: 'MAINT',
          replaced: false,
          digits: null,
          corrects: null,
        },
        vin: vin(1),
        plate: null,
        status: 'ok',
        corrects: null,
      }),
  );
  expect(blocked).toEqual({ blockedBy: [] });
  return a.pk;
}

const lowerReading = () => csvBatch(SENDER, [{ vin: vin(1), date: daysAgo(2), odometer: 40_000 }], { trailer: true });

describe('refused before it is read', () => {
  it('F07: the same content as an earlier file of the account is DUPLICATE, naming it, and stores nothing', async () => {
    const text = lowerReading();
    const first = await receive('first.csv', text);
    expect((await processFile(ctx, first.pk)).result).toBe('ACCEPTED');
    const again = await store.files.receive({ ...first, name: 'again.csv', receivedAt: new Date().toISOString() });
    const done = await processFile(ctx, again.pk);
    expect(done).toMatchObject({ result: 'DUPLICATE', duplicateOf: first.id, records: 0 });
    expect((await store.issues.forFile(again.pk)).map((i) => [i.code, i.message])).toEqual([
      ['F07', expect.stringContaining(`same content as file ${first.id} (first.csv)`)],
    ]);
    expect(await store.readings.forFile(again.pk)).toEqual([]);
  });

  it('F06: a file larger than the size limit (lowered after its upload) is REJECTED with the limit in the message', async () => {
    const big = await receive('big.csv', lowerReading());
    ctx = { ...ctx, settings: { ...ctx.settings, maxFileBytes: 10 } };
    const done = await processFile(ctx, big.pk);
    expect(done).toMatchObject({ result: 'REJECTED', records: 0 });
    expect((await store.issues.forFile(big.pk)).map((i) => [i.code, i.message])).toEqual([
      ['F06', 'The file is larger than 10 bytes, the limit per file: split it into smaller files.'],
    ]);
    expect(await store.readings.forFile(big.pk)).toEqual([]);
  });
});

/** B, a file with a lower reading of vin(1), is processed while A's reading of it is pending: B must wait. */
async function waitingBehindPending() {
  const a = await pendingFile();
  const b = await receive('b.csv', lowerReading());
  let done = false;
  const processing = processFile(ctx, b.pk).finally(() => (done = true));
  // What is shown is that B does not finish: only time passing shows that (B reads its one record in a few ms).
  await new Promise((r) => setTimeout(r, 500));
  expect(done).toBe(false);
  expect((await store.files.get(b.pk))!.progressLine).toBe(0);
  return { a, b, processing };
}

it('waits for the pending file to pass, then sees its reading', async () => {
  const { a, b, processing } = await waitingBehindPending();
  await store.files.accept(a, { format: 'csv', sender: SENDER, records: 1, processedAt: new Date().toISOString() });
  const result = await processing;
  expect(result.result).toBe('PARTIAL');
  expect((await store.issues.forFile(b.pk)).map((i) => i.code).filter((c) => c !== 'W50')).toEqual(['A40']);
});

it('waits for the pending file to be rejected, then sees nothing of it', async () => {
  const { a, b, processing } = await waitingBehindPending();
  await store.files.reject(a, {
    findings: [{ code: 'F04', field: 'trailer', line: 3, message: 'count' }],
    records: 1,
    format: 'csv',
    sender: SENDER,
    duplicateOf: null,
    processedAt: new Date().toISOString(),
  });
  const result = await processing;
  expect(result.result).toBe('ACCEPTED');
  expect((await store.issues.forFile(b.pk)).filter((i) => i.code !== 'W50')).toEqual([]);
  expect((await store.readings.timeline(vin(1))).map((r) => r.odometer)).toEqual([40_000]);
});
