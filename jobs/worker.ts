/**
 * A file worker: takes jobs from the queue and runs the pipeline on them. Each worker opens its own SQLite
 * connection (one writer at a time is enforced by SQLite's lock, shared by every process on the data directory).
 */
import { Worker, type Job } from 'bullmq';
import type { Settings } from '../config/defaults';
import type { DataLayout } from '../config/layout';
import { Store, filePkOf } from '../store';
import { AuditLog } from '../store/audit-log';
import { QUEUE_NAME, redisConnection, type FileJobData } from './queue';
import { processFile } from './process-file';
import { FileGoneError } from './errors';
import { UnrecoverableError, Queue } from 'bullmq';

export interface FileWorker {
  worker: Worker<FileJobData>;
  close(): Promise<void>;
}

/** startFileWorker starts one BullMQ worker with `settings.concurrency` slots. */
export function startFileWorker(redisUrl: string, settings: Settings, layout: DataLayout): FileWorker {
  const store = Store.open(layout.db);
  const audit = new AuditLog(layout.auditLog);
  const ctx = { store, layout, settings, audit };
  const connection = redisConnection(redisUrl, 'worker');

  const processor = async (job: Job<FileJobData>) => {
    const pk = filePkOf(job.data.fileId);
    if (pk === null) throw new UnrecoverableError(`bad file id ${job.data.fileId}`);
    try {
      const done = await processFile(ctx, pk);
      return { result: done.result };
    } catch (err) {
      const last = err instanceof FileGoneError || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      store.files.recordError(pk, (err as Error).message, last);
      if (last) audit.write('file_failed', { file: job.data.fileId, error: (err as Error).message });
      if (err instanceof FileGoneError) throw new UnrecoverableError(err.message);
      throw err;
    }
  };

  const worker = new Worker<FileJobData>(QUEUE_NAME, processor, {
    connection,
    prefix: settings.queuePrefix,
    concurrency: settings.concurrency,
  });
  worker.on('error', (err) => process.stderr.write(`worker: ${err.message}\n`));
  // The fleet-wide limit lives in Redis; a worker started alone (a fleet without `serve`) sets it too.
  void new Queue(QUEUE_NAME, { connection, prefix: settings.queuePrefix })
    .setGlobalConcurrency(settings.globalConcurrency)
    .catch(() => {});
  return {
    worker,
    close: async () => {
      await worker.close();
      connection.disconnect();
      store.close();
    },
  };
}
