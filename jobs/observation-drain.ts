/**
 * The observation drainer (docs/observations.md): a BullMQ queue of its own, beside the file queue, whose one kind
 * of job says "observations are waiting". Its worker runs pipeline/process-observations.ts's drain: round after
 * round until none waits. One drainer runs at a time across the fleet (global concurrency 1): rounds take turns
 * with a nightly file's batches on the store, never with each other.
 *
 * Asking for a drain while one runs keeps one more job for after it (BullMQ deduplication, keepLastIfActive), so an
 * observation kept while a drain ends is never left waiting. The observations themselves live in the store: a
 * Redis that lost its jobs loses nothing; every worker asks for a drain when it starts, and the reconciler whenever
 * observations are pending.
 */
import { Worker } from 'bullmq';
import type { Settings } from '../config/defaults';
import type { Store } from '../store';
import { addInTime, openProducerQueue, redisConnection, type ProducerQueue } from './queue';
import { drainObservations } from '../pipeline/process-observations';

export const OBSERVATION_QUEUE = 'inflow-observations';
const DRAIN = 'drain';

export type DrainQueue = ProducerQueue;

/** openDrainQueue opens the producer side (fails fast when Redis is down, as the file queue's does). */
export function openDrainQueue(redisUrl: string, settings: Pick<Settings, 'queuePrefix'>): DrainQueue {
  return openProducerQueue(OBSERVATION_QUEUE, redisUrl, settings.queuePrefix);
}

/** requestDrain asks for a drain; rejects within `timeoutMs` when Redis cannot take it (the reconciler asks again). */
export async function requestDrain(q: DrainQueue, timeoutMs = 3000): Promise<void> {
  const add = q.queue.add(
    DRAIN,
    {},
    {
      deduplication: { id: DRAIN, keepLastIfActive: true },
      attempts: 3,
      backoff: { type: 'fixed', delay: 500 },
      removeOnComplete: true,
      removeOnFail: 100,
    },
  );
  await addInTime(add, timeoutMs, 'Redis did not accept the drain request in time');
}

export interface DrainWorker {
  close(): Promise<void>;
}

/** startDrainWorker starts the drainer on `store` (a store of its own: closing it never cuts a file's pipeline). */
export async function startDrainWorker(redisUrl: string, settings: Settings, store: Store): Promise<DrainWorker> {
  const connection = redisConnection(redisUrl, 'worker');
  let closing = false;
  const ctx = { store, settings, stopping: () => closing };
  const worker = new Worker(OBSERVATION_QUEUE, async () => ({ handled: await drainObservations(ctx) }), {
    connection,
    prefix: settings.queuePrefix,
    concurrency: 1,
    lockDuration: settings.jobLockMs,
    stalledInterval: settings.stalledIntervalMs,
    maxStalledCount: settings.maxStalledCount,
  });
  worker.on('error', () => {}); // Redis away: the file worker beside it says so
  const producer = openDrainQueue(redisUrl, settings);
  await producer.queue.setGlobalConcurrency(1).catch(() => {});
  // Observations kept while no drainer ran, or a round a dead drainer left open: drain them now.
  await requestDrain(producer).catch(() => {});
  return {
    close: async () => {
      closing = true; // a drain in progress ends after its round
      await worker.close().catch(() => {});
      await producer.close();
      connection.disconnect();
    },
  };
}
