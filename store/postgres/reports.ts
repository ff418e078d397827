/** Read-only queries behind the OK label, the Trusted Provider report and the anomaly list, in PostgreSQL. */
import type { Queryable } from './db';
import { STATUS_SUPERSEDED, VISIBLE } from './readings';
import { kmOf, type LabelReading } from '../../model/reading';
import { dateOfDay, dayOf } from '../../model/day-number';
import type { AnomalyState } from '../../model/anomaly-state';
import type { AnomalyListRow, ReportStore } from '../types';

const unitOf = (u: number): 'km' | 'mi' => (u === 1 ? 'mi' : 'km');

export function pgReports(db: Queryable): ReportStore {
  const rows = async <R extends unknown[]>(text: string, values: unknown[]): Promise<R[]> =>
    (await db.query<R>({ text, values, rowMode: 'array' })).rows;
  return {
    labelReadings: async (vin, upto): Promise<LabelReading[]> => {
      const rs = await rows<[number, number, number, number | null, string]>(
        `SELECT day, odometer, unit, digits, sender FROM readings r
         WHERE vin = $1 AND day <= $2 AND status <> ${STATUS_SUPERSEDED} AND ${VISIBLE} ORDER BY day, file_id, line`,
        [vin, dayOf(upto)],
      );
      return rs.map(([day, odometer, u, digits, sender]) => ({
        date: dateOfDay(day),
        odometer,
        unit: unitOf(u),
        km: kmOf(odometer, unitOf(u)),
        digits,
        sender,
      }));
    },
    openAnomalies: async (vin, upto, counting) => {
      const rs = await rows<[number, string, number, number, number]>(
        `SELECT i.id, i.code, r.day, r.odometer, r.unit
         FROM readings r JOIN issues i ON i.file_id = r.file_id AND i.line = r.line
         WHERE r.vin = $1 AND r.day <= $2 AND r.status <> ${STATUS_SUPERSEDED} AND ${VISIBLE}
           AND i.severity = 'A' AND i.state = ANY($3)
         ORDER BY r.day, r.file_id, r.line, i.id`,
        [vin, dayOf(upto), counting],
      );
      return rs.map(([id, code, day, odometer, u]) => ({ id, code, date: dateOfDay(day), odometer, unit: unitOf(u) }));
    },
    providerCounts: async (from, to, counting) => {
      const readings = await rows<[string, number]>(
        `SELECT sender, count(*)::int FROM readings r
         WHERE day BETWEEN $1 AND $2 AND status <> ${STATUS_SUPERSEDED} AND ${VISIBLE} GROUP BY sender ORDER BY sender`,
        [dayOf(from), dayOf(to)],
      );
      const discrepancies = await rows<[string, number]>(
        `SELECT r.sender, count(DISTINCT (r.file_id, r.line))::int
         FROM issues i JOIN readings r ON r.vin = i.vin AND r.file_id = i.file_id AND r.line = i.line
         WHERE i.code IN ('A40', 'A41', 'A42') AND i.state = ANY($1)
           AND r.day BETWEEN $2 AND $3 AND r.status <> ${STATUS_SUPERSEDED} AND ${VISIBLE}
         GROUP BY r.sender`,
        [counting, dayOf(from), dayOf(to)],
      );
      const byProvider = new Map(discrepancies);
      return readings.map(([sender, n]) => ({ establishment: sender, readings: n, discrepancies: byProvider.get(sender) ?? 0 }));
    },
    anomalies: (filter) => anomalyList(db, filter),
  };
}

/** anomalyList: the anomalies (in one state, or all) by error number, with their readings. */
async function anomalyList(db: Queryable, filter: { state?: AnomalyState; vin?: string }): Promise<AnomalyListRow[]> {
  const { rows: rs } = await db.query<
    [number, AnomalyListRow['code'], AnomalyState, string, number, number, number, string, number, number]
  >({
    rowMode: 'array',
    text: `SELECT i.id, i.code, i.state, r.vin, r.day, r.odometer, r.unit, r.sender, r.file_id, r.line
         FROM issues i JOIN readings r ON r.vin = i.vin AND r.file_id = i.file_id AND r.line = i.line
         WHERE i.state IS NOT NULL AND ${VISIBLE} AND ($1::text IS NULL OR i.state = $1) AND ($2::text IS NULL OR i.vin = $2)
         ORDER BY i.id`,
    values: [filter.state ?? null, filter.vin ?? null],
  });
  return rs.map(([id, code, state, vin, day, odometer, u, sender, fileId, line]) => ({
    id,
    code,
    state,
    vin,
    date: dateOfDay(day),
    odometer,
    unit: unitOf(u),
    sender,
    fileId,
    line,
  }));
}
