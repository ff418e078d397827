/** Received files and their processing state, in PostgreSQL. */
import type { Queryable } from './db';
import type { FileCounts, FileOrigin, FileRecord, FileResult, FileStatus } from '../types';
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
  passed: boolean;
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
  passed: r.passed,
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

/** The files whose stored records are pending (stored, not passed): seen by nobody but the file itself. */
export const PENDING_FILES = 'SELECT id FROM files WHERE NOT passed AND progress_line > 0';

/**
 * A file in flight: not finished (no result) and not given up. Its stored readings hold up the batches of other
 * files that read the same vehicles (pg-store.ts).
 */
export const IN_FLIGHT = `result IS NULL AND status <> 'failed'`;

/** File statements; the changes that touch more than the files table are composed in pg-store.ts. */
export class PgFiles {
  constructor(private readonly db: Queryable) {}

  async receive(f: { accountId: number; name: string; storedPath: string; size: number; sha256: string; receivedAt: string }) {
    const { rows } = await this.db.query<{ id: number }>(
      `INSERT INTO files (account_id, name, stored_path, size, sha256, status, received_at)
       VALUES ($1, $2, $3, $4, $5, 'received', $6) RETURNING id`,
      [f.accountId, f.name, f.storedPath, f.size, f.sha256, f.receivedAt],
    );
    return (await this.get(rows[0].id))!;
  }

  async get(pk: number, db: Queryable = this.db): Promise<FileRecord | null> {
    const r = (await db.query<FileRow>(`${SELECT} WHERE f.id = $1`, [pk])).rows[0];
    return r ? toFile(r) : null;
  }

  async list(filter: { status?: string; account?: string; receivedSince?: string; limit?: number } = {}): Promise<FileRecord[]> {
    const where: string[] = [UPLOADS];
    const args: unknown[] = [];
    const add = (cond: string, v: unknown) => {
      args.push(v);
      where.push(cond.replace('?', `$${args.length}`));
    };
    if (filter.status) add('f.status = ?', filter.status);
    if (filter.receivedSince) add('f.received_at >= ?', filter.receivedSince);
    if (filter.account) add('a.establishment = ?', filter.account);
    args.push(filter.limit ?? 1_000_000);
    const sql = `${SELECT} WHERE ${where.join(' AND ')} ORDER BY f.id LIMIT $${args.length}`;
    return (await this.db.query<FileRow>(sql, args)).rows.map(toFile);
  }

  async withStatus(statuses: FileStatus[]): Promise<FileRecord[]> {
    return (await this.db.query<FileRow>(`${SELECT} WHERE ${UPLOADS} AND f.status = ANY($1) ORDER BY f.id`, [statuses])).rows.map(toFile);
  }

  async firstWithSha(accountId: number, sha256: string): Promise<FileRecord | null> {
    const r = (
      await this.db.query<FileRow>(`${SELECT} WHERE ${UPLOADS} AND f.account_id = $1 AND f.sha256 = $2 ORDER BY f.id LIMIT 1`, [
        accountId,
        sha256,
      ])
    ).rows[0];
    return r ? toFile(r) : null;
  }

  /** unrecorded: one hashed pass over the files (no index on the path). */
  async unrecorded(storedPaths: string[]): Promise<string[]> {
    const { rows } = await this.db.query<{ p: string }>('SELECT unnest($1::text[]) AS p EXCEPT SELECT stored_path FROM files', [
      storedPaths,
    ]);
    const left = new Set(rows.map((r) => r.p));
    return storedPaths.filter((p) => left.has(p));
  }

  async markQueued(pk: number): Promise<void> {
    await this.db.query(`UPDATE files SET status = 'queued' WHERE id = $1 AND status = 'received'`, [pk]);
  }

  async startAttempt(pk: number): Promise<void> {
    await this.db.query(`UPDATE files SET status = 'processing', attempts = attempts + 1, error = NULL WHERE id = $1`, [pk]);
  }

  async pass(db: Queryable, pk: number, facts: { format: string; sender: string }): Promise<void> {
    await db.query('UPDATE files SET passed = true, format = $1, sender = $2 WHERE id = $3', [facts.format, facts.sender, pk]);
  }

  async setFacts(db: Queryable, pk: number, facts: { format: string | null; sender: string | null }): Promise<void> {
    await db.query('UPDATE files SET format = coalesce($1, format), sender = coalesce($2, sender) WHERE id = $3', [
      facts.format,
      facts.sender,
      pk,
    ]);
  }

  async finish(
    db: Queryable,
    pk: number,
    o: { result: FileResult; counts: FileCounts; duplicateOf?: number | null; processedAt: string },
  ): Promise<void> {
    const c = o.counts;
    await db.query(
      `UPDATE files SET result = $1, records = $2, accepted = $3, rejected = $4, anomalies = $5, warnings = $6,
         duplicate_of = $7, processed_at = $8 WHERE id = $9`,
      [o.result, c.records, c.accepted, c.rejected, c.anomalies, c.warnings, o.duplicateOf ?? null, o.processedAt, pk],
    );
  }

  async markDone(pk: number, receiptPath: string): Promise<void> {
    await this.db.query(`UPDATE files SET status = 'done', receipt_path = $1, error = NULL WHERE id = $2`, [receiptPath, pk]);
  }

  async recordError(db: Queryable, pk: number, error: string, failed: boolean): Promise<void> {
    await db.query(
      `UPDATE files SET error = $1, status = CASE WHEN $2 THEN 'failed' ELSE 'queued' END WHERE id = $3 AND status <> 'done'`,
      [error, failed, pk],
    );
  }

  async requeue(db: Queryable, pk: number): Promise<void> {
    await db.query(`UPDATE files SET status = 'queued', error = NULL WHERE id = $1`, [pk]);
  }

  async markFailed(pk: number, error: string): Promise<boolean> {
    return (
      (await this.db.query(`UPDATE files SET status = 'failed', error = $1 WHERE id = $2 AND status <> 'done'`, [error, pk])).rowCount === 1
    );
  }

  async resetProgress(db: Queryable, pk: number): Promise<void> {
    await db.query('UPDATE files SET progress_line = 0, passed = false WHERE id = $1', [pk]);
  }

  /** inFlight: those of `pks` still in flight with stored readings (Store.pending). */
  async inFlight(pks: readonly number[]): Promise<number[]> {
    const { rows } = await this.db.query<{ id: number }>(
      `SELECT id FROM files WHERE id = ANY($1) AND ${IN_FLIGHT} AND progress_line > 0
         AND (EXISTS (SELECT 1 FROM readings r WHERE r.file_id = files.id) OR EXISTS (SELECT 1 FROM issues i WHERE i.file_id = files.id))`,
      [pks],
    );
    const set = new Set(rows.map((r) => r.id));
    return pks.filter((pk) => set.has(pk));
  }
}
