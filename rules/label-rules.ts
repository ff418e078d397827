/**
 * The OK label for a used-car ad (docs/label.md): the label for an advertised mileage is NOT issued when any of eight
 * rules holds, and every rule that holds is listed. Each rule is a pure function of the facts below, returning its
 * reason (rule number, stable code, one sentence) or null.
 *
 * Decisions (see docs/label.md):
 * - History: the readings considered are the stored, non-superseded readings dated on or before the ad date (a
 *   correction replaces the reading it corrects; a reading after the ad date did not exist for that ad).
 * - Age: completed calendar months (rules/calendar-months.ts) from the register's first registration to the ad
 *   date. When the register does not know the vehicle (or not its first registration), the age is counted from the
 *   vehicle's first reading instead (the vehicle is at least that old), and rule 8 starts at the first reading.
 *   With neither, rules 4, 6 and 8 cannot be measured (rule 3 already blocks).
 * - 4 years: up to 47 completed months the vehicle is "less than 4 years old" (rule 6: 0–12 months 1 reading,
 *   13–24 months 2, 25–36 months 3, over 36 months 4); from 48 completed months on it is "more than 4 years old"
 *   (rule 4: fewer than 4 readings). Both require 4 readings around the 4th anniversary, so no age escapes.
 * - Rule 8: a period of 24 months without a reading means 24 or more completed calendar months between two
 *   consecutive points of [first registration, readings..., ad date].
 * - Rule 5: the register says 5 digits, or any reading was reported with digits=5.
 * - Rule 7: only the register knows the import flag; a vehicle the register does not know is not blocked by it.
 * - Mileages are compared in km (miles × 1.609344, rounded).
 */
import type { LabelReading } from '../model/reading';
import { addMonths, formatAge, monthsBetween } from './calendar-months';

export type LabelCode =
  | 'L1_ANOMALY'
  | 'L2_MILEAGE_BELOW_LAST'
  | 'L3_NO_READING'
  | 'L4_OLD_FEW_READINGS'
  | 'L5_FIVE_DIGITS'
  | 'L6_YOUNG_FEW_READINGS'
  | 'L7_IMPORTED_USED'
  | 'L8_GAP';

export interface LabelReason {
  rule: 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;
  code: LabelCode;
  message: string;
}

export interface LabelAnomaly {
  code: string;
  errorNumber: string;
  date: string;
  odometer: number;
  unit: 'km' | 'mi';
}

export type { LabelReading };

export interface LabelFacts {
  /** Advertised mileage, km. */
  mileage: number;
  /** Date of the ad, YYYY-MM-DD. */
  date: string;
  /** What the vehicle register says, or null when it does not know the VIN. */
  register: { firstRegistration: string | null; imported: boolean; digits: number | null } | null;
  /** Non-superseded readings dated on or before `date`, in timeline order (date, then reception). */
  readings: LabelReading[];
  /** Uncorrected anomalies (A issues) on those readings. */
  anomalies: LabelAnomaly[];
}

/** Where the age is counted from: the register's first registration, else the first reading. */
export interface AgeBasis {
  from: string;
  source: 'first registration' | 'first reading';
  months: number;
}

/** The 4-year boundary between rules 6 and 4, in completed months. */
export const FOUR_YEARS = 48;
/** Rule 8's period without a reading, in completed months. */
export const GAP_MONTHS = 24;

export function ageOf(f: LabelFacts): AgeBasis | null {
  const reg = f.register?.firstRegistration;
  if (reg) return { from: reg, source: 'first registration', months: monthsBetween(reg, f.date) };
  if (f.readings.length) return { from: f.readings[0].date, source: 'first reading', months: monthsBetween(f.readings[0].date, f.date) };
  return null;
}

/** requiredReadings is rule 6's table: 0–12 months 1, 13–24 months 2, 25–36 months 3, over 36 months 4. */
export function requiredReadings(months: number): number {
  if (months <= 12) return 1;
  if (months <= 24) return 2;
  if (months <= 36) return 3;
  return 4;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const value = (r: { odometer: number; unit: string }) => `${r.odometer} ${r.unit}`;

function ageText(a: AgeBasis): string {
  return a.source === 'first registration'
    ? `${formatAge(a.months)} old (first registration ${a.from})`
    : `at least ${formatAge(a.months)} old (counted from its first reading on ${a.from}: the vehicle register has no first registration for it)`;
}

export function rule1Anomaly(f: LabelFacts): LabelReason | null {
  if (!f.anomalies.length) return null;
  const list = f.anomalies.map((a) => `${a.code} (error number ${a.errorNumber}) on the reading of ${a.date} (${value(a)})`).join('; ');
  const what = f.anomalies.length === 1 ? 'an uncorrected anomaly' : `${f.anomalies.length} uncorrected anomalies`;
  return { rule: 1, code: 'L1_ANOMALY', message: `The history contains ${what}: ${list}.` };
}

export function rule2MileageBelowLast(f: LabelFacts): LabelReason | null {
  const last = f.readings[f.readings.length - 1];
  if (!last || f.mileage >= last.km) return null;
  const km = last.unit === 'km' ? '' : ` (${last.km} km)`;
  return {
    rule: 2,
    code: 'L2_MILEAGE_BELOW_LAST',
    message: `The advertised mileage ${f.mileage} km is lower than the most recent reading ${value(last)}${km} on ${last.date}.`,
  };
}

export function rule3NoReading(f: LabelFacts): LabelReason | null {
  if (f.readings.length) return null;
  const message = f.register
    ? `The VIN has no reading in the database on or before ${f.date}.`
    : 'Not in the database: the VIN has no reading and the vehicle register does not know it.';
  return { rule: 3, code: 'L3_NO_READING', message };
}

export function rule4OldFewReadings(f: LabelFacts): LabelReason | null {
  const age = ageOf(f);
  if (!age || age.months < FOUR_YEARS || f.readings.length >= 4) return null;
  return {
    rule: 4,
    code: 'L4_OLD_FEW_READINGS',
    message: `The vehicle is ${ageText(age)}, more than 4 years, and has ${plural(f.readings.length, 'reading')}: at least 4 are required.`,
  };
}

export function rule5FiveDigits(f: LabelFacts): LabelReason | null {
  const reading = f.readings.find((r) => r.digits === 5);
  if (f.register?.digits === 5)
    return { rule: 5, code: 'L5_FIVE_DIGITS', message: 'The vehicle has a 5-digit odometer (vehicle register).' };
  if (reading) return { rule: 5, code: 'L5_FIVE_DIGITS', message: `The vehicle has a 5-digit odometer (reading of ${reading.date}).` };
  return null;
}

export function rule6YoungFewReadings(f: LabelFacts): LabelReason | null {
  const age = ageOf(f);
  if (!age || age.months >= FOUR_YEARS) return null;
  const need = requiredReadings(age.months);
  if (f.readings.length >= need) return null;
  const band = age.months <= 12 ? '0–12 months' : age.months <= 24 ? '13–24 months' : age.months <= 36 ? '25–36 months' : 'over 36 months';
  return {
    rule: 6,
    code: 'L6_YOUNG_FEW_READINGS',
    message: `The vehicle is ${ageText(age)} and has ${plural(f.readings.length, 'reading')}: ${need} required at ${band}.`,
  };
}

export function rule7ImportedUsed(f: LabelFacts): LabelReason | null {
  if (!f.register?.imported) return null;
  return { rule: 7, code: 'L7_IMPORTED_USED', message: 'The vehicle was imported used into Belgium (vehicle register).' };
}

/** gapsOf lists the periods of 24 or more completed months between consecutive points of the history. */
export function gapsOf(f: LabelFacts): { from: string; fromWhat: string; to: string; toWhat: string; months: number }[] {
  const points: { date: string; what: string }[] = [];
  const reg = f.register?.firstRegistration;
  if (reg && reg <= f.date) points.push({ date: reg, what: 'the first registration' });
  for (const r of f.readings) points.push({ date: r.date, what: 'the reading' });
  if (!points.length) return [];
  points.push({ date: f.date, what: 'the ad date' });
  const out = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1];
    const b = points[i];
    if (addMonths(a.date, GAP_MONTHS) <= b.date) {
      out.push({ from: a.date, fromWhat: a.what, to: b.date, toWhat: b.what, months: monthsBetween(a.date, b.date) });
    }
  }
  return out;
}

export function rule8Gap(f: LabelFacts): LabelReason | null {
  const gaps = gapsOf(f);
  if (!gaps.length) return null;
  const list = gaps.map((g) => `from ${g.fromWhat} on ${g.from} to ${g.toWhat} on ${g.to} (${formatAge(g.months)})`).join('; ');
  return { rule: 8, code: 'L8_GAP', message: `No reading for 24 months or more: ${list}.` };
}

export const LABEL_RULES: readonly ((f: LabelFacts) => LabelReason | null)[] = [
  rule1Anomaly,
  rule2MileageBelowLast,
  rule3NoReading,
  rule4OldFewReadings,
  rule5FiveDigits,
  rule6YoungFewReadings,
  rule7ImportedUsed,
  rule8Gap,
];

/** labelReasons applies every rule, in rule order; the label is issued when the list is empty. */
export function labelReasons(f: LabelFacts): LabelReason[] {
  return LABEL_RULES.map((rule) => rule(f)).filter((r): r is LabelReason => r !== null);
}
