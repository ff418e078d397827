/**
 * The reconciler marks a file failed when its job failed outside a worker, but only when two passes in a row see
 * the same failure: `inflow replay` puts the file back to `queued` first and retries its job second, and a pass
 * between the two steps must not fail the file again with the old reason. The passes are run by hand here (the
 * service's own reconciler waits an hour), on the real store and the run's Redis.
 */
import { Readable } from 'node:stream';
import type { Client } from 'basic-ftp';
import { Worker, UnrecoverableError } from 'bullmq';
import { startTestService, type TestService } from './helpers/service';
import { csvBatch, vin } from './helpers/batch';
import { QUEUE_NAME, redisConnection, requeueJob } from '../jobs/queue';
import { reconcileOnce, type FailureSightings } from '../jobs/reconciler';
import type { FileRecord } from '../store';

const GARAGE = '2123456692';
const PW = 'reconciler test password';

let svc: TestService;
let client: Client;

beforeAll(async () => {
  svc = await startTestService({ workers: 0, reconcileSeconds: 3600 });
  await svc.addAccount(GARAGE, PW);
  client = await svc.connect(GARAGE, PW);
});

afterAll(async () => {
  client?.close();
  await svc?.teardown();
});

/** failJob takes the file's job the way a worker does and fails it without the pipeline (as a stalled check would). */
async function failJob(f: FileRecord, reason: string): Promise<void> {
  const connection = redisConnection(svc.redisUrl, 'worker');
  const bare = new Worker(QUEUE_NAME, null, { connection, prefix: svc.settings.queuePrefix });
  try {
    const job = (await bare.getNextJob('token-1'))!;
    expect(job.id).toBe(f.id);
    await svc.store.files.startAttempt(f.pk);
    await job.moveToFailed(new UnrecoverableError(reason), 'token-1');
  } finally {
    await bare.close();
    connection.disconnect();
  }
}

it('leaves a file between the two steps of a replay alone, and marks a failure seen twice', async () => {
  await client.uploadFrom(Readable.from([Buffer.from(csvBatch(GARAGE, [{ vin: vin(1) }], { trailer: true }))]), 'a.csv');
  const f = (await svc.store.files.list()).find((x) => x.name === 'a.csv')!;
  await failJob(f, 'first failure');
  await svc.store.files.recordError(f.pk, 'first failure', true);
  expect((await svc.store.files.get(f.pk))!.status).toBe('failed');

  // A replay's first step: the file is queued again; its job is still failed.
  expect(await svc.store.files.requeue(f.pk)).toBe(true);
  const sightings: FailureSightings = new Map();
  const pass = () => reconcileOnce(svc.store, svc.queue, svc.settings, sightings);
  expect((await pass()).failed).toEqual([]);
  expect(await svc.store.files.get(f.pk)).toMatchObject({ status: 'queued', error: null });

  // Its second step: the job is retried. It fails again outside a worker: a new failure, seen once so far.
  expect(await requeueJob(svc.queue, f, svc.settings)).toBe('retried');
  await failJob(f, 'second failure');
  expect((await pass()).failed).toEqual([]);
  expect((await svc.store.files.get(f.pk))!.status).toBe('processing');

  // The same failure on the next pass: now it is the file's state, not a replay in the middle.
  expect((await pass()).failed).toEqual([f.id]);
  expect(await svc.store.files.get(f.pk)).toMatchObject({ status: 'failed', error: 'second failure' });
  expect((await pass()).failed).toEqual([]); // failed files are not looked at again
}, 30_000);
