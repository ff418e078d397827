/**
 * Bounded memory per file, whatever its records hold (issue #13). A plain reading crosses from the reader thread
 * packed in bytes; every other record (a rejected one, a plate-only reading, a correction) as an object. Before:
 * - a batch was cut by its record count alone, so a batch of 100,000 rejected records ran the reader thread out of
 *   its 32 MB heap, and a file whose records were all in error never got a receipt;
 * - a batch holding one plate-only reading or correction was checked in file order, all its 100,000 packed
 *   readings unpacked into objects at once (and each vehicle's history kept): a nightly file with a plate-only
 *   reading every 1,000 records took the job thread's heap past 64 MB, and the worker's RSS to ~450 MB.
 *
 * processFile runs in a child process from dist/ with its heap capped at JOB_HEAP_MB, on a real SQLite store in a
 * temp directory, with the real reader thread; real files. Each receipt is read back line by line, as a sender
 * would, without holding it whole.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { dataLayout } from '../config/layout';
import { openStore, type Store } from '../store';
import { FileReader } from '../pipeline/file-reader';
import { OTHERS_BYTES, heapBytesOf, unpackBatch, type RecordBatch } from '../pipeline/batcher';
import { daysAgo, rLine, vin } from './helpers/batch';
import { DIST } from './helpers/build';

jest.setTimeout(300_000);

const SENDER = '2123456692';
/**
 * The job thread's heap (V8's old space) in the child: a few batches of objects and a page of issues fit in it
 * many times over (the tests pass with 24 MB); a batch of 100,000 records as objects does not.
 */
const JOB_HEAP_MB = 48;
let dir: string;
let store: Store;
let accountId: number;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-memory-'));
  store = await openStore({ sqlite: dataLayout(dir).db });
  accountId = (await store.accounts.add({ establishment: SENDER, name: 'Garage', role: 'garage', passwordHash: 'x' })).id;
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The child: processFile (dist/) on this test's data directory, as a worker runs it. */
const CHILD = `
const path = require('node:path');
const dist = (m) => require(path.join(${JSON.stringify(DIST)}, m));
const { resolveSettings } = dist('config/defaults.js');
const { dataLayout } = dist('config/layout.js');
const { openStore } = dist('store/index.js');
const { AuditLog } = dist('store/audit-log.js');
const { processFile } = dist('pipeline/process-file.js');
const [dataDir, filePk] = process.argv.slice(1);
const layout = dataLayout(dataDir);
openStore({ sqlite: layout.db }).then((store) => {
  const audit = new AuditLog(store.audit);
  const ctx = { store, layout, settings: resolveSettings({ dataDir }, {}), audit };
  return processFile(ctx, Number(filePk)).finally(() => audit.close().then(() => store.close()));
});
`;

/** processInChild processes a received file in a child process whose heap is capped at JOB_HEAP_MB. */
async function processInChild(filePk: number): Promise<void> {
  const args = [`--max-old-space-size=${JOB_HEAP_MB}`, '-e', CHILD, dir, String(filePk)];
  await promisify(execFile)(process.execPath, args, { maxBuffer: 16 * 2 ** 20 });
}

/** One record of the file and the issue it must get (code, field). */
interface Kind {
  line: (i: number) => string;
  code: string;
  field: string;
}

const DATE = daysAgo(2);
/** A unit a DMS writes wrongly: E15. */
const KMS: Kind = {
  line: (i) => rLine({ ref: `WO-${i}`, vin: vin(i), date: DATE, odometer: 10_000 + i, unit: 'KMS' }),
  code: 'E15',
  field: 'unit',
};
/** An R record of one field: E10. */
const R_X: Kind = { line: () => 'R;x', code: 'E10', field: 'record' };
/** A VIN with an I: E12. */
const BAD_VIN: Kind = { line: (i) => rLine({ vin: 'WVWZZZ1JZXW00000I', date: DATE, odometer: i }), code: 'E12', field: 'vin' };
/** An unknown record type: a malformed record, E10. */
const X_TYPE: Kind = { line: (i) => `X;${i}`, code: 'E10', field: 'record' };

/**
 * writeFile writes a CSV batch file of `records` records, record i of kinds[i % kinds.length], with its header and
 * a trailer that matches (count and sum of the R records), a block at a time.
 */
function writeFile(name: string, records: number, kinds: Kind[]): string {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'w');
  let count = 0;
  let sum = 0;
  let block: string[] = [`H;INFLOW;1;${SENDER};2026-11-25T22:00:00+01:00;TestDMS 1.0`];
  for (let i = 0; i < records; i++) {
    const line = kinds[i % kinds.length].line(i);
    const f = line.split(';');
    if (f[0] === 'R') {
      count++;
      if (/^\d+$/.test(f[5] ?? '')) sum += Number(f[5]);
    }
    block.push(line);
    if (block.length >= 10_000) {
      fs.writeSync(fd, block.join('\n') + '\n');
      block = [];
    }
  }
  block.push(`T;${count};${sum}`);
  fs.writeSync(fd, block.join('\n') + '\n');
  fs.closeSync(fd);
  return file;
}

async function receive(file: string) {
  const name = path.basename(file);
  return store.files.receive({
    accountId,
    name,
    storedPath: file,
    size: fs.statSync(file).size,
    sha256: name,
    receivedAt: new Date().toISOString(),
  });
}

/**
 * expectReceipt reads the receipt a line at a time: its header says PARTIAL with every record rejected
 * (docs/receipts.md: REJECTED is for file-level issues only), then one numbered I line per record, in file order
 * (record i on line i + 2), with the issue of its kind, and a T line that counts them.
 */
async function expectReceipt(receiptPath: string, records: number, kinds: Kind[]): Promise<void> {
  const lines = readline.createInterface({ input: fs.createReadStream(receiptPath), crlfDelay: Infinity });
  let header: string | null = null;
  let trailer: string | null = null;
  let n = 0;
  let wrong: string | null = null; // the first wrong I line (an expect per line would be slow)
  for await (const text of lines) {
    if (header === null) {
      header = text;
      continue;
    }
    if (text.startsWith('T;')) {
      trailer = text;
      continue;
    }
    const f = text.split(';');
    const kind = kinds[n % kinds.length];
    const ok = f[0] === 'I' && /^\d{12}$/.test(f[1]) && f[2] === String(n + 2) && f[5] === kind.code && f[6] === 'E' && f[7] === kind.field;
    if (!ok && wrong === null) wrong = `I line ${n + 1}: ${text}`;
    n++;
  }
  expect(header?.split(';').slice(8)).toEqual(['PARTIAL', String(records), '0', String(records), '0', '0']);
  expect(wrong).toBeNull();
  expect(n).toBe(records);
  expect(trailer).toBe(`T;${records}`);
}

async function processAllErrors(name: string, records: number, kinds: Kind[]): Promise<void> {
  const file = await receive(writeFile(name, records, kinds));
  await processInChild(file.pk);
  const done = (await store.files.get(file.pk))!;
  expect(done).toMatchObject({ status: 'done', result: 'PARTIAL', records, accepted: 0, rejected: records, anomalies: 0, warnings: 0 });
  expect(await store.readings.forFile(file.pk)).toEqual([]);
  await expectReceipt(dataLayout(dir).filesPath(done.receiptPath!), records, kinds);
}

/** readBatches reads a file on the real reader thread and returns its batches (a copy of what each held). */
async function readBatches(
  file: string,
  batchSize: number,
  resumeAfter = 0,
): Promise<{ lines: number[]; others: RecordBatch['others']; lastLine: number }[]> {
  const reader = new FileReader({
    path: file,
    allowedSenders: [SENDER],
    maxRecords: 5_000_000,
    today: daysAgo(0),
    resumeAfter,
    batchSize,
    ahead: 2,
    spoolPath: path.join(dir, 'spool'),
  });
  const batches: { lines: number[]; others: RecordBatch['others']; lastLine: number }[] = [];
  try {
    for (let m = await reader.next(); m.kind === 'batch'; m = await reader.next()) {
      const lines = [...unpackBatch(m.batch)].map((r) => r.line);
      batches.push({ lines, others: structuredClone(m.batch.others), lastLine: m.batch.lastLine });
      reader.stored(m.batch);
    }
  } finally {
    await reader.close();
  }
  return batches;
}

describe('records that are all in error', () => {
  it('cuts a batch once its rejected records take OTHERS_BYTES, whatever the batch size', async () => {
    const batches = await readBatches(writeFile('kms-60000.csv', 60_000, [KMS]), 100_000);
    expect(batches.reduce((a, b) => a + b.others.length, 0)).toBe(60_000);
    expect(batches.length).toBeGreaterThan(2);
    for (const { others } of batches) {
      const bytes = others.map(heapBytesOf);
      // A batch is cut by the record that reaches the bound.
      expect(bytes.reduce((a, b) => a + b, 0)).toBeLessThan(OTHERS_BYTES + Math.max(0, ...bytes));
    }
  });

  it('200,000 records with the unit KMS: a PARTIAL receipt listing 200,000 E15', async () => {
    await processAllErrors('kms-200000.csv', 200_000, [KMS]);
  });

  it('150,000 lines of R;x: a PARTIAL receipt listing 150,000 E10', async () => {
    await processAllErrors('r-x-150000.csv', 150_000, [R_X]);
  });

  it('1,000,000 records all in error (E15, E10, E12, unknown record type): a PARTIAL receipt listing each', async () => {
    await processAllErrors('all-errors-1000000.csv', 1_000_000, [KMS, R_X, BAD_VIN, X_TYPE]);
  });
});

describe('plate-only readings and corrections among plain readings', () => {
  it('a correction never shares a batch with packed readings (those are checked in VIN order, it in file order)', async () => {
    const plain = (i: number): Kind => ({ line: () => rLine({ vin: vin(i), date: DATE, odometer: 1000 + i }), code: '', field: '' });
    const correction: Kind = {
      line: () => rLine({ vin: vin(99), date: DATE, odometer: 5000, corrects: '100000000162' }),
      code: '',
      field: '',
    };
    const kinds = [...Array.from({ length: 30 }, (_, i) => plain(i)), correction, ...Array.from({ length: 30 }, (_, i) => plain(40 + i))];
    const batches = await readBatches(writeFile('with-correction.csv', kinds.length, kinds), 100);
    const lines = batches.flatMap((b) => [...b.lines, ...b.others.map((r) => r.line)]).sort((a, b) => a - b);
    expect(lines).toEqual(Array.from({ length: kinds.length }, (_, i) => i + 2)); // every record once
    const withCorrection = batches.filter((b) => b.others.some((r) => r.reading?.corrects));
    expect(withCorrection.map((b) => ({ packed: b.lines.length, others: b.others.map((r) => r.line) }))).toEqual([
      { packed: 0, others: [32] },
    ]);
  });

  it('a plate-only reading every 1,000 records: checked in VIN order among the others, in a small heap', async () => {
    const records = 300_000;
    const isPlate = (i: number) => i % 1000 === 500;
    // Record i is a plate-only reading of the vehicle of record i - 1, same date and odometer: E21 on the later line.
    const kind: Kind = {
      line: (i) =>
        rLine({ vin: isPlate(i) ? '' : vin(i), plate: isPlate(i) ? `P${i}` : '', date: DATE, odometer: 1000 + (isPlate(i) ? i - 1 : i) }),
      code: 'E21',
      field: 'record',
    };
    await store.vehicles.upsertMany(
      Array.from({ length: records / 1000 }, (_, k) => ({
        vin: vin(k * 1000 + 499),
        plate: `P${k * 1000 + 500}`,
        firstRegistration: '2015-01-01',
        imported: false,
        digits: null,
      })),
    );
    const file = await receive(writeFile('plates.csv', records, [kind]));
    await processInChild(file.pk);
    const done = (await store.files.get(file.pk))!;
    const plates = records / 1000;
    expect(done).toMatchObject({ status: 'done', result: 'PARTIAL', records, accepted: records - plates, rejected: plates, anomalies: 0 });
    const issues = (await store.issues.forFile(file.pk)).filter((i) => i.code !== 'W50');
    expect(issues.map((i) => [i.line, i.code, i.vin, i.message])).toEqual(
      Array.from({ length: plates }, (_, k) => {
        const i = k * 1000 + 500;
        return [i + 2, 'E21', vin(i - 1), `Same VIN, date and odometer as line ${i + 1} of this file.`];
      }),
    );
  });
});

describe('a resumed attempt', () => {
  it('cuts its batches where the interrupted attempt did, also where rejected records or a correction cut them', async () => {
    // Rejected records cut batches by their bytes, corrections by sharing none with packed readings.
    const correction = (i: number) => rLine({ vin: vin(i), date: DATE, odometer: 5000, corrects: '100000000162' });
    const kind: Kind = {
      line: (i) => (i % 997 === 0 ? correction(i) : i % 3 === 0 ? rLine({ vin: vin(i), date: DATE }) : KMS.line(i)),
      code: '',
      field: '',
    };
    const file = writeFile('mixed-40000.csv', 40_000, [kind]);
    const whole = (await readBatches(file, 100_000)).map((b) => b.lastLine);
    expect(whole.length).toBeGreaterThan(20);
    for (const k of [3, Math.floor(whole.length / 2), whole.length - 2]) {
      const resumed = (await readBatches(file, 100_000, whole[k - 1])).map((b) => b.lastLine);
      expect(resumed).toEqual(whole.slice(k));
    }
  });
});
