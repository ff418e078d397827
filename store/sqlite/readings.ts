/**
 * Stored odometer readings in SQLite: each vehicle's timeline, clustered by (vin, day, seq) in a compact row
 * (migration 3), and the encodings of that row. Nothing outside store/sqlite/ sees a row or a code.
 */
import type Database from 'better-sqlite3';
import type { Db } from './db';
import { PENDING_FILES } from './files';
import { WORK_TYPES } from '../../model/reading';
import { dateOfDay, dayOf } from '../../model/day-number';
import { kmOf } from '../../model/reading';
import type { NewReading, ReadingStatus, StoredReading, TimelineEntry } from '../types';

const STATUSES: readonly ReadingStatus[] = ['ok', 'flagged', 'corrected', 'superseded'];
export const STATUS_FLAGGED = 1;
export const STATUS_SUPERSEDED = 3;
const ODOREP = WORK_TYPES.indexOf('ODOREP');

/** Reception order: file first, then line, in one integer (the clustered key's last part). */
export const SEQ_PER_FILE = 100_000_000;
export const seqOf = (filePk: number, line: number): number => filePk * SEQ_PER_FILE + line;
export const fileOfSeq = (seq: number): number => Math.floor(seq / SEQ_PER_FILE);
export const lineOfSeq = (seq: number): number => seq % SEQ_PER_FILE;
/** The reception-order range of one file's records. */
export const seqRangeOf = (filePk: number): [number, number] => [seqOf(filePk, 0), seqOf(filePk + 1, 0) - 1];

/** Senders are stored as integers; establishment numbers are 10 digits with leading zeros. */
const senderTexts = new Map<number, string>();
export function senderText(n: number): string {
  let t = senderTexts.get(n);
  if (t === undefined) {
    t = String(n).padStart(10, '0');
    if (senderTexts.size > 10_000) senderTexts.clear(); // a few hundred establishments in practice: a bound, not a cache policy
    senderTexts.set(n, t);
  }
  return t;
}

/** The columns of a reading row, in table order. */
type Row = [
  vin: string,
  day: number,
  seq: number,
  odometer: number,
  unit: number,
  work: number,
  replaced: number,
  digits: number | null,
  status: number,
  sender: number,
  ref: string | null,
  plate: string | null,
  corrects: number | null,
];

/** What the checks read of a row: [day, seq, odometer, unit, work, replaced, sender, status]. */
type TimelineRow = [
  day: number,
  seq: number,
  odometer: number,
  unit: number,
  work: number,
  replaced: number,
  sender: number,
  status: number,
];

function toReading(r: Row): StoredReading {
  const unit = r[4] === 1 ? 'mi' : 'km';
  return {
    vin: r[0],
    date: dateOfDay(r[1]),
    odometer: r[3],
    unit,
    km: kmOf(r[3], unit),
    work: WORK_TYPES[r[5]],
    replaced: r[6] === 1,
    digits: r[7],
    status: STATUSES[r[8]],
    sender: senderText(r[9]),
    fileId: fileOfSeq(r[2]),
    line: lineOfSeq(r[2]),
    ref: r[10],
    plate: r[11],
    corrects: r[12],
  };
}

/**
 * VinList: the vehicles of a batch in one growing buffer, each a length byte and its UTF-8 bytes (holding the
 * strings would keep every record's text alive until the batch ends). Repeats next to each other are kept once (a
 * batch is in VIN order).
 */
export class VinList {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private used = 0;
  private last = '';
  count = 0;

  add(vin: string): void {
    if (vin === this.last) return;
    const bytes = Buffer.byteLength(vin);
    if (bytes > 255) throw new Error(`a VIN of ${bytes} bytes cannot be listed`);
    if (this.used + 1 + bytes > this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    this.buf[this.used] = bytes;
    this.used += 1 + this.buf.write(vin, this.used + 1, 'utf8');
    this.count++;
    this.last = vin;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.used);
  }
}

/** Reading statements. Those of the hot path (one timeline read and one insert per record) are prepared once. */
export class SqliteReadings {
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

  /**
   * activeTimeline: a vehicle's readings without superseded ones. A reading of a file `inFlight` (stored records,
   * not closed, other than the one asking) is not returned: its file is added to `blockers`. Hot path.
   */
  activeTimeline(vin: string, inFlight: ReadonlySet<number>, blockers: Set<number>): TimelineEntry[] {
    const out: TimelineEntry[] = [];
    for (const [day, seq, odometer, unitCode, work, replaced, sender, status] of this.timelineRowsStmt.all(vin) as TimelineRow[]) {
      const fileId = fileOfSeq(seq);
      if (inFlight.size > 0 && inFlight.has(fileId)) {
        blockers.add(fileId);
        continue;
      }
      if (status === STATUS_SUPERSEDED) continue;
      const unit = unitCode === 1 ? 'mi' : 'km';
      out.push({
        day,
        odometer,
        unit,
        km: kmOf(odometer, unit),
        startsSeries: replaced === 1 || work === ODOREP,
        sender: senderText(sender),
        fileId,
        line: seq - fileId * SEQ_PER_FILE,
      });
    }
    return out;
  }

  /** insert stores a reading of file `filePk`; a second insert of the same record is ignored (idempotent re-runs). */
  insert(filePk: number, sender: string, n: NewReading): void {
    const r = n.reading;
    this.insertStmt.run(
      n.vin,
      dayOf(r.date),
      seqOf(filePk, n.line),
      r.odometer,
      r.unit === 'mi' ? 1 : 0,
      WORK_TYPES.indexOf(r.work),
      r.replaced ? 1 : 0,
      r.digits,
      STATUSES.indexOf(n.status),
      Number(sender),
      r.ref,
      n.plate,
      n.corrects,
    );
  }

  /** trackPending lists the vehicles a batch of a file in flight stored readings of (until the file closes). */
  trackPending(filePk: number, lastLine: number, vins: VinList): void {
    if (vins.count > 0) this.db.prepare('INSERT OR REPLACE INTO pending_batches VALUES (?, ?, ?)').run(filePk, lastLine, vins.bytes());
  }

  /** forgetPending drops a file's lists of vehicles (it closed, or its readings are gone). */
  forgetPending(filePk: number): void {
    this.db.prepare('DELETE FROM pending_batches WHERE file_id = ?').run(filePk);
  }

  /** pendingVins: the vehicles a file in flight stored readings of, from its batches' lists. */
  private pendingVins(filePk: number): Set<string> {
    const out = new Set<string>();
    for (const list of this.db.prepare('SELECT vins FROM pending_batches WHERE file_id = ?').pluck().all(filePk) as Buffer[]) {
      for (let at = 0; at < list.length; at += 1 + list[at]) out.add(list.toString('utf8', at + 1, at + 1 + list[at]));
    }
    return out;
  }

  /** supersede marks the reading stored from (file, line) of this vehicle as replaced by a correction. */
  supersede(vin: string, filePk: number, line: number): void {
    this.supersedeStmt.run(vin, seqOf(filePk, line));
  }

  /** timeline lists a vehicle's readings by date then reception, superseded ones included, hidden files' left out. */
  timeline(vin: string, hidden: ReadonlySet<number>): StoredReading[] {
    const rows = this.db.prepare('SELECT * FROM readings WHERE vin = ? ORDER BY day, seq').raw(true).all(vin) as Row[];
    return rows.filter((r) => !hidden.has(fileOfSeq(r[2]))).map(toReading);
  }

  /** forFile lists the readings a file stored, in file order. */
  forFile(filePk: number): StoredReading[] {
    return (
      this.db
        .prepare('SELECT * FROM readings WHERE seq BETWEEN ? AND ? ORDER BY seq')
        .raw(true)
        .all(...seqRangeOf(filePk)) as Row[]
    ).map(toReading);
  }

  /**
   * discardFile deletes the readings a file stored and flags again the readings its corrections of A issues had
   * superseded (found through the issues they corrected). A file in flight is found through its lists of vehicles,
   * by the clustered key; a closed one that passed (`inflow files abandon` of a done file, rare) by a scan of the
   * table. Call inside a write transaction, before the file's issues are discarded.
   */
  discardFile(filePk: number, passed: boolean): number {
    const [lo, hi] = seqRangeOf(filePk);
    this.db
      .prepare(
        `UPDATE readings SET status = ${STATUS_FLAGGED} WHERE status = ${STATUS_SUPERSEDED} AND (vin, seq) IN (
           SELECT vin, file_id * ${SEQ_PER_FILE} + line FROM issues WHERE corrected_by BETWEEN ? AND ? AND severity = 'A')`,
      )
      .run(lo, hi);
    let gone = 0;
    const listed = this.pendingVins(filePk);
    if (passed && listed.size === 0) gone = this.db.prepare('DELETE FROM readings WHERE seq BETWEEN ? AND ?').run(lo, hi).changes;
    else {
      const del = this.db.prepare('DELETE FROM readings WHERE vin = ? AND seq BETWEEN ? AND ?');
      for (const vin of listed) gone += del.run(vin, lo, hi).changes;
    }
    this.forgetPending(filePk);
    return gone;
  }

  /** count counts the readings of files that passed their checks. */
  count(): number {
    return (
      this.db.prepare(`SELECT count(*) AS n FROM readings WHERE seq / ${SEQ_PER_FILE} NOT IN (${PENDING_FILES})`).get() as { n: number }
    ).n;
  }
}
