import { historyFindings, neighbours, type TimelineReading } from '../rules/history';
import { dateOfDay, dayOf } from '../model/day-number';

const opts = { decreaseToleranceKm: 0, maxKmPerDay: 1000, fiveDigits: false };
let seq = 0;
const r = (date: string, odometer: number, extra: Partial<TimelineReading> = {}): TimelineReading => {
  const unit = extra.unit ?? 'km';
  return {
    day: dayOf(date),
    fileId: 1,
    line: ++seq,
    odometer,
    unit,
    km: unit === 'mi' ? Math.round(odometer * 1.609344) : odometer,
    startsSeries: false,
    ...extra,
  };
};
const codes = (n: TimelineReading, tl: TimelineReading[], o = opts) => historyFindings(n, tl, o).map((f) => f.code);

describe('historyFindings', () => {
  it.each([
    ['first reading of a vehicle', [], r('2026-01-10', 5000), []],
    ['higher than its predecessor', [r('2026-01-01', 1000)], r('2026-01-10', 5000), []],
    ['roll-back', [r('2026-01-01', 50000)], r('2026-01-10', 40000), ['A40']],
    ['same value, same day (contractor and subcontractor)', [r('2026-01-10', 40000)], r('2026-01-10', 40000), []],
    ['a late file reveals a drop: higher than a later reading', [r('2026-03-01', 30000)], r('2026-01-10', 45000), ['A41']],
    ['between two readings, fitting', [r('2026-01-01', 10000), r('2026-03-01', 30000)], r('2026-02-01', 20000), []],
    ['between two readings, lower than both', [r('2026-01-01', 10000), r('2026-03-01', 30000)], r('2026-02-01', 9000), ['A40']],
    ['typo of an extra digit', [r('2026-01-01', 123456)], r('2026-02-01', 1234560), ['A42']],
    ['1000 km on the same day is allowed', [r('2026-01-01', 1000)], r('2026-01-01', 2000), []],
    ['1001 km on the same day is implausible', [r('2026-01-01', 1000)], r('2026-01-01', 2001), ['A42']],
    ['10,000 km in 10 days is allowed', [r('2026-01-01', 1000)], r('2026-01-11', 11000), []],
    ['10,001 km in 10 days is implausible', [r('2026-01-01', 1000)], r('2026-01-11', 11001), ['A42']],
    ['miles compared in km: 10,000 mi after 15,000 km', [r('2026-01-01', 15000)], r('2026-02-01', 10000, { unit: 'mi' }), []],
    ['miles compared in km: 9,000 mi after 15,000 km', [r('2026-01-01', 15000)], r('2026-02-01', 9000, { unit: 'mi' }), ['A40']],
    ['meter replaced starts a new series', [r('2026-01-01', 150000)], r('2026-02-01', 10, { startsSeries: true }), ['W53']],
    [
      'after a replacement, compared with the new series only',
      [r('2026-01-01', 150000), r('2026-02-01', 10, { startsSeries: true })],
      r('2026-03-01', 2000),
      [],
    ],
    [
      'a late reading before a replacement is not compared with the new series',
      [r('2026-01-01', 100000), r('2026-03-01', 10, { startsSeries: true })],
      r('2026-02-01', 120000),
      [],
    ],
  ] as [string, TimelineReading[], TimelineReading, string[]][])('%s', (_t, timeline, n, expected) => {
    expect(codes(n, timeline)).toEqual(expected);
  });

  it('explains a drop on a 5-digit odometer by the wrap past 99,999 (W52), but only for 5-digit meters', () => {
    const tl = [r('2026-01-01', 99500)];
    const n = r('2026-01-20', 1200);
    expect(codes(n, tl, { ...opts, fiveDigits: true })).toEqual(['W52']);
    expect(codes(n, tl, opts)).toEqual(['A40']);
  });

  it('honours the decrease tolerance', () => {
    const tl = [r('2026-01-01', 50000)];
    expect(codes(r('2026-01-02', 49990), tl, { ...opts, decreaseToleranceKm: 10 })).toEqual([]);
    expect(codes(r('2026-01-02', 49989), tl, { ...opts, decreaseToleranceKm: 10 })).toEqual(['A40']);
  });

  it('orders same-day readings by reception', () => {
    const a = r('2026-01-01', 1000);
    const b = r('2026-01-01', 2000);
    expect(neighbours([a, b], { day: dayOf('2026-01-01'), fileId: 1, line: b.line + 1 })).toEqual({ prev: b, next: null });
    expect(neighbours([a, b], { day: dayOf('2026-01-01'), fileId: 1, line: a.line - 0.5 })).toEqual({ prev: null, next: a });
  });
});

describe('day numbers', () => {
  it('round-trip dates, leap days included', () => {
    for (const d of ['1970-01-01', '1990-01-01', '2024-02-29', '2026-11-26', '2099-12-31']) expect(dateOfDay(dayOf(d))).toBe(d);
    expect(dayOf('1970-01-02')).toBe(1);
    expect(dayOf('2024-03-01') - dayOf('2024-02-28')).toBe(2);
  });
});
