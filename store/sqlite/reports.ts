/** Read-only queries behind the OK label (docs/label.md) and the Trusted Provider report (docs/provider-report.md), in SQLite. */
import type { Db } from './db';
import { STATUS_SUPERSEDED, SEQ_PER_FILE, fileOfSeq, lineOfSeq, senderText } from './readings';
import { PENDING_FILES } from './files';
import { kmOf } from '../../model/reading';
import { dateOfDay, dayOf } from '../../model/day-number';
import type { AnomalyState } from '../../model/anomaly-state';
import type { AnomalyListRow, OpenAnomalyRow, ProviderCountsRow, VehicleAnomaly } from '../types';
import type { LabelReading } from '../../model/reading';

/** Pending readings (of files that have not passed their checks yet) are seen by no query. */
const VISIBLE = `r.seq / ${SEQ_PER_FILE} NOT IN (${PENDING_FILES})`;
/** An issue's reading: the same vehicle, at the issue's (file, line). */
const ISSUE_READING = `r.vin = i.vin AND r.seq = i.file_id * ${SEQ_PER_FILE} + i.line`;
/** `?` placeholders for a list of states. */
const marks = (states: readonly AnomalyState[]) => states.map(() => '?').join(', ') || 'NULL';

export class SqliteReports {
  constructor(private readonly db: Db) {}

  /**
   * labelReadings lists a vehicle's non-superseded readings dated on or before `uptoDay`, by date then reception
   * (one range read of the clustered key).
   */
  labelReadings(vin: string, upto: string): LabelReading[] {
    const rows = this.db
      .prepare(
        `SELECT day, seq, odometer, unit, digits, sender FROM readings r
         WHERE vin = ? AND day <= ? AND status != ${STATUS_SUPERSEDED} AND ${VISIBLE} ORDER BY day, seq`,
      )
      .raw(true)
      .all(vin, dayOf(upto)) as [number, number, number, number, number | null, number][];
    return rows.map(([day, , odometer, u, digits, sender]) => {
      const unit = u === 1 ? 'mi' : 'km';
      return { date: dateOfDay(day), odometer, unit, km: kmOf(odometer, unit), digits, sender: senderText(sender) };
    });
  }

  /**
   * openAnomalies lists the A issues in a `counting` state raised on a vehicle's non-superseded readings dated on or
   * before `uptoDay`. Issues are found by their record (file, line) through the issues' unique key, not by a scan.
   */
  openAnomalies(vin: string, upto: string, counting: readonly AnomalyState[]): OpenAnomalyRow[] {
    const rows = this.db
      .prepare(
        `SELECT i.id, i.code, r.day, r.seq, r.odometer, r.unit
         FROM readings r JOIN issues i ON i.file_id = r.seq / ${SEQ_PER_FILE} AND i.line = r.seq % ${SEQ_PER_FILE}
         WHERE r.vin = ? AND r.day <= ? AND r.status != ${STATUS_SUPERSEDED} AND ${VISIBLE}
           AND i.severity = 'A' AND i.state IN (${marks(counting)})
         ORDER BY r.day, r.seq, i.id`,
      )
      .raw(true)
      .all(vin, dayOf(upto), ...counting) as [number, string, number, number, number, number][];
    return rows.map(([id, code, day, , odometer, u]) => ({
      id,
      code,
      date: dateOfDay(day),
      odometer,
      unit: u === 1 ? 'mi' : 'km',
    }));
  }

  /**
   * providerCounts counts, per establishment (the sender of each reading), the non-superseded readings dated in
   * [fromDay, toDay], and how many of those readings raised an A40/A41/A42 in a `counting` state. Ordered by establishment;
   * establishments without a reading in the period are not listed. Two scans (readings, issues): a yearly report.
   */
  providerCounts(from: string, to: string, counting: readonly AnomalyState[]): ProviderCountsRow[] {
    const readings = this.db
      .prepare(
        `SELECT sender, count(*) FROM readings r WHERE day BETWEEN ? AND ? AND status != ${STATUS_SUPERSEDED} AND ${VISIBLE}
         GROUP BY sender ORDER BY sender`,
      )
      .raw(true)
      .all(dayOf(from), dayOf(to)) as [number, number][];
    const discrepancies = this.db
      .prepare(
        `SELECT r.sender, count(DISTINCT r.seq)
         FROM issues i JOIN readings r ON ${ISSUE_READING}
         WHERE i.code IN ('A40', 'A41', 'A42') AND i.state IN (${marks(counting)})
           AND r.day BETWEEN ? AND ? AND r.status != ${STATUS_SUPERSEDED} AND ${VISIBLE}
         GROUP BY r.sender`,
      )
      .raw(true)
      .all(...counting, dayOf(from), dayOf(to)) as [number, number][];
    const byProvider = new Map(discrepancies);
    return readings.map(([sender, n]) => ({ establishment: senderText(sender), readings: n, discrepancies: byProvider.get(sender) ?? 0 }));
  }

  /** anomalies lists the anomalies in `state` (all when none) of the readings of passed files, by id. */
  anomalies(filter: { state?: AnomalyState; vin?: string }): AnomalyListRow[] {
    const where = [`i.state IS NOT NULL`, VISIBLE];
    const args: (string | number)[] = [];
    if (filter.state) {
      where.push('i.state = ?');
      args.push(filter.state);
    }
    if (filter.vin) {
      where.push('i.vin = ?');
      args.push(filter.vin);
    }
    const rows = this.db
      .prepare(
        `SELECT i.id, i.code, i.state, r.vin, r.day, r.odometer, r.unit, r.sender, r.seq
         FROM issues i JOIN readings r ON ${ISSUE_READING} WHERE ${where.join(' AND ')} ORDER BY i.id`,
      )
      .raw(true)
      .all(...args) as [number, AnomalyListRow['code'], AnomalyState, string, number, number, number, number, number][];
    return rows.map(([id, code, state, vin, day, odometer, u, sender, seq]) => ({
      id,
      code,
      state,
      vin,
      date: dateOfDay(day),
      odometer,
      unit: u === 1 ? 'mi' : 'km',
      sender: senderText(sender),
      fileId: fileOfSeq(seq),
      line: lineOfSeq(seq),
    }));
  }

  /** vehicleAnomalies: the anomalies of a vehicle's readings that are not superseded (pending ones included). */
  vehicleAnomalies(vin: string): VehicleAnomaly[] {
    const rows = this.db
      .prepare(
        `SELECT i.id, i.code, i.state, r.seq, r.digits
         FROM readings r JOIN issues i ON i.file_id = r.seq / ${SEQ_PER_FILE} AND i.line = r.seq % ${SEQ_PER_FILE}
         WHERE r.vin = ? AND r.status != ${STATUS_SUPERSEDED} AND i.severity = 'A' ORDER BY r.day, r.seq, i.id`,
      )
      .raw(true)
      .all(vin) as [number, VehicleAnomaly['code'], AnomalyState, number, number | null][];
    return rows.map(([id, code, state, seq, digits]) => ({ id, code, state, fileId: fileOfSeq(seq), line: lineOfSeq(seq), digits }));
  }
}
