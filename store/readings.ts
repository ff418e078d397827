/** Stored odometer readings: each vehicle's timeline, clustered by (vin, date, seq). */
import type { Db } from './db';
import type Database from 'better-sqlite3';

export type ReadingStatus = 'ok' | 'flagged' | 'corrected' | 'superseded';

export interface StoredReading {
  vin: string;
  date: string;
  seq: number;
  odometer: number;
  unit: 'km' | 'mi';
  km: number;
  work: string;
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

interface ReadingRow extends Omit<StoredReading, 'replaced' | 'fileId'> {
  replaced: number;
  file_id: number;
}

const toReading = (r: ReadingRow): StoredReading => ({
  vin: r.vin,
  date: r.date,
  seq: r.seq,
  odometer: r.odometer,
  unit: r.unit,
  km: r.km,
  work: r.work,
  replaced: r.replaced === 1,
  digits: r.digits,
  sender: r.sender,
  fileId: r.file_id,
  line: r.line,
  ref: r.ref,
  plate: r.plate,
  status: r.status,
  corrects: r.corrects,
});

/** seqOf orders readings of one date by reception: file first, then line. */
export function seqOf(filePk: number, line: number): number {
  return filePk * 100_000_000 + line;
}

/** Reading queries. Statements are prepared once: they run per record on the hot path. */
export class Readings {
  private readonly sameValueStmt: Database.Statement;
  private readonly insertStmt: Database.Statement;
  private readonly bySourceStmt: Database.Statement;
  private readonly activeStmt: Database.Statement;
  private readonly statusStmt: Database.Statement;

  constructor(private readonly db: Db) {
    this.sameValueStmt = db.prepare(
      'SELECT * FROM readings WHERE vin = ? AND date = ? AND odometer = ? AND unit = ? ORDER BY seq',
    );
    this.insertStmt = db.prepare(
      `INSERT OR IGNORE INTO readings (vin, date, seq, odometer, unit, km, work, replaced, digits, sender, file_id, line, ref, plate, status, corrects)
       VALUES (@vin, @date, @seq, @odometer, @unit, @km, @work, @replaced, @digits, @sender, @fileId, @line, @ref, @plate, @status, @corrects)`,
    );
    // One range read of the clustered key: the whole timeline of a vehicle is a few pages at most.
    this.activeStmt = db.prepare(`SELECT * FROM readings WHERE vin = ? AND status != 'superseded' ORDER BY date, seq`);
    this.statusStmt = db.prepare('UPDATE readings SET status = ? WHERE file_id = ? AND line = ?');
    this.bySourceStmt = db.prepare('SELECT * FROM readings WHERE file_id = ? AND line = ?');
  }

  /** sameValue lists stored readings of this vehicle with this date and odometer value (E21, W51). */
  sameValue(vin: string, date: string, odometer: number, unit: string): StoredReading[] {
    return (this.sameValueStmt.all(vin, date, odometer, unit) as ReadingRow[]).map(toReading);
  }

  /** insert stores a reading; a second insert of the same file line is ignored (idempotent re-runs). */
  insert(r: Omit<StoredReading, 'seq'>): void {
    this.insertStmt.run({ ...r, seq: seqOf(r.fileId, r.line), replaced: r.replaced ? 1 : 0 });
  }

  /** activeTimeline lists a vehicle's readings that count in its history (superseded ones do not), in order. */
  activeTimeline(vin: string): StoredReading[] {
    return (this.activeStmt.all(vin) as ReadingRow[]).map(toReading);
  }

  /** setStatus changes the status of the reading stored from (file, line); false when there is none. */
  setStatus(filePk: number, line: number, status: ReadingStatus): boolean {
    return this.statusStmt.run(status, filePk, line).changes === 1;
  }

  bySource(filePk: number, line: number): StoredReading | null {
    const r = this.bySourceStmt.get(filePk, line) as ReadingRow | undefined;
    return r ? toReading(r) : null;
  }

  /** forFile lists the readings a file stored, in file order. */
  forFile(filePk: number): StoredReading[] {
    return (this.db.prepare('SELECT * FROM readings WHERE file_id = ? ORDER BY line').all(filePk) as ReadingRow[]).map(toReading);
  }

  /** timeline lists a vehicle's readings by date, then reception. */
  timeline(vin: string): StoredReading[] {
    return (this.db.prepare('SELECT * FROM readings WHERE vin = ? ORDER BY date, seq').all(vin) as ReadingRow[]).map(toReading);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM readings').get() as { n: number }).n;
  }
}
