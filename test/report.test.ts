/**
 * The Trusted Provider report (docs/provider-report.md) over readings sent through the real pipeline: three establishments whose
 * discrepancy rates fall below, at and above 0.5%; a corrected anomaly, readings and anomalies dated in the
 * neighbouring years, and an establishment with readings only outside the year do not count.
 */
import { Readable } from 'node:stream';
import { mod97Check } from '../rules/establishment';
import { discrepancyRate, earnsTrustedLabel, formatRate } from '../rules/provider-label';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { csvBatch, vin, type R } from './helpers/batch';
import { parseReceipt } from './helpers/receipt';
import { inflowSync } from './helpers/ops';

const inflow = inflowSync;

const est = (base: number) => `${base}${mod97Check(base)}`;
const FLEET = est(29000001);
const E1 = est(21000001); // below 0.5%: 1 in 201
const E2 = est(22000002); // at 0.5%: 1 in 200
const E3 = est(23000003); // above 0.5%: 1 in 199
const E4 = est(24000004); // readings only in the next year: not listed
const PW = 'fleet password 12345';

describe('the Trusted Provider label decision', () => {
  it('is earned below 0.5% only, decided exactly', () => {
    expect(earnsTrustedLabel(201, 1)).toBe(true);
    expect(earnsTrustedLabel(200, 1)).toBe(false);
    expect(earnsTrustedLabel(199, 1)).toBe(false);
    expect(earnsTrustedLabel(1000, 4)).toBe(true);
    expect(earnsTrustedLabel(1000, 5)).toBe(false);
    expect(earnsTrustedLabel(10, 0)).toBe(true);
    expect(earnsTrustedLabel(0, 0)).toBe(false);
    expect(discrepancyRate(200, 1)).toBe(0.005);
    expect(formatRate(1 / 201)).toBe('0.498%');
  });
});

describe('inflow report providers', () => {
  // A year whose readings and its neighbours' are all in the past (no E17), whatever today is.
  const Y = new Date().getUTCFullYear() - 2;
  const d = (year: number, mmdd: string) => `${year}-${mmdd}`;
  let svc: TestService;

  /** n single readings of distinct vehicles spread over year Y, the first on 1 January and the last on 31 December. */
  function fill(from: number, n: number): R[] {
    const start = Date.UTC(Y, 0, 1);
    const span = Date.UTC(Y, 11, 31) - start;
    return Array.from({ length: n }, (_, i) => ({
      vin: vin(from + i),
      odometer: 10_000 + i,
      date: new Date(start + Math.round((span * i) / Math.max(n - 1, 1) / 86400_000) * 86400_000).toISOString().slice(0, 10),
    }));
  }

  async function send(name: string, body: string) {
    const c = await svc.connect(FLEET, PW);
    try {
      await c.uploadFrom(Readable.from([body]), name);
      return parseReceipt(await waitForReceipt(c, `${name}.receipt.csv`, 60_000));
    } finally {
      c.close();
    }
  }

  beforeAll(async () => {
    svc = await startTestService();
    await svc.addAccount(FLEET, PW, 'fleet', [E1, E2, E3, E4]);

    // E3 first: its reading of vehicle B is the earlier, higher one that E2's later roll-back is compared with.
    const e3a = await send(
      'e3-a.csv',
      csvBatch(E3, [
        ...fill(30_000, 196),
        { vin: vin(39_001), date: d(Y, '03-01'), odometer: 50_000 }, // B: E3 reads 50,000
        { vin: vin(39_002), date: d(Y, '08-01'), odometer: 20_000 }, // C: E3 reads 20,000 in August
      ]),
    );
    expect(e3a).toMatchObject({ status: 'ACCEPTED', records: 198, anomalies: 0 });

    const e2 = await send(
      'e2.csv',
      csvBatch(E2, [
        ...fill(20_000, 199),
        { vin: vin(39_001), date: d(Y, '05-01'), odometer: 45_000 }, // B: E2's roll-back, A40 attributed to E2
      ]),
    );
    expect(e2.issues.filter((i) => i.severity === 'A').map((i) => i.code)).toEqual(['A40']);

    // E3's late file: a July reading higher than its August one reveals a drop (A41 on the July reading).
    const e3b = await send('e3-b.csv', csvBatch(E3, [{ vin: vin(39_002), date: d(Y, '07-01'), odometer: 25_000 }]));
    expect(e3b.issues.filter((i) => i.severity === 'A').map((i) => i.code)).toEqual(['A41']);

    const e1 = await send(
      'e1.csv',
      csvBatch(E1, [
        ...fill(10_000, 197),
        { vin: vin(19_001), date: d(Y, '03-01'), odometer: 60_000 },
        { vin: vin(19_001), date: d(Y, '06-01'), odometer: 50_000 }, // A40: counted
        { vin: vin(19_002), date: d(Y, '02-01'), odometer: 30_000 },
        { vin: vin(19_002), date: d(Y, '04-01'), odometer: 3_000 }, // A40, corrected below: not counted
        { vin: vin(19_003), date: d(Y - 1, '12-31'), odometer: 10_000 }, // the year before: not counted
        { vin: vin(19_003), date: d(Y + 1, '01-01'), odometer: 9_000 }, // A40 in the year after: not counted
      ]),
    );
    const a40s = e1.issues.filter((i) => i.code === 'A40');
    expect(a40s.map((i) => i.line)).toEqual([200, 202, 204]);
    const corr = await send(
      'e1-corr.csv',
      csvBatch(E1, [{ vin: vin(19_002), date: d(Y, '04-01'), odometer: 33_000, corrects: a40s[1].errorNumber }]),
    );
    expect(corr.status).toBe('ACCEPTED');

    const e4 = await send('e4.csv', csvBatch(E4, [{ vin: vin(49_001), date: d(Y + 1, '02-01'), odometer: 1_000 }]));
    expect(e4.accepted).toBe(1);
  }, 120_000);
  afterAll(() => svc.teardown());

  it('counts readings dated in the year and the readings that raised a discrepancy, per establishment (JSON)', () => {
    const r = inflow(['report', 'providers', '--year', String(Y), '--json', '--data-dir', svc.dir]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      year: Y,
      providers: [
        { establishment: E1, readings: 201, discrepancies: 1, rate: 1 / 201, label: true },
        { establishment: E2, readings: 200, discrepancies: 1, rate: 0.005, label: false },
        { establishment: E3, readings: 199, discrepancies: 1, rate: 1 / 199, label: false },
      ],
      totals: { providers: 3, labelled: 1, readings: 600, discrepancies: 3, rate: 0.005 },
    });
  });

  it('counts the neighbouring years on their own', () => {
    const next = JSON.parse(inflow(['report', 'providers', '--year', String(Y + 1), '--json', '--data-dir', svc.dir]).out);
    expect(next.providers).toEqual([
      { establishment: E1, readings: 1, discrepancies: 1, rate: 1, label: false },
      { establishment: E4, readings: 1, discrepancies: 0, rate: 0, label: true },
    ]);
    const before = JSON.parse(inflow(['report', 'providers', '--year', String(Y - 1), '--json', '--data-dir', svc.dir]).out);
    expect(before.providers).toEqual([{ establishment: E1, readings: 1, discrepancies: 0, rate: 0, label: true }]);
    expect(JSON.parse(inflow(['report', 'providers', '--year', '2001', '--json', '--data-dir', svc.dir]).out)).toEqual({
      year: 2001,
      providers: [],
      totals: { providers: 0, labelled: 0, readings: 0, discrepancies: 0, rate: 0 },
    });
  });

  it('prints a table sorted by establishment with the totals last, and CSV', () => {
    const text = inflow(['report', 'providers', '--year', String(Y), '--data-dir', svc.dir]);
    expect(text.code).toBe(0);
    const lines = text.out.trim().split('\n');
    expect(lines[0]).toBe(`Trusted Provider report ${Y} (label: discrepancy rate below 0.5%)`);
    expect(lines.slice(2).map((l) => l.split(/\s+/))).toEqual([
      [E1, '201', '1', '0.498%', 'yes'],
      [E2, '200', '1', '0.500%', 'no'],
      [E3, '199', '1', '0.503%', 'no'],
      ['TOTAL', '600', '3', '0.500%', '1', 'of', '3', 'labelled'],
    ]);
    const csv = inflow(['report', 'providers', '--year', String(Y), '--csv', '--data-dir', svc.dir]);
    expect(csv.out.trim().split('\n')).toEqual([
      'establishment;readings;discrepancies;rate;label',
      `${E1};201;1;${1 / 201};Y`,
      `${E2};200;1;0.005;N`,
      `${E3};199;1;${1 / 199};N`,
      'TOTAL;600;3;0.005;1',
    ]);
  });

  it('refuses a bad year with one line and exit 1, a missing one with exit 2', () => {
    const bad = inflow(['report', 'providers', '--year', '20x5', '--data-dir', svc.dir]);
    expect(bad.code).toBe(1);
    expect(bad.err.trim().split('\n')).toHaveLength(1);
    expect(inflow(['report', 'providers', '--data-dir', svc.dir]).code).toBe(2);
  });
});
