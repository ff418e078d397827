/**
 * Stored odometer readings in PostgreSQL: the row's encodings (day numbers, small codes) and the reading
 * statements. Nothing outside store/postgres/ sees a row or a code.
 */
import type { Queryable } from './db';
import { PENDING_FILES } from './files';
import { WORK_TYPES, kmOf } from '../../model/reading';
import { dateOfDay } from '../../model/day-number';
import type { ReadingStatus, StoredReading } from '../types';

export const STATUSES: readonly ReadingStatus[] = ['ok', 'flagged', 'corrected', 'superseded'];
export const STATUS_FLAGGED = 1;
export const STATUS_SUPERSEDED = 3;

/** Reception order (of the record that spent a number or set a state): file first, then line, in one integer. */
export const SEQ_PER_FILE = 100_000_000;
export const seqOf = (filePk: number, line: number): number => filePk * SEQ_PER_FILE + line;
/** The reception-order range of one file's records. */
export const seqRangeOf = (filePk: number): [number, number] => [seqOf(filePk, 0), seqOf(filePk + 1, 0) - 1];

/** Readings of files that have not passed their checks are seen by no query. */
export const VISIBLE = `r.file_id NOT IN (${PENDING_FILES})`;

const COLUMNS = 'vin, day, odometer, unit, work, replaced, digits, status, sender, file_id, line, ref, plate, corrects';
type Row = [
  string,
  number,
  number,
  number,
  number,
  boolean,
  number | null,
  number,
  string,
  number,
  number,
  string | null,
  string | null,
  number | null,
];

function toReading(r: Row): StoredReading {
  const [vin, day, odometer, u, work, replaced, digits, status, sender, fileId, line, ref, plate, corrects] = r;
  const unit = u === 1 ? 'mi' : 'km';
  return {
    vin,
    date: dateOfDay(day),
    odometer,
    unit,
    km: kmOf(odometer, unit),
    work: WORK_TYPES[work],
    replaced,
    digits,
    status: STATUSES[status],
    sender,
    fileId,
    line,
    ref,
    plate,
    corrects,
  };
}

/** Reading statements outside a batch (pg-batch.ts reads and writes a batch's). */
export class PgReadings {
  constructor(private readonly db: Queryable) {}

  /** timeline lists a vehicle's readings by date then reception, superseded ones included, pending files' left out. */
  async timeline(vin: string): Promise<StoredReading[]> {
    const { rows } = await this.db.query<Row>({
      text: `SELECT ${COLUMNS} FROM readings r WHERE vin = $1 AND ${VISIBLE} ORDER BY day, file_id, line`,
      values: [vin],
      rowMode: 'array',
    });
    return rows.map(toReading);
  }

  async forFile(filePk: number): Promise<StoredReading[]> {
    const { rows } = await this.db.query<Row>({
      text: `SELECT ${COLUMNS} FROM readings WHERE file_id = $1 ORDER BY line`,
      values: [filePk],
      rowMode: 'array',
    });
    return rows.map(toReading);
  }

  async count(): Promise<number> {
    return (await this.db.query<{ n: number }>(`SELECT count(*)::bigint AS n FROM readings r WHERE ${VISIBLE}`)).rows[0].n;
  }

  /**
   * discardFile deletes the readings a file stored and flags again the readings its corrections of A issues had
   * superseded (found through the issues they corrected). Before the file's issues are discarded.
   */
  async discardFile(db: Queryable, filePk: number): Promise<number> {
    const [lo, hi] = seqRangeOf(filePk);
    await db.query(
      `UPDATE readings r SET status = ${STATUS_FLAGGED} FROM issues i
       WHERE i.corrected_by BETWEEN $1 AND $2 AND i.severity = 'A' AND r.file_id = i.file_id AND r.line = i.line AND r.vin = i.vin
         AND r.status = ${STATUS_SUPERSEDED}`,
      [lo, hi],
    );
    return (await db.query('DELETE FROM readings WHERE file_id = $1', [filePk])).rowCount ?? 0;
  }
}
