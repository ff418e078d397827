/**
 * The history rules (docs/history-rules.md): a new reading is placed in its vehicle's timeline (by date, then reception) and
 * compared with its neighbours. Pure: the caller reads the timeline and stores the result.
 *
 * - A40: its predecessor is higher (roll-back), beyond the decrease tolerance.
 * - A41: its successor is lower: a late or out-of-order file reveals a drop.
 * - A42: more than the km/day ceiling on average since its predecessor (same day: more than the ceiling).
 * - W52: a drop explained by a 5-digit odometer wrapping past 99,999: no anomaly.
 * - W53: a replaced odometer (replaced=Y or work ODOREP) starts a new series: nothing before it is compared.
 * Issues attach to the new reading; readings already stored keep theirs.
 */
import type { Finding } from '../model/issue-catalogue';
import { KM_PER_MILE } from '../model/reading';
import { dateOfDay } from '../model/day-number';

/**
 * A reading as the rules see it. `day` is a day number (model/day-number.ts); one day's readings are in reception
 * order: by file (files are numbered as they arrive), then line.
 */
export interface TimelineReading {
  day: number;
  fileId: number;
  line: number;
  odometer: number;
  unit: 'km' | 'mi';
  km: number;
  /** Starts a new series: replaced=Y or work ODOREP. */
  startsSeries: boolean;
}

export interface HistoryOptions {
  /** A decrease up to this many km is not an anomaly. @defaultValue 0 */
  decreaseToleranceKm: number;
  /** Above this average, A42. @defaultValue 1000 */
  maxKmPerDay: number;
}

/** The 5-digit meter's wrap, in the reading's unit. */
const WRAP = 100_000;

type Place = Pick<TimelineReading, 'day' | 'fileId' | 'line'>;

function before(a: Place, b: Place): boolean {
  if (a.day !== b.day) return a.day < b.day;
  return a.fileId !== b.fileId ? a.fileId < b.fileId : a.line < b.line;
}

/** neighbours finds the readings just before and just after `r` in a timeline in (date, reception) order. */
export function neighbours<T extends TimelineReading>(timeline: readonly T[], r: Place): { prev: T | null; next: T | null } {
  let lo = 0;
  let hi = timeline.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (before(timeline[mid], r)) lo = mid + 1;
    else hi = mid;
  }
  return { prev: lo > 0 ? timeline[lo - 1] : null, next: lo < timeline.length ? timeline[lo] : null };
}

const fmt = (r: Pick<TimelineReading, 'odometer' | 'unit'>) => `${r.odometer} ${r.unit}`;

/** wrapExplains: a 5-digit meter read `low` after `high` has passed 99,999 (compared in km). */
function wrapExplains(low: TimelineReading, high: TimelineReading): boolean {
  const wrapKm = low.unit === 'mi' ? WRAP * KM_PER_MILE : WRAP;
  return low.odometer < WRAP && high.odometer < WRAP && low.km + wrapKm >= high.km;
}

/**
 * historyFindings returns the A and W issues of reading `r` against its vehicle's active timeline (which must not
 * contain `r`). `fiveDigits` when the record or the register says the meter has 5 digits.
 */
export function historyFindings(
  r: TimelineReading,
  timeline: readonly TimelineReading[],
  opts: HistoryOptions & { fiveDigits: boolean },
): Finding[] {
  const out: Finding[] = [];
  const { prev, next } = neighbours(timeline, r);

  if (r.startsSeries) {
    out.push({
      code: 'W53',
      field: 'replaced',
      message: 'Odometer replaced: a new series starts with this reading; earlier readings are not compared with it.',
    });
  } else if (prev) {
    const drop = prev.km - r.km;
    if (drop > opts.decreaseToleranceKm) {
      if (opts.fiveDigits && wrapExplains(r, prev)) {
        out.push({
          code: 'W52',
          field: 'odometer',
          message: `Lower than ${fmt(prev)} on ${dateOfDay(prev.day)}, explained by the 5-digit odometer passing 99,999.`,
        });
      } else {
        out.push({
          code: 'A40',
          field: 'odometer',
          message: `The odometer ${fmt(r)} is lower than the earlier reading ${fmt(prev)} on ${dateOfDay(prev.day)}.`,
        });
      }
    } else {
      const days = r.day - prev.day;
      const limit = opts.maxKmPerDay * Math.max(days, 1);
      const distance = r.km - prev.km;
      if (distance > limit) {
        const perDay = days > 0 ? `${Math.round(distance / days)} km/day over ${days} days` : `${distance} km on the same day`;
        out.push({
          code: 'A42',
          field: 'odometer',
          message: `Implausible distance since ${fmt(prev)} on ${dateOfDay(prev.day)}: ${perDay} (ceiling ${opts.maxKmPerDay} km/day).`,
        });
      }
    }
  }

  if (next && !next.startsSeries && r.km - next.km > opts.decreaseToleranceKm && !(opts.fiveDigits && wrapExplains(next, r))) {
    out.push({
      code: 'A41',
      field: 'odometer',
      message: `The odometer ${fmt(r)} is higher than the later reading ${fmt(next)} on ${dateOfDay(next.day)}.`,
    });
  }
  return out;
}
