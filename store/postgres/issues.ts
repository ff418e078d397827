/** Issues found in files, in PostgreSQL; the identity column is the basis of the error number. */
import type { Queryable } from './db';
import type { FileCounts, FileFinding, StoredIssue } from '../types';
import { issueDef } from '../../model/issue-catalogue';
import type { AnomalyState } from '../../model/anomaly-state';

export interface IssueRow {
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
  correctable: boolean;
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
  correctable: r.correctable,
  corrected: r.corrected_by !== null,
  state: r.state,
});

/** Receipt order: file-level issues first, then by line. */
const RECEIPT_ORDER = `(severity <> 'F'), line, id`;
/** A page of a file's issues for a receipt: keyset pagination in receipt order. */
const PAGE = 5_000;

/** Issue statements outside a batch. */
export class PgIssues {
  constructor(private readonly db: Queryable) {}

  async forFile(filePk: number): Promise<StoredIssue[]> {
    return (await this.db.query<IssueRow>(`SELECT * FROM issues WHERE file_id = $1 ORDER BY ${RECEIPT_ORDER}`, [filePk])).rows.map(toIssue);
  }

  /** page: a file's issues in receipt order after `after` (null: from the start), at most PAGE of them. */
  async page(filePk: number, after: StoredIssue | null): Promise<StoredIssue[]> {
    const out: StoredIssue[] = [];
    if (!after) {
      const f = await this.db.query<IssueRow>(`SELECT * FROM issues WHERE file_id = $1 AND severity = 'F' ORDER BY line, id`, [filePk]);
      out.push(...f.rows.map(toIssue));
    }
    const [line, id] = after && after.severity !== 'F' ? [after.line, after.id] : [-1, 0];
    const { rows } = await this.db.query<IssueRow>(
      `SELECT * FROM issues WHERE file_id = $1 AND severity <> 'F' AND (line, id) > ($2, $3) ORDER BY line, id LIMIT ${PAGE}`,
      [filePk, line, id],
    );
    for (const r of rows) out.push(toIssue(r));
    return out;
  }

  async forRecord(filePk: number, line: number): Promise<StoredIssue[]> {
    return (await this.db.query<IssueRow>('SELECT * FROM issues WHERE file_id = $1 AND line = $2 ORDER BY id', [filePk, line])).rows.map(
      toIssue,
    );
  }

  async get(id: number): Promise<StoredIssue | null> {
    const r = (await this.db.query<IssueRow>('SELECT * FROM issues WHERE id = $1', [id])).rows[0];
    return r ? toIssue(r) : null;
  }

  async insertFileLevel(db: Queryable, filePk: number, f: FileFinding): Promise<void> {
    await db.query(
      `INSERT INTO issues (file_id, line, code, severity, field, message, correctable)
       VALUES ($1, $2, $3, $4, $5, $6, false) ON CONFLICT (file_id, line, code, field) DO NOTHING`,
      [filePk, f.line, f.code, issueDef(f.code).severity, f.field, f.message],
    );
  }

  /**
   * discardFile deletes a file's issues, makes the error numbers its records used for corrections correctable
   * again and sets the anomalies its records had corrected, confirmed or withdrawn back to open.
   */
  async discardFile(db: Queryable, filePk: number, lo: number, hi: number): Promise<number> {
    await db.query('UPDATE issues SET corrected_by = NULL WHERE corrected_by BETWEEN $1 AND $2', [lo, hi]);
    await db.query(`UPDATE issues SET state = 'open', state_by = NULL WHERE state_by BETWEEN $1 AND $2`, [lo, hi]);
    return (await db.query('DELETE FROM issues WHERE file_id = $1', [filePk])).rowCount ?? 0;
  }

  async deleteFileLevel(db: Queryable, filePk: number): Promise<void> {
    await db.query(`DELETE FROM issues WHERE file_id = $1 AND severity = 'F'`, [filePk]);
  }

  async countsForFile(db: Queryable, filePk: number, records: number): Promise<FileCounts> {
    const r = (
      await db.query<{ rejected: number; anomalies: number; warnings: number }>(
        `SELECT count(DISTINCT CASE WHEN severity = 'E' THEN line END)::int AS rejected,
                count(*) FILTER (WHERE severity = 'A')::int AS anomalies, count(*) FILTER (WHERE severity = 'W')::int AS warnings
         FROM issues WHERE file_id = $1`,
        [filePk],
      )
    ).rows[0];
    return { records, rejected: r.rejected, accepted: records - r.rejected, anomalies: r.anomalies, warnings: r.warnings };
  }
}
