/**
 * Processing observations (docs/observations.md): readings sent one at a time go through the one pipeline a batch
 * file's records go through, a round at a time. A round is an internal file (one sender, one reception date) whose
 * records are the observations claimed into it, line 1, 2, … in arrival order: the same record checks
 * (rules/record-checks.ts), the same registry checks and store change (check-batch.ts, Store.storeBatch), so an
 * observation gets the issues, and error numbers, that the same reading in a file would.
 *
 * A round never holds records while it waits: when a vehicle it reads has records of a file in flight (a nightly
 * file being stored), its observations are stored one at a time and those held up go back to wait for a later
 * round (ObservationStore.unclaim); the round closes at once. A drainer that dies in a round leaves it open: the
 * next drain resumes it after its last stored line, and closing it settles exactly the observations stored.
 */
import type { Settings } from '../config/defaults';
import type { Observation, ObservationRound, Store } from '../store';
import type { CheckedRecord } from '../model/reading';
import { READING_FIELD_COUNT } from '../model/file-items';
import { checkRecord } from '../rules/record-checks';
import { storeRecords, type FileContext } from './check-batch';
import type { RecordBatch } from './batcher';

export interface ObservationContext {
  store: Store;
  settings: Pick<Settings, 'decreaseToleranceKm' | 'maxKmPerDay' | 'observationRoundMax'>;
  /** Asked between rounds: true stops the drain (the drainer is closing). */
  stopping?: () => boolean;
}

/** How long the drain waits before trying again when every observation it claimed was held up by a file in flight. */
const HELD_UP_RETRY_MS = 1000;
/**
 * With nothing left to claim, the drain keeps looking for new observations this long, every LINGER_POLL_MS (one
 * look at an index), before it ends: while DMS keep sending, rounds follow each other without a new drain job's
 * trip through Redis for each.
 */
const LINGER_MS = 500;
const LINGER_POLL_MS = 5;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * drainObservations processes rounds until no observation waits (or `stopping`); returns how many it settled.
 * Observations held up by a file in flight are tried again every HELD_UP_RETRY_MS until that file closes.
 */
export async function drainObservations(ctx: ObservationContext): Promise<number> {
  let settled = 0;
  while (!ctx.stopping?.()) {
    const rounds = await ctx.store.observations.claimRounds(ctx.settings.observationRoundMax);
    if (rounds.length === 0) {
      if (await moreCame(ctx)) continue;
      break;
    }
    // A claim's rounds share no vehicle (claimRounds): on PostgreSQL they are stored side by side; each DMS with one
    // reading in flight makes a round of its own, so taking them one after the other would cap the drain at one
    // round-trip chain per observation.
    const now = (await Promise.all(rounds.map((round) => processRound(ctx, round)))).reduce((a, b) => a + b, 0);
    settled += now;
    if (now === 0) await sleep(HELD_UP_RETRY_MS);
  }
  return settled;
}

/** moreCame looks for new observations for up to LINGER_MS; true as soon as one waits. */
async function moreCame(ctx: ObservationContext): Promise<boolean> {
  const until = Date.now() + LINGER_MS;
  while (Date.now() < until && !ctx.stopping?.()) {
    await sleep(LINGER_POLL_MS);
    if (await ctx.store.observations.waiting()) return true;
  }
  return false;
}

/** processRound stores a round's observations (those after its progress) and closes it; returns how many it stored. */
export async function processRound(ctx: ObservationContext, round: ObservationRound): Promise<number> {
  const { store, settings } = ctx;
  const sendersByLine = new Map(round.observations.map((o) => [o.line!, o.sender]));
  const fileCtx: FileContext = {
    filePk: round.filePk,
    sender: round.observations[0]?.sender ?? '',
    sendersByLine,
    receivedDate: round.receivedDate,
    lateByDate: new Map(),
    history: { decreaseToleranceKm: settings.decreaseToleranceKm, maxKmPerDay: settings.maxKmPerDay },
  };
  const todo = round.observations.filter((o) => o.line !== null && o.line > round.progressLine);
  const checked = todo.map((o) => ({ o, rec: recordOf(o) }));
  const heldUp = checked.length > 0 ? await storeAroundHeldUp(store, fileCtx, checked) : [];
  for (const { o } of heldUp) await store.observations.unclaim(o.id);
  await store.observations.closeRound(round.filePk, new Date().toISOString());
  return round.observations.length - heldUp.length;
}

/**
 * storeAroundHeldUp stores the observations, in line order, but those held up by a file in flight; returns those.
 * A part that is held up is split in halves, each stored in turn (each store moves the round's progress on): a few
 * held-up observations among many cost a few stores each, not one store per observation.
 */
async function storeAroundHeldUp(store: Store, fileCtx: FileContext, part: CheckedObservation[]): Promise<CheckedObservation[]> {
  const { blockedBy } = await storeRecords(store, fileCtx, [batchOf(fileCtx.sender, part)]);
  if (blockedBy.length === 0) return [];
  if (part.length === 1) return part;
  const half = Math.ceil(part.length / 2);
  const first = await storeAroundHeldUp(store, fileCtx, part.slice(0, half));
  return [...first, ...(await storeAroundHeldUp(store, fileCtx, part.slice(half)))];
}

/** An observation and its record after the checks that need nothing but the record (made once per round). */
interface CheckedObservation {
  o: Observation;
  rec: CheckedRecord;
}

/** batchOf: observations as one batch of a file's records (storeRecords copies their findings: reused as they are). */
function batchOf(sender: string, observations: CheckedObservation[]): RecordBatch {
  const others = observations.map(({ rec }) => rec);
  return { packed: new Uint8Array(0), packedBytes: 0, others, lastLine: others[others.length - 1].line, sender };
}

/** recordOf: an observation as a checked record of its round (as Batcher.recordOf makes a file's). */
function recordOf(o: Observation): CheckedRecord {
  const checked = checkRecord(o.fields, READING_FIELD_COUNT, { today: o.receivedDate });
  return { line: o.line!, fields: checked.reading ? null : o.fields, reading: checked.reading, findings: checked.findings };
}
