/**
 * The bench's stages: what each one uploads, with how many workers, and from which saved state. Also the history
 * plan of `--history`: the files that fill a fresh store with N readings before a nightly file.
 */
import { daysAgo, type BenchFormat, type Dataset } from './bench-data';

/** The uploading account (the demo establishment number: 10 digits, valid mod-97 check). */
export const ESTABLISHMENT = '2123456692';

export interface FileSpec {
  dataset: Dataset;
  format: BenchFormat;
  /** What its receipt must say: every record accepted (the default), or every record rejected (PARTIAL). */
  expect?: 'accepted' | 'rejected';
}

export interface StageSpec {
  name: string;
  /** `inflow worker` processes running during the stage (started or stopped before it, untimed). */
  workers: number;
  /**
   * On PostgreSQL, the `--jobs` of each worker instead of `workers` (a stage that sets it starts from a restored
   * state). Not on SQLite: a drainer in a process of its own would wait for the one writer inside its calls.
   */
  postgresWorkerJobs?: readonly string[];
  /** Uploaded at the same time, each over its own FTPS connection (at most UPLOAD_CONNECTIONS at once). */
  files: FileSpec[];
  /**
   * Also time the backend's own bulk import (sqlite3 `.import`, psql `\copy`) of this stage's records into a table
   * that already holds every earlier stage's records (imported untimed).
   */
  native?: boolean;
  /**
   * Before the stage (untimed): stop the stack, save its state (data directory, and the database on PostgreSQL)
   * under this name, start it again. With `restore`, two stages start from the same state: like with like.
   */
  snapshot?: string;
  /** Before the stage (untimed): stop the stack, put back the state saved by `snapshot`, start it again with an empty Redis. */
  restore?: string;
  /** Readings sent one at a time over HTTPS while the stage's file is being processed (bench-observations.ts). */
  observations?: ObservationLoad;
}

/**
 * The observations of the "observations during nightly" stage: `count` readings, observation k of vehicle
 * `from + k` at step `step` on `date`, sent by `clients` concurrent clients (observation k by client k mod clients),
 * each one account of its own (a DMS), each request after the previous one's answer.
 */
export interface ObservationLoad {
  clients: number;
  count: number;
  from: number;
  date: string;
  step: number;
}

/** The stages beyond the default ones that a run asks for. */
export interface StageOptions {
  tenfold: boolean;
  allErrors: boolean;
  /** The observations stage's clients and observations; null: no observations stage. */
  observations: { clients: number; count: number } | null;
}

/** Files uploaded at once at most: an account may hold 4 passive data ports (settings.pasvPortsPerAccount). */
export const UPLOAD_CONNECTIONS = 4;

/**
 * THE STAGE LIST. N records = N/2 vehicles × 2 readings. Each vehicle's readings must keep increasing: a stage
 * that reuses vehicles takes later steps (odometer = base + step × increment, see bench-data.ts) and dates not
 * before the earlier stages'. Dates stay within 4 days (never today): no E17 (future), no W50 (late).
 * Steps used so far: 0–1 preload, 2–3 nightly, 4–5 the XML stage, 6–9 the two-file stages (both start from the
 * same snapshot and upload the same files), 10–29 the --tenfold stage, 30–49 the --tenfold XML stage. Steps from 50
 * on are free (the --all-errors stage stores nothing). The observations stage comes last and starts from the
 * two-file stages' snapshot again: its file takes the first half's steps 6–29, its observations the second half's step 4.
 */
export function stageList(vehicles: number, opts: StageOptions): StageSpec[] {
  const half = vehicles / 2;
  const [d2, d1] = [daysAgo(2), daysAgo(1)];
  // Disjoint halves of the vehicles: no two files race for a VIN, so on PostgreSQL two workers really run them
  // side by side (files that share vehicles take turns by design). 4 later readings each on the last date.
  const pairFiles: FileSpec[] = [
    { format: 'csv', dataset: { name: 'pair-a', from: 0, to: half, dates: [d1, d1, d1, d1], firstStep: 6 } },
    { format: 'csv', dataset: { name: 'pair-b', from: half, to: vehicles, dates: [d1, d1, d1, d1], firstStep: 6 } },
  ];
  return [
    // The history the nightly file is checked against (measured too, but its records have no predecessor).
    { name: 'preload', workers: 1, files: [preloadFile(vehicles)] },
    // Every reading has a predecessor in the history. Compared with the backend's own bulk import.
    { name: 'nightly', workers: 1, native: true, files: [nightlyFile(vehicles)] },
    // The nightly load as XML (issue #5): a fifth of the nightly size (200,000 readings at the default --records), the
    // first fifth of the vehicles, two later readings each on the last date, onto the same history as the nightly.
    {
      name: 'nightly xml',
      workers: 1,
      files: [
        {
          format: 'xml',
          dataset: { name: 'nightly-xml', from: 0, to: Math.max(1, Math.round(vehicles / 5)), dates: [d1, d1], firstStep: 4 },
        },
      ],
    },
    // Two nightly-sized files at once: does a second `inflow worker` process raise total records/s? Both stages
    // start from the same saved state and upload the same two files: the 1-worker stage is the control.
    { name: '2 files, 1 worker', workers: 1, snapshot: 'pairs', files: pairFiles },
    { name: '2 files, 2 workers', workers: 2, restore: 'pairs', files: pairFiles },
    ...(opts.tenfold ? tenfoldStages(vehicles, d1) : []),
    ...(opts.allErrors ? [allErrorsStage(vehicles, d2, d1)] : []),
    ...(opts.observations ? [observationsStage(vehicles, d1, opts.observations)] : []),
  ];
}

export const OBSERVATIONS_STAGE = 'observations during nightly';

/** Observations at most: one each for the half of the vehicles the observations stage's file leaves out. */
export const maxObservations = (vehicles: number) => vehicles / 2;

/**
 * The observations stage (issue #16): a nightly-sized file of the first half of the vehicles (4 later readings each
 * on the last date, as the two-file stages' first file, onto the same saved state) is uploaded, and while it is being
 * processed the observations arrive over HTTPS, one for each of the first `count` vehicles of the second half: their
 * reading after the nightly's (step 4, the last date), so every observation has a predecessor in the history, and no
 * observation's vehicle is one the file holds (a round is then never held up by the file's vehicles, only by the
 * shared writer). One worker, as the nightly stage: its drainer runs beside the file.
 */
function observationsStage(vehicles: number, d1: string, load: { clients: number; count: number }): StageSpec {
  const half = vehicles / 2;
  return {
    name: OBSERVATIONS_STAGE,
    workers: 1,
    // On PostgreSQL the file on one process, the drainer on another (docs/observations.md): an observation then
    // never waits for the thread a file batch's checks hold.
    postgresWorkerJobs: ['files', 'observations'],
    restore: 'pairs',
    // Twelve times the nightly's readings per vehicle (24 on the last date, steps 6–29) for half of them: 6 × the
    // nightly's records, so that the file is still being processed when the last observation is final.
    files: [{ format: 'csv', dataset: { name: 'obs-nightly', from: 0, to: half, dates: Array<string>(24).fill(d1), firstStep: 6 } }],
    observations: { ...load, from: half, date: d1, step: 4 },
  };
}

export const PAIR_STAGES = { one: '2 files, 1 worker', two: '2 files, 2 workers' } as const;

function preloadFile(vehicles: number): FileSpec {
  return { format: 'csv', dataset: { name: 'preload', from: 0, to: vehicles, dates: [daysAgo(4), daysAgo(3)], firstStep: 0 } };
}

function nightlyFile(vehicles: number): FileSpec {
  return { format: 'csv', dataset: { name: 'nightly', from: 0, to: vehicles, dates: [daysAgo(2), daysAgo(1)], firstStep: 2 } };
}

/**
 * --tenfold: a file ten times the nightly's (every vehicle, 20 more readings on the last date) and the XML stage's
 * file ten times bigger: is the workers' peak memory any higher? The limits of the run are raised for them.
 */
function tenfoldStages(vehicles: number, d1: string): StageSpec[] {
  const twenty = Array<string>(20).fill(d1);
  const xmlVehicles = Math.max(1, Math.round(vehicles / 5));
  return [
    {
      name: 'nightly x10',
      workers: 1,
      files: [{ format: 'csv', dataset: { name: 'tenfold', from: 0, to: vehicles, dates: twenty, firstStep: 10 } }],
    },
    {
      name: 'nightly xml x10',
      workers: 1,
      files: [{ format: 'xml', dataset: { name: 'tenfold-xml', from: 0, to: xmlVehicles, dates: twenty, firstStep: 30 } }],
    },
  ];
}

/**
 * --all-errors: a nightly-sized file whose every record is rejected (unit KMS, E15): each travels as an object and
 * gets an issue, stored and listed in the receipt (issue #13). Its worker memory is to stay as the nightly's.
 */
function allErrorsStage(vehicles: number, d2: string, d1: string): StageSpec {
  const dataset = { name: 'all-errors', from: 0, to: vehicles, dates: [d2, d1], firstStep: 50, unit: 'KMS' };
  return { name: 'all errors', workers: 1, files: [{ format: 'csv', expect: 'rejected', dataset }] };
}

// ─── History (--history) ─────────────────────────────────────────────────────────────────────────────────────

/** Vehicles of the history filler start here: never one of the stages' vehicles (those are below --records / 2). */
const FILLER_BASE = 1e9;
/** Readings per filler vehicle (two dates, two each). */
const FILLER_READINGS = 4;
/** Readings per filler file: far below the 5,000,000-record limit; one file is one job. */
const FILLER_FILE_READINGS = 1_000_000;

/** One history size: the seed stage that brings the store from the previous size to this one, then the nightly. */
export interface HistoryStep {
  /** Readings in the store before the nightly file (rounded up to whole filler vehicles). */
  readings: number;
  seed: StageSpec;
  nightly: StageSpec;
}

/**
 * historyPlan: for each size N (ascending), a fresh store holds N readings before the same nightly file as the
 * nightly stage: the preload (the nightly's vehicles' two earlier readings, as in the preload stage) and
 * N − records readings of other vehicles (4 each, on the preload's dates). The nightly's work per record is then
 * the nightly stage's; only the size of the store grows. Each size's seed adds only what the previous one lacks
 * (the bench seeds once, saves the state, times the nightly, puts the state back and seeds on). Seed stages run
 * with 2 workers: on PostgreSQL two filler files (disjoint vehicles) are stored side by side.
 */
export function historyPlan(sizes: number[], records: number): HistoryStep[] {
  const vehicles = records / 2;
  const [d4, d3] = [daysAgo(4), daysAgo(3)];
  const steps: HistoryStep[] = [];
  let fillerTo = FILLER_BASE;
  for (const size of [...sizes].sort((a, b) => a - b)) {
    const to = FILLER_BASE + Math.ceil((size - records) / FILLER_READINGS);
    if (steps.length && to === fillerTo) continue; // the same size once rounded: nothing to add
    const files: FileSpec[] = steps.length === 0 ? [preloadFile(vehicles)] : [];
    for (let from = fillerTo; from < to; from += FILLER_FILE_READINGS / FILLER_READINGS) {
      const end = Math.min(to, from + FILLER_FILE_READINGS / FILLER_READINGS);
      const name = `history-${from - FILLER_BASE}-${end - FILLER_BASE}`;
      files.push({ format: 'csv', dataset: { name, from, to: end, dates: [d4, d4, d3, d3], firstStep: 0 } });
    }
    fillerTo = to;
    const readings = records + (to - FILLER_BASE) * FILLER_READINGS;
    steps.push({
      readings,
      seed: { name: `seed ${readings}`, workers: 2, files },
      nightly: { name: `nightly onto ${readings}`, workers: 1, files: [nightlyFile(vehicles)] },
    });
  }
  return steps;
}
