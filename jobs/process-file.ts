/**
 * Processing one received file: file-level checks over the whole stream first (nothing is stored from a file
 * that fails them), then the records in batched write transactions, then the receipt.
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
import type { FileFinding } from './scan-file';
import { openRecordSource, type RecordSource } from './record-source';

export interface PipelineContext {
  store: Store;
  layout: DataLayout;
  settings: Settings;
  audit: AuditLog;
}

interface Verdict {
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
  const source = openRecordSource({
    path: file.storedPath, allowedSenders: allowedSenders(account), maxRecords: ctx.settings.maxRecords,
    today: brusselsToday(new Date(file.receivedAt)), resumeAfter: file.progressLine, batchSize: ctx.settings.batchSize, ahead: 2,
  });
  let verdict: Verdict;
  let result: FileResult;
  try {
    verdict = await fileVerdict(ctx, file, source);
    scanned = performance.now();
    if (verdict.findings.length) {
      result = verdict.duplicateOf !== null ? 'DUPLICATE' : 'REJECTED';
      store.tx(() => {
        for (const f of verdict.findings) insertIssue(store, file.pk, f.line, f, null, null);
      });
    } else {
      await storeRecords(ctx, file, source, verdict.sender!);
    }
  } finally {
    await source.close();
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

/** fileVerdict: F07 and the size limit from the store, then the reader's scan of the whole file (nothing is stored). */
async function fileVerdict(ctx: PipelineContext, file: FileRecord, source: RecordSource): Promise<Verdict> {
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
  const scan = await source.scan();
  if (scan.format) ctx.store.files.setFormat(file.pk, scan.format);
  if (scan.sender) ctx.store.files.setSender(file.pk, scan.sender);
  return { ...scan, duplicateOf: null };
}

/** storeRecords stores the reader's batches, each in one write transaction with the file's progress line. */
async function storeRecords(ctx: PipelineContext, file: FileRecord, source: RecordSource, sender: string): Promise<void> {
  const recordCtx: RecordContext = {
    store: ctx.store, filePk: file.pk, sender, senderNumber: Number(sender), receivedDate: brusselsToday(new Date(file.receivedAt)),
    registerInUse: true, lateByDate: new Map(),
    history: { decreaseToleranceKm: ctx.settings.decreaseToleranceKm, maxKmPerDay: ctx.settings.maxKmPerDay },
  };
  for await (const batch of source.batches()) {
    commitBatch(recordCtx, batch);
    await new Promise((r) => setImmediate(r)); // let BullMQ renew its lock between batches
  }
}

/**
 * commitBatch checks and stores a batch atomically with the file's progress line. Plain readings come in VIN
 * order (one vehicle's records keep their file order): the B-tree is then walked in key order instead of at
 * random, which is what makes a 1,000,000-record file fast (issue #4). Results do not change: every rule reads
 * one vehicle's history only. A batch with a correction or a plate-only reading is taken in file order instead
 * (a correction may touch another vehicle's issue; a plate's VIN is known only after the look-up).
 */
function commitBatch(ctx: RecordContext, batch: RecordBatch): void {
  const fileOrder = batch.others.some((r) => r.reading !== null);
  ctx.store.tx(() => {
    ctx.registerInUse = ctx.store.vehicles.any();
    if (fileOrder) {
      const all = [...unpackBatch(batch), ...batch.others].sort((a, b) => a.line - b.line);
      for (const rec of all) checkAndStore(ctx, rec);
    } else {
      for (const rec of unpackBatch(batch)) checkAndStore(ctx, rec);
      for (const rec of batch.others) checkAndStore(ctx, rec);
    }
    ctx.store.files.setProgress(ctx.filePk, batch.lastLine);
  });
}

function insertIssue(store: Store, filePk: number, line: number, f: Finding, ref: string | null, vin: string | null): number {
  return store.issues.insert({
    filePk, line, code: f.code, severity: issueDef(f.code).severity, field: f.field, message: f.message,
    ref, vin, correctable: isCorrectable(f.code),
  });
}
