/** Issues found in files; the row id is the basis of the error number (SPEC §5). */
import type { Db } from './db';
import type Database from 'better-sqlite3';
import type { IssueCode, Severity } from '../model/issue-catalogue';
import type { FileCounts } from './files';

export interface StoredIssue {
  id: number;
  filePk: number;
  line: number;
  code: IssueCode;
  severity: Severity;
  field: string;
  message: string;
  ref: string | null;
  vin: string | null;
  correctable: boolean;
  correctedBy: number | null;
}

interface IssueRow extends Omit<StoredIssue, 'filePk' | 'correctable' | 'correctedBy'> {
  file_id: number;
  correctable: number;
  corrected_by: number | null;
}

const toIssue = (r: IssueRow): StoredIssue => ({
  id: r.id,
  filePk: r.file_id,
  line: r.line,
  code: r.code,
  severity: r.severity,
  field: r.field,
  message: r.message,
  ref: r.ref,
  vin: r.vin,
  correctable: r.correctable === 1,
  correctedBy: r.corrected_by,
});

export type NewIssue = Omit<StoredIssue, 'id' | 'correctedBy'>;

/** Issue queries. */
export class Issues {
  private readonly insertStmt: Database.Statement;
  private readonly keyStmt: Database.Statement;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(
      `INSERT OR IGNORE INTO issues (file_id, line, code, severity, field, message, ref, vin, correctable)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.keyStmt = db.prepare('SELECT id FROM issues WHERE file_id = ? AND line = ? AND code = ? AND field = ?');
  }

  /**
   * insert stores an issue and returns its id. The same problem of the same record (file, line, code, field)
   * keeps its first id, so a retried or replayed file never gets a second error number for it.
   */
  insert(i: NewIssue): number {
    const info = this.insertStmt.run(i.filePk, i.line, i.code, i.severity, i.field, i.message, i.ref, i.vin, i.correctable ? 1 : 0);
    if (info.changes === 1) return Number(info.lastInsertRowid);
    return (this.keyStmt.get(i.filePk, i.line, i.code, i.field) as { id: number }).id;
  }

  /** forFile lists a file's issues in receipt order: file-level first, then by line. */
  forFile(filePk: number): StoredIssue[] {
    return (
      this.db.prepare(`SELECT * FROM issues WHERE file_id = ? ORDER BY severity != 'F', line, id`).all(filePk) as IssueRow[]
    ).map(toIssue);
  }

  /** iterateForFile streams a file's issues (a receipt of a big file can hold many). */
  *iterateForFile(filePk: number): IterableIterator<StoredIssue> {
    const stmt = this.db.prepare(`SELECT * FROM issues WHERE file_id = ? ORDER BY severity != 'F', line, id`);
    for (const r of stmt.iterate(filePk) as IterableIterator<IssueRow>) yield toIssue(r);
  }

  /** forRecord lists the issues of one record (file, line). */
  forRecord(filePk: number, line: number): StoredIssue[] {
    return (this.db.prepare('SELECT * FROM issues WHERE file_id = ? AND line = ? ORDER BY id').all(filePk, line) as IssueRow[]).map(toIssue);
  }

  /** withSender returns an issue and the establishment that sent the file it was found in. */
  withSender(id: number): { issue: StoredIssue; sender: string | null } | null {
    const r = this.db.prepare('SELECT i.*, f.sender AS file_sender FROM issues i JOIN files f ON f.id = i.file_id WHERE i.id = ?').get(id) as
      | (IssueRow & { file_sender: string | null })
      | undefined;
    return r ? { issue: toIssue(r), sender: r.file_sender } : null;
  }

  /**
   * discardFile deletes a file's issues and makes the error numbers its records used for corrections correctable
   * again (those records are gone). `lo`..`hi` is the file's reception-order range (store/readings.ts seqOf).
   */
  discardFile(filePk: number, lo: number, hi: number): number {
    this.db.prepare('UPDATE issues SET corrected_by = NULL WHERE corrected_by BETWEEN ? AND ?').run(lo, hi);
    return this.db.prepare('DELETE FROM issues WHERE file_id = ?').run(filePk).changes;
  }

  /** markCorrected records that the record with reception order `bySeq` used this issue's one electronic correction. */
  markCorrected(id: number, bySeq: number): void {
    this.db.prepare('UPDATE issues SET corrected_by = ? WHERE id = ? AND corrected_by IS NULL').run(bySeq, id);
  }

  get(id: number): StoredIssue | null {
    const r = this.db.prepare('SELECT * FROM issues WHERE id = ?').get(id) as IssueRow | undefined;
    return r ? toIssue(r) : null;
  }

  /** countsForFile derives the receipt counts of SPEC §6 from the stored issues and the record count. */
  countsForFile(filePk: number, records: number): FileCounts {
    const r = this.db
      .prepare(
        `SELECT count(DISTINCT CASE WHEN severity = 'E' THEN line END) AS rejected,
                sum(severity = 'A') AS anomalies, sum(severity = 'W') AS warnings
         FROM issues WHERE file_id = ?`,
      )
      .get(filePk) as { rejected: number; anomalies: number | null; warnings: number | null };
    return {
      records,
      rejected: r.rejected,
      accepted: records - r.rejected,
      anomalies: r.anomalies ?? 0,
      warnings: r.warnings ?? 0,
    };
  }

  /** clearFileLevel removes a file's F issues before its file-level checks run again. */
  hasFileLevel(filePk: number): boolean {
    return !!this.db.prepare(`SELECT 1 FROM issues WHERE file_id = ? AND severity = 'F' LIMIT 1`).get(filePk);
  }
}
