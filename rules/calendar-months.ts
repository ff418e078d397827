/**
 * Calendar-month arithmetic on `YYYY-MM-DD` dates, as the OK label counts ages and gaps (docs/label.md).
 *
 * A vehicle first registered on 2024-03-15 is 12 months old on 2025-03-15, not on 2025-03-14: a month is complete on
 * the same day-of-month one month later. When that day does not exist in the later month, the month is complete on
 * that month's last day (2024-01-31 + 1 month = 2024-02-29; 2024-02-29 + 12 months = 2025-02-28).
 */

function parts(date: string): [number, number, number] {
  return [Number(date.slice(0, 4)), Number(date.slice(5, 7)), Number(date.slice(8, 10))];
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** addMonths returns the date n calendar months after `date`, clamped to the last day of a shorter month. */
export function addMonths(date: string, n: number): string {
  const [y, m, d] = parts(date);
  const index = y * 12 + (m - 1) + n;
  const year = Math.floor(index / 12);
  const month = (index % 12) + 1;
  return `${pad(year, 4)}-${pad(month)}-${pad(Math.min(d, daysInMonth(year, month)))}`;
}

/**
 * monthsBetween counts the calendar months completed from `from` to `to`: the largest n with
 * addMonths(from, n) ≤ to. 0 when `to` is before `from`.
 */
export function monthsBetween(from: string, to: string): number {
  if (to <= from) return 0;
  const [fy, fm] = parts(from);
  const [ty, tm] = parts(to);
  let n = (ty - fy) * 12 + (tm - fm);
  while (n > 0 && addMonths(from, n) > to) n--;
  return n;
}

/** formatAge renders a number of months as "3 years 2 months", "1 year", "7 months". */
export function formatAge(months: number): string {
  const y = Math.floor(months / 12);
  const m = months % 12;
  const years = y === 0 ? '' : y === 1 ? '1 year' : `${y} years`;
  const rest = m === 0 ? '' : m === 1 ? '1 month' : `${m} months`;
  return [years, rest].filter(Boolean).join(' ') || '0 months';
}
