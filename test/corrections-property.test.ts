/**
 * A property of corrections (docs/corrections.md), through the real pipeline: for random sequences of readings and
 * corrections (accepted, rejected, repeating the flagged reading, manual) of one vehicle each, after every step
 * - the history's counting anomalies (open, confirmed) are exactly those label rule 1 names, and the provider
 *   report's discrepancies are the readings that carry one;
 * - each anomaly's state changed only as the correction rule says: the named anomaly per the correcting record's
 *   fate, any other one only to `withdrawn`, and nothing on a step without a stored correction.
 * The sequences are seeded (SEED, default 14): a failure names its seed, step and vehicle and is reproducible. The
 * sequences run side by side, one file per step holding the next record of each (a batch with a correction is
 * checked in file order, so each vehicle's sequence is the same as alone).
 */
import { BACKENDS } from './helpers/stores';
import { openRegistry, anomalyViews, type Registry, type AnomalyViews } from './helpers/registry';
import { daysAgo, vin, type R } from './helpers/batch';
import { applyManualCorrection, ManualCorrectionRefused } from '../pipeline/manual-correction';
import { vehicleHistory } from '../queries/vehicle-history';
import { providerReport } from '../queries/provider-report';
import { brusselsToday } from '../rules/brussels-date';
import { prng } from './helpers/prng';

const SEED = Number(process.env.SEED ?? 14);
const SEQUENCES = 200;
const STEPS = 8;
const S = '2123456692';

type Action = 'reading' | 'accepted' | 'rejected' | 'repeated' | 'manual';

interface Planned {
  v: string;
  action: Action;
  /** The named error number (corrections). */
  target?: string;
  record?: R;
  /** The correction repeats the flagged reading's values (date, odometer, unit). */
  repeats?: boolean;
  /** A manual correction: applied, or why it was refused. */
  manual?: 'applied' | string;
}

describe.each(BACKENDS)('on the %s store', (backend) => {
  let reg: Registry;
  beforeAll(async () => {
    reg = await openRegistry([S], backend);
  });
  afterAll(async () => {
    await reg?.close();
  });

  const rand = prng(SEED);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  /** A plausible odometer for a date: about 60 km a day since 100 days ago, with an occasional typo. */
  function odometerFor(ago: number): number {
    const km = 20_000 + (100 - ago) * 60 + Math.floor(rand() * 40);
    const r = rand();
    return r < 0.15 ? Math.floor(km / 10) : r < 0.25 ? km * 10 : km;
  }

  /** plan chooses the next action of vehicle v, given its anomalies as the history shows them. */
  async function plan(v: string, views: AnomalyViews): Promise<Planned> {
    const numbers = Object.keys(views.states);
    const r = rand();
    if (numbers.length === 0 || r < 0.35) {
      const ago = 1 + Math.floor(rand() * 40);
      return { v, action: 'reading', record: { vin: v, date: daysAgo(ago), odometer: odometerFor(ago) } };
    }
    const target = pick(numbers);
    const action = pick<Action>(['accepted', 'rejected', 'repeated', 'manual']);
    const flagged = (await vehicleHistory(reg.store, v)).readings.find((x) => x.issues.some((i) => i.errorNumber === target))!;
    const ago = Math.round((Date.parse(brusselsToday(new Date())) - Date.parse(flagged.date)) / 86400_000);
    const fixed = { vin: v, date: flagged.date, odometer: odometerFor(ago), corrects: target };
    const repeats = action === 'repeated' || (fixed.odometer === flagged.odometer && flagged.unit === 'km');
    if (action === 'rejected') return { v, action, target, repeats, record: { ...fixed, work: 'WASH' } };
    if (action === 'repeated') return { v, action, target, repeats, record: { ...fixed, odometer: flagged.odometer, unit: flagged.unit } };
    return { v, action, target, repeats, record: action === 'accepted' ? fixed : { ...fixed, corrects: undefined } };
  }

  /** expectedState: the named anomaly's state after an electronic correction, from the correcting record's receipt lines. */
  function expectedState(before: string, codes: string[], repeatsFlagged: boolean): string {
    if (codes.some((c) => ['E30', 'E31', 'E32'].includes(c))) return before;
    if (codes.some((c) => c.startsWith('E'))) return 'open';
    if (codes.includes('W51')) return repeatsFlagged ? 'confirmed' : 'open';
    return 'corrected';
  }

  /** checkAgreement: per vehicle, history = label rule 1; over all, the provider report = the readings carrying one. */
  async function checkAgreement(where: string, vins: string[]): Promise<Map<string, AnomalyViews>> {
    const out = new Map<string, AnomalyViews>();
    let carrying = 0;
    for (const v of vins) {
      const views = await anomalyViews(reg.store, v);
      expect({ where, v, label: views.label }).toEqual({ where, v, label: views.historyCounting });
      const h = await vehicleHistory(reg.store, v);
      carrying += h.readings.filter(
        (r) => r.status !== 'superseded' && r.issues.some((i) => i.state === 'open' || i.state === 'confirmed'),
      ).length;
      out.set(v, views);
    }
    const years = [...new Set([daysAgo(60), daysAgo(1)].map((d) => Number(d.slice(0, 4))))];
    let reported = 0;
    for (const y of years) reported += (await providerReport(reg.store, y)).totals.discrepancies;
    expect({ where, reported }).toEqual({ where, reported: carrying });
    return out;
  }

  it(`keeps history, label rule 1 and the provider report in agreement (seed ${SEED}, ${SEQUENCES} sequences)`, async () => {
    const vins = Array.from({ length: SEQUENCES }, (_, i) => vin(500_000 + i));
    let views = await checkAgreement('start', vins);
    for (let step = 1; step <= STEPS; step++) {
      const plans: Planned[] = [];
      for (const v of vins) plans.push(await plan(v, views.get(v)!));
      const electronic = plans.filter((p) => p.action !== 'manual');
      const sent = await reg.send(
        S,
        electronic.map((p) => p.record!),
      );
      for (const p of plans.filter((x) => x.action === 'manual')) {
        p.manual = await applyManualCorrection(reg.store, {
          errorNumber: p.target!,
          odometer: p.record!.odometer as number,
          reason: 'property test',
          by: 'test',
          today: brusselsToday(new Date()),
          history: { decreaseToleranceKm: 0, maxKmPerDay: 1000 },
        }).then(
          () => 'applied',
          (err) => {
            if (!(err instanceof ManualCorrectionRefused)) throw err;
            return err.message;
          },
        );
      }
      const after = await checkAgreement(`seed ${SEED} step ${step}`, vins);
      for (const p of plans) {
        const before = views.get(p.v)!.states;
        const now = after.get(p.v)!.states;
        const where = `seed ${SEED} step ${step} ${p.v} ${p.action} ${p.target ?? ''}`;
        let expectedTarget: string | undefined;
        if (p.target && p.action !== 'manual') {
          const line = electronic.indexOf(p) + 2;
          const codes = sent.issues.filter((i) => i.line === line).map((i) => i.code);
          expectedTarget = expectedState(before[p.target], codes, !!p.repeats);
        } else if (p.target) {
          // Refused only when the anomaly's reading is no longer in the timeline, or the values repeat it.
          if (p.manual !== 'applied' && ['open', 'confirmed'].includes(before[p.target]))
            expect({ where, refused: p.manual }).toEqual({ where, refused: expect.stringContaining('repeats the flagged reading') });
          expectedTarget = p.manual === 'applied' ? 'manual' : before[p.target];
        }
        const replaced = expectedTarget === 'corrected' || expectedTarget === 'manual';
        const sameReading = (n: string) => !!p.target && views.get(p.v)!.readingOf[n] === views.get(p.v)!.readingOf[p.target];
        for (const [n, state] of Object.entries(now)) {
          const counted = ['open', 'confirmed'].includes(before[n]);
          if (n === p.target) expect({ where, n, state }).toEqual({ where, n, state: expectedTarget });
          else if (!(n in before)) expect({ where, n, state }).toEqual({ where, n, state: 'open' });
          else if (replaced && counted && sameReading(n)) expect({ where, n, state }).toEqual({ where, n, state: expectedTarget });
          else if (state !== before[n])
            expect({ where, n, from: before[n], state }).toEqual({
              where,
              n,
              from: replaced && counted ? before[n] : '(unchanged)',
              state: 'withdrawn',
            });
        }
      }
      views = after;
    }
    const all = [...views.values()].flatMap((x) => Object.values(x.states));
    // The sequences did reach every state (a property that never saw one would prove nothing about it).
    expect(new Set(all)).toEqual(new Set(['open', 'corrected', 'confirmed', 'withdrawn', 'manual']));
  }, 300_000);
});
