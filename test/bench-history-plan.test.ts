/**
 * The bench's history plan (`npm run bench -- --history N[,M…]`, issue #15): each size's store holds exactly the
 * readings it says, the filler never touches the stages' vehicles, each size adds only what the previous lacks, and
 * no file is beyond the one-file limit.
 */
import { datasetRecords } from '../scripts/bench-data';
import { historyPlan } from '../scripts/bench-stages';

const RECORDS = 20_000;

test('each size holds its readings: the preload once, then filler files of other vehicles that add up', () => {
  const plan = historyPlan([200_000, 60_000, 2_500_002], RECORDS);
  expect(plan.map((s) => s.readings)).toEqual([60_000, 200_000, 2_500_004]); // ascending; rounded up to whole vehicles
  let stored = 0;
  const seen: [number, number][] = [];
  for (const step of plan) {
    stored += step.seed.files.reduce((a, f) => a + datasetRecords(f.dataset), 0);
    expect(stored).toBe(step.readings);
    for (const f of step.seed.files) {
      expect(datasetRecords(f.dataset)).toBeLessThanOrEqual(1_000_000);
      for (const [from, to] of seen) expect(f.dataset.to <= from || f.dataset.from >= to).toBe(true);
      seen.push([f.dataset.from, f.dataset.to]);
    }
    expect(step.nightly.files.map((f) => f.dataset.name)).toEqual(['nightly']);
    expect(step.seed.workers).toBe(2);
  }
  // The first size starts with the nightly's vehicles' own history; every other file is filler beyond them.
  expect(plan[0].seed.files[0].dataset).toMatchObject({ name: 'preload', from: 0, to: RECORDS / 2 });
  for (const f of plan.flatMap((s) => s.seed.files).slice(1)) expect(f.dataset.from).toBeGreaterThanOrEqual(RECORDS / 2);
});

test('a size equal to --records is the preload alone; a repeated size is planned once', () => {
  const plan = historyPlan([RECORDS, RECORDS, RECORDS + 4], RECORDS);
  expect(plan.map((s) => s.readings)).toEqual([RECORDS, RECORDS + 4]);
  expect(plan[0].seed.files.map((f) => f.dataset.name)).toEqual(['preload']);
  expect(plan[1].seed.files.map((f) => datasetRecords(f.dataset))).toEqual([4]);
});
