/**
 * Processing one received file: file-level checks over the whole stream (nothing is committed from a file that
 * fails them; the first batch is stored while they run and rolled back if they fail), the records in batched
 * write transactions, then the receipt.
 *
 * Idempotent: each batch commits its readings, issues and the file's progress line together, and a re-run
 * resumes after that line; issues are keyed by (file, line, code, field), so a retried or replayed file never
 * stores a reading twice nor numbers a problem twice.
 */
import fs from 'node:fs';
import type { Settings } from '../config/defaults';
import type { DataLayout } from '../config/layout';
import type { Store, FileRecord, Account, FileResult } from '../store';
import type { AuditLog } from '../store/audit-log';
import type { BatchFormat } from '../parsers/types';
import { brusselsToday } from '../schemas/brussels-date';
import { issueDef, isCorrectable, type Finding } from '../schemas/issue-catalogue';
import { writeReceipt } from './write-receipt';
import { FileGoneError } from './errors';
import { checkAndStore, type RecordContext } from './check-and-store';
import { unpackBatch, type RecordBatch } from './read-records';
import type { FileFinding, ScanResult } from './scan-file';
import { openRecordSource, type RecordSource } from './record-source';

export interface PipelineContext {
  store: Store;
  layout: DataLayout;
  settings: Settings;
  audit: AuditLog;
}

export interface Verdict {
  format: BatchFormat | null;
  sender: string | null;
  records: number;
  findings: FileFinding[];
  duplicateOf: number | null;
}

/** processFile takes a received file through to its receipt and returns its final record. */
export async function processFile(ctx: PipelineContext, filePk: number): Promise<FileRecord> {
  const { store } = ctx;
  const file = store.files.get(filePk);
  if (!file) throw new FileGoneError(`file ${filePk} is not in the database`);
  if (file.status === 'done' && file.receiptPath && fs.existsSync(file.receiptPath)) return file;
  if (!fs.existsSync(file.storedPath)) throw new FileGoneError(`stored file ${file.storedPath} is missing`);
  const account = store.accounts.byId(file.accountId);
  if (!account) throw new FileGoneError(`account ${file.accountId} of file ${file.id} is missing`);

  store.files.startAttempt(filePk, null);
  const t0 = performance.now();
  const timing = { scanned: t0 };
  let verdict = earlyVerdict(ctx, file);
  let result: FileResult;
  if (!verdict) {
    const source = await openRecordSource({
      path: file.storedPath, allowedSenders: allowedSenders(account), maxRecords: ctx.settings.maxRecords,
      today: brusselsToday(new Date(file.receivedAt)), resumeAfter: file.progressLine, batchSize: ctx.settings.batchSize, ahead: 2,
    });
    try {
      verdict = await scanAndStore(ctx, file, source, { onScanned: () => (timing.scanned = performance.now()) });
    } finally {
      await source.close();
    }
  } else timing.scanned = performance.now();
  if (verdict.findings.length) {
    result = verdict.duplicateOf !== null ? 'DUPLICATE' : 'REJECTED';
    store.tx(() => {
      for (const f of verdict!.findings) insertIssue(store, file.pk, f.line, f, null, null);
    });
  }
  const scanned = timing.scanned;

  const counts = verdict.findings.length
    ? { records: verdict.records, accepted: 0, rejected: verdict.records, anomalies: 0, warnings: 0 }
    : store.issues.countsForFile(file.pk, verdict.records);
  if (!verdict.findings.length) result = counts.rejected > 0 || counts.anomalies > 0 ? 'PARTIAL' : 'ACCEPTED';
  store.files.finish(file.pk, { result: result!, counts, duplicateOf: verdict.duplicateOf, processedAt: new Date().toISOString() });

  const stored = performance.now();
  const finished = store.files.get(file.pk)!;
  const receiptPath = await writeReceipt(store, ctx.layout, finished);
  store.files.markDone(file.pk, receiptPath);
  // Where the time went (ms): the scan (file-level checks), storing the records, writing the receipt.
  const ms = { scan: Math.round(scanned - t0), store: Math.round(stored - scanned), receipt: Math.round(performance.now() - stored) };
  ctx.audit.write('receipt', { pid: process.pid, file: finished.id, account: finished.account, name: finished.name, status: finished.result, path: receiptPath, ms });
  return store.files.get(file.pk)!;
}

/** allowedSenders: an account sends for itself; a fleet account also for the establishments it lists. */
function allowedSenders(a: Account): string[] {
  return a.role === 'fleet' ? [a.establishment, ...a.senders] : [a.establishment];
}

/** earlyVerdict: F07 and the size limit, from the store alone (the file is not read); null when neither applies. */
function earlyVerdict(ctx: PipelineContext, file: FileRecord): Verdict | null {
  const verdict: Verdict = { format: null, sender: null, records: 0, findings: [], duplicateOf: null };
  const first = ctx.store.files.firstWithSha(file.accountId, file.sha256);
  if (first && first.pk !== file.pk) {
    verdict.duplicateOf = first.pk;
    verdict.findings.push({
      code: 'F07', field: 'file', line: 0,
      message: `same content as file ${first.id} (${first.name}) received ${first.receivedAt}: not processed again`,
    });
    return verdict;
  }
  if (file.size > ctx.settings.maxFileBytes) {
    verdict.findings.push({ code: 'F06', field: 'file', line: 0, message: `file is larger than ${ctx.settings.maxFileBytes} bytes` });
    return verdict;
  }
  return null;
}

/**
 * How long a batch stored before the scan has ended may hold the write lock waiting for the scan, ms. The intake
 * waits up to 15 s (the connection's busy timeout) to record an upload; a batch takes 1–2 s.
 */
export const STORE_AHEAD_WAIT_MS = 5_000;

export interface ScanAndStoreOptions {
  onScanned?: () => void;
  /** STORE_AHEAD_WAIT_MS, shorter in tests. */
  aheadWaitMs?: number;
}

/**
 * scanAndStore returns the scan's verdict (file-level checks over the whole file) and, when it passes, stores the
 * records: each batch in one write transaction with the file's progress line.
 *
 * The first batch does not wait for the scan (issue #4: on a 1,000,000-record file the scan is ~2 s, on a 200,000-
 * reading XML file ~40% of the time): it is checked and stored in a transaction left open until the scan ends,
 * committed if the scan passes, rolled back if it does not (nothing is stored from a rejected file). If the scan
 * takes longer than `aheadWaitMs`, the batch is rolled back and stored again after the scan, so that the write lock
 * is never held long. Only when this job has the connection to itself (one job per worker): anything else run on
 * it meanwhile would join the open transaction.
 */
export async function scanAndStore(ctx: PipelineContext, file: FileRecord, source: RecordSource, opts: ScanAndStoreOptions = {}): Promise<Verdict> {
  const scanning = source.scan();
  scanning.catch(() => {}); // awaited below; a failure must not go unhandled meanwhile
  const it = source.batches()[Symbol.asyncIterator]();
  let pending = it.next();
  pending.catch(() => {});

  // Whichever comes first: the scan, or the first batch.
  let first: RecordBatch | null = null;
  let firstStored = false;
  const raced = await Promise.race([pending, scanning.then(() => null)]);
  if (raced && !raced.done) {
    first = raced.value;
    if (first.sender !== null && ctx.settings.concurrency === 1) {
      firstStored = await storeAhead(ctx, file, first, scanning, opts.aheadWaitMs ?? STORE_AHEAD_WAIT_MS);
    }
  }

  const scan = await scanning;
  opts.onScanned?.();
  if (scan.format) ctx.store.files.setFormat(file.pk, scan.format);
  if (scan.sender) ctx.store.files.setSender(file.pk, scan.sender);
  const verdict: Verdict = { ...scan, duplicateOf: null };
  if (scan.findings.length) return verdict;

  const recordCtx = recordContext(ctx, file, scan.sender!);
  if (first === null) {
    const r = await pending;
    if (r.done) return verdict;
    first = r.value;
  }
  if (!firstStored) commitBatch(recordCtx, first);
  for (;;) {
    await new Promise((r) => setImmediate(r)); // let BullMQ renew its lock between batches
    pending = it.next(); // hands the committed batch's buffer back to the reader
    const r = await pending;
    if (r.done) return verdict;
    commitBatch(recordCtx, r.value);
  }
}

/**
 * storeAhead checks and stores `batch` in a transaction kept open until the scan ends (at most `waitMs` more):
 * committed, with the file's progress, if the scan passes with the same sender; rolled back otherwise. True when
 * committed. Works on copies of the batch's records: after a roll-back the batch is stored again from scratch.
 */
async function storeAhead(ctx: PipelineContext, file: FileRecord, batch: RecordBatch, scanning: Promise<ScanResult>, waitMs: number): Promise<boolean> {
  const copy: RecordBatch = { ...batch, others: batch.others.map((r) => ({ ...r, findings: [...r.findings] })) };
  const recordCtx = recordContext(ctx, file, batch.sender!);
  const tx = ctx.store.begin();
  let committed = false;
  try {
    checkBatch(recordCtx, copy);
    let timer: NodeJS.Timeout | undefined;
    const scan = await Promise.race([scanning, new Promise<null>((r) => (timer = setTimeout(() => r(null), waitMs)))]);
    clearTimeout(timer);
    if (scan && scan.findings.length === 0 && scan.sender === batch.sender) {
      ctx.store.files.setProgress(file.pk, batch.lastLine);
      tx.commit();
      committed = true;
    }
  } finally {
    if (!committed) tx.rollback();
  }
  return committed;
}

function recordContext(ctx: PipelineContext, file: FileRecord, sender: string): RecordContext {
  return {
    store: ctx.store, filePk: file.pk, sender, senderNumber: Number(sender), receivedDate: brusselsToday(new Date(file.receivedAt)),
    registerInUse: true, lateByDate: new Map(),
    history: { decreaseToleranceKm: ctx.settings.decreaseToleranceKm, maxKmPerDay: ctx.settings.maxKmPerDay },
  };
}

/**
 * commitBatch checks and stores a batch atomically with the file's progress line. Plain readings come in VIN
 * order (one vehicle's records keep their file order): the B-tree is then walked in key order instead of at
 * random, which is what makes a 1,000,000-record file fast (issue #4). Results do not change: every rule reads
 * one vehicle's history only. A batch with a correction or a plate-only reading is taken in file order instead
 * (a correction may touch another vehicle's issue; a plate's VIN is known only after the look-up).
 */
function commitBatch(ctx: RecordContext, batch: RecordBatch): void {
  ctx.store.tx(() => {
    checkBatch(ctx, batch);
    ctx.store.files.setProgress(ctx.filePk, batch.lastLine);
  });
}

/** checkBatch checks and stores a batch's records; the caller holds the write transaction. */
function checkBatch(ctx: RecordContext, batch: RecordBatch): void {
  ctx.registerInUse = ctx.store.vehicles.any();
  if (batch.others.some((r) => r.reading !== null)) {
    const all = [...unpackBatch(batch), ...batch.others].sort((a, b) => a.line - b.line);
    for (const rec of all) checkAndStore(ctx, rec);
  } else {
    for (const rec of unpackBatch(batch)) checkAndStore(ctx, rec);
    for (const rec of batch.others) checkAndStore(ctx, rec);
  }
}

function insertIssue(store: Store, filePk: number, line: number, f: Finding, ref: string | null, vin: string | null): number {
  return store.issues.insert({
    filePk, line, code: f.code, severity: issueDef(f.code).severity, field: f.field, message: f.message,
    ref, vin, correctable: isCorrectable(f.code),
  });
}
