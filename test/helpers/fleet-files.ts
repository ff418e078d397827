/**
 * The batch files of the multi-host test: several accounts, vehicles shared between files, and records that raise
 * every kind of record-level issue, built so that what each file ends with does not depend on the order in which a
 * fleet processes files side by side:
 * - a shared vehicle gets one reading per file that has it, each file on a day of its own, the odometer rising with
 *   the date at 40 km/day: consistent in any order of arrival (no anomaly, no repeat);
 * - anomalies (A40, A41, A42) and warnings about a series (W52, W53) come from vehicles of one file only;
 * - record errors (E12, E14, E16, E17, E19, E20, E21, E30) depend on the record alone, or on its own file;
 * - one file fails its trailer check (F04) after its records were read: every other file's readings of its shared
 *   vehicles would be roll-backs, if any other file's checks ever saw its readings.
 * Seeded: the same files every run.
 */
import { mod97Check } from '../../rules/establishment';
import { formatErrorNumber } from '../../rules/error-number';
import { csvBatch, daysAgo, vin, type R } from './batch';
import { prng } from './prng';

export interface FleetFile {
  account: string;
  name: string;
  text: string;
  records: number;
}

/** establishment makes a valid establishment number from eight digits. */
export const establishment = (eight: string): string => eight + mod97Check(eight);

export const ACCOUNTS = ['21000001', '21000002', '21000003', '21000004'].map(establishment);

const SHARED_VEHICLES = 240;
/** A well-formed-looking number whose check digits are wrong: E30 whatever the database holds. */
const MISTYPED_ERROR_NUMBER = formatErrorNumber(1000).slice(0, -1) + ((Number(formatErrorNumber(1000).slice(-1)) + 1) % 10);

/** The reading of shared vehicle `v` on the day `d` days ago: rising with the date, 40 km a day. */
function sharedReading(v: number, d: number, ref: string): R {
  return { vin: vin(v), date: daysAgo(d), odometer: 10_000 + v * 100 + (60 - d) * 40, ref };
}

/** Readings of one of the file's own vehicles, by pattern: plain, roll-back, implausible, replaced, 5-digit wrap. */
function ownVehicle(v: number, k: number, ref: string): R[] {
  const at = (d: number, odometer: number, extra: Partial<R> = {}): R => ({ vin: vin(v), date: daysAgo(d), odometer, ref, ...extra });
  switch (k % 10) {
    case 0:
      return [at(20, 50_000), at(10, 40_000)]; // A40
    case 1:
      return [at(10, 40_000), at(20, 50_000)]; // A41
    case 2:
      return [at(12, 10_000), at(11, 13_000)]; // A42
    case 3:
      return [at(15, 90_000), at(8, 100, { work: 'ODOREP', replaced: 'Y' })]; // W53
    case 4:
      return [at(15, 99_000, { digits: '5' }), at(8, 500, { digits: '5' })]; // W52
    case 5:
      return [at(14, 20_000), at(7, 20_500), at(2, 20_900)];
    default:
      return [at(2 + (k % 5), 30_000 + k)];
  }
}

/** A record that the record checks reject, by kind (`prev`: the record before it, for E21). */
function badRecord(j: number, v: number, prev: R, ref: string): R {
  const ok: R = { vin: vin(v), date: daysAgo(3), odometer: 70_000 + j, ref };
  switch (j % 8) {
    case 0:
      return { ...ok, vin: 'TSTVNZZZ00000000I' }; // E12
    case 1:
      return { ...ok, odometer: '12x45' }; // E14
    case 2:
      return { ...ok, date: '2026-02-30' }; // E16
    case 3:
      return { ...ok, date: daysAgo(-5) }; // E17
    case 4:
      return { ...ok, work: 'WASH' }; // E19
    case 5:
      return { ...ok, replaced: 'X' }; // E20
    case 6:
      return { ...prev }; // E21
    default:
      return { ...ok, corrects: MISTYPED_ERROR_NUMBER }; // E30
  }
}

/** shuffle: Fisher-Yates with the seeded PRNG (files touch shared vehicles in different orders). */
function shuffle<T>(xs: T[], rnd: () => number): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}

/**
 * fleetFile builds file number `f` (its day for shared vehicles: `3 + f` days ago) with about `size` records: its
 * share of the shared vehicles (all of them in a big file), then its own vehicles, one bad record in 25.
 */
function fleetFile(f: number, account: string, size: number, name: string): FleetFile {
  const rnd = prng(1000 + f);
  const day = 3 + f;
  const shared: R[] = [];
  for (let v = 1; v <= SHARED_VEHICLES; v++) if (size > 5000 || (v + f) % 3 === 0) shared.push(sharedReading(v, day, `S${f}-${v}`));
  const own: R[][] = [];
  let records = shared.length;
  for (let k = 0; records < size; k++) {
    const group = ownVehicle(1_000_000 * (f + 1) + k, k, `O${f}-${k}`);
    own.push(group);
    records += group.length;
  }
  // A vehicle's own readings stay in their order within the file (it decides which of A40/A41 is raised).
  const groups = shuffle([...shared.map((r) => [r]), ...own], rnd);
  const recs: R[] = [];
  for (const [j, g] of groups.entries()) {
    recs.push(...g);
    if (j % 25 === 24) recs.push(badRecord(Math.floor(j / 25), 500_000_000 + 1_000_000 * f + j, recs[recs.length - 1], `B${f}-${j}`));
  }
  return { account, name, text: csvBatch(account, recs, { trailer: true }), records: recs.length };
}

/**
 * The rejected file: its readings of shared vehicles are older than everyone else's but far higher (every later
 * reading would be a roll-back); its trailer count is one off.
 */
function truncatedFile(f: number, account: string, name: string): FleetFile {
  const recs: R[] = [];
  for (let v = 1; v <= SHARED_VEHICLES; v += 2) recs.push({ ...sharedReading(v, 3 + f, `T-${v}`), odometer: 900_000 + v });
  const text = csvBatch(account, recs, { trailer: { count: recs.length + 1, sum: recs.reduce((s, r) => s + Number(r.odometer), 0) } });
  return { account, name, text, records: recs.length };
}

/**
 * fleetFiles: `bigCount` big files of `bigSize` records first (they are uploaded first, so that both worker hosts
 * take one), then small ones up to `total`, the last of them the rejected one.
 */
export function fleetFiles(total: number, bigCount: number, bigSize: number, smallSize: number): FleetFile[] {
  const files: FleetFile[] = [];
  for (let f = 0; f < total - 1; f++) {
    const account = ACCOUNTS[f % ACCOUNTS.length];
    const big = f < bigCount;
    files.push(fleetFile(f, account, big ? bigSize : smallSize + 37 * f, `${big ? 'big' : 'night'}-${String(f).padStart(2, '0')}.csv`));
  }
  files.push(truncatedFile(total - 1, ACCOUNTS[(total - 1) % ACCOUNTS.length], `cut-${total - 1}.csv`));
  return files;
}
