/** Received files and their processing state, in SQLite. */
import type { Db } from './db';
import type { FileRecord, FileResult, FileStatus, FileCounts, FileOrigin } from '../types';
import { fileIdOf } from '../../model/file-id';

interface FileRow {
  id: number;
  account_id: number;
  establishment: string;
  sender: string | null;
  name: string;
  stored_path: string;
  size: number;
  sha256: string;
  format: string | null;
  status: FileStatus;
  result: FileResult | null;
  duplicate_of: number | null;
  received_at: string;
  processed_at: string | null;
  progress_line: number;
  passed: number;
  records: number | null;
  accepted: number | null;
  rejected: number | null;
  anomalies: number | null;
  warnings: number | null;
  attempts: number;
  error: string | null;
  receipt_path: string | null;
  origin: FileOrigin;
}

const toFile = (r: FileRow): FileRecord => ({
  pk: r.id,
  id: fileIdOf(r.id),
  accountId: r.account_id,
  account: r.establishment,
  sender: r.sender,
  name: r.name,
  storedPath: r.stored_path,
  size: r.size,
  sha256: r.sha256,
  format: r.format,
  status: r.status,
  result: r.result,
  duplicateOf: r.duplicate_of === null ? null : fileIdOf(r.duplicate_of),
  receivedAt: r.received_at,
  processedAt: r.processed_at,
  progressLine: r.progress_line,
  passed: r.passed === 1,
  records: r.records,
  accepted: r.accepted,
  rejected: r.rejected,
  anomalies: r.anomalies,
  warnings: r.warnings,
  attempts: r.attempts,
  error: r.error,
  receiptPath: r.receipt_path,
  origin: r.origin,
});

const SELECT = 'SELECT f.*, a.establishment FROM files f JOIN accounts a ON a.id = f.account_id';
/** Uploads only: rounds of observations are not listed, reconciled or compared by content. */
const UPLOADS = `f.origin = 'upload'`;

/**
 * The files whose stored records are pending: stored, but the file has not passed its checks (and was not
 * rejected: that takes them out and resets its progress). Nobody but the file itself sees their records.
 */
export const PENDING_FILES = 'SELECT id FROM files WHERE passed = 0 AND progress_line > 0';

/**
 * The files in flight: stored records and not closed (nor failed for good). Their records, passed or not, hold up
 * every other file's checks of the same vehicles until they close: each vehicle sees whole files, one after another.
 */
const IN_FLIGHT_FILES = `SELECT id FROM files WHERE status IN ('received', 'queued', 'processing') AND result IS NULL AND progress_line > 0`;

/** File statements; the changes that touch more than the files table are composed in sqlite-store.ts. */
export class SqliteFiles {
  constructor(private readonly db: Db) {}

  /** insertReceived records a file that is durably in the store; status `received`. */
  receive(f: { accountId: number; name: string; storedPath: string; size: number; sha256: string; receivedAt: string }): FileRecord {
    const info = this.db
      .prepare(
        `INSERT INTO files (account_id, name, stored_path, size, sha256, status, received_at)
         VALUES (?, ?, ?, ?, ?, 'received', ?)`,
      )
      .run(f.accountId, f.name, f.storedPath, f.size, f.sha256, f.receivedAt);
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(pk: number): FileRecord | null {
    const r = this.db.prepare(`${SELECT} WHERE f.id = ?`).get(pk) as FileRow | undefined;
    return r ? toFile(r) : null;
  }

  list(filter: { status?: string; account?: string; receivedSince?: string; limit?: number } = {}): FileRecord[] {
    const where: string[] = [UPLOADS];
    const args: unknown[] = [];
    if (filter.status) {
      where.push('f.status = ?');
      args.push(filter.status);
    }
    if (filter.receivedSince) {
      where.push('f.received_at >= ?');
      args.push(filter.receivedSince);
    }
    if (filter.account) {
      where.push('a.establishment = ?');
      args.push(filter.account);
    }
    const sql = `${SELECT} WHERE ${where.join(' AND ')} ORDER BY f.id LIMIT ?`;
    return (this.db.prepare(sql).all(...args, filter.limit ?? 1_000_000) as FileRow[]).map(toFile);
  }

  /** withStatus lists the files in one of the given states (the reconciler's work list). */
  withStatus(statuses: FileStatus[]): FileRecord[] {
    const marks = statuses.map(() => '?').join(',');
    return (this.db.prepare(`${SELECT} WHERE ${UPLOADS} AND f.status IN (${marks}) ORDER BY f.id`).all(...statuses) as FileRow[]).map(
      toFile,
    );
  }

  /** firstWithSha returns the earliest file of this account with this content, the original of any duplicate. */
  firstWithSha(accountId: number, sha256: string): FileRecord | null {
    const r = this.db
      .prepare(`${SELECT} WHERE ${UPLOADS} AND f.account_id = ? AND f.sha256 = ? ORDER BY f.id LIMIT 1`)
      .get(accountId, sha256) as FileRow | undefined;
    return r ? toFile(r) : null;
  }

  /** unrecorded returns those of `storedPaths` that no file records (one pass over the files: no index on the path). */
  unrecorded(storedPaths: string[]): string[] {
    const left = new Set(storedPaths);
    for (const r of this.db.prepare('SELECT stored_path FROM files').iterate() as Iterable<{ stored_path: string }>)
      left.delete(r.stored_path);
    return storedPaths.filter((p) => left.has(p));
  }

  /** markQueued: the job is in Redis. Only from `received`, so a late call never undoes a worker's progress. */
  markQueued(pk: number): void {
    this.db.prepare(`UPDATE files SET status = 'queued' WHERE id = ? AND status = 'received'`).run(pk);
  }

  startAttempt(pk: number): void {
    this.db.prepare(`UPDATE files SET status = 'processing', attempts = attempts + 1, error = NULL WHERE id = ?`).run(pk);
  }

  /** pass: the file-level checks passed; its stored records become visible. */
  pass(pk: number, facts: { format: string; sender: string }): void {
    this.db.prepare('UPDATE files SET passed = 1, format = ?, sender = ? WHERE id = ?').run(facts.format, facts.sender, pk);
  }

  /** setFacts records what the file-level checks read of a file that did not pass (format and sender, when known). */
  setFacts(pk: number, facts: { format: string | null; sender: string | null }): void {
    this.db
      .prepare('UPDATE files SET format = coalesce(?, format), sender = coalesce(?, sender) WHERE id = ?')
      .run(facts.format, facts.sender, pk);
  }

  /** pending lists the files that stored records but have not passed their checks, other than `except`. */
  pending(except: number): Set<number> {
    const rows = this.db.prepare(`${PENDING_FILES} AND id != ?`).pluck().all(except) as number[];
    return new Set(rows);
  }

  /** inFlight lists the files in flight (IN_FLIGHT_FILES) other than `except`. */
  inFlight(except: number): Set<number> {
    const rows = this.db.prepare(`${IN_FLIGHT_FILES} AND id != ?`).pluck().all(except) as number[];
    return new Set(rows);
  }

  /** setProgress records the last committed line; call inside the batch's write transaction. */
  setProgress(pk: number, line: number): void {
    this.db.prepare('UPDATE files SET progress_line = ? WHERE id = ?').run(line, pk);
  }

  /** finish records the outcome; the receipt is then (re)written from it. */
  finish(pk: number, o: { result: FileResult; counts: FileCounts; duplicateOf?: number | null; processedAt: string }): void {
    this.db
      .prepare(
        `UPDATE files SET result = ?, records = ?, accepted = ?, rejected = ?, anomalies = ?, warnings = ?,
           duplicate_of = ?, processed_at = ? WHERE id = ?`,
      )
      .run(
        o.result,
        o.counts.records,
        o.counts.accepted,
        o.counts.rejected,
        o.counts.anomalies,
        o.counts.warnings,
        o.duplicateOf ?? null,
        o.processedAt,
        pk,
      );
  }

  /** markDone: the receipt is written; nothing more to do for this file. */
  markDone(pk: number, receiptPath: string): void {
    this.db.prepare(`UPDATE files SET status = 'done', receipt_path = ?, error = NULL WHERE id = ?`).run(receiptPath, pk);
  }

  /**
   * recordError keeps the last processing error: `failed` when no retry is left, else `queued` again (a retry is
   * pending, after its back-off). A file already done is left alone.
   */
  recordError(pk: number, error: string, failed: boolean): void {
    this.db
      .prepare(`UPDATE files SET error = ?, status = CASE WHEN ? THEN 'failed' ELSE 'queued' END WHERE id = ? AND status != 'done'`)
      .run(error, failed ? 1 : 0, pk);
  }

  /** requeue: status `queued` and no error (a replay). */
  requeue(pk: number): void {
    this.db.prepare(`UPDATE files SET status = 'queued', error = NULL WHERE id = ?`).run(pk);
  }

  /** markFailed: the file's job failed outside the worker's hands (e.g. stalled too often); kept for replay. */
  markFailed(pk: number, error: string): boolean {
    return this.db.prepare(`UPDATE files SET status = 'failed', error = ? WHERE id = ? AND status != 'done'`).run(error, pk).changes === 1;
  }

  /** resetProgress sends a file's resume point back to its start (its stored records were discarded). */
  resetProgress(pk: number): void {
    this.db.prepare('UPDATE files SET progress_line = 0, passed = 0 WHERE id = ?').run(pk);
  }
}

export type { FileStatus };
