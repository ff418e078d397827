/** Observations (readings sent one at a time) and their rounds, in SQLite; the changes are composed in sqlite-store.ts. */
import type { Db } from './db';
import type Database from 'better-sqlite3';
import type { NewObservation, Observation, ObservationRound } from '../types';
import type { ObservationStatus } from '../../model/observation';

interface ObservationRow {
  id: string;
  account_id: number;
  establishment: string;
  sender: string;
  fields: string;
  vehicle_key: string;
  client: string;
  correction_of: string | null;
  status: ObservationStatus;
  file_id: number | null;
  line: number | null;
  received_at: string;
  received_date: string;
  processed_at: string | null;
}

const toObservation = (r: ObservationRow): Observation => ({
  id: r.id,
  accountId: r.account_id,
  account: r.establishment,
  sender: r.sender,
  fields: JSON.parse(r.fields) as Observation['fields'],
  vehicleKey: r.vehicle_key,
  client: JSON.parse(r.client) as Observation['client'],
  correctionOf: r.correction_of,
  status: r.status,
  filePk: r.file_id,
  line: r.line,
  receivedAt: r.received_at,
  receivedDate: r.received_date,
  processedAt: r.processed_at,
});

const SELECT = 'SELECT o.*, a.establishment FROM observations o JOIN accounts a ON a.id = o.account_id';

/** Observation statements. */
export class SqliteObservations {
  private readonly insertStmt: Database.Statement;
  private readonly getStmt: Database.Statement;
  private readonly settledStmt: Database.Statement;
  private readonly waitingStmt: Database.Statement;
  private readonly newestPendingStmt: Database.Statement;
  private readonly pendingInStmt: Database.Statement;
  // The statements of every observation's path (add, get, the waiters' look) are prepared once.
  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO observations (id, account_id, sender, fields, vehicle_key, client, correction_of, status, received_at, received_date)
       VALUES (?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?)`,
    );
    this.getStmt = db.prepare(`${SELECT} WHERE o.id = ?`);
    this.settledStmt = db
      .prepare(`SELECT id FROM observations WHERE status != 'PENDING' AND id IN (SELECT value FROM json_each(?))`)
      .pluck();
    this.waitingStmt = db.prepare(`SELECT 1 FROM observations WHERE status = 'PENDING' AND file_id IS NULL LIMIT 1`).pluck();
    this.newestPendingStmt = db.prepare(`SELECT max(pk) FROM observations WHERE status = 'PENDING'`).pluck();
    this.pendingInStmt = db.prepare(`SELECT 1 FROM observations WHERE status = 'PENDING' AND pk > ? AND pk <= ? LIMIT 1`).pluck();
  }

  /** add inserts an observation (inside the caller's transaction). */
  add(o: NewObservation): void {
    this.insertStmt.run(
      o.id,
      o.accountId,
      o.sender,
      JSON.stringify(o.fields),
      o.vehicleKey,
      JSON.stringify(o.client),
      o.correctionOf,
      o.receivedAt,
      o.receivedDate,
    );
  }

  get(id: string): Observation | null {
    const r = this.getStmt.get(id) as ObservationRow | undefined;
    return r ? toObservation(r) : null;
  }

  settled(ids: readonly string[]): string[] {
    if (ids.length === 0) return [];
    return this.settledStmt.all(JSON.stringify(ids)) as string[];
  }

  waiting(): boolean {
    return this.waitingStmt.get() !== undefined;
  }

  /** newestPending: the arrival number (pk) of the newest PENDING observation, claimed or not; 0 when none. */
  newestPending(): number {
    return (this.newestPendingStmt.get() as number | null) ?? 0;
  }

  /** pendingIn: some observation that arrived in (after, upTo] is still PENDING. */
  pendingIn(after: number, upTo: number): boolean {
    return this.pendingInStmt.get(after, upTo) !== undefined;
  }

  pendingCount(): number {
    return this.db.prepare(`SELECT count(*) FROM observations WHERE status = 'PENDING'`).pluck().get() as number;
  }

  /** openRounds: the rounds not closed yet, with their observations. */
  openRounds(): ObservationRound[] {
    const files = this.db
      .prepare(`SELECT id, progress_line FROM files WHERE origin = 'observations' AND result IS NULL ORDER BY id`)
      .all() as { id: number; progress_line: number }[];
    return files.map((f) => {
      const observations = this.inRound(f.id);
      return {
        filePk: f.id,
        progressLine: f.progress_line,
        receivedDate: observations[0]?.receivedDate ?? '',
        observations,
      };
    });
  }

  inRound(filePk: number): Observation[] {
    return (this.db.prepare(`${SELECT} WHERE o.file_id = ? ORDER BY o.line`).all(filePk) as ObservationRow[]).map(toObservation);
  }

  /** unclaimed: up to `limit` PENDING observations in no round, oldest first. */
  unclaimed(limit: number): Observation[] {
    return (
      this.db.prepare(`${SELECT} WHERE o.status = 'PENDING' AND o.file_id IS NULL ORDER BY o.pk LIMIT ?`).all(limit) as ObservationRow[]
    ).map(toObservation);
  }

  /**
   * newRound makes a round's internal file (it has passed: nothing of it is checked as a whole). It has no sender:
   * each observation's reading is its own sender's; its account is the first observation's.
   */
  newRound(accountId: number, receivedAt: string): number {
    const info = this.db
      .prepare(
        `INSERT INTO files (account_id, name, stored_path, size, sha256, format, sender, status, received_at, passed, origin)
         VALUES (?, 'observations', '', 0, '', 'observations', NULL, 'processing', ?, 1, 'observations')`,
      )
      .run(accountId, receivedAt);
    return Number(info.lastInsertRowid);
  }

  /** roundDone: the round's file needs nothing more (it has no receipt). */
  roundDone(filePk: number): void {
    this.db.prepare(`UPDATE files SET status = 'done' WHERE id = ?`).run(filePk);
  }

  /** dropRound removes the file of a round that stored nothing. */
  dropRound(filePk: number): void {
    this.db.prepare(`DELETE FROM files WHERE id = ? AND origin = 'observations'`).run(filePk);
  }

  claim(id: string, filePk: number, line: number): void {
    this.db.prepare('UPDATE observations SET file_id = ?, line = ? WHERE id = ?').run(filePk, line, id);
  }

  unclaim(id: string): void {
    this.db.prepare(`UPDATE observations SET file_id = NULL, line = NULL WHERE id = ? AND status = 'PENDING'`).run(id);
  }

  /**
   * settleRound gives each observation of the round stored so far (line up to `upto`) its final status from its
   * issues, and puts the others back in the queue of PENDING ones. Returns how many were settled.
   */
  settleRound(filePk: number, upto: number, processedAt: string): number {
    const settled = this.db
      .prepare(
        `UPDATE observations SET processed_at = ?, status = coalesce((
           SELECT CASE WHEN max(i.severity = 'E') THEN 'REJECTED' WHEN max(i.severity = 'A') THEN 'FLAGGED' END
           FROM issues i WHERE i.file_id = observations.file_id AND i.line = observations.line), 'ACCEPTED')
         WHERE file_id = ? AND line <= ? AND status = 'PENDING'`,
      )
      .run(processedAt, filePk, upto).changes;
    this.db.prepare(`UPDATE observations SET file_id = NULL, line = NULL WHERE file_id = ? AND status = 'PENDING'`).run(filePk);
    return settled;
  }
}
