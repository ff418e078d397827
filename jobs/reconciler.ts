/**
 * The reconciler (SPEC §7): files recorded `received` but not yet queued (Redis was down at upload, or the
 * server died between the 226 and the enqueue) are queued again, at start-up and periodically.
 */
import type { Settings } from '../config/defaults';
import type { Store } from '../store';
import { enqueueFile, type FileQueue } from './queue';

/** reconcileOnce queues every `received` file; returns how many were queued. Redis errors leave them for next time. */
export async function reconcileOnce(store: Store, q: FileQueue, settings: Settings): Promise<number> {
  let n = 0;
  for (const f of store.files.withStatus(['received'])) {
    try {
      await enqueueFile(q, f.id, settings);
    } catch {
      return n; // Redis is still away
    }
    store.files.markQueued(f.pk);
    n++;
  }
  return n;
}

/** startReconciler runs reconcileOnce now and every `settings.reconcileSeconds`. */
export function startReconciler(store: Store, q: FileQueue, settings: Settings): { stop(): void } {
  let running = false;
  const tick = async () => {
    if (running) return;
    running = true;
    try {
      await reconcileOnce(store, q, settings);
    } finally {
      running = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), settings.reconcileSeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
