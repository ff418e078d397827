/**
 * The file queue: one BullMQ job per received file, with the file id as job id, so adding a file twice is a
 * no-op. The producer connection fails fast when Redis is down: the file then stays `received` and the
 * reconciler queues it later (docs/guarantees.md).
 *
 * Fair share between accounts: BullMQ (open source) has priorities but no groups, so a file's priority is its
 * round. An account's first waiting file joins the round being served (the round of the file being processed, or
 * the round at the head of the queue when none is), its second the next round, and so on; files of one round run in
 * the order they came. So one account's 400 queued files delay another account's nightly file by at most one file:
 * the one being processed, or, when none is, the one at the head of the queue.
 */
import { Queue, type JobState } from 'bullmq';
import IORedis, { type RedisOptions } from 'ioredis';
import type { Settings } from '../config/defaults';
import { parseRedisUrl } from '../config/redis-url';

export const QUEUE_NAME = 'inflow-files';

export interface FileJobData {
  fileId: string;
}

/** What the queue needs of a file: its id (the job's) and its uploading account (for the fair share). */
export interface QueuedFile {
  id: string;
  account: string;
}

/**
 * redisConnection opens the one kind of Redis connection everything uses. Workers need maxRetriesPerRequest null
 * (BullMQ); producers fail fast instead of hanging. On a Sentinel set ioredis asks the sentinels for the master and
 * asks again when it moves (failoverDetector; READONLY: a demoted master still answering).
 */
export function redisConnection(url: string, role: 'worker' | 'producer'): IORedis {
  const opts: RedisOptions = {
    ...(role === 'worker' ? { maxRetriesPerRequest: null } : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 3000 }),
    retryStrategy: (times) => Math.min(times * 200, 2000),
  };
  const target = parseRedisUrl(url);
  const conn =
    target.kind === 'server'
      ? new IORedis(url, opts)
      : new IORedis({
          ...opts,
          sentinels: target.sentinels,
          name: target.masterName,
          db: target.db,
          username: target.username,
          password: target.password,
          sentinelPassword: target.sentinelPassword,
          sentinelRetryStrategy: (times) => Math.min(times * 200, 2000),
          failoverDetector: true,
          reconnectOnError: (err) => err.message.startsWith('READONLY'),
        });
  conn.on('error', () => {}); // reconnects by itself; failures surface on the commands that need Redis
  return conn;
}

/** The producer side of a queue: what the front and the CLI add jobs with. */
export interface ProducerQueue<T = unknown> {
  queue: Queue<T>;
  connection: IORedis;
  close(): Promise<void>;
}

export type FileQueue = ProducerQueue<FileJobData>;

/** openProducerQueue opens queue `name` on a connection of its own (fails fast when Redis is down). */
export function openProducerQueue<T>(name: string, redisUrl: string, prefix: string): ProducerQueue<T> {
  const connection = redisConnection(redisUrl, 'producer');
  const queue = new Queue<T>(name, { connection, prefix });
  queue.on('error', () => {});
  return {
    queue,
    connection,
    close: async () => {
      await queue.close().catch(() => {});
      connection.disconnect();
    },
  };
}

/** addInTime waits for a job's add, or rejects with `message` after `timeoutMs` (a Redis that is away never answers). */
export async function addInTime(add: Promise<unknown>, timeoutMs: number, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), timeoutMs);
  });
  try {
    await Promise.race([add, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * openFileQueue opens the producer side of the queue and sets the fleet-wide concurrency. Admin commands (replay,
 * abandon) pass `setConcurrency: false`: their settings need not be the fleet's.
 */
export function openFileQueue(
  redisUrl: string,
  settings: Pick<Settings, 'queuePrefix' | 'globalConcurrency'>,
  opts: { setConcurrency?: boolean } = {},
): FileQueue {
  const q = openProducerQueue<FileJobData>(QUEUE_NAME, redisUrl, settings.queuePrefix);
  // Redis may be away: the workers set it too.
  if (opts.setConcurrency !== false) q.queue.setGlobalConcurrency(settings.globalConcurrency).catch(() => {});
  return q;
}

/** enqueueFile adds the file's job in its account's next round; rejects within `timeoutMs` when Redis cannot take it. */
export async function enqueueFile(
  q: FileQueue,
  file: QueuedFile,
  settings: Pick<Settings, 'jobAttempts' | 'jobBackoffMs'>,
  timeoutMs = 5000,
): Promise<void> {
  const add = async () =>
    q.queue.add(
      'file',
      { fileId: file.id },
      {
        jobId: file.id,
        priority: await roundOf(q, file.account),
        attempts: settings.jobAttempts,
        backoff: { type: 'exponential', delay: settings.jobBackoffMs },
        removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
        removeOnFail: false, // kept for `inflow replay --failed`
      },
    );
  await addInTime(add(), timeoutMs, 'Redis did not accept the job in time');
}

/** BullMQ's lowest priority (the largest number); rounds stop there and then run in the order their files came. */
const LAST_ROUND = 2_097_151;

/**
 * Each account's last round, in a hash beside the queue; atomic. The next round of an account is one more than its
 * last one, and at least the round being served. With nothing waiting, every account starts again from round 1 (so
 * rounds stay small).
 * KEYS[1] the hash; ARGV: account, the round being served, '1' when nothing waits, LAST_ROUND.
 */
const NEXT_ROUND = `
if ARGV[3] == '1' then redis.call('DEL', KEYS[1]) end
local last = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local round = math.min(math.max(last + 1, tonumber(ARGV[2])), tonumber(ARGV[4]))
redis.call('HSET', KEYS[1], ARGV[1], round)
return round`;

/**
 * roundOf gives a new file of `account` its round (its BullMQ priority: lower runs first). The queue and the hash
 * are read apart: a file added or taken between the two may land one round off, which changes an order, never
 * whether a file runs.
 */
async function roundOf(q: FileQueue, account: string): Promise<number> {
  const [head] = await q.queue.getPrioritized(0, 0);
  const served = head ? await servedRound(q, head.opts.priority ?? 1) : 1;
  const nothingWaits = head ? '0' : '1';
  const args = [account, String(served), nothingWaits, String(LAST_ROUND)];
  return Number(await q.connection.eval(NEXT_ROUND, 1, q.queue.toKey('fair-rounds'), ...args));
}

/**
 * servedRound: the round of the files being processed (the latest of them), or `headRound` when none is. A round
 * behind the head is the one being served: a newcomer joins it and so comes before the head's later rounds. One
 * ahead of the head (left from before the rounds started again at 1) is not: the head's round is used.
 */
async function servedRound(q: FileQueue, headRound: number): Promise<number> {
  const active = await q.queue.getActive(0, 100);
  const rounds = active.map((j) => j.opts.priority ?? 0).filter((r) => r > 0);
  if (rounds.length === 0) return headRound;
  return Math.min(headRound, Math.max(...rounds));
}

/** A job's state in BullMQ, `missing` when the queue has no job for the file. */
export type FileJobState = JobState | 'missing';

/** LIVE_STATES: the job will run (or is running) without anyone acting. */
export const LIVE_STATES: readonly FileJobState[] = ['waiting', 'active', 'delayed', 'prioritized', 'waiting-children'];

/** jobStateOf reads the state of a file's job. */
export async function jobStateOf(q: FileQueue, fileId: string): Promise<FileJobState> {
  const state = await q.queue.getJobState(fileId);
  return state === 'unknown' ? 'missing' : state;
}

/** What requeueJob did: added again, retried (from failed or completed), promoted (out of its back-off), or left live. */
export type RequeueAction = 'added' | 'retried' | 'promoted' | 'live';

/**
 * requeueJob makes the file's job run again (`inflow replay`, the reconciler): a failed or completed job is retried
 * with its attempts reset, a delayed one (waiting out its back-off) runs now, a missing one is added again under the
 * same id; a waiting or active one is left alone.
 */
export async function requeueJob(
  q: FileQueue,
  file: QueuedFile,
  settings: Pick<Settings, 'jobAttempts' | 'jobBackoffMs'>,
): Promise<RequeueAction> {
  for (let tries = 0; ; tries++) {
    const job = await q.queue.getJob(file.id);
    const state: FileJobState = job ? await job.getState().then((s) => (s === 'unknown' ? 'missing' : s)) : 'missing';
    try {
      if (state === 'missing') {
        if (job) await job.remove().catch(() => {}); // a half-gone job (hash without a list entry) blocks the id
        await enqueueFile(q, file, settings);
        return 'added';
      }
      if (state === 'failed' || state === 'completed') {
        await job!.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true });
        return 'retried';
      }
      if (state === 'delayed') {
        await job!.promote();
        return 'promoted';
      }
      return 'live';
    } catch (err) {
      // The job moved meanwhile (a worker took it, another replay retried it): look again, once.
      if (tries >= 1) throw err;
    }
  }
}

/** removeJob removes a file's job (waiting, delayed, failed or completed); false when it is active (locked by a worker). */
export async function removeJob(q: FileQueue, fileId: string): Promise<boolean> {
  const job = await q.queue.getJob(fileId);
  if (!job) return true;
  if ((await job.getState()) === 'active') return false;
  try {
    await job.remove();
    return true;
  } catch {
    return false; // taken by a worker meanwhile
  }
}
