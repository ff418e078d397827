/**
 * Giving up on a file (`inflow files abandon <id>`): a file whose processing keeps failing still ends with a
 * receipt. Its job leaves BullMQ, whatever an earlier attempt stored is taken out again (an F issue means nothing
 * of the file is stored), and it is closed as REJECTED with F08. The sender may simply send it again.
 *
 * A file that already had a result before (a replay of a processed file that then kept failing) keeps that result
 * and its receipt: abandoning only ends the replay.
 */
import fs from 'node:fs';
import type { DataLayout } from '../config/layout';
import type { Store, FileRecord } from '../store';
import type { AuditLog } from '../store/audit-log';
import { removeJob, type FileQueue } from './queue';
import { writeReceipt } from '../pipeline/write-receipt';
import { removeSpools } from '../pipeline/spool';

export class AbandonRefusedError extends Error {
  readonly code = 'ABANDON_REFUSED';
}

export interface AbandonResult {
  file: FileRecord;
  /** 'rejected': closed with F08 and a new receipt; 'kept': an earlier result and receipt stand. */
  outcome: 'rejected' | 'kept';
  /** Readings and issues an earlier attempt had stored, now removed. */
  discarded: { readings: number; issues: number };
}

/** The receipt text of F08: no internal error (paths, stack) reaches the sender. */
export function abandonMessage(attempts: number): string {
  return `The file could not be processed (${attempts} attempt${attempts === 1 ? '' : 's'}) and was abandoned by an administrator: nothing of it is stored. Send it again, or contact the registry.`;
}

/** abandonFile closes a file that is not done; throws AbandonRefusedError when it is done or being processed now. */
export async function abandonFile(
  deps: { store: Store; queue: FileQueue; layout: DataLayout; audit: AuditLog },
  filePk: number,
  by = 'admin',
): Promise<AbandonResult> {
  const { store, queue, layout, audit } = deps;
  const before = await store.files.get(filePk);
  if (!before) throw new AbandonRefusedError(`no file ${filePk}`);
  if (before.status === 'done') throw new AbandonRefusedError(`file ${before.id} is done (${before.result}): it has its receipt`);
  if (!(await removeJob(queue, before.id))) {
    throw new AbandonRefusedError(
      `file ${before.id} is being processed by a worker right now: wait for it to fail, or stop that worker first`,
    );
  }

  const hadResult = before.result !== null && before.receiptPath !== null && fs.existsSync(layout.filesPath(before.receiptPath));
  if (hadResult) {
    await store.files.markDone(filePk, before.receiptPath!);
    audit.write('admin', { action: 'files abandon', by, file: before.id, outcome: 'kept', result: before.result, lastError: before.error });
    return { file: (await store.files.get(filePk))!, outcome: 'kept', discarded: { readings: 0, issues: 0 } };
  }

  removeSpools(layout.spoolDir, before.id); // left by an attempt whose worker was killed
  const discarded = await store.files.abandon(filePk, { message: abandonMessage(before.attempts), processedAt: new Date().toISOString() });
  const finished = (await store.files.get(filePk))!;
  const receiptPath = await writeReceipt(store, layout, finished);
  await store.files.markDone(filePk, layout.recordedPath(receiptPath));
  audit.write('admin', {
    action: 'files abandon',
    by,
    file: finished.id,
    outcome: 'rejected',
    attempts: before.attempts,
    lastError: before.error,
    discardedReadings: discarded.readings,
    discardedIssues: discarded.issues,
  });
  audit.write('receipt', {
    pid: process.pid,
    file: finished.id,
    account: finished.account,
    name: finished.name,
    status: 'REJECTED',
    path: receiptPath,
  });
  return { file: (await store.files.get(filePk))!, outcome: 'rejected', discarded };
}
