/**
 * Read-only queries behind the registry's outputs: the OK label's view of one vehicle (SPEC §9) and the yearly
 * Trusted Provider counts (SPEC §10).
 */
import type { Db } from './db';
import { STATUS_SUPERSEDED, kmOf } from './readings';
import { dateOfDay } from '../model/day-number';

const FILE_FACTOR = 100_000_000; // seq = file id × 1e8 + line (store/readings.ts seqOf)
const senderText = (n: number) => String(n).padStart(10, '0');

/** A reading as the label reads it. */
export interface LabelReadingRow {
  date: string;
  seq: number;
  odometer: number;
  unit: 'km' | 'mi';
  km: number;
  digits: number | null;
  sender: string;
}

/** An A issue that was never corrected, with the reading it was raised on. */
export interface OpenAnomalyRow {
  id: number;
  code: string;
  date: string;
  seq: number;
  odometer: number;
  unit: 'km' | 'mi';
}

/** One establishment's counts for a year. */
export interface ProviderCountsRow {
  establishment: string;
  readings: number;
  discrepancies: number;
}

export class Reports {
  constructor(private readonly db: Db) {}

  /**
   * labelReadings lists a vehicle's non-superseded readings dated on or before `uptoDay`, by date then reception
   * (one range read of the clustered key).
   */
  labelReadings(vin: string, uptoDay: number): LabelReadingRow[] {
    const rows = this.db
      .prepare(
        `SELECT day, seq, odometer, unit, digits, sender FROM readings
         WHERE vin = ? AND day <= ? AND status != ${STATUS_SUPERSEDED} ORDER BY day, seq`,
      )
      .raw(true)
      .all(vin, uptoDay) as [number, number, number, number, number | null, number][];
    return rows.map(([day, seq, odometer, u, digits, sender]) => {
      const unit = u === 1 ? 'mi' : 'km';
      return { date: dateOfDay(day), seq, odometer, unit, km: kmOf(odometer, unit), digits, sender: senderText(sender) };
    });
  }

  /**
   * openAnomalies lists the uncorrected A issues raised on a vehicle's non-superseded readings dated on or before
   * `uptoDay`. Issues are found by their record (file, line) through the issues' unique key, not by a scan.
   */
  openAnomalies(vin: string, uptoDay: number): OpenAnomalyRow[] {
    const rows = this.db
      .prepare(
        `SELECT i.id, i.code, r.day, r.seq, r.odometer, r.unit
         FROM readings r JOIN issues i ON i.file_id = r.seq / ${FILE_FACTOR} AND i.line = r.seq % ${FILE_FACTOR}
         WHERE r.vin = ? AND r.day <= ? AND r.status != ${STATUS_SUPERSEDED}
           AND i.severity = 'A' AND i.corrected_by IS NULL
         ORDER BY r.day, r.seq, i.id`,
      )
      .raw(true)
      .all(vin, uptoDay) as [number, string, number, number, number, number][];
    return rows.map(([id, code, day, seq, odometer, u]) => ({
      id, code, date: dateOfDay(day), seq, odometer, unit: u === 1 ? 'mi' : 'km',
    }));
  }

  /**
   * providerCounts counts, per establishment (the sender of each reading), the non-superseded readings dated in
   * [fromDay, toDay], and how many of those readings raised an uncorrected A40/A41/A42. Ordered by establishment;
   * establishments without a reading in the period are not listed. Two scans (readings, issues): a yearly report.
   */
  providerCounts(fromDay: number, toDay: number): ProviderCountsRow[] {
    const readings = this.db
      .prepare(
        `SELECT sender, count(*) FROM readings WHERE day BETWEEN ? AND ? AND status != ${STATUS_SUPERSEDED}
         GROUP BY sender ORDER BY sender`,
      )
      .raw(true)
      .all(fromDay, toDay) as [number, number][];
    const discrepancies = this.db
      .prepare(
        `SELECT r.sender, count(DISTINCT r.seq)
         FROM issues i JOIN readings r ON r.vin = i.vin AND r.seq = i.file_id * ${FILE_FACTOR} + i.line
         WHERE i.code IN ('A40', 'A41', 'A42') AND i.corrected_by IS NULL
           AND r.day BETWEEN ? AND ? AND r.status != ${STATUS_SUPERSEDED}
         GROUP BY r.sender`,
      )
      .raw(true)
      .all(fromDay, toDay) as [number, number][];
    const byProvider = new Map(discrepancies);
    return readings.map(([sender, n]) => ({ establishment: senderText(sender), readings: n, discrepancies: byProvider.get(sender) ?? 0 }));
  }
}
