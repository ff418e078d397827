/**
 * Processing one received file: file-level checks over the whole stream (nothing is committed from a file that
 * fails them; records are stored while they run and rolled back if they fail), the records in batched write
 * transactions, then the receipt.
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
import type { BatchFormat } from '../model/file-items';
import { brusselsToday } from '../rules/brussels-date';
import { issueDef, isCorrectable, type Finding } from '../model/issue-catalogue';
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
  let scanned = t0;
  let verdict = earlyVerdict(ctx, file);
  let result: FileResult;
  if (!verdict) {
    const request = {
      path: file.storedPath, allowedSenders: allowedSenders(account), maxRecords: ctx.settings.maxRecords,
      today: brusselsToday(new Date(file.receivedAt)), resumeAfter: file.progressLine, batchSize: ctx.settings.batchSize, ahead: 2,
    };
    const source = await openRecordSource(request);
    const reopen = () => openRecordSource({ ...request, resumeAfter: store.files.get(file.pk)!.progressLine }, { scan: false });
    try {
      verdict = await scanAndStore(ctx, file, source, { onScanned: () => (scanned = performance.now()), reopen });
    } finally {
      await source.close();
    }
  } else scanned = performance.now();
  if (verdict.findings.length) {
    result = verdict.duplicateOf !== null ? 'DUPLICATE' : 'REJECTED';
    store.tx(() => {
      for (const f of verdict!.findings) insertIssue(store, file.pk, f.line, f, null, null);
    });
  }

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
 * How long batches stored before the scan has ended may hold the write lock, ms, counted from the transaction's
 * start. The intake waits up to 15 s (the connection's busy timeout) to record an upload; a batch takes 1–2 s.
 */
export const STORE_AHEAD_WAIT_MS = 5_000;

export interface ScanAndStoreOptions {
  onScanned?: () => void;
  /** STORE_AHEAD_WAIT_MS, shorter in tests. */
  aheadWaitMs?: number;
  /** A new source of the records after the file's committed progress, without a scan (after a roll-back). */
  reopen: () => Promise<RecordSource>;
}

type Next = Promise<IteratorResult<RecordBatch>>;

/**
 * scanAndStore returns the scan's verdict (file-level checks over the whole file) and, when it passes, stores the
 * records: each batch in one write transaction with the file's progress line.
 *
 * The batches do not wait for the scan (issue #4: on a 1,000,000-record CSV file the scan is ~3 s; an XML file is
 * scanned by reading it whole): those that come before it are checked and stored in one transaction left open
 * until the scan ends, committed if the scan passes, rolled back if it does not (nothing is stored from a rejected
 * file). If the scan has not ended `aheadWaitMs` after the transaction began, it is rolled back, so that the write
 * lock is never held long, and the records are read again after the scan (by a new source from `reopen`, once
 * `source` is closed). Only when this job has the connection to itself (one job per worker: anything else run on it
 * meanwhile would join the open transaction) and the database to itself (one file at a time in the fleet,
 * `globalConcurrency` 1: files processed side by side take turns on the write lock batch by batch, and an open
 * transaction would make the others wait for this file's scan).
 */
export async function scanAndStore(ctx: PipelineContext, file: FileRecord, source: RecordSource, opts: ScanAndStoreOptions): Promise<Verdict> {
  const scanning = source.scan();
  scanning.catch(() => {}); // awaited below; a failure must not go unhandled meanwhile
  let it = source.batches()[Symbol.asyncIterator]();
  let pending: Next = it.next();
  pending.catch(() => {});

  // Whichever comes first: the scan, or the first batch.
  let reread = false;
  const raced = await Promise.race([pending, scanning.then(() => null)]);
  const alone = ctx.settings.concurrency === 1 && ctx.settings.globalConcurrency === 1;
  if (raced && !raced.done && raced.value.sender !== null && alone) {
    const ahead = await storeAhead(ctx, file, raced.value, it, scanning, opts.aheadWaitMs ?? STORE_AHEAD_WAIT_MS);
    if (ahead) pending = ahead.next;
    else reread = true;
  }

  const scan = await scanning;
  opts.onScanned?.();
  if (scan.format) ctx.store.files.setFormat(file.pk, scan.format);
  if (scan.sender) ctx.store.files.setSender(file.pk, scan.sender);
  const verdict: Verdict = { ...scan, duplicateOf: null };
  if (scan.findings.length) return verdict;

  const recordCtx = recordContext(ctx, file, scan.sender!);
  let again: RecordSource | null = null;
  try {
    if (reread) {
      // The first source's records reader holds a batch it can no longer send (and an XML reader would read the rest
      // again itself): stopped before a second one starts, so that two are never alive at once (memory).
      await source.close();
      again = await opts.reopen();
      it = again.batches()[Symbol.asyncIterator]();
      pending = it.next();
    }
    for (;;) {
      const r = await pending;
      if (r.done) return verdict;
      commitBatch(recordCtx, r.value);
      await new Promise((res) => setImmediate(res)); // let BullMQ renew its lock between batches
      pending = it.next(); // hands the committed batch's buffer back to the reader
    }
  } finally {
    await again?.close();
  }
}

/**
 * storeAhead checks and stores batches, from `first` on, in one transaction kept open until the scan ends:
 * committed, with the file's progress, if the scan passes with the same sender within `waitMs` of the start; rolled
 * back otherwise. Returns the next batch's promise when committed, null when rolled back (the batches it took are
 * gone back to the reader: they must be read again).
 */
async function storeAhead(ctx: PipelineContext, file: FileRecord, first: RecordBatch, it: AsyncIterator<RecordBatch>, scanning: Promise<ScanResult>, waitMs: number): Promise<{ next: Next } | null> {
  const recordCtx = recordContext(ctx, file, first.sender!);
  const tx = ctx.store.begin();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), waitMs)));
  const scanned = scanning.then((scan) => ({ scan }));
  let committed = false;
  try {
    let batch = first;
    for (;;) {
      checkBatch(recordCtx, batch);
      const next: Next = it.next(); // returns this batch's buffer to the reader
      next.catch(() => {});
      // Through the event loop, not microtasks only: the scan's message, the timer and BullMQ's lock renewal are
      // macrotasks, and a reader that is ahead would otherwise keep this loop from ever seeing them.
      await new Promise((res) => setImmediate(res));
      let w: { scan: ScanResult } | { r: IteratorResult<RecordBatch> } | 'timeout' = await Promise.race([scanned, timeout, next.then((r) => ({ r }))]);
      if (typeof w === 'object' && 'r' in w && w.r.done) w = await Promise.race([scanned, timeout]); // the records ended: the scan or the hold's end
      if (w === 'timeout') return null;
      if ('scan' in w) {
        if (w.scan.findings.length > 0 || w.scan.sender !== first.sender) return null;
        ctx.store.files.setProgress(file.pk, batch.lastLine);
        tx.commit();
        committed = true;
        return { next }; // wrapped: an async function would wait for a promise it returns
      }
      batch = w.r.value as RecordBatch;
    }
  } finally {
    clearTimeout(timer);
    if (!committed) tx.rollback();
  }
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
