/**
 * An XML file is read once for both its scan and its records (pipeline/reader-thread.ts, mode `once`), on the real
 * reader thread (dist/, built by `npm test`). When the job has not committed (no credit) by the time a batch is
 * ready, the reader goes on for the scan alone, then reads the records after the last batch it sent again: every
 * record must arrive exactly once, in order, and nothing after a failed scan.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openRecordSource, type RecordSource } from '../pipeline/record-source';
import { unpackBatch } from '../pipeline/read-records';
import type { ScanResult } from '../pipeline/scan-file';
import { daysAgo, vin } from './helpers/batch';
import { xmlBatch } from './helpers/xml';

const SENDER = '2123456692';
let dir: string;
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-once-'))));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const readings = Array.from({ length: 11 }, (_, i) => ({ vin: vin(i + 1), date: daysAgo(2), odometer: 1000 + i }));

async function open(text: string, batchSize: number, ahead: number): Promise<RecordSource> {
  const file = path.join(dir, `f-${batchSize}-${ahead}-${text.length}.xml`);
  fs.writeFileSync(file, text);
  return openRecordSource({ path: file, allowedSenders: [SENDER], maxRecords: 1000, today: daysAgo(0), resumeAfter: 0, batchSize, ahead });
}

/** Takes the first batch, then waits for the scan without committing (the job's store-ahead), then the rest. */
async function drain(source: RecordSource): Promise<{ scan: ScanResult; lines: number[]; odometers: number[] }> {
  const lines: number[] = [];
  const odometers: number[] = [];
  const it = source.batches()[Symbol.asyncIterator]();
  const take = (b: Parameters<typeof unpackBatch>[0]) => {
    for (const r of unpackBatch(b)) {
      lines.push(r.line);
      odometers.push(r.reading!.odometer);
    }
  };
  const first = await it.next();
  const scan = await source.scan(); // no credit given yet: the reader must finish the scan without one
  if (!first.done) take(first.value);
  if (scan.findings.length === 0) for (let r = await it.next(); !r.done; r = await it.next()) take(r.value);
  await source.close();
  return { scan, lines, odometers };
}

test.each([
  [2, 1],
  [3, 2],
  [100, 2],
])('batches of %d, %d ahead: every reading once, in order, and the scan', async (batchSize, ahead) => {
  const got = await drain(await open(xmlBatch(SENDER, readings, { trailer: true }), batchSize, ahead));
  expect(got.scan.findings).toEqual([]);
  expect(got.scan.records).toBe(11);
  expect(got.lines).toEqual(readings.map((_, i) => i + 1)); // XML records are keyed by reading index
  expect(got.odometers).toEqual(readings.map((r) => r.odometer));
});

test('a scan that fails: its findings, and no batch after it', async () => {
  const source = await open(xmlBatch(SENDER, readings, { trailer: { count: 12, sum: 0 } }), 2, 1);
  const got = await drain(source);
  expect(got.scan.findings.map((f) => f.code)).toContain('F04');
  expect(got.lines).toEqual([1, 2]); // the one batch sent before the scan, which the job rolls back
});
