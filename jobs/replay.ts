/**
 * Replay (`inflow replay`): put files back through the pipeline and follow them to the end.
 *
 * Idempotent by construction: the pipeline resumes after the file's last committed batch, readings are keyed by
 * file and record, error numbers by file, record, code and field, so a replay never stores a reading twice nor
 * numbers a problem twice. A file already done is run again too: its file-level checks decide afresh and its
 * receipt is rewritten with the final result.
 */
import type { Settings } from '../config/defaults';
import type { Store, FileRecord } from '../store';
import type { AuditLog } from '../store/audit-log';
import { requeueJob, type FileQueue, type RequeueAction } from './queue';

export interface ReplayStart {
  file: FileRecord;
  /** What was done to the job (see requeueJob). */
  action: RequeueAction;
}

/** requeueFiles re-queues each file (store first, then its job) and writes one audit line per file. */
export async function requeueFiles(
  deps: { store: Store; queue: FileQueue; settings: Settings; audit: AuditLog },
  pks: number[],
  by = 'admin',
): Promise<ReplayStart[]> {
  const { store, queue, settings, audit } = deps;
  const out: ReplayStart[] = [];
  for (const pk of pks) {
    const before = await store.files.get(pk);
    if (!before) throw new Error(`no file ${pk}`);
    // A file being processed keeps its state: its job is active (or, if its worker died, taken back by BullMQ).
    await store.files.requeue(pk);
    const action = await requeueJob(queue, before, settings);
    audit.write('admin', { action: 'replay', by, file: before.id, from: before.status, job: action });
    out.push({ file: (await store.files.get(pk))!, action });
  }
  return out;
}

export interface FollowOptions {
  /** Poll interval, ms. @defaultValue 500 */
  intervalMs?: number;
  /** Called after every poll with the files' current rows. */
  onTick?: (files: FileRecord[]) => void;
  /** Resolves to the number of workers connected; following stops when it stays 0 for `noWorkerMs`. */
  workers?: () => Promise<number>;
  /** @defaultValue 15000 */
  noWorkerMs?: number;
}

export interface FollowResult {
  files: FileRecord[];
  /** False when following stopped because no worker was there to process the files. */
  settled: boolean;
}

const settled = (f: FileRecord) => f.status === 'done' || f.status === 'failed';

/** followFiles polls the files table until every file is done or failed (or no worker is running). */
export async function followFiles(store: Store, pks: number[], opts: FollowOptions = {}): Promise<FollowResult> {
  const interval = opts.intervalMs ?? 500;
  let noWorkerSince: number | null = null;
  for (;;) {
    const files = (await Promise.all(pks.map((pk) => store.files.get(pk)))) as FileRecord[];
    opts.onTick?.(files);
    if (files.every(settled)) return { files, settled: true };
    if (opts.workers) {
      const n = await opts.workers().catch(() => 1); // Redis trouble is not "no worker"
      if (n > 0) noWorkerSince = null;
      else if (noWorkerSince === null) noWorkerSince = Date.now();
      else if (Date.now() - noWorkerSince > (opts.noWorkerMs ?? 15_000)) return { files, settled: false };
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
