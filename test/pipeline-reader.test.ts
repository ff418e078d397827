/**
 * The reader thread (pipeline/reader-thread.ts, run from dist/, which jest builds first): it reads a file once and
 * never waits for the storing. Its verdict comes as soon as the file is read, even when the job thread has not
 * taken a single batch yet (the batches wait in the spool, in order), and the spool is gone when it ends.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileReader } from '../pipeline/file-reader';
import { unpackBatch, type RecordBatch } from '../pipeline/batcher';
import { csvBatch, daysAgo, vin } from './helpers/batch';

const SENDER = '2123456692';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-reader-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function writeFile(name: string, records: number, trailer: true | { count: number; sum: number } = true): string {
  const file = path.join(dir, name);
  fs.writeFileSync(
    file,
    csvBatch(
      SENDER,
      Array.from({ length: records }, (_, i) => ({ vin: vin(100 + i), date: daysAgo(2), odometer: 1000 + i })),
      { trailer },
    ),
  );
  return file;
}

const open = (file: string, spoolPath: string, batchSize = 50) =>
  new FileReader({
    path: file,
    allowedSenders: [SENDER],
    maxRecords: 100_000,
    today: daysAgo(0),
    resumeAfter: 0,
    batchSize,
    ahead: 2,
    spoolPath,
  });

it('gives its verdict before the job thread has stored anything, then every batch in order from the spool', async () => {
  const spoolPath = path.join(dir, 'spool-1');
  const reader = open(writeFile('a.csv', 1000), spoolPath);
  try {
    // Nothing is taken: the reader may have two batches in flight, the other eighteen must wait on disk.
    const verdict = await reader.verdict;
    expect(verdict).toMatchObject({ format: 'csv', sender: SENDER, records: 1000, findings: [] });
    expect(fs.statSync(spoolPath).size).toBeGreaterThan(0);
    const lines: number[] = [];
    let batches = 0;
    for (let m = await reader.next(); m.kind === 'batch'; m = await reader.next()) {
      const b: RecordBatch = m.batch;
      for (const r of unpackBatch(b)) lines.push(r.line);
      expect(b.sender).toBe(SENDER);
      batches++;
      reader.stored(b);
    }
    expect(batches).toBe(21); // twenty of 50 records, then the last one (empty here), which closes the file
    expect(lines.sort((x, y) => x - y)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 2));
  } finally {
    await reader.close();
  }
  expect(fs.existsSync(spoolPath)).toBe(false);
});

it('sends no more batches once the file fails a file-level check', async () => {
  const spoolPath = path.join(dir, 'spool-2');
  const reader = open(writeFile('bad-trailer.csv', 500, { count: 7, sum: 500 * 1000 + (499 * 500) / 2 }), spoolPath);
  try {
    expect((await reader.verdict).findings.map((f) => f.code)).toEqual(['F04']);
    let batches = 0;
    for (let m = await reader.next(); m.kind === 'batch'; m = await reader.next()) {
      batches++;
      reader.stored(m.batch);
    }
    expect(batches).toBeLessThanOrEqual(2); // those already in flight; the spool is dropped
  } finally {
    await reader.close();
  }
  expect(fs.existsSync(spoolPath)).toBe(false);
});

it('starts with a batch of 10,000 records, then batches of the batch size', async () => {
  const spoolPath = path.join(dir, 'spool-3');
  const reader = open(writeFile('first-batch.csv', 70_000), spoolPath, 25_000);
  const sizes: number[] = [];
  try {
    for (let m = await reader.next(); m.kind === 'batch'; m = await reader.next()) {
      sizes.push([...unpackBatch(m.batch)].length + m.batch.others.length);
      reader.stored(m.batch);
    }
  } finally {
    await reader.close();
  }
  expect(sizes).toEqual([10_000, 25_000, 25_000, 10_000]); // the last one holds the rest
});
