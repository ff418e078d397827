/**
 * A file worker: takes jobs from the queue and runs the pipeline on them. Each worker opens its own store: a SQLite
 * connection (one writer at a time is enforced by SQLite's lock, shared by every process on the data directory), or
 * a pool of PostgreSQL connections.
 *
 * Failures (docs/guarantees.md): an exception is retried with exponential back-off (`jobAttempts`, `jobBackoffMs`); the last
 * one leaves the file `failed` in the store and the job `failed` in BullMQ, with the reason, for `inflow replay`.
 * A worker that dies keeps its job locked until `jobLockMs` runs out; another worker then takes it over and the
 * pipeline resumes after the last committed batch. `close()` lets the current file finish for `shutdownGraceMs`,
 * then hands it back to the queue.
 */
import { Worker, Queue, UnrecoverableError, WaitingError, DelayedError, type Job } from 'bullmq';
import { workerJobsOf, type Settings } from '../config/defaults';
import type { DataLayout } from '../config/layout';
import { openStore } from '../store';
import { filePkOf, fileIdOf } from '../model/file-id';
import { AuditLog } from '../store/audit-log';
import { QUEUE_NAME, redisConnection, type FileJobData } from './queue';
import { processFile } from '../pipeline/process-file';
import { FileGoneError, WaitForFilesError } from '../pipeline/errors';
import { startDrainWorker } from './observation-drain';

/**
 * A file held up by other files in flight waits this long in its slot, then gives the slot back and comes back from
 * the queue after WAIT_DELAY_MS (plus up to as much again at random, so that waiting files do not return in step).
 */
const YIELD_AFTER_MS = 1000;
const WAIT_DELAY_MS = 250;

export interface FileWorker {
  worker: Worker<FileJobData>;
  /**
   * close stops taking jobs, lets the current ones run for `graceMs` (default settings.shutdownGraceMs), hands back
   * those still running, and closes Redis and SQLite.
   */
  close(graceMs?: number): Promise<void>;
}

/** A worker process's jobs, started by startWorkerJobs. */
export interface WorkerJobs {
  close(graceMs?: number): Promise<void>;
}

/**
 * startWorkerJobs starts what `settings.workerJobs` names (`inflow worker` and each worker process of `serve`): the
 * file worker, the drainer of observations (jobs/observation-drain.ts) on a store of its own, or both.
 */
export async function startWorkerJobs(redisUrl: string, settings: Settings, layout: DataLayout): Promise<WorkerJobs> {
  const jobs = workerJobsOf(settings);
  const drainStore = jobs.observations ? await openStore({ sqlite: layout.db, databaseUrl: settings.databaseUrl }) : null;
  const drainer = drainStore ? await startDrainWorker(redisUrl, settings, drainStore) : null;
  const files = jobs.files ? await startFileWorker(redisUrl, settings, layout) : null;
  return {
    close: async (graceMs?: number) => {
      await files?.close(graceMs);
      await drainer?.close();
      await drainStore?.close().catch(() => {});
    },
  };
}

/** startFileWorker starts one BullMQ worker with `settings.concurrency` slots. */
export async function startFileWorker(redisUrl: string, settings: Settings, layout: DataLayout): Promise<FileWorker> {
  const store = await openStore({ sqlite: layout.db, databaseUrl: settings.databaseUrl });
  // The audit trail has a connection of its own: close() may shut the pipeline's under a running file, and the
  // events of the hand-back still have to reach the store.
  const auditStore = await openStore({ sqlite: layout.db, databaseUrl: settings.databaseUrl });
  const audit = new AuditLog(auditStore.audit);
  const ctx = { store, layout, settings, audit, yieldAfterMs: YIELD_AFTER_MS };
  const connection = redisConnection(redisUrl, 'worker');
  const active = new Map<string, { job: Job<FileJobData>; token: string }>();
  let handingBack = false;
  // Files this process said are waiting for others (audit `waiting`, once per file: a wait may last minutes).
  const reportedWaiting = new Set<string>();

  const processor = async (job: Job<FileJobData>, token?: string) => {
    const pk = filePkOf(job.data.fileId);
    if (pk === null) throw new UnrecoverableError(`bad file id ${job.data.fileId}`);
    active.set(job.id!, { job, token: token ?? '' });
    try {
      const done = await processFile(ctx, pk);
      if (handingBack) throw new WaitingError(); // moved back to the queue by close(): not ours to complete
      return { result: done.result };
    } catch (err) {
      // close() closed the store under the pipeline and moved the job back to wait: nothing to record here.
      if (handingBack) throw new WaitingError();
      if (err instanceof WaitForFilesError) {
        if (!reportedWaiting.has(job.data.fileId)) {
          reportedWaiting.add(job.data.fileId);
          audit.write('waiting', { pid: process.pid, file: job.data.fileId, for: err.blockedBy.map(fileIdOf) });
        }
        await job.moveToDelayed(Date.now() + WAIT_DELAY_MS * (1 + Math.random()), token);
        throw new DelayedError();
      }
      const message = (err as Error).message;
      const last = err instanceof FileGoneError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      await store.files.recordError(pk, message, last).catch(() => {});
      audit.write(last ? 'file_failed' : 'file_retry', {
        pid: process.pid,
        file: job.data.fileId,
        attempt: job.attemptsMade + 1,
        error: message,
      });
      if (err instanceof FileGoneError) throw new UnrecoverableError(message);
      throw err;
    } finally {
      active.delete(job.id!);
    }
  };

  const worker = new Worker<FileJobData>(QUEUE_NAME, processor, {
    connection,
    prefix: settings.queuePrefix,
    concurrency: settings.concurrency,
    lockDuration: settings.jobLockMs,
    stalledInterval: settings.stalledIntervalMs,
    maxStalledCount: settings.maxStalledCount,
  });
  // Redis away: the same error every reconnect attempt; say it once a minute.
  let lastError = { message: '', at: 0 };
  worker.on('error', (err) => {
    if (err.message === lastError.message && Date.now() - lastError.at < 60_000) return;
    lastError = { message: err.message, at: Date.now() };
    process.stderr.write(`worker: ${err.message}\n`);
  });
  // A job whose worker died: this worker's stalled check put it back in the queue (or failed it: stalled too often).
  worker.on('stalled', (jobId) => audit.write('requeued', { pid: process.pid, file: jobId, reason: 'its worker stopped (lock expired)' }));
  // The fleet-wide limit lives in Redis; a worker started alone (a fleet without `serve`) sets it too.
  const meta = new Queue(QUEUE_NAME, { connection, prefix: settings.queuePrefix });
  meta.on('error', () => {});
  void meta.setGlobalConcurrency(settings.globalConcurrency).catch(() => {});

  let closing: Promise<void> | null = null;
  const close = async (graceMs = settings.shutdownGraceMs): Promise<void> => {
    const drained = worker.close(); // no new jobs; resolves when the current ones are done
    drained.catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    const inTime = await Promise.race([
      drained.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs))),
    ]);
    clearTimeout(timer);
    if (!inTime) {
      // Stop the pipeline at its next step (every batch is its own transaction: nothing half-written stays), then
      // give each job back so another worker resumes it now rather than after its lock expires.
      handingBack = true;
      // Busy (an open statement): the process is about to end, and nothing uncommitted is kept.
      await store.close().catch(() => {});
      for (const [id, { job, token }] of active) {
        try {
          await job.moveToWait(token);
          audit.write('handed_back', { pid: process.pid, file: id, reason: 'worker shutting down' });
        } catch (err) {
          process.stderr.write(`worker: could not hand ${id} back (${(err as Error).message}); it is taken over when its lock expires\n`);
        }
      }
      await Promise.race([drained.catch(() => {}), new Promise((r) => setTimeout(r, 5000).unref())]);
    }
    await meta.close().catch(() => {});
    connection.disconnect();
    await store.close().catch(() => {});
    await audit.close();
    await auditStore.close().catch(() => {});
  };
  return {
    worker,
    close: (graceMs?: number) => (closing ??= close(graceMs)),
  };
}
