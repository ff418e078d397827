/**
 * Processing one received file, the one pipeline: read once → check → store → receipt.
 *
 * A reader thread reads the file once, start to end, and sends batches of parsed records with their stateless
 * checks, then the verdict of the file-level checks (F01–F06, which need the whole file). This thread checks each
 * batch against the vehicle histories and stores it as it comes (Store.storeBatch: the batch's readings, issues and
 * the file's progress as one change), so both cores work and memory stays bounded whatever the file's size.
 *
 * The guarantees (docs/guarantees.md), and how they are kept:
 * - A file that fails a file-level check leaves nothing stored: its stored records are taken out again in the same
 *   change that records its rejection (FileStore.reject).
 * - No other file's checks ever see a reading of such a file: until a file passes (FileStore.accept), its records
 *   are hidden from every other file's checks and from every query (BatchView.timeline, the reports).
 * - A crash or retry resumes without storing or numbering anything twice: each batch is stored with the file's
 *   progress; a new attempt reads the whole file again for the verdict but sends only the records after that
 *   progress; issues keep their first id per (file, line, code, field).
 * - Files processed side by side (PostgreSQL: several workers at once) give each vehicle the result of one serial
 *   order: a batch reading a vehicle that another file in flight has records of waits until that file closes. Two
 *   files waiting for each other cannot both wait: a file that holds records and waits for an OLDER file (lower
 *   number) releases them (FileStore.release) and starts again once the older one closed, so waits only ever go
 *   from older to younger files and never form a circle (the wait-die rule of databases).
 */
import fs from 'node:fs';
import type { Settings } from '../config/defaults';
import type { DataLayout } from '../config/layout';
import type { Store, FileRecord, Account } from '../store';
import type { AuditLog } from '../store/audit-log';
import type { FileFinding } from '../model/issue-catalogue';
import { brusselsToday } from '../rules/brussels-date';
import { sizeLimitFinding } from '../rules/file-tally';
import { allowedSenders } from '../rules/establishment';
import { writeReceipt } from './write-receipt';
import { FileGoneError, WaitForFilesError } from './errors';
import { storeRecords, type ChangeOrder, type FileContext } from './check-batch';
import { FileReader } from './file-reader';
import { WriterShare } from './writer-share';
import { removeSpools, spoolPathFor } from './spool';
import type { ScanResult } from './file-scan';
import type { RecordBatch } from './batcher';
import { fileIdOf } from '../model/file-id';

export interface PipelineContext {
  store: Store;
  layout: DataLayout;
  settings: Settings;
  audit: AuditLog;
  /**
   * A queue worker sets it: a file that has waited this long for other files (or released its records for an older
   * one) throws WaitForFilesError, and the worker gives its slot back. Unset (tests, tools), the file waits in place.
   */
  yieldAfterMs?: number;
}

/** Batches the reader may have in flight: one being written, one being checked, one ready. */
const READ_AHEAD = 3;

/** processFile takes a received file through to its receipt and returns its final record. */
export async function processFile(ctx: PipelineContext, filePk: number): Promise<FileRecord> {
  const { store } = ctx;
  const file = await store.files.get(filePk);
  if (!file) throw new FileGoneError(`file ${filePk} is not in the database`);
  if (file.origin !== 'upload') throw new FileGoneError(`${file.id} is a round of observations, not a file: nothing to process`);
  if (file.status === 'done' && file.receiptPath && fs.existsSync(ctx.layout.filesPath(file.receiptPath))) return file;
  const stored = ctx.layout.filesPath(file.storedPath);
  if (!fs.existsSync(stored)) throw new FileGoneError(`stored file ${stored} is missing`);
  const account = await store.accounts.byId(file.accountId);
  if (!account) throw new FileGoneError(`account ${file.accountId} of file ${file.id} is missing`);

  await store.files.startAttempt(filePk);
  const t0 = performance.now();
  const early = await earlyVerdict(ctx, file);
  const share = new WriterShare(ctx.store, ctx.settings.writerTurnMs);
  const scan = early ?? (await readAndStoreInTurn(ctx, file, account, share));
  const read = performance.now();
  const processedAt = new Date().toISOString();
  if (!passes(scan)) {
    await store.files.reject(filePk, {
      findings: scan.findings,
      records: scan.records,
      format: scan.format,
      sender: scan.sender,
      duplicateOf: early?.duplicateOf ?? null,
      processedAt,
    });
  } else {
    await store.files.accept(filePk, { format: scan.format, sender: scan.sender, records: scan.records, processedAt });
  }

  const closed = performance.now();
  const finished = (await store.files.get(filePk))!;
  const receiptPath = await writeReceipt(store, ctx.layout, finished);
  await store.files.markDone(filePk, ctx.layout.recordedPath(receiptPath));
  // Where the time went (ms): reading, checking and storing the records (in `changes` store changes); closing the
  // file; writing the receipt.
  const ms = { read: Math.round(read - t0), close: Math.round(closed - read), receipt: Math.round(performance.now() - closed) };
  ctx.audit.write('receipt', {
    pid: process.pid,
    file: finished.id,
    account: finished.account,
    name: finished.name,
    status: finished.result,
    path: receiptPath,
    ms,
    changes: share.changes,
  });
  return (await store.files.get(filePk))!;
}

type EarlyVerdict = ScanResult & { duplicateOf: number | null };

/** earlyVerdict: F07 (same content as an earlier file) and the size limit (F06), without reading the file. */
async function earlyVerdict(ctx: PipelineContext, file: FileRecord): Promise<EarlyVerdict | null> {
  const refuse = (f: FileFinding, duplicateOf: number | null = null): EarlyVerdict => ({
    format: null,
    sender: null,
    records: 0,
    findings: [f],
    duplicateOf,
  });
  const first = await ctx.store.files.firstWithSha(file.accountId, file.sha256);
  if (first && first.pk !== file.pk) {
    const message = `same content as file ${first.id} (${first.name}) received ${first.receivedAt}: not processed again`;
    return refuse({ code: 'F07', field: 'file', line: 0, message }, first.pk);
  }
  if (file.size > ctx.settings.maxFileBytes) {
    return refuse({ ...sizeLimitFinding(ctx.settings.maxFileBytes), line: 0 });
  }
  return null;
}

/**
 * How long a file may wait in place (no yieldAfterMs) for other files holding records of its vehicles to close.
 * They normally do within the time it takes to process them; a file whose worker died waits for its take-over.
 */
const WAIT_FOR_PENDING_MS = 5 * 60_000;

/** Thrown by storeWhenFree after this file released its records for an older file: start again once it closed. */
class Released extends Error {
  constructor(readonly blockedBy: number[]) {
    super('released for an older file');
  }
}

/** readAndStoreInTurn runs readAndStore, again from the file's start each time it released its records. */
async function readAndStoreInTurn(ctx: PipelineContext, file: FileRecord, account: Account, share: WriterShare): Promise<ScanResult> {
  for (;;) {
    try {
      return await readAndStore(ctx, file, account, share);
    } catch (err) {
      if (!(err instanceof Released)) throw err;
      ctx.audit.write('released', { pid: process.pid, file: file.id, for: err.blockedBy.map(fileIdOf) });
      if (ctx.yieldAfterMs !== undefined) throw new WaitForFilesError(err.blockedBy);
      await waitUntilClosed(ctx.store, err.blockedBy, Date.now(), () => false);
      file = (await ctx.store.files.get(file.pk))!;
    }
  }
}

/**
 * readAndStore stores the file's records as the reader sends them and returns its verdict. The verdict is acted on
 * as soon as it comes: a pass makes the records stored so far visible to queries at once (other files' checks of
 * the same vehicles wait until this file closes); after a failure nothing more is stored (the caller takes it all
 * out).
 */
async function readAndStore(ctx: PipelineContext, file: FileRecord, account: Account, share: WriterShare): Promise<ScanResult> {
  const receivedDate = brusselsToday(new Date(file.receivedAt));
  removeSpools(ctx.layout.spoolDir, file.id);
  const reader = new FileReader({
    path: ctx.layout.filesPath(file.storedPath),
    allowedSenders: allowedSenders(account),
    maxRecords: ctx.settings.maxRecords,
    today: receivedDate,
    resumeAfter: file.progressLine,
    batchSize: ctx.settings.batchSize,
    ahead: READ_AHEAD,
    spoolPath: spoolPathFor(ctx.layout.spoolDir, file.id),
  });
  let failed = false;
  const verdict = reader.verdict.then(async (scan) => {
    if (passes(scan)) await ctx.store.files.pass(file.pk, { format: scan.format, sender: scan.sender });
    else failed = true;
    return scan;
  });
  verdict.catch(() => {}); // awaited below; next() reports a reader's failure meanwhile
  let fileCtx: FileContext | null = null;
  const policy: WaitPolicy = { filePk: file.pk, holds: file.progressLine > 0, yieldAfterMs: ctx.yieldAfterMs };
  let previous: Change | null = null; // the change being written while the next one is checked
  try {
    while (!failed) {
      const m = await reader.next();
      if (m.kind === 'end') break;
      // The reader sends records only after a header that passed its checks: the sender is known.
      if (m.batch.sender === null) throw new Error("reader thread: a batch without the header's sender");
      fileCtx ??= {
        filePk: file.pk,
        sender: m.batch.sender,
        receivedDate,
        lateByDate: new Map(),
        history: { decreaseToleranceKm: ctx.settings.decreaseToleranceKm, maxKmPerDay: ctx.settings.maxKmPerDay },
      };
      // The batch behind it, when it has come already, goes in the same change (both are in memory anyway), unless
      // others want the writer (WriterShare).
      const batches = [m.batch];
      const next = reader.nextReady();
      if (next) batches.push(next);
      for await (const part of share.split(batches)) {
        if (failed) break;
        const change = startChange(ctx.store, fileCtx, part, () => failed, policy, previous, share);
        await change.checked;
        await previous?.done;
        previous = change;
      }
      previous?.done.then(
        () => batches.forEach((b) => reader.stored(b)),
        () => {},
      );
      await new Promise((res) => setImmediate(res)); // let the queue renew its lock between batches
    }
    await previous?.done;
    return await verdict;
  } finally {
    await previous?.done.catch(() => {}); // nothing is written once the caller goes on
    await reader.close();
  }
}

/** A change on its way: its checks ran (`checked`, also once it ended), and it ended (`done`). */
interface Change {
  checked: Promise<void>;
  done: Promise<void>;
}

/**
 * startChange stores `batches` as one change after `previous` (BatchRequest.after): where changes may overlap
 * (PostgreSQL) its checks run while `previous` is written, and its write waits for `previous` to commit; on SQLite
 * (one writer) a change is written before the next starts anyway.
 */
function startChange(
  store: Store,
  fileCtx: FileContext,
  batches: RecordBatch[],
  pointless: () => boolean,
  policy: WaitPolicy,
  previous: Change | null,
  share: WriterShare,
): Change {
  let markChecked = () => {};
  const checked = new Promise<void>((resolve) => (markChecked = resolve));
  const order: ChangeOrder = {
    after: previous?.done,
    onChecked: () => {
      policy.holds = true; // it is being written: a later change held up by an older file releases, not waits
      markChecked();
    },
  };
  const started = performance.now();
  const done = storeWhenFree(store, fileCtx, batches, pointless, policy, order).then(() =>
    share.stored(batches, performance.now() - started),
  );
  done.then(markChecked, markChecked); // handles a rejection too: `done` is awaited by the loop, or at the end
  return { checked, done };
}

/** passes: the file-level checks found nothing (a file read that far has its format and sender). */
function passes(scan: ScanResult): scan is ScanResult & { format: string; sender: string } {
  return scan.findings.length === 0 && scan.format !== null && scan.sender !== null;
}

/** How a file waits: whether it holds stored records, and whether it gives its slot back (a queue worker). */
interface WaitPolicy {
  filePk: number;
  holds: boolean;
  yieldAfterMs: number | undefined;
}

/**
 * storeWhenFree stores batches, first waiting for the files in flight that hold records of their vehicles to close;
 * it gives up waiting once `pointless` says so (this file failed its checks: nothing of it will be kept). A file
 * that holds records and is held up by an older file releases them instead (Released; see the header).
 */
async function storeWhenFree(
  store: Store,
  fileCtx: FileContext,
  batches: RecordBatch[],
  pointless: () => boolean,
  policy: WaitPolicy,
  order: ChangeOrder,
): Promise<void> {
  const since = Date.now();
  for (;;) {
    const { blockedBy } = await storeRecords(store, fileCtx, batches, order);
    if (blockedBy.length === 0) return;
    await order.after; // the change before it is written (or failed: then so does this one) before it waits or releases
    if (policy.holds && blockedBy.some((pk) => pk < policy.filePk)) {
      await store.files.release(policy.filePk);
      throw new Released(blockedBy);
    }
    await waitUntilClosed(store, blockedBy, since, pointless, policy.yieldAfterMs);
  }
}

/** waitUntilClosed polls until none of `blockedBy` is in flight; with `yieldAfterMs`, throws WaitForFilesError after it. */
async function waitUntilClosed(
  store: Store,
  blockedBy: number[],
  since: number,
  pointless: () => boolean,
  yieldAfterMs?: number,
): Promise<void> {
  while (blockedBy.length > 0) {
    if (pointless()) return;
    const waited = Date.now() - since;
    if (yieldAfterMs !== undefined && waited >= yieldAfterMs) throw new WaitForFilesError(blockedBy);
    if (waited > WAIT_FOR_PENDING_MS) {
      throw new Error(`waited ${WAIT_FOR_PENDING_MS / 1000} s for files ${blockedBy.map(fileIdOf).join(', ')} to close`);
    }
    await new Promise((r) => setTimeout(r, 50));
    blockedBy = await store.pending(blockedBy);
  }
}
