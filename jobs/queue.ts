/**
 * The file queue: one BullMQ job per received file, with the file id as job id, so adding a file twice is a
 * no-op. The producer connection fails fast when Redis is down: the file then stays `received` and the
 * reconciler queues it later (SPEC §7).
 */
import { Queue } from 'bullmq';
import IORedis, { type RedisOptions } from 'ioredis';
import type { Settings } from '../config/defaults';

export const QUEUE_NAME = 'inflow-files';

export interface FileJobData {
  fileId: string;
}

/** redisOptionsFor: workers need maxRetriesPerRequest null (BullMQ); producers fail fast instead of hanging. */
export function redisConnection(url: string, role: 'worker' | 'producer'): IORedis {
  const opts: RedisOptions =
    role === 'worker'
      ? { maxRetriesPerRequest: null }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 3000 };
  const conn = new IORedis(url, { ...opts, retryStrategy: (times) => Math.min(times * 200, 2000) });
  conn.on('error', () => {}); // reconnects by itself; failures surface on the commands that need Redis
  return conn;
}

export interface FileQueue {
  queue: Queue<FileJobData>;
  connection: IORedis;
  close(): Promise<void>;
}

/** openFileQueue opens the producer side of the queue and sets the fleet-wide concurrency. */
export function openFileQueue(redisUrl: string, settings: Pick<Settings, 'queuePrefix' | 'globalConcurrency'>): FileQueue {
  const connection = redisConnection(redisUrl, 'producer');
  const queue = new Queue<FileJobData>(QUEUE_NAME, { connection, prefix: settings.queuePrefix });
  queue.on('error', () => {});
  queue.setGlobalConcurrency(settings.globalConcurrency).catch(() => {}); // Redis may be away: the workers set it too
  return {
    queue,
    connection,
    close: async () => {
      await queue.close().catch(() => {});
      connection.disconnect();
    },
  };
}

/** enqueueFile adds the file's job; rejects within `timeoutMs` when Redis cannot take it. */
export async function enqueueFile(
  q: FileQueue,
  fileId: string,
  settings: Pick<Settings, 'jobAttempts' | 'jobBackoffMs'>,
  timeoutMs = 5000,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('Redis did not accept the job in time')), timeoutMs);
  });
  try {
    await Promise.race([
      q.queue.add(
        'file',
        { fileId },
        {
          jobId: fileId,
          attempts: settings.jobAttempts,
          backoff: { type: 'exponential', delay: settings.jobBackoffMs },
          removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
          removeOnFail: false, // kept for `inflow replay --failed`
        },
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
