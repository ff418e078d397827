import { brusselsToday, isCalendarDate } from '../rules/brussels-date';

describe('brusselsToday', () => {
  it.each([
    ['2026-11-25T22:59:59Z', '2026-11-25'], // winter: UTC+1
    ['2026-11-25T23:00:00Z', '2026-11-26'],
    ['2026-07-01T21:59:59Z', '2026-07-01'], // summer: UTC+2
    ['2026-07-01T22:00:00Z', '2026-07-02'],
    ['2026-03-28T23:30:00Z', '2026-03-29'], // the night clocks go forward
    ['2026-10-24T22:30:00Z', '2026-10-25'], // the night clocks go back
    ['2026-12-31T23:00:00Z', '2027-01-01'],
  ])('at %s it is %s in Brussels', (instant, day) => {
    expect(brusselsToday(new Date(instant))).toBe(day);
  });
});

describe('isCalendarDate', () => {
  it.each(['2026-11-25', '2024-02-29', '2000-02-29', '1990-01-01', '2026-12-31', '2026-04-30'])('accepts %s', (s) => {
    expect(isCalendarDate(s)).toBe(true);
  });

  it.each([
    '2026-02-29', // not a leap year
    '1900-02-29', // century, not a leap year
    '2026-04-31',
    '2026-13-01',
    '2026-00-10',
    '2026-01-00',
    '2026-1-01',
    '26-01-01',
    '2026/01/01',
    ' 2026-01-01',
    '2026-01-01T00:00',
    '0000-01-01',
    '',
  ])('refuses %p', (s) => {
    expect(isCalendarDate(s)).toBe(false);
  });
});
