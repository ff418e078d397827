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
import { detectFormat } from '../parsers/detect-format';
import { readBatch } from '../parsers/read-batch';
import type { BatchFormat, BatchItem } from '../parsers/types';
import { checkHeader } from '../schemas/header-checks';
import { FileTally } from '../schemas/file-tally';
import { checkRecord } from '../schemas/record-checks';
import { brusselsToday } from '../schemas/brussels-date';
import { issueDef, isCorrectable, type Finding } from '../schemas/issue-catalogue';
import { writeReceipt } from './write-receipt';
import { FileGoneError } from './errors';
import { checkAndStore, type PendingRecord, type RecordContext } from './check-and-store';

export interface PipelineContext {
  store: Store;
  layout: DataLayout;
  settings: Settings;
  audit: AuditLog;
}

/** A file-level problem with the line it was found on (0: the file as a whole). */
interface FileFinding extends Finding {
  line: number;
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
  const verdict = await fileVerdict(ctx, file, account);
  let result: FileResult;
  if (verdict.findings.length) {
    result = verdict.duplicateOf !== null ? 'DUPLICATE' : 'REJECTED';
    store.tx(() => {
      for (const f of verdict.findings) insertIssue(store, file.pk, f.line, f, null, null);
    });
  } else {
    await storeRecords(ctx, file, verdict.format!, verdict.sender!);
  }

  const counts = verdict.findings.length
    ? { records: verdict.records, accepted: 0, rejected: verdict.records, anomalies: 0, warnings: 0 }
    : store.issues.countsForFile(file.pk, verdict.records);
  if (!verdict.findings.length) result = counts.rejected > 0 || counts.anomalies > 0 ? 'PARTIAL' : 'ACCEPTED';
  store.files.finish(file.pk, { result: result!, counts, duplicateOf: verdict.duplicateOf, processedAt: new Date().toISOString() });

  const finished = store.files.get(file.pk)!;
  const receiptPath = await writeReceipt(store, ctx.layout, finished);
  store.files.markDone(file.pk, receiptPath);
  ctx.audit.write('receipt', { pid: process.pid, file: finished.id, account: finished.account, name: finished.name, status: finished.result, path: receiptPath });
  return store.files.get(file.pk)!;
}

/** allowedSenders: an account sends for itself; a fleet account also for the establishments it lists. */
function allowedSenders(a: Account): string[] {
  return a.role === 'fleet' ? [a.establishment, ...a.senders] : [a.establishment];
}

/** fileVerdict runs the file-level checks F01–F07 over the whole file without storing anything. */
async function fileVerdict(ctx: PipelineContext, file: FileRecord, account: Account): Promise<Verdict> {
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
  const detected = await detectFormat(file.storedPath);
  if ('fatal' in detected) {
    verdict.findings.push({ code: detected.fatal.code, field: 'file', line: detected.fatal.line, message: detected.fatal.message });
    return verdict;
  }
  verdict.format = detected.format;
  ctx.store.files.setFormat(file.pk, detected.format);

  const tally = new FileTally();
  let header: (BatchItem & { kind: 'header' }) | null = null;
  let trailerLine = 0;
  let records = 0;
  let overLimit = false;
  for await (const item of readBatch(file.storedPath, detected.format)) {
    if (item.kind === 'header' && header === null) header = item;
    if (item.kind === 'trailer') trailerLine = item.line;
    if (item.kind === 'reading' || item.kind === 'malformed') records++;
    tally.add(item);
    if (records > ctx.settings.maxRecords) {
      overLimit = true; // F06: stop reading; the rest does not matter
      break;
    }
  }
  const totals = tally.finish({ maxRecords: ctx.settings.maxRecords });
  verdict.records = totals.records;
  verdict.sender = header?.fields.sender ?? null;
  if (verdict.sender) ctx.store.files.setSender(file.pk, verdict.sender);
  const headerFindings = checkHeader(header, allowedSenders(account));
  for (const f of headerFindings) verdict.findings.push({ ...f, line: header?.line ?? 1 });
  for (const f of totals.findings) {
    if (headerFindings.some((h) => h.code === f.code)) continue; // a missing header is said once
    verdict.findings.push({ ...f, line: f.code === 'F04' ? trailerLine : 0 });
  }
  if (overLimit && !verdict.findings.some((f) => f.code === 'F06')) {
    verdict.findings.push({ code: 'F06', field: 'file', line: 0, message: `more than ${ctx.settings.maxRecords} records` });
  }
  return verdict;
}

/** storeRecords checks every record and stores the good ones, in batched write transactions. */
async function storeRecords(ctx: PipelineContext, file: FileRecord, format: BatchFormat, sender: string): Promise<void> {
  const today = brusselsToday(new Date(file.receivedAt));
  const recordCtx: RecordContext = {
    store: ctx.store, filePk: file.pk, sender, receivedDate: today,
    history: { decreaseToleranceKm: ctx.settings.decreaseToleranceKm, maxKmPerDay: ctx.settings.maxKmPerDay },
  };
  const resumeAfter = file.progressLine;
  let batch: PendingRecord[] = [];
  let lastLine = resumeAfter;
  for await (const item of readBatch(file.storedPath, format)) {
    if (item.line <= resumeAfter) continue; // committed by an earlier attempt
    if (item.kind === 'reading') {
      const checked = checkRecord(item.fields, item.fieldCount, { today });
      batch.push({ line: item.line, fields: item.fields, reading: checked.reading, findings: checked.findings });
    } else if (item.kind === 'malformed') {
      batch.push({ line: item.line, fields: null, reading: null, findings: [{ code: 'E10', field: 'record', message: item.message }] });
    } else {
      continue;
    }
    lastLine = item.line;
    if (batch.length >= ctx.settings.batchSize) {
      commitBatch(recordCtx, batch, lastLine);
      batch = [];
      await new Promise((r) => setImmediate(r)); // let BullMQ renew its lock between batches
    }
  }
  commitBatch(recordCtx, batch, lastLine);
}

/** commitBatch checks and stores a batch atomically with the file's progress line. */
function commitBatch(ctx: RecordContext, batch: PendingRecord[], lastLine: number): void {
  ctx.store.tx(() => {
    for (const rec of batch) checkAndStore(ctx, rec);
    ctx.store.files.setProgress(ctx.filePk, lastLine);
  });
}

function insertIssue(store: Store, filePk: number, line: number, f: Finding, ref: string | null, vin: string | null): number {
  return store.issues.insert({
    filePk, line, code: f.code, severity: issueDef(f.code).severity, field: f.field, message: f.message,
    ref, vin, correctable: isCorrectable(f.code),
  });
}
