/** Issues found in files, in SQLite; the row id is the basis of the error number. */
import type Database from 'better-sqlite3';
import type { Db } from './db';
import type { FileCounts, FileFinding, ManualCorrectionRequest, NewIssue, StoredIssue } from '../types';
import { issueDef } from '../../model/issue-catalogue';
import type { AnomalyState } from '../../model/anomaly-state';

interface IssueRow {
  id: number;
  file_id: number;
  line: number;
  start_line: number | null;
  code: StoredIssue['code'];
  severity: StoredIssue['severity'];
  field: string;
  message: string;
  ref: string | null;
  vin: string | null;
  correctable: number;
  corrected_by: number | null;
  state: AnomalyState | null;
}

export const toIssue = (r: IssueRow): StoredIssue => ({
  id: r.id,
  filePk: r.file_id,
  line: r.line,
  startLine: r.start_line,
  code: r.code,
  severity: r.severity,
  field: r.field,
  message: r.message,
  ref: r.ref,
  vin: r.vin,
  correctable: r.correctable === 1,
  corrected: r.corrected_by !== null,
  state: r.state,
});

/** Receipt order: file-level issues first, then by line. */
const RECEIPT_ORDER = `(severity != 'F'), line, id`;
/** A page of a file's issues for a receipt: keyset pagination in receipt order. */
const PAGE = 5_000;

/** Issue statements. */
export class SqliteIssues {
  private readonly insertStmt: Database.Statement;

  constructor(private readonly db: Db) {
    // The same problem of the same record (file, line, code, field) keeps its first id, so a retried or replayed
    // file never gets a second error number for it.
    this.insertStmt = db.prepare(
      `INSERT OR IGNORE INTO issues (file_id, line, start_line, code, severity, field, message, ref, vin, correctable, state)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /** insert stores an issue; an anomaly starts `open`. */
  insert(filePk: number, i: NewIssue): void {
    const { line, startLine = null } = i;
    const state = i.severity === 'A' ? 'open' : null;
    this.insertStmt.run(filePk, line, startLine, i.code, i.severity, i.field, i.message, i.ref, i.vin, i.correctable ? 1 : 0, state);
  }

  insertFileLevel(filePk: number, f: FileFinding): void {
    this.insert(filePk, {
      line: f.line,
      code: f.code,
      severity: issueDef(f.code).severity,
      field: f.field,
      message: f.message,
      ref: null,
      vin: null,
      correctable: false,
    });
  }

  forFile(filePk: number): StoredIssue[] {
    return (this.db.prepare(`SELECT * FROM issues WHERE file_id = ? ORDER BY ${RECEIPT_ORDER}`).all(filePk) as IssueRow[]).map(toIssue);
  }

  /**
   * page returns a file's issues in receipt order after `after` (null: from the start), at most PAGE of them: the
   * file-level ones (few) in the first page, then the records' ones by (line, id) along the issues' unique key.
   * The row value lets SQLite start each page at its line in that key (an OR of the two conditions made it walk the
   * file's issues from the first on every page: a receipt of a million issues took minutes).
   */
  page(filePk: number, after: StoredIssue | null): StoredIssue[] {
    const out: StoredIssue[] = [];
    if (!after) {
      out.push(
        ...(this.db.prepare(`SELECT * FROM issues WHERE file_id = ? AND severity = 'F' ORDER BY line, id`).all(filePk) as IssueRow[]).map(
          toIssue,
        ),
      );
    }
    const [line, id] = after && after.severity !== 'F' ? [after.line, after.id] : [-1, 0];
    const rows = this.db
      .prepare(`SELECT * FROM issues WHERE file_id = ? AND severity != 'F' AND (line, id) > (?, ?) ORDER BY line, id LIMIT ${PAGE}`)
      .all(filePk, line, id) as IssueRow[];
    for (const r of rows) out.push(toIssue(r));
    return out;
  }

  forRecord(filePk: number, line: number): StoredIssue[] {
    return (this.db.prepare('SELECT * FROM issues WHERE file_id = ? AND line = ? ORDER BY id').all(filePk, line) as IssueRow[]).map(
      toIssue,
    );
  }

  get(id: number): StoredIssue | null {
    const r = this.db.prepare('SELECT * FROM issues WHERE id = ?').get(id) as IssueRow | undefined;
    return r ? toIssue(r) : null;
  }

  /**
   * withSender returns an issue and the establishment that sent the file it was found in; for an issue of a round
   * of observations, the observation's sender; for an issue raised on a manual correction's reading (file 0), the
   * sender of that reading.
   */
  withSender(id: number): { issue: StoredIssue; sender: string | null } | null {
    const r = this.db
      .prepare(
        `SELECT i.*, coalesce(f.sender, (SELECT o.sender FROM observations o WHERE o.file_id = i.file_id AND o.line = i.line),
           (SELECT printf('%010d', r.sender) FROM readings r WHERE r.vin = i.vin AND r.seq = i.line)) AS file_sender
         FROM issues i LEFT JOIN files f ON f.id = i.file_id WHERE i.id = ?`,
      )
      .get(id) as (IssueRow & { file_sender: string | null }) | undefined;
    return r ? { issue: toIssue(r), sender: r.file_sender } : null;
  }

  /** markCorrected records that the record with reception order `bySeq` used this issue's one electronic correction. */
  markCorrected(id: number, bySeq: number): void {
    this.db.prepare('UPDATE issues SET corrected_by = ? WHERE id = ? AND corrected_by IS NULL').run(bySeq, id);
  }

  /** addManualCorrection records who applies a manual correction and why; returns its id. */
  addManualCorrection(m: ManualCorrectionRequest): number {
    return Number(
      this.db
        .prepare('INSERT INTO manual_corrections (issue_id, vin, by, reason, at) VALUES (?, ?, ?, ?, ?)')
        .run(m.issueId, m.vin, m.by, m.reason, m.at).lastInsertRowid,
    );
  }

  /** setState records an anomaly's state and the record (reception order `bySeq`) that set it. */
  setState(id: number, state: AnomalyState, bySeq: number): void {
    this.db.prepare(`UPDATE issues SET state = ?, state_by = ? WHERE id = ? AND severity = 'A'`).run(state, bySeq, id);
  }

  /**
   * discardFile deletes a file's issues, makes the error numbers its records used for corrections correctable
   * again and sets the anomalies its records had corrected, confirmed or withdrawn back to open (those records are
   * gone). `lo`..`hi`: the file's reception-order range.
   */
  discardFile(filePk: number, lo: number, hi: number): number {
    this.db.prepare('UPDATE issues SET corrected_by = NULL WHERE corrected_by BETWEEN ? AND ?').run(lo, hi);
    this.db.prepare(`UPDATE issues SET state = 'open', state_by = NULL WHERE state IS NOT NULL AND state_by BETWEEN ? AND ?`).run(lo, hi);
    return this.db.prepare('DELETE FROM issues WHERE file_id = ?').run(filePk).changes;
  }

  /** deleteFileLevel drops a file's F issues (a replay lets the file-level checks decide again). */
  deleteFileLevel(filePk: number): void {
    this.db.prepare(`DELETE FROM issues WHERE file_id = ? AND severity = 'F'`).run(filePk);
  }

  /** countsForFile derives the receipt counts from the stored issues and the record count. */
  countsForFile(filePk: number, records: number): FileCounts {
    const r = this.db
      .prepare(
        `SELECT count(DISTINCT CASE WHEN severity = 'E' THEN line END) AS rejected,
                sum(severity = 'A') AS anomalies, sum(severity = 'W') AS warnings
         FROM issues WHERE file_id = ?`,
      )
      .get(filePk) as { rejected: number; anomalies: number | null; warnings: number | null };
    return { records, rejected: r.rejected, accepted: records - r.rejected, anomalies: r.anomalies ?? 0, warnings: r.warnings ?? 0 };
  }
}
