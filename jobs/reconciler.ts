/**
 * The reconciler (docs/guarantees.md): the store says what must happen to each file, Redis what will. At start-up and every
 * `reconcileSeconds` it compares the two for every file not yet done or failed:
 *
 * | store                         | job in BullMQ                 | action                                      |
 * |-------------------------------|-------------------------------|---------------------------------------------|
 * | received                      | missing                       | queue it (Redis was down at upload, or the  |
 * |                               |                               | server died between the 226 and the enqueue)|
 * | received                      | waiting, active, delayed, ... | mark it queued                              |
 * | queued, processing            | missing                       | queue it again (Redis lost it)              |
 * | queued, processing            | completed                     | retry it (it ended without finishing)       |
 * | received, queued, processing  | failed                        | mark it failed with the job's reason (e.g.  |
 * |                               |                               | stalled too often): kept for `replay`       |
 *
 * A failed job is acted on only when two passes in a row see the same failure on the same file row: `inflow replay`
 * puts the file back to `queued` and then retries its job, and a pass that falls between the two steps must not
 * mark the file failed again with the old reason.
 *
 * A job that is active under a dead worker is BullMQ's to recover (its lock expires, a live worker's stalled
 * check takes it back). Redis errors leave everything for the next pass.
 *
 * Observations (docs/observations.md) wait in the store, not in Redis: when any is PENDING, each pass asks for a
 * drain (a no-op when one is queued already).
 */
import type { Settings } from '../config/defaults';
import type { Store, FileRecord } from '../store';
import type { AuditLog } from '../store/audit-log';
import { enqueueFile, jobStateOf, requeueJob, LIVE_STATES, type FileQueue } from './queue';
import { requestDrain, type DrainQueue } from './observation-drain';

export interface ReconcileResult {
  queued: string[];
  requeued: string[];
  failed: string[];
}

/** The failed jobs one pass saw, by file id: what the next pass must see again before it acts (see above). */
export type FailureSightings = Map<string, string>;

/**
 * reconcileOnce runs one pass; Redis errors end the pass early (the rest waits for the next one). `sightings` carries
 * the failed jobs seen from one pass to the next.
 */
export async function reconcileOnce(
  store: Store,
  q: FileQueue,
  settings: Settings,
  sightings: FailureSightings,
  audit?: AuditLog,
): Promise<ReconcileResult> {
  const out: ReconcileResult = { queued: [], requeued: [], failed: [] };
  const seenNow: FailureSightings = new Map();
  for (const f of await store.files.withStatus(['received', 'queued', 'processing'])) {
    try {
      await reconcileFile({ store, q, settings, audit, out, sightings, seenNow }, f);
    } catch {
      break; // Redis is away: next pass
    }
  }
  sightings.clear();
  for (const [id, sighting] of seenNow) sightings.set(id, sighting);
  return out;
}

interface PassContext {
  store: Store;
  q: FileQueue;
  settings: Settings;
  audit?: AuditLog;
  out: ReconcileResult;
  sightings: FailureSightings;
  seenNow: FailureSightings;
}

async function reconcileFile(pass: PassContext, f: FileRecord): Promise<void> {
  const { store, q, settings, audit, out } = pass;
  const state = await jobStateOf(q, f.id);
  // A worker may have moved the file on while we asked Redis: act only on what is still true.
  const now = await store.files.get(f.pk);
  if (!now || now.status !== f.status) return;
  if (state === 'failed') {
    const job = await q.queue.getJob(f.id);
    if (!job) return;
    const sighting = `${now.status}/${now.attempts}/${job.finishedOn ?? ''}/${job.failedReason}`;
    pass.seenNow.set(f.id, sighting);
    if (pass.sightings.get(f.id) !== sighting) return; // first seen: a replay may be between its two steps
    const reason = job.failedReason || 'job failed';
    if (await store.files.markFailed(f.pk, reason)) {
      out.failed.push(f.id);
      audit?.write('file_failed', { file: f.id, error: reason, by: 'reconciler' });
    }
    return;
  }
  if (f.status === 'received') {
    if (state === 'missing') await enqueueFile(q, f, settings);
    await store.files.markQueued(f.pk);
    out.queued.push(f.id);
    if (state === 'missing') audit?.write('requeued', { file: f.id, reason: 'received but not queued' });
    return;
  }
  if (LIVE_STATES.includes(state)) return;
  // queued or processing, and the job is missing or completed: nothing would ever finish the file.
  const action = await requeueJob(q, f, settings);
  out.requeued.push(f.id);
  audit?.write('requeued', { file: f.id, reason: `${f.status} with its job ${state}`, action });
}

/** reconcileObservations asks for a drain when observations are pending; returns whether it asked. */
export async function reconcileObservations(store: Store, drain: DrainQueue): Promise<boolean> {
  if ((await store.observations.pendingCount()) === 0) return false;
  await requestDrain(drain);
  return true;
}

/** startReconciler runs reconcileOnce (and reconcileObservations) now and every `settings.reconcileSeconds`. */
export function startReconciler(
  store: Store,
  q: FileQueue,
  settings: Settings,
  audit?: AuditLog,
  drain?: DrainQueue,
): { stop(): Promise<void> } {
  let running: Promise<unknown> | null = null;
  let stopped = false;
  const sightings: FailureSightings = new Map();
  const pass = async () => {
    await reconcileOnce(store, q, settings, sightings, audit);
    if (drain) await reconcileObservations(store, drain);
  };
  const tick = () => {
    if (running || stopped) return;
    running = pass()
      .catch((err) => process.stderr.write(`reconciler: ${(err as Error).message}\n`))
      .finally(() => (running = null));
  };
  tick();
  const timer = setInterval(tick, settings.reconcileSeconds * 1000);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running; // a pass in flight must not use the store after it is closed
    },
  };
}
