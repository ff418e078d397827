/**
 * The XML receipt's `line` and `reading` (docs/receipts.md) through the real pipeline (processFile, its reader thread
 * from dist/, a real SQLite store in a temp directory), for a file of many batches whose readings start on lines
 * that have nothing to do with their position: several on one line, some over several lines, malformed elements
 * between them, rejected and flagged ones (kept apart from the packed readings and packed with them). A file
 * resumed after an interruption that left some batches committed gives the very same receipt.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveSettings } from '../config/defaults';
import { dataLayout } from '../config/layout';
import { openStore } from '../store';
import { AuditLog } from '../store/audit-log';
import { processFile, type PipelineContext } from '../pipeline/process-file';
import { storeRecords } from '../pipeline/check-batch';
import { FileReader } from '../pipeline/file-reader';
import { brusselsToday } from '../rules/brussels-date';
import { daysAgo, vin } from './helpers/batch';
import { hasXmllint, parseXmlReceipt, xmlReading, xmllint } from './helpers/xml';
import type { ParsedReceipt } from './helpers/receipt';

const SENDER = '2123456692';
const N = 30_000;
const BATCH = 1000;

/** What the receipt must say about one record: its issue code, the line it starts on, its position. */
interface Expected {
  code: string;
  line: number;
  reading: number;
}

/**
 * bigXml lays out N records: two readings on one line, then one spread over four lines, and so on; every 7th a bad
 * VIN (E12), every 11th a later, lower reading of the vehicle before it (A40), every 500th a `<note/>` in the root
 * (E10: a malformed record, which counts as a record).
 */
function bigXml(): { text: string; expected: Expected[] } {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<inflow version="1" sender="${SENDER}">`];
  const expected: Expected[] = [];
  let pending: { element: string; line: number } | null = null; // the first of a pair, waiting for the second
  const flush = () => {
    if (pending) lines.push(pending.element);
    pending = null;
  };
  let lastVin = '';
  for (let k = 1; k <= N; k++) {
    let element: string;
    let code: string | null = null;
    if (k % 500 === 0) [element, code] = ['<note/>', 'E10'];
    else if (k % 7 === 0) [element, code] = [xmlReading({ ref: `R-${k}`, vin: 'TSTVNZZZ00000000I' }), 'E12'];
    else if (k % 11 === 0) [element, code] = [xmlReading({ ref: `R-${k}`, vin: lastVin, date: daysAgo(1), odometer: 1 }), 'A40'];
    else {
      lastVin = vin(100_000 + k);
      element = xmlReading({ ref: `R-${k}`, vin: lastVin, date: daysAgo(2), odometer: 50_000 + k });
    }
    let line: number;
    if (k % 3 === 0) {
      flush();
      line = lines.length + 1;
      lines.push(...splitInFour(element));
    } else if (pending) {
      line = pending.line;
      lines.push(`${pending.element} ${element}`);
      pending = null;
    } else {
      line = lines.length + 1;
      pending = { element, line };
    }
    if (code) expected.push({ code, line, reading: k });
  }
  flush();
  lines.push('</inflow>', '');
  return { text: lines.join('\n'), expected };
}

/** splitInFour cuts an element into four lines at tag boundaries (only the first holds its start tag). */
function splitInFour(element: string): string[] {
  const parts = element.replace(/></g, '>\u0000<').split('\u0000');
  const q = Math.ceil(parts.length / 4);
  return [0, 1, 2, 3].map((i) => parts.slice(i * q, (i + 1) * q).join(''));
}

let dir: string;
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const close of closers) await close();
  fs.rmSync(dir, { recursive: true, force: true });
});
beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-xml-index-'))));

async function pipeline(name: string): Promise<{ ctx: PipelineContext; accountId: number }> {
  const at = path.join(dir, name);
  const layout = dataLayout(at);
  const store = await openStore({ sqlite: layout.db });
  const ctx = { store, layout, settings: resolveSettings({ dataDir: at, batchSize: BATCH }, {}), audit: new AuditLog(store.audit) };
  closers.push(async () => {
    await ctx.audit.close();
    await store.close();
  });
  const accountId = (await store.accounts.add({ establishment: SENDER, name: 'Garage', role: 'garage', passwordHash: 'x' })).id;
  return { ctx, accountId };
}

async function receive(ctx: PipelineContext, accountId: number, text: string) {
  const storedPath = path.join(dir, `${accountId}-${Math.random().toString(36).slice(2)}.xml`);
  fs.writeFileSync(storedPath, text);
  const receivedAt = new Date().toISOString();
  return ctx.store.files.receive({
    accountId,
    name: 'big.xml',
    storedPath,
    size: text.length,
    sha256: crypto.createHash('sha256').update(text).digest('hex'),
    receivedAt,
  });
}

function receiptOf(receiptPath: string): ParsedReceipt {
  if (hasXmllint()) expect(xmllint('inflow-receipt-1.xsd', receiptPath).stderr).toMatch(/validates/);
  return parseXmlReceipt(fs.readFileSync(receiptPath, 'utf8'));
}

const { text, expected } = bigXml();
let clean: ParsedReceipt;

it(`a file of ${N} XML records in batches of ${BATCH}: every issue gives the line its record starts on and its position`, async () => {
  const { ctx, accountId } = await pipeline('clean');
  const file = await receive(ctx, accountId, text);
  const done = await processFile(ctx, file.pk);
  clean = receiptOf(ctx.layout.filesPath(done.receiptPath!));
  expect([clean.status, clean.records]).toEqual(['PARTIAL', N]);
  const got = clean.issues.map((i) => ({ code: i.code, line: i.line, reading: i.reading }));
  expect(got).toEqual(expected);
  // The layout does what it should: lines and positions drift apart (five lines for every three records), and
  // flagged and rejected records are seconds of a pair (starting mid-line) as well as four-line ones.
  const last = expected[expected.length - 1];
  expect(last.line).toBeGreaterThan(1.6 * last.reading);
  expect(new Set(expected.map((e) => e.reading % 3))).toEqual(new Set([0, 1, 2]));
}, 120_000);

it('the same file, resumed after some of its batches were committed, gives the same receipt', async () => {
  const { ctx, accountId } = await pipeline('resumed');
  const file = await receive(ctx, accountId, text);
  // The first attempt: what readAndStore does, until it stops after three batches (as a killed worker would).
  await ctx.store.files.startAttempt(file.pk);
  const reader = new FileReader({
    path: file.storedPath,
    allowedSenders: [SENDER],
    maxRecords: ctx.settings.maxRecords,
    today: brusselsToday(new Date(file.receivedAt)),
    resumeAfter: 0,
    batchSize: BATCH,
    ahead: 2,
    spoolPath: path.join(dir, 'spool-resumed'),
  });
  const fileCtx = {
    filePk: file.pk,
    sender: SENDER,
    receivedDate: brusselsToday(new Date(file.receivedAt)),
    lateByDate: new Map(),
    history: { decreaseToleranceKm: ctx.settings.decreaseToleranceKm, maxKmPerDay: ctx.settings.maxKmPerDay },
  };
  try {
    for (let i = 0; i < 3; i++) {
      const m = await reader.next();
      if (m.kind !== 'batch') throw new Error('the file ended early');
      expect(await storeRecords(ctx.store, fileCtx, [m.batch])).toEqual({ blockedBy: [] });
      reader.stored(m.batch);
    }
  } finally {
    await reader.close();
  }
  const progress = (await ctx.store.files.get(file.pk))!.progressLine;
  expect(progress).toBeGreaterThan(BATCH);
  expect(progress).toBeLessThan(N / 2);

  const done = await processFile(ctx, file.pk);
  const resumed = receiptOf(ctx.layout.filesPath(done.receiptPath!));
  const strip = (r: ParsedReceipt) => ({ ...r, fileId: '', received: '', processed: '' });
  expect(strip(resumed)).toEqual(strip(clean));
}, 120_000);
