/**
 * Failure handling and the admin's tools (issue 6): a job that throws is retried with back-off, then stays `failed`
 * in the store and in BullMQ with its reason; `inflow replay --failed` processes it once the fault is gone, and a
 * replay never stores a reading twice nor issues an error number twice; `inflow files abandon` closes a file that
 * cannot be processed with a REJECTED receipt (F08); the reconciler re-queues files whose job is gone.
 *
 * The fault is real, with no test-only code path: the stored file is replaced by a directory, so reading it fails
 * with EISDIR (a missing file would be FileGoneError, not retried).
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { Client } from 'basic-ftp';
import { startTestService, waitForReceipt, download, type TestService } from './helpers/service';
import { parseReceipt } from './helpers/receipt';
import { csvBatch, daysAgo, vin } from './helpers/batch';
import { auditEvents, envFor, inflowAsync, waitFor } from './helpers/ops';
import { Worker, UnrecoverableError } from 'bullmq';
import { startFileWorker, type FileWorker } from '../jobs/worker';
import { QUEUE_NAME, redisConnection } from '../jobs/queue';
import Database from 'better-sqlite3';
import type { FileRecord } from '../store';
import { filePkOf } from '../model/file-id';

const GARAGE = '2123456692';
const PW = 'replay test password';

let svc: TestService;
let client: Client;
let worker: FileWorker | null = null;

beforeAll(async () => {
  svc = await startTestService({ workers: 0, jobAttempts: 3, jobBackoffMs: 100 });
  await svc.addAccount(GARAGE, PW);
  client = await svc.connect(GARAGE, PW);
});

afterAll(async () => {
  client?.close();
  await worker?.close(1000);
  await svc?.teardown();
});

const startWorker = async () => (worker = await startFileWorker(svc.redisUrl, svc.settings, svc.layout));
const stopWorker = async () => {
  await worker?.close(1000);
  worker = null;
};
const fileNamed = async (name: string): Promise<FileRecord | undefined> => (await svc.store.files.list()).find((f) => f.name === name);
const put = async (text: string, name: string): Promise<FileRecord> => {
  await client.uploadFrom(Readable.from([Buffer.from(text)]), name);
  return (await fileNamed(name))!;
};
/** breakFile replaces the stored file by a directory (reads fail with EISDIR); the returned function undoes it. */
const breakFile = (f: FileRecord): (() => void) => {
  const stored = svc.layout.filesPath(f.storedPath);
  fs.renameSync(stored, stored + '.away');
  fs.mkdirSync(stored);
  return () => {
    fs.rmdirSync(stored);
    fs.renameSync(stored + '.away', stored);
  };
};
const statusOf = async (pk: number) => (await svc.store.files.get(pk))!.status;

describe('a job that keeps throwing', () => {
  let file: FileRecord;
  let repair: () => void;

  it('is retried with back-off, then stays failed in the store and in BullMQ with the reason', async () => {
    file = await put(
      csvBatch(GARAGE, [{ vin: vin(1), odometer: 1000 }, { vin: 'TSTVNZZZ00000000I' }, { vin: vin(2) }], { trailer: true }),
      'fault.csv',
    );
    expect(file.status).toBe('queued');
    repair = breakFile(file);
    await startWorker();
    await waitFor('the file to fail', async () => (await statusOf(file.pk)) === 'failed', 30_000);

    const failed = (await svc.store.files.get(file.pk))!;
    expect(failed.attempts).toBe(3);
    expect(failed.error).toMatch(/EISDIR/);
    const job = (await svc.queue.queue.getJob(file.id))!;
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(3);
    expect(job.failedReason).toMatch(/EISDIR/);
    // Exponential back-off: 100 ms, then 200 ms between the attempts.
    const events = (await auditEvents(svc)).filter((e) => e.file === file.id);
    const tries = events.filter((e) => e.event === 'file_retry' || e.event === 'file_failed');
    expect(tries.map((e) => e.event)).toEqual(['file_retry', 'file_retry', 'file_failed']);
    const gaps = tries.slice(1).map((e, i) => Date.parse(e.at) - Date.parse(tries[i].at));
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
    expect(fs.existsSync(svc.layout.receiptsDir(GARAGE) + '/fault.csv.receipt.csv')).toBe(false);
  }, 40_000);

  it('is listed by `files list --status failed` and shown with its attempts and error', async () => {
    const env = envFor(svc);
    const list = await inflowAsync(['files', 'list', '--status', 'failed', '--json'], env);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({ id: file.id, status: 'failed', attempts: 3, error: expect.stringMatching(/EISDIR/) }),
    ]);
    const table = await inflowAsync(['files', 'list', '--status', 'failed'], env);
    expect(table.stdout).toMatch(new RegExp(`${file.id}.*failed.*\\b3\\b.*fault\\.csv.*EISDIR`));
    const show = await inflowAsync(['files', 'show', file.id], env);
    expect(show.stdout).toMatch(/attempts\s+3/);
    expect(show.stdout).toMatch(/error\s+.*EISDIR/);
    expect((await inflowAsync(['files', 'list', '--status', 'broken'], env)).code).toBe(1);
  });

  it('is processed by `inflow replay --failed` once the fault is gone, with a summary table', async () => {
    repair();
    const r = await inflowAsync(['replay', '--failed'], envFor(svc));
    expect(r.stderr).toContain(`${file.id} fault.csv: re-queued (retried)`);
    expect(r.stderr).toContain(`${file.id} done PARTIAL`);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+STATUS\s+RESULT\s+RECORDS\s+ACCEPTED\s+REJECTED\s+ANOMALIES\s+ATTEMPTS/);
    expect(r.stdout).toMatch(new RegExp(`${file.id}\\s+done\\s+PARTIAL\\s+3\\s+2\\s+1\\s+0\\s+4\\s+fault\\.csv`));
    const receipt = parseReceipt(await waitForReceipt(client, 'fault.csv.receipt.csv'));
    expect(receipt).toMatchObject({ status: 'PARTIAL', records: 3, accepted: 2, rejected: 1 });
    expect(await svc.store.readings.forFile(file.pk)).toHaveLength(2);
    expect(await auditEvents(svc)).toContainEqual(
      expect.objectContaining({ event: 'admin', action: 'replay', file: file.id, from: 'failed' }),
    );
    expect(await svc.queue.queue.getJobState(file.id)).toBe('completed');
    expect((await inflowAsync(['replay', '--failed'], envFor(svc))).stdout).toContain('no failed files');
  }, 40_000);

  it('replayed again when done: same readings, same error numbers, the receipt rewritten', async () => {
    const before = {
      readings: await svc.store.readings.forFile(file.pk),
      issues: await svc.store.issues.forFile(file.pk),
      row: (await svc.store.files.get(file.pk))!,
    };
    const receiptBefore = fs.readFileSync(svc.layout.filesPath(before.row.receiptPath!), 'utf8');
    const r = await inflowAsync(['replay', file.id, '--json'], envFor(svc));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ id: file.id, status: 'done', result: 'PARTIAL', attempts: 5 })]);
    expect(await svc.store.readings.forFile(file.pk)).toEqual(before.readings);
    expect(await svc.store.issues.forFile(file.pk)).toEqual(before.issues);
    const after = (await svc.store.files.get(file.pk))!;
    expect(after.processedAt! > before.row.processedAt!).toBe(true);
    const receiptAfter = fs.readFileSync(svc.layout.filesPath(after.receiptPath!), 'utf8');
    expect(receiptAfter).not.toBe(receiptBefore); // the processed time
    const strip = (t: string) => {
      const p = parseReceipt(t);
      return { ...p, processed: '' };
    };
    expect(strip(receiptAfter)).toEqual(strip(receiptBefore));
    expect((await inflowAsync(['replay', 'F999999'], envFor(svc))).code).toBe(1);
    expect((await inflowAsync(['replay'], envFor(svc))).code).toBe(1);
  }, 40_000);
});

describe('inflow files abandon', () => {
  it('closes a file that cannot be processed with a REJECTED receipt (F08) and removes its job', async () => {
    await stopWorker();
    const file = await put(csvBatch(GARAGE, [{ vin: vin(10) }], { trailer: true }), 'hopeless.csv');
    breakFile(file);
    await startWorker();
    await waitFor('the file to fail', async () => (await statusOf(file.pk)) === 'failed', 30_000);

    const r = await inflowAsync(['files', 'abandon', file.id], envFor(svc));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`${file.id}: abandoned, REJECTED with F08`);
    const receipt = parseReceipt(await download(client, '/receipts/hopeless.csv.receipt.csv'));
    expect(receipt.status).toBe('REJECTED');
    expect(receipt.issues).toEqual([expect.objectContaining({ code: 'F08', severity: 'F', errorNumber: '', correctable: 'N', line: 0 })]);
    expect(receipt.issues[0].message).not.toMatch(/EISDIR|\//); // no internal error text for the sender
    expect(await svc.store.files.get(file.pk)).toMatchObject({ status: 'done', result: 'REJECTED' });
    expect(await svc.queue.queue.getJob(file.id)).toBeUndefined();
    expect(await auditEvents(svc)).toContainEqual(
      expect.objectContaining({
        event: 'admin',
        action: 'files abandon',
        file: file.id,
        outcome: 'rejected',
        lastError: expect.stringMatching(/EISDIR/),
      }),
    );
    const again = await inflowAsync(['files', 'abandon', file.id], envFor(svc));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is done/);
  }, 40_000);

  it('takes out what an interrupted attempt stored, corrections included', async () => {
    // File A flags a roll-back (A40); file B corrects it, which supersedes A's reading. Then B is made to look
    // like a file whose processing stopped half way and kept failing, and is abandoned.
    const a = await put(
      csvBatch(
        GARAGE,
        [
          { vin: vin(20), date: daysAgo(4), odometer: 50000 },
          { vin: vin(20), date: daysAgo(3), odometer: 40000 },
        ],
        { trailer: true },
      ),
      'a.csv',
    );
    await waitFor('A', async () => (await statusOf(a.pk)) === 'done', 20_000);
    const flagged = (await svc.store.issues.forFile(a.pk)).find((i) => i.code === 'A40')!;
    const number = parseReceipt(await download(client, '/receipts/a.csv.receipt.csv')).issues.find((i) => i.code === 'A40')!.errorNumber;
    const b = await put(
      csvBatch(GARAGE, [{ vin: vin(20), date: daysAgo(3), odometer: 50100, corrects: number }, { vin: vin(21) }], { trailer: true }),
      'b.csv',
    );
    await waitFor('B', async () => (await statusOf(b.pk)) === 'done', 20_000);
    const statuses = async () => (await svc.store.readings.timeline(vin(20))).map((r) => `${r.odometer}:${r.status}`);
    expect(await statuses()).toEqual(['50000:ok', '40000:superseded', '50100:corrected']);
    expect((await svc.store.issues.get(flagged.id))!.corrected).toBe(true);
    // No way through the store to make a finished file look unfinished: the database file itself is edited.
    const db = new Database(svc.layout.db);
    db.prepare(
      `UPDATE files SET status = 'failed', result = NULL, processed_at = NULL, receipt_path = NULL, error = 'disk on fire' WHERE id = ?`,
    ).run(b.pk);
    db.close();

    const r = await inflowAsync(['files', 'abandon', b.id], envFor(svc));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('removed 2 readings');
    expect(await statuses()).toEqual(['50000:ok', '40000:flagged']);
    expect((await svc.store.issues.get(flagged.id))!.corrected).toBe(false);
    expect(await svc.store.readings.forFile(b.pk)).toEqual([]);
    expect((await svc.store.issues.forFile(b.pk)).map((i) => i.code)).toEqual(['F08']);
  }, 40_000);
});

describe('the reconciler', () => {
  it('queues again a queued file whose job is gone, and a processing one whose job is gone', async () => {
    await stopWorker();
    const q = await put(csvBatch(GARAGE, [{ vin: vin(30) }], { trailer: true }), 'lost-queued.csv');
    const p = await put(csvBatch(GARAGE, [{ vin: vin(31) }], { trailer: true }), 'lost-processing.csv');
    await svc.queue.queue.remove(q.id);
    await svc.queue.queue.remove(p.id);
    await svc.store.files.startAttempt(p.pk); // as if a worker had started it, then Redis lost the job
    expect(await svc.queue.queue.getJob(q.id)).toBeUndefined();
    await startWorker();
    await waitFor('both files done', async () => (await statusOf(q.pk)) === 'done' && (await statusOf(p.pk)) === 'done', 30_000);
    const requeued = (await auditEvents(svc)).filter((e) => e.event === 'requeued').map((e) => e.file);
    expect(requeued).toEqual(expect.arrayContaining([q.id, p.id]));
    expect(filePkOf(q.id)).toBe(q.pk);
  }, 40_000);

  it('marks failed, with the reason, a file whose job failed outside a worker (e.g. stalled too often)', async () => {
    await stopWorker();
    const f = await put(csvBatch(GARAGE, [{ vin: vin(40) }], { trailer: true }), 'stalled-out.csv');
    // Take the job the way a worker does, then fail it without the pipeline knowing (BullMQ's stalled check does this).
    const connection = redisConnection(svc.redisUrl, 'worker');
    const bare = new Worker(QUEUE_NAME, null, { connection, prefix: svc.settings.queuePrefix });
    const job = (await bare.getNextJob('token-1'))!;
    expect(job.id).toBe(f.id);
    await svc.store.files.startAttempt(f.pk);
    await job.moveToFailed(new UnrecoverableError('job stalled more than allowable limit'), 'token-1');
    await bare.close();
    connection.disconnect();
    await waitFor('the reconciler to mark it failed', async () => (await statusOf(f.pk)) === 'failed', 10_000);
    expect((await svc.store.files.get(f.pk))!.error).toBe('job stalled more than allowable limit');
    expect(await auditEvents(svc)).toContainEqual(expect.objectContaining({ event: 'file_failed', file: f.id, by: 'reconciler' }));
    // and `replay` brings it through
    await startWorker();
    const r = await inflowAsync(['replay', f.id], envFor(svc));
    expect(r.code).toBe(0);
    expect(await svc.store.files.get(f.pk)).toMatchObject({ status: 'done', result: 'ACCEPTED' });
  }, 40_000);
});
