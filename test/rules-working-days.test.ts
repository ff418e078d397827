import { belgianHolidays, easterSunday, isLate, isWorkingDay, workingDaysAfter } from '../rules/working-days';
import { prng } from './helpers/prng';

const DAY_MS = 86_400_000;

/** Day-by-day reference count, independent of the fast path's week arithmetic. */
function naiveWorkingDaysAfter(workDate: string, receivedDate: string): number {
  const end = Date.parse(`${receivedDate}T00:00:00Z`);
  let count = 0;
  for (let t = Date.parse(`${workDate}T00:00:00Z`) + DAY_MS; t <= end; t += DAY_MS) {
    const d = new Date(t);
    const weekday = d.getUTCDay();
    const iso = d.toISOString().slice(0, 10);
    if (weekday !== 0 && weekday !== 6 && !belgianHolidays(d.getUTCFullYear()).includes(iso)) count++;
  }
  return count;
}

function addDays(date: string, n: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10);
}

describe('easterSunday', () => {
  it.each([
    [2024, '2024-03-31'],
    [2025, '2025-04-20'],
    [2026, '2026-04-05'],
    [2027, '2027-03-28'],
    [2019, '2019-04-21'],
    [2038, '2038-04-25'], // latest possible date
    [2000, '2000-04-23'],
    [2008, '2008-03-23'],
    [2011, '2011-04-24'],
    [1818, '1818-03-22'], // earliest possible date
    [2285, '2285-03-22'],
    [1961, '1961-04-02'],
  ])('Easter %i is %s', (year, date) => {
    expect(easterSunday(year)).toBe(date);
  });
});

describe('belgianHolidays', () => {
  it.each([
    [
      2025,
      [
        '2025-01-01',
        '2025-04-21',
        '2025-05-01',
        '2025-05-29',
        '2025-06-09',
        '2025-07-21',
        '2025-08-15',
        '2025-11-01',
        '2025-11-11',
        '2025-12-25',
      ],
    ],
    [
      2026,
      [
        '2026-01-01',
        '2026-04-06',
        '2026-05-01',
        '2026-05-14',
        '2026-05-25',
        '2026-07-21',
        '2026-08-15',
        '2026-11-01',
        '2026-11-11',
        '2026-12-25',
      ],
    ],
    // Easter 23 March: Ascension is 1 May, the same day as Labour Day, listed once.
    [2008, ['2008-01-01', '2008-03-24', '2008-05-01', '2008-05-12', '2008-07-21', '2008-08-15', '2008-11-01', '2008-11-11', '2008-12-25']],
  ])('%i', (year, dates) => {
    expect(belgianHolidays(year)).toEqual(dates);
  });

  it('returns a copy: mutating the result does not change the cached list', () => {
    belgianHolidays(2026).pop();
    expect(belgianHolidays(2026)).toHaveLength(10);
  });
});

describe('isWorkingDay', () => {
  it.each([
    ['2026-04-03', true], // Good Friday is not a Belgian public holiday
    ['2026-04-06', false], // Easter Monday
    ['2026-05-14', false], // Ascension
    ['2026-05-25', false], // Whit Monday
    ['2026-07-21', false],
    ['2026-12-26', false], // Saturday (Boxing Day is not a holiday either way)
    ['2025-12-26', true], // Friday 26 December is a working day
    ['2026-03-07', false], // Saturday
    ['2026-03-08', false], // Sunday
    ['2026-03-09', true],
    ['2025-01-01', false],
  ])('%s → %s', (date, expected) => {
    expect(isWorkingDay(date)).toBe(expected);
  });

  it.each(['2026-02-29', '2026-4-01', '', '2026-04-31'])('rejects %j', (date) => {
    expect(() => isWorkingDay(date)).toThrow(RangeError);
  });
});

describe('workingDaysAfter', () => {
  it.each([
    // Easter 2026: Thursday → next Thursday; Good Friday counts, Easter Monday 6 April does not.
    ['2026-04-02', '2026-04-09', 4],
    ['2026-04-02', '2026-04-10', 5],
    // Ascension (Thursday 14 May 2026) and Whit Monday (25 May 2026).
    ['2026-05-13', '2026-05-20', 4],
    ['2026-05-22', '2026-05-29', 4],
    ['2026-05-13', '2026-05-29', 10],
    // Christmas (Thursday) and New Year (Thursday): 24, 26, 29, 30, 31 December and 2 January.
    ['2025-12-23', '2026-01-02', 6],
    // 21 July on a Monday (2025) and a Tuesday (2026); 15 August on a Friday (2025) and a Saturday (2026).
    ['2025-07-18', '2025-07-25', 4],
    ['2026-07-17', '2026-07-24', 4],
    ['2025-08-13', '2025-08-20', 4],
    ['2026-08-12', '2026-08-19', 5],
    // Received on a Sunday or a Saturday: same count as on the Friday before.
    ['2026-03-02', '2026-03-08', 4],
    ['2026-03-02', '2026-03-07', 4],
    ['2026-03-02', '2026-03-06', 4],
    // Work on a Saturday: the count starts on Monday.
    ['2026-03-07', '2026-03-09', 1],
    ['2026-03-07', '2026-03-13', 5],
    ['2026-03-07', '2026-03-16', 6],
    // Same day, and reception before the work date.
    ['2026-03-04', '2026-03-04', 0],
    ['2026-03-10', '2026-03-04', 0],
    ['2026-01-01', '2015-01-01', 0],
    // Across a year boundary, and a long gap (cross-checked against a Python day-by-day count).
    ['2024-12-31', '2025-01-02', 1],
    ['2015-01-01', '2026-11-26', 3010],
    ['2000-01-01', '2030-12-31', 7839],
  ])('work %s, received %s → %i', (work, received, expected) => {
    expect(workingDaysAfter(work, received)).toBe(expected);
  });

  it('long gap 2015-01-01 → 2026-11-26 is plausible and matches the day-by-day count', () => {
    const n = workingDaysAfter('2015-01-01', '2026-11-26');
    // ~4347 calendar days, ~3105 weekdays, minus 7–9 weekday holidays a year.
    expect(n).toBeGreaterThan(3000);
    expect(n).toBeLessThan(3030);
    expect(n).toBe(naiveWorkingDaysAfter('2015-01-01', '2026-11-26'));
  });

  it('matches the day-by-day count for 400 random pairs within 2 years', () => {
    const rand = prng(50);
    const base = Date.parse('2018-01-01T00:00:00Z');
    for (let i = 0; i < 400; i++) {
      const work = new Date(base + Math.floor(rand() * 365 * 12) * DAY_MS).toISOString().slice(0, 10);
      const received = addDays(work, Math.floor(rand() * 760) - 30);
      const expected = naiveWorkingDaysAfter(work, received);
      expect([work, received, workingDaysAfter(work, received)]).toEqual([work, received, expected]);
      const limit = Math.floor(rand() * 12);
      expect([work, received, limit, isLate(work, received, limit)]).toEqual([work, received, limit, expected > limit]);
    }
  });

  it.each([
    ['1999-12-31', '2007-03-01'],
    ['2003-06-15', '2011-06-14'],
    ['2012-02-29', '2020-02-29'],
    ['2019-12-24', '2031-01-02'],
    ['2026-11-26', '2040-05-08'],
  ])('matches the day-by-day count for the multi-year pair %s → %s', (work, received) => {
    expect(workingDaysAfter(work, received)).toBe(naiveWorkingDaysAfter(work, received));
  });
});

describe('isLate (W50: more than 5 working days)', () => {
  it.each([
    // 2024, no holiday: Monday → next Monday is 5, Tuesday is 6.
    ['2024-03-04', '2024-03-11', false],
    ['2024-03-04', '2024-03-12', true],
    // 2024, Armistice on Monday 11 November.
    ['2024-11-04', '2024-11-12', false],
    ['2024-11-04', '2024-11-13', true],
    // 2027, Easter Monday 29 March.
    ['2027-03-24', '2027-04-01', false],
    ['2027-03-24', '2027-04-02', true],
    // 2019, Ascension Thursday 30 May.
    ['2019-05-27', '2019-06-04', false],
    ['2019-05-27', '2019-06-05', true],
    // 2026, Easter Monday 6 April.
    ['2026-04-02', '2026-04-10', false],
    ['2026-04-02', '2026-04-13', true],
    // Christmas 2025 → New Year 2026: 6 working days.
    ['2025-12-23', '2026-01-01', false],
    ['2025-12-23', '2026-01-02', true],
    // Same day, earlier, and a long gap.
    ['2026-03-04', '2026-03-04', false],
    ['2026-03-10', '2026-03-04', false],
    ['2015-01-01', '2026-11-26', true],
  ])('work %s, received %s → late %s', (work, received, late) => {
    expect(isLate(work, received)).toBe(late);
  });

  it('honours another limit', () => {
    expect(isLate('2024-03-04', '2024-03-12', 6)).toBe(false);
    expect(isLate('2024-03-04', '2024-03-13', 6)).toBe(true);
    expect(isLate('2024-03-04', '2024-03-05', 0)).toBe(true);
    expect(isLate('2024-03-04', '2024-03-04', 0)).toBe(false);
  });
});
