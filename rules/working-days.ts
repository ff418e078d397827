/**
 * Belgian working days, for W50 (reported late: received more than 5 Belgian working days after the date of the
 * work; weekends and Belgian public holidays excluded). Pure functions on `YYYY-MM-DD` calendar dates: no time
 * zone, no clock. The caller converts the reception instant to a Brussels date first (brusselsToday).
 */

const MS_PER_DAY = 86_400_000;
import type { Finding } from '../model/issue-catalogue';

/** Days in 400 Gregorian years: used to move years 1..99 out of Date.UTC's "19xx" range and back. */
const DAYS_PER_400_YEARS = 146_097;
const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;

interface Ymd {
  year: number;
  month: number;
  day: number;
}

/** Per-year holiday data, computed once per year. */
interface YearHolidays {
  /** The holidays as `YYYY-MM-DD`, sorted, without duplicates. */
  dates: readonly string[];
  /** The same holidays as day numbers (days since 1970-01-01), sorted. */
  days: readonly number[];
  /** Each holiday falls Monday to Friday (true) or on a weekend (false); parallel to `days`. */
  onWeekday: readonly boolean[];
  /** How many of the holidays fall Monday to Friday. */
  weekdayCount: number;
}

const cache = new Map<number, YearHolidays>();

function parse(date: string): Ymd {
  const m = DATE_RE.exec(date);
  if (m) {
    const year = Number(m[1]);
    const month = Number(m[2]);
    const day = Number(m[3]);
    if (year >= 1 && month >= 1 && month <= 12 && day >= 1 && day <= daysInMonth(year, month)) {
      return { year, month, day };
    }
  }
  throw new RangeError(`not a calendar date (YYYY-MM-DD): ${JSON.stringify(date)}`);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
}

/** Day number (days since 1970-01-01, UTC calendar) of a year/month/day. */
function dayNumber(year: number, month: number, day: number): number {
  // Date.UTC reads years 0..99 as 1900..1999: shift by 400 years (same calendar) and shift back.
  if (year < 100) return Date.UTC(year + 400, month - 1, day) / MS_PER_DAY - DAYS_PER_400_YEARS;
  return Date.UTC(year, month - 1, day) / MS_PER_DAY;
}

function formatDay(n: number): string {
  const d = new Date(n * MS_PER_DAY);
  const y = String(d.getUTCFullYear()).padStart(4, '0');
  const m = String(d.getUTCMonth() + 1).padStart(2, '0');
  const dd = String(d.getUTCDate()).padStart(2, '0');
  return `${y}-${m}-${dd}`;
}

/** 0 = Monday … 6 = Sunday (1970-01-01, day 0, was a Thursday). */
function weekdayOf(n: number): number {
  return (((n + 3) % 7) + 7) % 7;
}

/** Cumulative count of Monday–Friday days before day n (a difference of two calls counts a range). */
function weekdaysBefore(n: number): number {
  const s = n + 3; // days since the Monday 1969-12-29
  const weeks = Math.floor(s / 7);
  return weeks * 5 + Math.min(s - weeks * 7, 5);
}

function easterDayNumber(year: number): number {
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return dayNumber(year, month, day);
}

function holidaysOf(year: number): YearHolidays {
  let entry = cache.get(year);
  if (entry) return entry;
  if (!Number.isInteger(year) || year < 1 || year > 9999) throw new RangeError(`year out of range: ${year}`);
  const easter = easterDayNumber(year);
  const all = [
    dayNumber(year, 1, 1), // New Year
    easter + 1, // Easter Monday
    dayNumber(year, 5, 1), // Labour Day
    easter + 39, // Ascension
    easter + 50, // Whit Monday
    dayNumber(year, 7, 21), // National Day
    dayNumber(year, 8, 15), // Assumption
    dayNumber(year, 11, 1), // All Saints
    dayNumber(year, 11, 11), // Armistice
    dayNumber(year, 12, 25), // Christmas
  ];
  // Ascension falls on 1 May when Easter is 23 March (e.g. 2008): one day, counted once.
  const days = [...new Set(all)].sort((x, y) => x - y);
  const onWeekday = days.map((n) => weekdayOf(n) < 5);
  entry = {
    dates: days.map(formatDay),
    days,
    onWeekday,
    weekdayCount: onWeekday.filter(Boolean).length,
  };
  cache.set(year, entry);
  return entry;
}

/** easterSunday returns the date (YYYY-MM-DD) of Gregorian Easter Sunday (anonymous Gregorian / Meeus algorithm). */
export function easterSunday(year: number): string {
  if (!Number.isInteger(year) || year < 1 || year > 9999) throw new RangeError(`year out of range: ${year}`);
  return formatDay(easterDayNumber(year));
}

/** belgianHolidays returns the Belgian public holidays of a year, sorted (9 dates when Ascension is 1 May). */
export function belgianHolidays(year: number): string[] {
  return holidaysOf(year).dates.slice();
}

/** isWorkingDay tells whether a date is a Belgian working day: Monday to Friday and not a public holiday. */
export function isWorkingDay(date: string): boolean {
  const { year, month, day } = parse(date);
  const n = dayNumber(year, month, day);
  return weekdayOf(n) < 5 && !holidaysOf(year).days.includes(n);
}

/** workingDaysAfter counts the working days d with workDate < d <= receivedDate (0 when receivedDate <= workDate). */
export function workingDaysAfter(workDate: string, receivedDate: string): number {
  const w = parse(workDate);
  const r = parse(receivedDate);
  return countBetween(w, dayNumber(w.year, w.month, w.day), r, dayNumber(r.year, r.month, r.day));
}

/** isLate tells whether receivedDate is more than `limit` working days after workDate (W50: limit 5). */
export function isLate(workDate: string, receivedDate: string, limit = 5): boolean {
  const w = parse(workDate);
  const r = parse(receivedDate);
  const from = dayNumber(w.year, w.month, w.day);
  const to = dayNumber(r.year, r.month, r.day);
  // Working days never outnumber calendar days: a short gap cannot be late.
  if (to - from <= limit) return false;
  return countBetween(w, from, r, to) > limit;
}

/**
 * Working days in (from, to]: weekdays by whole-week arithmetic, minus the holidays on weekdays in the range.
 * Cost grows with the number of calendar years spanned (a few additions per year), not with the number of days.
 */
function countBetween(w: Ymd, from: number, r: Ymd, to: number): number {
  if (to <= from) return 0;
  let count = weekdaysBefore(to + 1) - weekdaysBefore(from + 1);
  for (let year = w.year; year <= r.year; year++) {
    const h = holidaysOf(year);
    if (year > w.year && year < r.year) {
      count -= h.weekdayCount; // a year wholly inside the range
      continue;
    }
    for (let i = 0; i < h.days.length; i++) {
      const n = h.days[i];
      if (n > from && n <= to && h.onWeekday[i]) count--;
    }
  }
  return count;
}

/** The working days a reading may take to reach the registry before it is reported late (W50). */
export const LATE_AFTER_WORKING_DAYS = 5;

/** lateFinding returns W50 when a reading of `workDate` received on `receivedDate` is late, else null. */
export function lateFinding(workDate: string, receivedDate: string): Finding | null {
  if (!isLate(workDate, receivedDate, LATE_AFTER_WORKING_DAYS)) return null;
  return {
    code: 'W50',
    field: 'date',
    message: `Reported late: received on ${receivedDate}, more than ${LATE_AFTER_WORKING_DAYS} working days after ${workDate}.`,
  };
}
