/**
 * `inflow corrections list|apply` as an admin runs them (the built CLI on a data directory whose files went through
 * the real pipeline): JSON shapes, the effect of the correction form, its audit line, exit codes and one-line errors.
 */
import { openRegistry, anomalyViews, type Registry } from './helpers/registry';
import { daysAgo, vin } from './helpers/batch';
import { auditEvents, inflowSync } from './helpers/ops';

const S = '2123456692';

const inflow = inflowSync;

let reg: Registry;
let spent: string;
let open: string;
beforeAll(async () => {
  reg = await openRegistry([S]);
  await reg.send(S, [
    { vin: vin(1), date: daysAgo(10), odometer: 50_000 },
    { vin: vin(2), date: daysAgo(10), odometer: 30_000 },
  ]);
  const typos = await reg.send(S, [
    { vin: vin(1), date: daysAgo(2), odometer: 5100 },
    { vin: vin(2), date: daysAgo(2), odometer: 3100 },
  ]);
  [spent, open] = typos.issues.filter((i) => i.code === 'A40').map((i) => i.errorNumber!);
  // The first one's electronic correction is used by a rejected record: spent, still open.
  const bad = await reg.send(S, [{ vin: vin(1), date: daysAgo(2), odometer: 51_000, work: 'WASH', corrects: spent }]);
  expect(bad.issues.map((i) => i.code)).toEqual(['E19']);
});
afterAll(async () => reg?.close());

it('lists the anomalies with their states as JSON, filtered by state', () => {
  const all = inflow(['corrections', 'list', '--json', '--data-dir', reg.dir]);
  expect(all.err).toBe('');
  expect(all.code).toBe(0);
  expect(JSON.parse(all.out)).toEqual([
    {
      errorNumber: spent,
      code: 'A40',
      vin: vin(1),
      date: daysAgo(2),
      odometer: 5100,
      unit: 'km',
      sender: S,
      fileId: 'F000002',
      line: 2,
      state: 'open',
    },
    expect.objectContaining({ errorNumber: open, vin: vin(2), odometer: 3100, line: 3, state: 'open' }),
  ]);
  expect(JSON.parse(inflow(['corrections', 'list', '--state', 'manual', '--json', '--data-dir', reg.dir]).out)).toEqual([]);
  const table = inflow(['corrections', 'list', '--data-dir', reg.dir]);
  expect(table.out.split('\n')[0]).toMatch(/^ERROR NUMBER\s+CODE\s+STATE/);
  expect(table.out).toContain(`${spent}  A40   open`);
});

it('applies the correction form on a spent number: manual, superseded, audited with who and why', async () => {
  const r = inflow([
    'corrections',
    'apply',
    spent,
    '--odometer',
    '51000',
    '--reason',
    'garage phoned: typo',
    '--by',
    'j.peeters',
    '--data-dir',
    reg.dir,
  ]);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toBe(`${spent} (A40, ${vin(1)}): manual; ${daysAgo(2)} 5100 km superseded by ${daysAgo(2)} 51000 km\n`);
  expect((await anomalyViews(reg.store, vin(1))).states).toEqual({ [spent]: 'manual' });
  const list = JSON.parse(inflow(['corrections', 'list', '--state', 'manual', '--json', '--data-dir', reg.dir]).out);
  expect(list.map((a: { errorNumber: string }) => a.errorNumber)).toEqual([spent]);
  const audit = (await auditEvents({ store: reg.store })).filter((e) => e.action === 'corrections apply');
  expect(audit).toEqual([
    expect.objectContaining({
      event: 'admin',
      by: 'j.peeters',
      reason: 'garage phoned: typo',
      errorNumber: spent,
      vin: vin(1),
      replaced: { date: daysAgo(2), odometer: 5100, unit: 'km' },
      stored: { date: daysAgo(2), odometer: 51000, unit: 'km' },
    }),
  ]);
});

it('refuses with one line and exit 1: a number already replaced, an E number, a mistyped number; exit 2 on usage', () => {
  const again = inflow(['corrections', 'apply', spent, '--odometer', '52000', '--reason', 'again', '--data-dir', reg.dir]);
  expect([again.code, again.out]).toEqual([1, '']);
  expect(again.err).toBe(`inflow: error number ${spent} cannot be corrected: its reading was already replaced (by the correction form)\n`);
  const typo = open.slice(0, 11) + String((Number(open[11]) + 1) % 10);
  const t = inflow(['corrections', 'apply', typo, '--odometer', '3200', '--reason', 'x', '--data-dir', reg.dir]);
  expect(t.code).toBe(1);
  expect(t.err).toMatch(/^inflow: "\d{12}" is not a valid error number: .*\n$/);
  const badState = inflow(['corrections', 'list', '--state', 'closed', '--data-dir', reg.dir]);
  expect([badState.code, badState.err]).toEqual([
    1,
    'inflow: --state must be one of open, corrected, confirmed, withdrawn, manual, got "closed"\n',
  ]);
  const noReason = inflow(['corrections', 'apply', open, '--odometer', '3200', '--data-dir', reg.dir]);
  expect(noReason.code).toBe(2);
  expect(noReason.err).toContain("required option '--reason <text>' not specified");
  const future = inflow([
    'corrections',
    'apply',
    open,
    '--odometer',
    '3200',
    '--date',
    '2999-01-01',
    '--reason',
    'x',
    '--data-dir',
    reg.dir,
  ]);
  expect([future.code, future.err]).toEqual([1, expect.stringMatching(/^inflow: --date 2999-01-01 is after today/)]);
});
