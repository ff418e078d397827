/**
 * Stored odometer readings: each vehicle's timeline, clustered by (vin, day, seq) in a compact row (migration 3).
 * The hot path (one timeline read and one insert per record) works on raw rows; the rest on StoredReading.
 */
import type { Db } from './db';
import type Database from 'better-sqlite3';
import { WORK_TYPES, type WorkType } from '../model/reading';
import { dateOfDay } from '../model/day-number';
import { KM_PER_MILE } from '../model/reading';

export type ReadingStatus = 'ok' | 'flagged' | 'corrected' | 'superseded';
const STATUSES: readonly ReadingStatus[] = ['ok', 'flagged', 'corrected', 'superseded'];
export const STATUS_SUPERSEDED = 3;

/** seqOf orders readings of one date by reception: file first, then line. File and line are read back from it. */
export function seqOf(filePk: number, line: number): number {
  return filePk * 100_000_000 + line;
}
export const fileOfSeq = (seq: number): number => Math.floor(seq / 100_000_000);
export const lineOfSeq = (seq: number): number => seq % 100_000_000;

/** kmOf converts a dashboard value to km for comparisons (miles × 1.609344, rounded). */
export function kmOf(odometer: number, unit: 'km' | 'mi'): number {
  return unit === 'mi' ? Math.round(odometer * KM_PER_MILE) : odometer;
}

export interface StoredReading {
  vin: string;
  date: string;
  seq: number;
  odometer: number;
  unit: 'km' | 'mi';
  km: number;
  work: WorkType;
  replaced: boolean;
  digits: number | null;
  sender: string;
  fileId: number;
  line: number;
  ref: string | null;
  plate: string | null;
  status: ReadingStatus;
  /** Id of the issue this reading corrects (SPEC §5), or null. */
  corrects: number | null;
}

/** The columns of a reading row, in table order. */
type Row = [vin: string, day: number, seq: number, odometer: number, unit: number, work: number, replaced: number,
  digits: number | null, status: number, sender: number, ref: string | null, plate: string | null, corrects: number | null];

/**
 * What the checks read of a vehicle's timeline, per reading:
 * [day, seq, odometer, unit (0 km, 1 mi), work index, replaced (0/1), sender, status].
 */
export type TimelineRow = [day: number, seq: number, odometer: number, unit: number, work: number, replaced: number, sender: number, status: number];

const senderText = (n: number) => String(n).padStart(10, '0');

function toReading(r: Row): StoredReading {
  const unit = r[4] === 1 ? 'mi' : 'km';
  return {
    vin: r[0], date: dateOfDay(r[1]), seq: r[2], odometer: r[3], unit, km: kmOf(r[3], unit), work: WORK_TYPES[r[5]],
    replaced: r[6] === 1, digits: r[7], status: STATUSES[r[8]], sender: senderText(r[9]), fileId: fileOfSeq(r[2]),
    line: lineOfSeq(r[2]), ref: r[10], plate: r[11], corrects: r[12],
  };
}

export interface NewReading {
  vin: string;
  day: number;
  seq: number;
  odometer: number;
  unit: 'km' | 'mi';
  work: WorkType;
  replaced: boolean;
  digits: number | null;
  status: ReadingStatus;
  sender: string;
  ref: string | null;
  plate: string | null;
  corrects: number | null;
}

/** Reading queries. Statements are prepared once: they run per record on the hot path. */
export class Readings {
  private readonly insertStmt: Database.Statement;
  private readonly timelineRowsStmt: Database.Statement;
  private readonly supersedeStmt: Database.Statement;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare('INSERT OR IGNORE INTO readings VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    // One range read of the clustered key: a vehicle's whole timeline is a page or two.
    this.timelineRowsStmt = db
      .prepare('SELECT day, seq, odometer, unit, work, replaced, sender, status FROM readings WHERE vin = ? ORDER BY day, seq')
      .raw(true);
    this.supersedeStmt = db.prepare(`UPDATE readings SET status = ${STATUS_SUPERSEDED} WHERE vin = ? AND seq = ?`);
  }

  /** timelineRows lists a vehicle's readings, superseded ones included, by day then reception (hot path). */
  timelineRows(vin: string): TimelineRow[] {
    return this.timelineRowsStmt.all(vin) as TimelineRow[];
  }

  /** insert stores a reading; a second insert of the same file line is ignored (idempotent re-runs). */
  insert(r: NewReading): void {
    this.insertStmt.run(
      r.vin, r.day, r.seq, r.odometer, r.unit === 'mi' ? 1 : 0, WORK_TYPES.indexOf(r.work), r.replaced ? 1 : 0, r.digits,
      STATUSES.indexOf(r.status), Number(r.sender), r.ref, r.plate, r.corrects,
    );
  }

  /** supersede marks the reading stored from (file, line) of this vehicle as replaced by a correction. */
  supersede(vin: string, filePk: number, line: number): boolean {
    return this.supersedeStmt.run(vin, seqOf(filePk, line)).changes === 1;
  }

  /** timeline lists a vehicle's readings by date, then reception, superseded ones included. */
  timeline(vin: string): StoredReading[] {
    return (this.db.prepare('SELECT * FROM readings WHERE vin = ? ORDER BY day, seq').raw(true).all(vin) as Row[]).map(toReading);
  }

  /** forFile lists the readings a file stored, in file order. A full scan: for tests and admin views, not the hot path. */
  forFile(filePk: number): StoredReading[] {
    return (
      this.db.prepare('SELECT * FROM readings WHERE seq BETWEEN ? AND ? ORDER BY seq').raw(true).all(seqOf(filePk, 0), seqOf(filePk + 1, 0) - 1) as Row[]
    ).map(toReading);
  }

  /**
   * discardFile deletes the readings a file stored and flags again the readings its corrections of A issues had
   * superseded. A scan by reception order: an admin action (`inflow files abandon`), not the hot path.
   */
  discardFile(filePk: number): number {
    const lo = seqOf(filePk, 0);
    const hi = seqOf(filePk + 1, 0) - 1;
    this.db
      .prepare(
        `UPDATE readings SET status = ${STATUSES.indexOf('flagged')} WHERE status = ${STATUS_SUPERSEDED} AND (vin, seq) IN (
           SELECT i.vin, i.file_id * ${seqOf(1, 0)} + i.line FROM readings r JOIN issues i ON i.id = r.corrects
           WHERE r.seq BETWEEN ? AND ? AND i.severity = 'A')`,
      )
      .run(lo, hi);
    return this.db.prepare('DELETE FROM readings WHERE seq BETWEEN ? AND ?').run(lo, hi).changes;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
  }
}
