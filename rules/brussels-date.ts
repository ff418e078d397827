/** Calendar dates as INFLOW uses them: `YYYY-MM-DD`, "today" meaning today in Belgium. */

const BRUSSELS_DAY = new Intl.DateTimeFormat('en-US', {
  timeZone: 'Europe/Brussels',
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});

/** brusselsToday returns the date (YYYY-MM-DD) that it is in Europe/Brussels at the instant `now`. */
export function brusselsToday(now: Date): string {
  // formatToParts, not format(): the locale decides the order and separators of format()'s output.
  const parts = BRUSSELS_DAY.formatToParts(now);
  const get = (type: string) => parts.find((p) => p.type === type)?.value ?? '';
  return `${get('year').padStart(4, '0')}-${get('month')}-${get('day')}`;
}

/** isCalendarDate tells whether s is strictly `YYYY-MM-DD` and names a real day (leap years included). */
export function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  return day <= daysInMonth(year, month);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}
