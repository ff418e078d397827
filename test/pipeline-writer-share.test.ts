/**
 * How a file's changes follow each other. On SQLite, sharing the one writer (pipeline/writer-share.ts,
 * Store.giveWay): while others want the writer, its batches are stored in short parts, cut by line; the parts give
 * exactly what the whole batches give. On PostgreSQL, the next batch is checked while the one before it is written
 * (BatchRequest.after): again exactly what whole batches give, and when the database refuses a change, none after it
 * is written (the retry goes on from the last change written).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveSettings } from '../config/defaults';
import { dataLayout } from '../config/layout';
import type { Store } from '../store';
import { openTestStore, type Backend } from './helpers/stores';
import { AuditLog } from '../store/audit-log';
import { processFile, type PipelineContext } from '../pipeline/process-file';
import { FileReader } from '../pipeline/file-reader';
import { recordCount, splitBatch, unpackBatch, type RecordBatch } from '../pipeline/batcher';
import { csvBatch, daysAgo, vin, type R } from './helpers/batch';
import { dumpStore, type StoreDump } from './helpers/store-dump';
import { prng } from './helpers/prng';
import pg from 'pg';

const SENDER = '2123456692';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-share-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/**
 * Readings of `vehicles` vehicles, each vehicle's first reading in the first half of the file and its second in the
 * second half, in shuffled orders: a vehicle's two readings are always in different parts. Some decrease (A40),
 * some jump (A42), some are malformed (E-issues, kept as objects, not packed).
 */
function records(vehicles: number, seed: number): R[] {
  const rnd = prng(seed);
  const shuffled = () => {
    const order = Array.from({ length: vehicles }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  };
  const first = shuffled().map((i): R => ({ vin: vin(1000 + i), date: daysAgo(6), odometer: 10_000 + i }));
  const second = shuffled().map((i): R => {
    if (i % 41 === 0) return { vin: vin(1000 + i), date: daysAgo(3), odometer: 'x' };
    if (i % 13 === 0) return { vin: vin(1000 + i), date: daysAgo(3), odometer: 5_000 + i };
    if (i % 17 === 0) return { vin: vin(1000 + i), date: daysAgo(3), odometer: 900_000 + i };
    return { vin: vin(1000 + i), date: daysAgo(3), odometer: 12_000 + i };
  });
  return [...first, ...second];
}

/** readFirstBatch: the first batch the reader thread makes of `text` (batch size `size`). */
async function readFirstBatch(text: string, size: number): Promise<RecordBatch> {
  const file = path.join(dir, `batch-${size}.csv`);
  fs.writeFileSync(file, text);
  const reader = new FileReader({
    path: file,
    allowedSenders: [SENDER],
    maxRecords: 100_000,
    today: daysAgo(0),
    resumeAfter: 0,
    batchSize: size,
    ahead: 2,
    spoolPath: path.join(dir, `spool-${size}`),
  });
  try {
    const m = await reader.next();
    if (m.kind !== 'batch') throw new Error('no batch');
    return m.batch;
  } finally {
    await reader.close();
  }
}

const linesOf = (b: RecordBatch) => [...[...unpackBatch(b)].map((r) => r.line), ...b.others.map((r) => r.line)];

it('cuts a batch by line into parts of at most N records, each still in VIN order, covering it exactly', async () => {
  const batch = await readFirstBatch(csvBatch(SENDER, records(500, 7), { trailer: true }), 1000);
  expect(recordCount(batch)).toBe(1000);
  expect(batch.others.length).toBeGreaterThan(0); // the malformed readings travel as objects
  const parts = splitBatch(batch, 70);
  expect(parts).toHaveLength(Math.ceil(1000 / 70));
  let after = 0;
  for (const [k, part] of parts.entries()) {
    const lines = linesOf(part);
    expect(recordCount(part)).toBe(lines.length);
    expect(lines.length).toBe(k < parts.length - 1 ? 70 : 1000 % 70);
    // lines (after, lastLine], and the last part ends where the batch ends
    expect(Math.min(...lines)).toBeGreaterThan(after);
    expect(Math.max(...lines)).toBe(part.lastLine);
    after = part.lastLine;
    const vins = [...unpackBatch(part)].map((r) => r.reading!.vin!);
    expect(vins).toEqual([...vins].sort());
    expect(part.sender).toBe(SENDER);
  }
  expect(parts[parts.length - 1].lastLine).toBe(batch.lastLine);
  const all = parts.flatMap((p) => [...unpackBatch(p)].map((r) => JSON.stringify(r)));
  expect(all.sort()).toEqual([...unpackBatch(batch)].map((r) => JSON.stringify(r)).sort());
  expect(parts.flatMap((p) => p.others)).toEqual(batch.others);
  expect(splitBatch(batch, 1000)).toEqual([batch]); // small enough already: the batch itself
});

/** A registry in a directory (and on PostgreSQL a database) of its own, with the garage's account. */
async function openRegistry(opts: { backend?: Backend; writerTurnMs?: number; batchSize?: number }) {
  const t = await openTestStore(opts.backend ?? 'sqlite');
  const layout = dataLayout(t.dir);
  const store: Store = t.store;
  const { writerTurnMs, batchSize } = opts;
  const ctx: PipelineContext = {
    store,
    layout,
    settings: resolveSettings({ dataDir: t.dir, databaseUrl: t.databaseUrl ?? undefined, writerTurnMs, batchSize }, {}),
    audit: new AuditLog(store.audit),
  };
  const accountId = (await store.accounts.add({ establishment: SENDER, name: 'Garage', role: 'garage', passwordHash: 'x' })).id;
  const close = async () => {
    await ctx.audit.close();
    await t.dispose();
  };
  return { store, ctx, accountId, layout, databaseUrl: t.databaseUrl, close };
}

type Registry = Awaited<ReturnType<typeof openRegistry>>;

/** receive takes the file in as the intake does; gives its pk. */
async function receive(reg: Registry, text: string): Promise<number> {
  const storedPath = path.join(reg.layout.root, 'nightly.csv');
  fs.writeFileSync(storedPath, text);
  const file = await reg.store.files.receive({
    accountId: reg.accountId,
    name: 'nightly.csv',
    storedPath,
    size: text.length,
    sha256: 'nightly',
    receivedAt: new Date().toISOString(),
  });
  return file.pk;
}

/** process takes the file in and processes it; gives the receipt event's store changes. */
async function process(reg: Registry, text: string): Promise<number> {
  const done = await processFile(reg.ctx, await receive(reg, text));
  expect(done.status).toBe('done');
  await reg.ctx.audit.flush();
  const [receipt] = await reg.store.audit.list({ event: 'receipt' });
  return receipt.fields.changes as number;
}

/** sortedDump: each file's lines sorted (the error numbers are given in another order when the parts differ). */
const sortedDump = (d: StoreDump) => new Map([...d.files].map(([k, lines]) => [k, [...lines].sort()]));

it('stores a file in short changes while an observation waits for the writer, with the same result as whole batches', async () => {
  const text = csvBatch(SENDER, records(15_000, 11), { trailer: true });
  const alone = await openRegistry({ writerTurnMs: 250 });
  const shared = await openRegistry({ writerTurnMs: 1 });
  try {
    // Nobody else wants the writer: the file's two batches (10,000 then 20,000 records) in one or two changes.
    const aloneChanges = await process(alone, text);
    expect(aloneChanges).toBeLessThanOrEqual(2);

    // An observation waits (no drainer runs: the file gives way to it once, then stores its records in short
    // changes for a while: parts of what it stores in 1 ms, at least 1,000 records).
    await shared.store.observations.add([
      {
        id: '00000000-0000-4000-8000-000000000001',
        accountId: shared.accountId,
        sender: SENDER,
        fields: {
          ref: '',
          vin: vin(1),
          plate: '',
          date: daysAgo(2),
          odometer: '1000',
          unit: 'km',
          work: 'MAINT',
          replaced: '',
          digits: '',
          corrects: '',
        },
        vehicleKey: vin(1),
        client: { builder: 'b', name: 'n', version: '1' },
        correctionOf: null,
        receivedAt: new Date().toISOString(),
        receivedDate: daysAgo(0),
      },
    ]);
    const sharedChanges = await process(shared, text);
    expect(sharedChanges).toBeGreaterThanOrEqual(10);
    expect(sharedChanges).toBeLessThanOrEqual(30);

    const [a, s] = [await dumpStore(alone.store), await dumpStore(shared.store)];
    expect(sortedDump(s)).toEqual(sortedDump(a));
    const issues = [...a.files.values()][0].filter((l) => l.startsWith('I '));
    expect(new Set(issues.map((l) => l.split(' ')[3]))).toEqual(new Set(['E14', 'A40', 'A42']));
    expect(s.errorNumbers.length).toBe(a.errorNumbers.length);
  } finally {
    await alone.close();
    await shared.close();
  }
});

/**
 * Readings whose vehicles come back in the next batch or the one after: each vehicle's three readings are `gap`
 * lines apart, so that consecutive batches share vehicles.
 */
function interleaved(vehicles: number, gap: number): R[] {
  const out: R[] = [];
  for (let i = 0; i < vehicles; i++) {
    const at = (k: number) => Math.floor(i / gap) * gap * 3 + (i % gap) + k * gap;
    out[at(0)] = { vin: vin(50_000 + i), date: daysAgo(9), odometer: 20_000 + i };
    out[at(1)] = { vin: vin(50_000 + i), date: daysAgo(8), odometer: i % 7 === 0 ? 19_000 : 20_500 + i };
    out[at(2)] = { vin: vin(50_000 + i), date: daysAgo(7), odometer: i % 11 === 0 ? 'y' : 21_000 + i };
  }
  return out.filter((r) => r !== undefined);
}

it('on PostgreSQL checks each batch while the one before it is written, with the result of whole batches on SQLite', async () => {
  const text = csvBatch(SENDER, [...records(6_000, 13), ...interleaved(3_000, 700)], { trailer: true });
  const sqlite = await openRegistry({ backend: 'sqlite' });
  const postgres = await openRegistry({ backend: 'postgres', batchSize: 1_000 });
  try {
    expect(await process(sqlite, text)).toBeLessThanOrEqual(2);
    expect(await process(postgres, text)).toBeGreaterThanOrEqual(15); // 21,000 records, in changes of 1,000 or 2,000
    const [a, p] = [await dumpStore(sqlite.store), await dumpStore(postgres.store)];
    expect(sortedDump(p)).toEqual(sortedDump(a));
    const issues = [...a.files.values()][0].filter((l) => l.startsWith('I '));
    expect(new Set(issues.map((l) => l.split(' ')[3]))).toEqual(new Set(['E14', 'A40', 'A42', 'W50']));
    expect(new Set(p.errorNumbers).size).toBe(a.errorNumbers.length);
  } finally {
    await sqlite.close();
    await postgres.close();
  }
}, 60_000);

it('on PostgreSQL stores nothing after a change the database refused, and a retry then gives the result of whole batches', async () => {
  const all = [...records(6_000, 13), ...interleaved(3_000, 700)];
  const text = csvBatch(SENDER, all, { trailer: true });
  // The vehicle of line 3,000 (the header is line 1): its other reading is in the second half, so the changes
  // right after the refused one do not hold it and could be written, were they not ordered after it.
  const poison = (all[2_998] as { vin: string }).vin;
  const poisonLine = 3_000;
  const sqlite = await openRegistry({ backend: 'sqlite' });
  const postgres = await openRegistry({ backend: 'postgres', batchSize: 1_000 });
  const db = new pg.Client({ connectionString: postgres.databaseUrl! });
  await db.connect();
  try {
    await process(sqlite, text);
    // The database refuses the poisoned vehicle's readings: the change holding the first of them fails while the
    // next one is being checked beside it.
    await db.query(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'refused reading of %', NEW.vin; END $$`);
    await db.query(`CREATE TRIGGER refuse BEFORE INSERT ON readings FOR EACH ROW WHEN (NEW.vin = '${poison}')
      EXECUTE FUNCTION refuse()`);
    const pk = await receive(postgres, text);
    await expect(processFile(postgres.ctx, pk)).rejects.toThrow(`refused reading of ${poison}`);
    const { progressLine } = (await postgres.store.files.get(pk))!;
    const stored = (await postgres.store.readings.forFile(pk)).map((r) => r.line);
    expect(progressLine).toBeGreaterThan(1_000); // changes before the refused one were written
    expect(progressLine).toBeLessThan(poisonLine);
    expect(Math.max(...stored)).toBeLessThanOrEqual(progressLine); // and none after it

    await db.query('DROP TRIGGER refuse ON readings');
    expect((await processFile(postgres.ctx, pk)).status).toBe('done'); // the retry, from the saved progress
    const [a, p] = [await dumpStore(sqlite.store), await dumpStore(postgres.store)];
    expect(sortedDump(p)).toEqual(sortedDump(a));
    expect(new Set(p.errorNumbers).size).toBe(a.errorNumbers.length);
  } finally {
    await db.end();
    await sqlite.close();
    await postgres.close();
  }
}, 60_000);
