/**
 * The OK label (docs/label.md): the eight rules as pure functions (one scenario each, exact reasons), the age and gap
 * boundaries in calendar months, the store's view of a vehicle (superseded readings, corrected anomalies), and the
 * `inflow label` command against a real service.
 */
import { Readable } from 'node:stream';
import { addMonths, monthsBetween } from '../rules/calendar-months';
import { labelReasons, requiredReadings, type LabelFacts, type LabelReading } from '../rules/label-rules';
import { formatErrorNumber } from '../rules/error-number';
import type { BatchWriter, NewReading, Store } from '../store';
import { BACKENDS, openTestStore } from './helpers/stores';
import type { Reading } from '../model/reading';
import { decideLabel } from '../queries/label';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { csvBatch, daysAgo, vin } from './helpers/batch';
import { parseReceipt } from './helpers/receipt';
import { inflowSync } from './helpers/ops';

const inflow = inflowSync;

const rd = (date: string, km: number, extra: Partial<LabelReading> = {}): LabelReading => ({
  date,
  odometer: km,
  unit: 'km',
  km,
  digits: null,
  sender: '0212345672',
  ...extra,
});

/** A 6-year-old car read every year, advertised above its last reading: the label is issued. */
function base(): LabelFacts {
  return {
    mileage: 90_000,
    date: '2026-06-15',
    register: { firstRegistration: '2020-03-10', imported: false, digits: null },
    readings: [
      rd('2021-03-01', 15_000),
      rd('2022-03-01', 30_000),
      rd('2023-03-01', 45_000),
      rd('2024-03-01', 60_000),
      rd('2025-03-01', 75_000),
      rd('2026-03-01', 85_000),
    ],
    anomalies: [],
  };
}

const codes = (f: LabelFacts) => labelReasons(f).map((r) => `${r.rule}:${r.code}`);

describe('calendar months', () => {
  it('completes a month on the same day-of-month, clamped to shorter months', () => {
    expect(addMonths('2024-01-31', 1)).toBe('2024-02-29');
    expect(addMonths('2023-01-31', 1)).toBe('2023-02-28');
    expect(addMonths('2024-02-29', 12)).toBe('2025-02-28');
    expect(addMonths('2024-11-15', 2)).toBe('2025-01-15');
    expect(monthsBetween('2024-03-15', '2025-03-14')).toBe(11);
    expect(monthsBetween('2024-03-15', '2025-03-15')).toBe(12);
    expect(monthsBetween('2024-01-31', '2024-02-28')).toBe(0);
    expect(monthsBetween('2024-01-31', '2024-02-29')).toBe(1);
    expect(monthsBetween('2024-02-29', '2025-02-28')).toBe(12);
    expect(monthsBetween('2025-01-01', '2024-01-01')).toBe(0);
  });

  it('requires 1, 2, 3, 4 readings at 0–12, 13–24, 25–36, over 36 months', () => {
    expect([0, 12, 13, 24, 25, 36, 37, 47].map(requiredReadings)).toEqual([1, 1, 2, 2, 3, 3, 4, 4]);
  });
});

describe('label rules, one scenario each (exact reasons)', () => {
  it('issues the label when no rule holds', () => {
    expect(labelReasons(base())).toEqual([]);
  });

  it('rule 1: an uncorrected anomaly in the history', () => {
    const f = {
      ...base(),
      anomalies: [{ code: 'A40', errorNumber: '100000000459', date: '2024-03-01', odometer: 60_000, unit: 'km' as const }],
    };
    expect(labelReasons(f)).toEqual([
      {
        rule: 1,
        code: 'L1_ANOMALY',
        message: 'The history contains an uncorrected anomaly: A40 (error number 100000000459) on the reading of 2024-03-01 (60000 km).',
      },
    ]);
  });

  it('rule 2: the advertised mileage is lower than the most recent reading (compared in km)', () => {
    expect(labelReasons({ ...base(), mileage: 84_999 })).toEqual([
      {
        rule: 2,
        code: 'L2_MILEAGE_BELOW_LAST',
        message: 'The advertised mileage 84999 km is lower than the most recent reading 85000 km on 2026-03-01.',
      },
    ]);
    expect(codes({ ...base(), mileage: 85_000 })).toEqual([]);
    const miles = base();
    miles.readings[5] = rd('2026-03-01', 53_000, { unit: 'mi', km: 85_295 });
    expect(codes({ ...miles, mileage: 85_000 })).toEqual(['2:L2_MILEAGE_BELOW_LAST']);
    expect(codes({ ...miles, mileage: 85_295 })).toEqual([]);
  });

  it('rule 3: no reading, and a VIN nobody knows is a decision, not an error', () => {
    expect(labelReasons({ ...base(), register: null, readings: [] })).toEqual([
      { rule: 3, code: 'L3_NO_READING', message: 'Not in the database: the VIN has no reading and the vehicle register does not know it.' },
    ]);
  });

  it('rule 4: more than 4 years old and fewer than 4 readings', () => {
    const f = { ...base(), readings: [rd('2022-01-01', 20_000), rd('2023-12-01', 40_000), rd('2025-11-01', 60_000)] };
    expect(labelReasons(f)).toEqual([
      {
        rule: 4,
        code: 'L4_OLD_FEW_READINGS',
        message:
          'The vehicle is 6 years 3 months old (first registration 2020-03-10), more than 4 years, and has 3 readings: at least 4 are required.',
      },
    ]);
  });

  it('rule 5: a 5-digit odometer, from the register or from a reading', () => {
    expect(labelReasons({ ...base(), register: { ...base().register!, digits: 5 } })).toEqual([
      { rule: 5, code: 'L5_FIVE_DIGITS', message: 'The vehicle has a 5-digit odometer (vehicle register).' },
    ]);
    const f = base();
    f.readings[2] = { ...f.readings[2], digits: 5 };
    expect(labelReasons(f)).toEqual([
      { rule: 5, code: 'L5_FIVE_DIGITS', message: 'The vehicle has a 5-digit odometer (reading of 2023-03-01).' },
    ]);
  });

  it('rule 6: less than 4 years old with fewer readings than its age requires', () => {
    const f: LabelFacts = {
      ...base(),
      register: { firstRegistration: '2025-05-15', imported: false, digits: null },
      readings: [rd('2026-01-10', 12_000)],
      mileage: 20_000,
    };
    expect(labelReasons(f)).toEqual([
      {
        rule: 6,
        code: 'L6_YOUNG_FEW_READINGS',
        message: 'The vehicle is 1 year 1 month old (first registration 2025-05-15) and has 1 reading: 2 required at 13–24 months.',
      },
    ]);
  });

  it('rule 7: imported used (register flag)', () => {
    expect(labelReasons({ ...base(), register: { ...base().register!, imported: true } })).toEqual([
      { rule: 7, code: 'L7_IMPORTED_USED', message: 'The vehicle was imported used into Belgium (vehicle register).' },
    ]);
  });

  it('rule 8: a period of 24 months without any reading', () => {
    const f = {
      ...base(),
      readings: [
        rd('2021-03-01', 15_000),
        rd('2023-04-01', 45_000),
        rd('2024-03-01', 60_000),
        rd('2025-03-01', 75_000),
        rd('2026-03-01', 85_000),
      ],
    };
    expect(labelReasons(f)).toEqual([
      {
        rule: 8,
        code: 'L8_GAP',
        message: 'No reading for 24 months or more: from the reading on 2021-03-01 to the reading on 2023-04-01 (2 years 1 month).',
      },
    ]);
  });

  it('lists every rule that holds, in rule order', () => {
    const f: LabelFacts = {
      mileage: 1_000,
      date: '2026-06-15',
      register: { firstRegistration: '2019-01-01', imported: true, digits: 5 },
      readings: [rd('2020-01-01', 9_000), rd('2024-01-01', 50_000)],
      anomalies: [{ code: 'A42', errorNumber: '100000000162', date: '2024-01-01', odometer: 50_000, unit: 'km' }],
    };
    expect(codes(f)).toEqual([
      '1:L1_ANOMALY',
      '2:L2_MILEAGE_BELOW_LAST',
      '4:L4_OLD_FEW_READINGS',
      '5:L5_FIVE_DIGITS',
      '7:L7_IMPORTED_USED',
      '8:L8_GAP',
    ]);
  });
});

describe('age boundaries (completed calendar months from the first registration)', () => {
  const reg = '2022-01-15';
  /** n readings spread evenly between the first registration and the ad date, so no 24-month gap. */
  function aged(months: number, n: number, dayShift = 0): LabelFacts {
    const date = addMonths(reg, months);
    const ad = dayShift ? new Date(Date.parse(date) + dayShift * 86400_000).toISOString().slice(0, 10) : date;
    const readings = Array.from({ length: n }, (_, i) => rd(addMonths(reg, Math.round((months * (i + 1)) / (n + 1))), 1000 * (i + 1)));
    return { mileage: 100_000, date: ad, register: { firstRegistration: reg, imported: false, digits: null }, readings, anomalies: [] };
  }

  it.each([
    [12, 1, []],
    [13, 1, ['6:L6_YOUNG_FEW_READINGS']],
    [13, 2, []],
    [24, 2, []],
    [25, 2, ['6:L6_YOUNG_FEW_READINGS']],
    [25, 3, []],
    [36, 3, []],
    [37, 3, ['6:L6_YOUNG_FEW_READINGS']],
    [37, 4, []],
    [47, 3, ['6:L6_YOUNG_FEW_READINGS']],
    [48, 3, ['4:L4_OLD_FEW_READINGS']],
    [48, 4, []],
    [60, 3, ['4:L4_OLD_FEW_READINGS']],
  ])('%i months old with %i readings → %j', (months, n, expected) => {
    expect(codes(aged(months, n))).toEqual(expected);
  });

  it('is still 12 months old the day before the 13th month is complete', () => {
    expect(codes(aged(13, 1, -1))).toEqual([]); // 2023-02-14: 12 completed months
    expect(codes(aged(13, 1))).toEqual(['6:L6_YOUNG_FEW_READINGS']); // 2023-02-15
    expect(codes(aged(48, 3, -1))).toEqual(['6:L6_YOUNG_FEW_READINGS']); // 47 months: less than 4 years
  });

  it('counts the age from the first reading when the register does not know the vehicle, and says so', () => {
    const f: LabelFacts = { mileage: 20_000, date: '2026-03-01', register: null, readings: [rd('2025-01-10', 10_000)], anomalies: [] };
    expect(labelReasons(f)).toEqual([
      {
        rule: 6,
        code: 'L6_YOUNG_FEW_READINGS',
        message:
          'The vehicle is at least 1 year 1 month old (counted from its first reading on 2025-01-10: the vehicle register has no first registration for it) and has 1 reading: 2 required at 13–24 months.',
      },
    ]);
    expect(codes({ ...f, date: '2026-02-09' })).toEqual([]); // 12 months after the first reading
  });
});

describe('the 24-month gap between first registration, readings and the ad date', () => {
  const reg = '2020-01-31';
  const facts = (dates: string[], ad: string): LabelFacts => ({
    mileage: 500_000,
    date: ad,
    register: { firstRegistration: reg, imported: false, digits: null },
    readings: dates.map((d, i) => rd(d, 10_000 * (i + 1))),
    anomalies: [],
  });

  it('from the first registration to the first reading', () => {
    const rest = ['2023-01-01', '2024-01-01', '2025-01-01'];
    expect(codes(facts(['2022-01-30', ...rest], '2025-06-01'))).toEqual([]);
    expect(codes(facts(['2022-01-31', ...rest], '2025-06-01'))).toEqual(['8:L8_GAP']);
  });

  it('between two readings', () => {
    expect(codes(facts(['2021-01-01', '2022-05-10', '2024-05-09', '2025-01-01'], '2025-06-01'))).toEqual([]);
    const f = facts(['2021-01-01', '2022-05-10', '2024-05-10', '2025-01-01'], '2025-06-01');
    expect(labelReasons(f)[0].message).toBe(
      'No reading for 24 months or more: from the reading on 2022-05-10 to the reading on 2024-05-10 (2 years).',
    );
  });

  it('from the last reading to the ad date', () => {
    const dates = ['2021-01-01', '2022-06-15', '2023-06-15', '2024-06-15'];
    expect(codes(facts(dates, '2026-06-14'))).toEqual([]);
    const f = facts(dates, '2026-06-15');
    expect(labelReasons(f)).toEqual([
      {
        rule: 8,
        code: 'L8_GAP',
        message: 'No reading for 24 months or more: from the reading on 2024-06-15 to the ad date on 2026-06-15 (2 years).',
      },
    ]);
  });

  it('from the first registration to the ad date when there is no reading at all', () => {
    expect(codes(facts([], '2022-01-30'))).toEqual(['3:L3_NO_READING', '6:L6_YOUNG_FEW_READINGS']);
    expect(codes(facts([], '2022-01-31'))).toEqual(['3:L3_NO_READING', '6:L6_YOUNG_FEW_READINGS', '8:L8_GAP']);
  });
});

describe.each(BACKENDS)('the label through the %s store', (backend) => {
  let store: Store;
  let dispose: () => Promise<void>;
  beforeAll(async () => {
    ({ store, dispose } = await openTestStore(backend));
  });
  const SENDER = '0212345668';
  afterAll(() => dispose());
  const V = vin(7001);
  let accountId = 0;
  /** aFile records a received file (its content is never read here). */
  const aFile = async (): Promise<number> => {
    accountId ||= (await store.accounts.add({ establishment: SENDER, name: 'Label test', role: 'garage', passwordHash: 'x' })).id;
    const f = await store.files.receive({
      accountId,
      name: 'f.csv',
      storedPath: '/nowhere/f.csv',
      size: 1,
      sha256: String(Math.random()),
      receivedAt: new Date().toISOString(),
    });
    return f.pk;
  };
  const reading = (vehicle: string, date: string, odometer: number): Reading => ({
    ref: null,
    vin: vehicle,
    plate: null,
    date,
    odometer,
    unit: 'km',
    km: odometer,
    work: 'MAINT',
    replaced: false,
    digits: null,
    corrects: null,
  });
  /** put stores one reading as line 2 of a new file, with `more` written in the same batch; the file then passes. */
  const put = async (
    vehicle: string,
    date: string,
    odometer: number,
    status: NewReading['status'] = 'ok',
    corrects: number | null = null,
    more?: (w: BatchWriter) => void,
  ) => {
    const filePk = await aFile();
    await store.storeBatch(
      { filePk, sender: SENDER, lastLine: 2, lookups: () => ({ vins: [vehicle], plates: [], issueIds: [] }) },
      (_view, write) => {
        write.addReading({ line: 2, reading: reading(vehicle, date, odometer), vin: vehicle, plate: null, status, corrects });
        more?.(write);
      },
    );
    await store.files.accept(filePk, { format: 'csv', sender: SENDER, records: 1, processedAt: new Date().toISOString() });
    return filePk;
  };
  const issue = (vehicle: string, code: 'A40' | 'A42' | 'W50') => (w: BatchWriter) =>
    w.addIssue({
      line: 2,
      code,
      severity: code === 'W50' ? 'W' : 'A',
      field: 'odometer',
      message: code,
      ref: null,
      vin: vehicle,
      correctable: code !== 'W50',
    });

  it('reads non-superseded readings up to the ad date; a corrected anomaly no longer blocks', async () => {
    await store.vehicles.upsertMany([{ vin: V, plate: null, firstRegistration: '2021-02-01', imported: false, digits: null }]);
    await put(V, '2022-01-10', 20_000);
    await put(V, '2023-01-10', 40_000);
    const typo = await put(V, '2024-01-10', 4_100, 'flagged', null, issue(V, 'A40')); // a typo: 41,000 → roll-back
    const a40 = (await store.issues.forRecord(typo, 2))[0].id;
    await put(V, '2025-01-10', 60_000);
    await put(V, '2026-09-01', 70_000); // after the ad date: not considered

    const before = await decideLabel(store, V, 65_000, '2026-06-15');
    expect(before.reasons).toEqual([
      {
        rule: 1,
        code: 'L1_ANOMALY',
        message: `The history contains an uncorrected anomaly: A40 (error number ${formatErrorNumber(a40)}) on the reading of 2024-01-10 (4100 km).`,
      },
    ]);
    expect(before.readings).toBe(4);
    expect(before.lastReading).toMatchObject({ date: '2025-01-10', km: 60_000 });

    // The correction: the flagged reading is superseded, the corrected one stored, the issue marked corrected.
    await put(V, '2024-01-10', 41_000, 'corrected', a40, (w) => {
      w.supersede(V, typo, 2);
      w.markCorrected(a40, 2);
    });
    const after = await decideLabel(store, V, 65_000, '2026-06-15');
    expect(after).toMatchObject({
      issued: true,
      reasons: [],
      readings: 4,
      firstRegistration: '2021-02-01',
      ageMonths: 64,
      ageFrom: 'first registration',
    });
    expect((await decideLabel(store, V, 59_000, '2026-06-15')).reasons.map((r) => r.code)).toEqual(['L2_MILEAGE_BELOW_LAST']);
    // As of a later ad date, the 2026-09-01 reading is the most recent one.
    expect((await decideLabel(store, V, 65_000, '2026-10-01')).reasons.map((r) => r.code)).toEqual(['L2_MILEAGE_BELOW_LAST']);
  });

  it('still blocks on an anomaly whose issue was not corrected', async () => {
    const W = vin(7002);
    await store.vehicles.upsertMany([{ vin: W, plate: null, firstRegistration: '2025-01-01', imported: false, digits: null }]);
    await put(W, '2025-06-01', 90_000, 'flagged', null, (w) => {
      issue(W, 'A42')(w);
      issue(W, 'W50')(w);
    });
    expect((await decideLabel(store, W, 95_000, '2025-08-01')).reasons.map((r) => r.code)).toEqual(['L1_ANOMALY']);
  });

  it('does not see the readings of a file that has not passed its file-level checks', async () => {
    const X = vin(7003);
    await put(X, '2025-06-01', 10_000);
    const pending = await aFile();
    await store.storeBatch(
      { filePk: pending, sender: SENDER, lastLine: 2, lookups: () => ({ vins: [X], plates: [], issueIds: [] }) },
      (_v, w) => w.addReading({ line: 2, reading: reading(X, '2025-07-01', 5_000), vin: X, plate: null, status: 'ok', corrects: null }),
    );
    expect((await decideLabel(store, X, 12_000, '2025-08-01')).readings).toBe(1);
    await store.files.reject(pending, {
      findings: [{ code: 'F04', field: 'trailer', line: 3, message: 'count' }],
      records: 1,
      format: 'csv',
      sender: SENDER,
      duplicateOf: null,
      processedAt: new Date().toISOString(),
    });
    expect(await store.readings.forFile(pending)).toEqual([]);
    expect((await decideLabel(store, X, 12_000, '2025-08-01')).readings).toBe(1);
  });
});

describe('inflow label against the real service', () => {
  let svc: TestService;
  const GARAGE = '2123456692';
  const PW = 'garage password 123';
  const V = vin(7101);
  beforeAll(async () => {
    svc = await startTestService();
    await svc.addAccount(GARAGE, PW);
    await svc.store.vehicles.upsertMany([{ vin: V, plate: null, firstRegistration: daysAgo(400), imported: false, digits: null }]);
  });
  afterAll(() => svc.teardown());

  async function send(name: string, body: string) {
    const c = await svc.connect(GARAGE, PW);
    try {
      await c.uploadFrom(Readable.from([body]), name);
      return parseReceipt(await waitForReceipt(c, `${name}.receipt.csv`));
    } finally {
      c.close();
    }
  }

  it('decides from uploaded readings: blocked by a roll-back, issued once it is corrected (exit 0 both times)', async () => {
    const r1 = await send(
      'night1.csv',
      csvBatch(GARAGE, [
        { vin: V, date: daysAgo(300), odometer: 10_000 },
        { vin: V, date: daysAgo(200), odometer: 20_000 },
        { vin: V, date: daysAgo(3), odometer: 2_500 },
      ]),
    );
    const a40 = r1.issues.find((i) => i.code === 'A40')!;
    expect(a40.line).toBe(4);

    const blocked = inflow(['label', V.toLowerCase(), '--mileage', '30000', '--json', '--data-dir', svc.dir]);
    expect(blocked.code).toBe(0);
    const d = JSON.parse(blocked.out);
    expect(d).toMatchObject({ vin: V, mileage: 30_000, issued: false, readings: 3, lastReading: { odometer: 2_500, unit: 'km' } });
    expect(d.reasons).toEqual([
      {
        rule: 1,
        code: 'L1_ANOMALY',
        message: `The history contains an uncorrected anomaly: A40 (error number ${a40.errorNumber}) on the reading of ${daysAgo(3)} (2500 km).`,
      },
    ]);

    const r2 = await send('night2.csv', csvBatch(GARAGE, [{ vin: V, date: daysAgo(3), odometer: 25_000, corrects: a40.errorNumber }]));
    expect(r2.status).toBe('ACCEPTED');
    const issued = inflow(['label', V, '--mileage', '30000', '--json', '--data-dir', svc.dir]);
    expect(issued.code).toBe(0);
    expect(JSON.parse(issued.out)).toMatchObject({ issued: true, reasons: [], readings: 3, lastReading: { odometer: 25_000 } });

    const text = inflow(['label', V, '--mileage', '24000', '--data-dir', svc.dir]);
    expect(text.code).toBe(0);
    expect(text.out).toContain('OK label: NOT ISSUED (1 reason)');
    expect(text.out).toContain('rule 2  L2_MILEAGE_BELOW_LAST');
  });

  it('answers an unknown VIN with a decision, and refuses a malformed one with one line', () => {
    const r = inflow(['label', vin(7199), '--mileage', '1000', '--date', '2026-01-15', '--json', '--data-dir', svc.dir]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(
      expect.objectContaining({
        vin: vin(7199),
        mileage: 1000,
        date: '2026-01-15',
        issued: false,
        readings: 0,
        lastReading: null,
        reasons: [
          {
            rule: 3,
            code: 'L3_NO_READING',
            message: 'Not in the database: the VIN has no reading and the vehicle register does not know it.',
          },
        ],
      }),
    );
    const bad = inflow(['label', 'WVWZZZ1JZXW00000I', '--mileage', '1000', '--data-dir', svc.dir]);
    expect(bad.code).toBe(1);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(inflow(['label', V, '--mileage', '1000', '--date', '2026-02-30', '--data-dir', svc.dir]).code).toBe(1);
    expect(inflow(['label', V, '--data-dir', svc.dir]).code).toBe(2); // --mileage is required
  });
});
