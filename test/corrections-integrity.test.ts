/**
 * What a correction does to an anomaly (docs/corrections.md), through the real pipeline: accepted, rejected,
 * repeating the flagged reading, withdrawing a neighbour's anomaly, the correction form, and a correcting file taken
 * out again. After each step the history's states, label rule 1 and the provider report must agree.
 */
import { openRegistry, anomalyViews, discrepancies, type Registry } from './helpers/registry';
import { daysAgo, vin } from './helpers/batch';
import { applyManualCorrection, ManualCorrectionRefused } from '../pipeline/manual-correction';
import { vehicleHistory } from '../queries/vehicle-history';
import { anomalyList } from '../queries/anomaly-list';
import { brusselsToday } from '../rules/brussels-date';

import { BACKENDS } from './helpers/stores';

describe.each(BACKENDS)('on the %s store', (backend) => {
  const S = '2123456692';
  let reg: Registry;
  beforeEach(async () => {
    reg = await openRegistry([S], backend);
  });
  afterEach(async () => {
    await reg?.close();
  });

  const years = () => [...new Set([daysAgo(30), daysAgo(1)].map((d) => Number(d.slice(0, 4))))];
  const codes = (issues: { code: string }[]) => issues.map((i) => i.code).filter((c) => c !== 'W50');
  /** num: the error number of the file's issue with this code. */
  const num = (sent: { issues: { code: string; errorNumber: string | null }[] }, code: string) =>
    sent.issues.find((i) => i.code === code)!.errorNumber!;

  /** expectAgree: the anomalies counting in the history are those of label rule 1, and the provider report's count. */
  async function expectAgree(v: string, counting: string[]) {
    const views = await anomalyViews(reg.store, v);
    expect(views.historyCounting).toEqual([...counting].sort());
    expect(views.label).toEqual([...counting].sort());
    expect(await discrepancies(reg.store, S, years())).toBe(counting.length);
    return views;
  }

  /** A roll-back typo of vehicle v: 50000 km ten days ago, then 5100 km two days ago (A40). Its error number. */
  async function typo(v: string): Promise<string> {
    await reg.send(S, [{ vin: v, date: daysAgo(10), odometer: 50_000 }]);
    const t = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 5100 }]);
    expect(codes(t.issues)).toEqual(['A40']);
    await expectAgree(v, [t.issues[0].errorNumber!]);
    return t.issues[0].errorNumber!;
  }

  const manual = (errorNumber: string, odometer: number, extra: { date?: string } = {}) =>
    applyManualCorrection(reg.store, {
      errorNumber,
      odometer,
      reason: 'garage phoned: typo',
      by: 'tester',
      today: brusselsToday(new Date()),
      history: { decreaseToleranceKm: 0, maxKmPerDay: 1000 },
      ...extra,
    });

  it('an accepted correction supersedes the flagged reading: corrected, no longer counting', async () => {
    const v = vin(1);
    const n = await typo(v);
    const fix = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 51_000, corrects: n }]);
    expect(codes(fix.issues)).toEqual([]);
    const views = await expectAgree(v, []);
    expect(views.states).toEqual({ [n]: 'corrected' });
    const h = await vehicleHistory(reg.store, v);
    expect(h.readings.map((r) => [r.odometer, r.status])).toEqual([
      [50_000, 'ok'],
      [5100, 'superseded'],
      [51_000, 'corrected'],
    ]);
    const again = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 51_001, corrects: n }]);
    expect(codes(again.issues)).toEqual(['E31']);
  });

  it('a rejected correction spends the number but leaves the anomaly open and counting', async () => {
    const v = vin(2);
    const n = await typo(v);
    const bad = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 51_000, work: 'WASH', corrects: n }]);
    expect(bad.issues.map((i) => [i.code, i.correctable])).toEqual([['E19', false]]);
    const views = await expectAgree(v, [n]);
    expect(views.states).toEqual({ [n]: 'open' });
    expect((await vehicleHistory(reg.store, v)).readings.map((r) => r.status)).toEqual(['ok', 'flagged']);
    const again = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 51_000, corrects: n }]);
    expect(codes(again.issues)).toEqual(['E31']);
    await expectAgree(v, [n]);
  });

  it('a correction repeating the flagged reading is a confirmation: spent, confirmed, still counting', async () => {
    const v = vin(3);
    const n = await typo(v);
    const same = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 5100, corrects: n }]);
    expect(same.file.result).toBe('ACCEPTED');
    expect(codes(same.issues)).toEqual(['W51']);
    const views = await expectAgree(v, [n]);
    expect(views.states).toEqual({ [n]: 'confirmed' });
    const again = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 51_000, corrects: n }]);
    expect(codes(again.issues)).toEqual(['E31']);
    await expectAgree(v, [n]);
  });

  it("a stored correction withdraws a later reading's A40 that only the typo caused", async () => {
    const v = vin(4);
    await reg.send(S, [{ vin: v, date: daysAgo(20), odometer: 50_000 }]);
    const high = await reg.send(S, [{ vin: v, date: daysAgo(10), odometer: 500_000 }]);
    expect(codes(high.issues)).toEqual(['A42']);
    const honest = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 51_000 }]);
    expect(codes(honest.issues)).toEqual(['A40']);
    const [a42, a40] = [num(high, 'A42'), num(honest, 'A40')];
    await expectAgree(v, [a42, a40]);

    const fix = await reg.send(S, [{ vin: v, date: daysAgo(10), odometer: 50_500, corrects: a42 }]);
    expect(codes(fix.issues)).toEqual([]);
    const views = await expectAgree(v, []);
    expect(views.states).toEqual({ [a42]: 'corrected', [a40]: 'withdrawn' });
    const tryWithdrawn = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 51_001, corrects: a40 }]);
    expect(tryWithdrawn.issues.map((i) => [i.code, i.correctable])).toEqual([['E32', false]]);
    await expect(manual(a40, 51_000)).rejects.toThrow(/withdrawn/);
  });

  it("a stored correction withdraws an earlier-dated reading's A41 that only the typo caused", async () => {
    const v = vin(5);
    await reg.send(S, [{ vin: v, date: daysAgo(10), odometer: 50_000 }]);
    const low = await reg.send(S, [{ vin: v, date: daysAgo(3), odometer: 5000 }]);
    const late = await reg.send(S, [{ vin: v, date: daysAgo(5), odometer: 52_000 }]);
    expect([codes(low.issues), codes(late.issues)]).toEqual([['A40'], ['A41']]);
    const [a40, a41] = [num(low, 'A40'), num(late, 'A41')];
    await reg.send(S, [{ vin: v, date: daysAgo(3), odometer: 53_000, corrects: a40 }]);
    const views = await expectAgree(v, []);
    expect(views.states).toEqual({ [a40]: 'corrected', [a41]: 'withdrawn' });
  });

  it('a correction that is still wrong keeps its own anomaly counting (not correctable), and withdraws nothing it did not cause', async () => {
    const v = vin(6);
    const n = await typo(v);
    const fix = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 49_000, corrects: n }]);
    expect(fix.issues.map((i) => [i.code, i.correctable])).toEqual([['A40', false]]);
    const views = await expectAgree(v, [fix.issues[0].errorNumber!]);
    expect(views.states).toEqual({ [n]: 'corrected', [fix.issues[0].errorNumber!]: 'open' });
    const viaNew = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 50_100, corrects: fix.issues[0].errorNumber! }]);
    expect(codes(viaNew.issues)).toEqual(['E32']);
  });

  it('the correction form replaces the reading of a spent number: manual, no longer counting, E31 afterwards', async () => {
    const v = vin(7);
    const n = await typo(v);
    await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 51_000, work: 'WASH', corrects: n }]);
    await expectAgree(v, [n]);
    const r = await manual(n, 51_000);
    expect(r).toMatchObject({ vin: v, code: 'A40', stored: { odometer: 51_000 }, issues: [], withdrawn: [] });
    const views = await expectAgree(v, []);
    expect(views.states).toEqual({ [n]: 'manual' });
    const h = await vehicleHistory(reg.store, v);
    // The manual reading comes first among its day's readings: it belongs to no file ("file 0").
    expect(h.readings.map((x) => [x.odometer, x.status, x.fileId, x.line, x.corrects])).toEqual([
      [50_000, 'ok', 'F000001', 2, null],
      [51_000, 'corrected', null, null, n],
      [5100, 'superseded', 'F000002', 2, null],
    ]);
    expect((await anomalyList(reg.store, { state: 'manual' })).map((a) => [a.errorNumber, a.odometer, a.fileId])).toEqual([
      [n, 5100, 'F000002'],
    ]);
    const late = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 51_001, corrects: n }]);
    expect(codes(late.issues)).toEqual(['E31']);
    await expect(manual(n, 52_000)).rejects.toThrow(ManualCorrectionRefused);
  });

  it('the correction form refuses E numbers, unknown numbers and a repeat of the flagged reading', async () => {
    const v = vin(8);
    const e = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 1, work: 'WASH' }]);
    await expect(manual(e.issues[0].errorNumber!, 2)).rejects.toThrow(/not an anomaly/);
    await expect(manual('100000000101', 2)).rejects.toThrow(ManualCorrectionRefused);
    const n = await typo(vin(9));
    await expect(manual(n, 5100)).rejects.toThrow(/repeats the flagged reading/);
    await expectAgree(vin(9), [n]);
  });

  it('a correcting file taken out again (F04) gives the anomaly back its state', async () => {
    const v = vin(10);
    await reg.send(S, [{ vin: v, date: daysAgo(20), odometer: 50_000 }]);
    const high = await reg.send(S, [{ vin: v, date: daysAgo(10), odometer: 500_000 }]);
    const honest = await reg.send(S, [{ vin: v, date: daysAgo(2), odometer: 51_000 }]);
    const [a42, a40] = [num(high, 'A42'), num(honest, 'A40')];
    const bad = await reg.send(S, [{ vin: v, date: daysAgo(10), odometer: 50_500, corrects: a42 }], { trailer: { count: 9, sum: 1 } });
    expect(bad.file.result).toBe('REJECTED');
    const views = await expectAgree(v, [a42, a40]);
    expect(views.states).toEqual({ [a42]: 'open', [a40]: 'open' });
    const fix = await reg.send(S, [{ vin: v, date: daysAgo(10), odometer: 50_500, corrects: a42 }]);
    expect(codes(fix.issues)).toEqual([]);
    expect((await expectAgree(v, [])).states).toEqual({ [a42]: 'corrected', [a40]: 'withdrawn' });
  });
});
