/**
 * What a correction does to the issue it names and to the vehicle's history (docs/corrections.md), the one rule the
 * pipeline (electronic corrections) and the correction form (manual ones) both follow, and which anomalies count.
 * Pure: the caller reads the history and stores what these functions decide.
 */
import type { AnomalyState } from '../model/anomaly-state';
import type { IssueCode, Severity } from '../model/issue-catalogue';
import { historyFindings, type HistoryOptions, type TimelineReading } from './history';

/**
 * The states in which an anomaly counts: it blocks the OK label (rule 1) and is a discrepancy in the provider report.
 * An anomaly stops counting only when a stored reading has replaced the flagged one (corrected, manual) or replaced
 * the reading that alone caused it (withdrawn).
 */
export const COUNTING_STATES: readonly AnomalyState[] = ['open', 'confirmed'];

export function anomalyCounts(state: AnomalyState): boolean {
  return COUNTING_STATES.includes(state);
}

/**
 * What happened to a correcting record: `stored` (a reading was stored), `repeats` (it stores nothing because it
 * is the flagged reading again: same VIN, date, odometer and unit), `not stored` (rejected with an E issue, or
 * recognised as another reading already stored).
 */
export type CorrectingFate = 'stored' | 'repeats' | 'not stored';

/** The part of a reading that makes it the same reading again. */
export interface ReadingValue {
  vin: string;
  day: number;
  odometer: number;
  unit: 'km' | 'mi';
}

/**
 * correctingFate: `flagged` is the reading the named anomaly was raised on (null for an E issue, whose record was
 * never stored). A rejected record is `not stored` whatever its values.
 */
export function correctingFate(o: {
  stored: boolean;
  rejected: boolean;
  record: ReadingValue | null;
  flagged: ReadingValue | null;
}): CorrectingFate {
  if (o.stored) return 'stored';
  if (o.rejected || !o.record || !o.flagged) return 'not stored';
  const r = o.record;
  const f = o.flagged;
  return r.vin === f.vin && r.day === f.day && r.odometer === f.odometer && r.unit === f.unit ? 'repeats' : 'not stored';
}

export interface CorrectionEffect {
  /** The number's one electronic correction is used: a later correcting record naming it gets E31. */
  spends: boolean;
  /** The flagged reading leaves the timeline (`superseded`), replaced by the stored one. */
  supersedes: boolean;
  /** The named anomaly's state afterwards; null for an E issue (it has none). */
  state: AnomalyState | null;
  /** Anomalies of other readings that only the replaced reading caused are withdrawn (withdrawnAnomalies). */
  withdrawsNeighbours: boolean;
}

/**
 * correctionEffect: what a correction of an issue of `severity` does, given the fate of the correcting record.
 * `manual`: the correction form, which always stores its reading and never spends the electronic correction (a
 * later correcting record gets E31 from the anomaly's state).
 */
export function correctionEffect(severity: Severity, fate: CorrectingFate, manual = false): CorrectionEffect {
  if (severity !== 'A') return { spends: !manual, supersedes: false, state: null, withdrawsNeighbours: false };
  switch (fate) {
    case 'stored':
      return { spends: !manual, supersedes: true, state: manual ? 'manual' : 'corrected', withdrawsNeighbours: true };
    case 'repeats':
      return { spends: !manual, supersedes: false, state: 'confirmed', withdrawsNeighbours: false };
    case 'not stored':
      return { spends: !manual, supersedes: false, state: 'open', withdrawsNeighbours: false };
  }
}

/** An anomaly still counting, on a reading of the vehicle's active timeline. */
export interface AnomalyOnReading {
  id: number;
  code: IssueCode;
  reading: TimelineReading;
  /** The reading or the register says the meter has 5 digits. */
  fiveDigits: boolean;
}

const received = (a: Pick<TimelineReading, 'fileId' | 'line'>, b: Pick<TimelineReading, 'fileId' | 'line'>) =>
  a.fileId !== b.fileId ? a.fileId - b.fileId : a.line - b.line;
const dated = (a: TimelineReading, b: TimelineReading) => (a.day !== b.day ? a.day - b.day : received(a, b));

/**
 * withdrawnAnomalies: the ids of the anomalies that the replaced reading alone caused, once it has left the
 * timeline. An anomaly (A40, A41, A42) of another reading N is withdrawn when
 * 1. N was received after the replaced reading (an anomaly is raised on the reading that arrives, against what is
 *    stored then: one received before could not have been caused by it);
 * 2. the replaced reading lies on the side the anomaly compares with: before N for A40 and A42 (its predecessor),
 *    after N for A41 (its successor);
 * 3. the history rules, run for N on `timeline` (the active timeline without the replaced reading, and without the
 *    reading that replaces it: a conflict with the new reading is raised on the new reading) no longer raise it.
 */
export function withdrawnAnomalies(
  replaced: TimelineReading,
  timeline: readonly TimelineReading[],
  anomalies: readonly AnomalyOnReading[],
  opts: HistoryOptions,
): number[] {
  const out: number[] = [];
  for (const a of anomalies) {
    const n = a.reading;
    if (received(n, replaced) <= 0) continue;
    const replacedBefore = dated(replaced, n) < 0;
    if ((a.code === 'A41') === replacedBefore) continue;
    if (a.code !== 'A40' && a.code !== 'A41' && a.code !== 'A42') continue;
    const others = timeline.filter((t) => t.fileId !== n.fileId || t.line !== n.line);
    if (!historyFindings(n, others, { ...opts, fiveDigits: a.fiveDigits }).some((f) => f.code === a.code)) out.push(a.id);
  }
  return out;
}
