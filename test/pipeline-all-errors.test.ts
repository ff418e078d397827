/**
 * Files whose records are all in error (issue #13): every record travels as an object, not as packed bytes, so a
 * batch must be cut by what its objects take, not only by its record count. Before that, a batch of 100,000
 * rejected records ran the reader thread out of its 32 MB heap and the file never got a receipt.
 *
 * The real reader thread (from dist/), processFile on a real SQLite store in a temp directory, real files; each
 * receipt is read back line by line, as a sender would, without holding it whole.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { resolveSettings } from '../config/defaults';
import { dataLayout } from '../config/layout';
import { openStore, type Store } from '../store';
import { AuditLog } from '../store/audit-log';
import { processFile, type PipelineContext } from '../pipeline/process-file';
import { FileReader } from '../pipeline/file-reader';
import { OTHERS_BYTES, heapBytesOf } from '../pipeline/batcher';
import { daysAgo, rLine, vin } from './helpers/batch';

jest.setTimeout(300_000);

const SENDER = '2123456692';
let dir: string;
let store: Store;
let ctx: PipelineContext;
let accountId: number;

beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-all-errors-'));
  const layout = dataLayout(dir);
  store = openStore({ sqlite: layout.db });
  ctx = { store, layout, settings: resolveSettings({ dataDir: dir }, {}), audit: new AuditLog(layout.auditLog) };
  accountId = (await store.accounts.add({ establishment: SENDER, name: 'Garage', role: 'garage', passwordHash: 'x' })).id;
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

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
  const done = await processFile(ctx, file.pk);
  expect(done).toMatchObject({ status: 'done', result: 'PARTIAL', records, accepted: 0, rejected: records, anomalies: 0, warnings: 0 });
  expect(await store.readings.forFile(file.pk)).toEqual([]);
  await expectReceipt(done.receiptPath!, records, kinds);
}

it('cuts a batch once its rejected records take OTHERS_BYTES, whatever the batch size', async () => {
  const file = writeFile('kms-60000.csv', 60_000, [KMS]);
  const reader = new FileReader({
    path: file,
    allowedSenders: [SENDER],
    maxRecords: 100_000,
    today: daysAgo(0),
    resumeAfter: 0,
    batchSize: 100_000,
    ahead: 2,
    spoolPath: path.join(dir, 'spool'),
  });
  const sizes: { records: number; bytes: number; largest: number }[] = [];
  try {
    for (let m = await reader.next(); m.kind === 'batch'; m = await reader.next()) {
      const bytes = m.batch.others.map(heapBytesOf);
      sizes.push({ records: bytes.length, bytes: bytes.reduce((a, b) => a + b, 0), largest: Math.max(0, ...bytes) });
      reader.stored(m.batch);
    }
  } finally {
    await reader.close();
  }
  expect(sizes.reduce((a, s) => a + s.records, 0)).toBe(60_000);
  expect(sizes.length).toBeGreaterThan(2);
  // A batch is cut by the record that reaches the bound.
  for (const s of sizes) expect(s.bytes).toBeLessThan(OTHERS_BYTES + s.largest);
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
