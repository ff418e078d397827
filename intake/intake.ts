/**
 * Upload intake, protocol-neutral: a completed upload leaves the jail for the store, is recorded `received`
 * (durably), and is queued. This is the one upload-finished point; the FTPS handler and any other front end
 * call it.
 *
 * It never waits for the database inside a call (the service opens its store with `lockWaitMs`): when another
 * writer holds the database past that wait, takeIn fails with the store's StoreBusyError (transient) and the file
 * goes back where it came from, so nothing of an upload that was not recorded stays in the store.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Settings } from '../config/defaults';
import { PRIVATE_DIR_MODE, storedName, type DataLayout } from '../config/layout';
import type { Store, Account, FileRecord } from '../store';
import type { AuditLog } from '../store/audit-log';
import { enqueueFile, type FileQueue } from '../jobs/queue';

/**
 * The longest name a file is taken in under, in bytes (UTF-8). A file system allows 255 bytes per name, and the
 * receipt adds to it: `<name>.receipt.csv` is written as `.<name>.receipt.csv.<pid>.<ms>.tmp` first, 39 bytes more
 * (receipts/atomic-write.ts). A held upload's `.part` or `.tmp` ending is not counted (5 bytes more).
 */
export const MAX_NAME_BYTES = 200;

export class Intake {
  constructor(private readonly deps: { store: Store; queue: FileQueue; layout: DataLayout; settings: Settings; audit: AuditLog }) {
    fs.mkdirSync(deps.layout.storeDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  }

  /**
   * takeIn moves the finished upload at `src` into the store and records it; resolves once that is durable.
   * Queueing is attempted too, but a Redis outage does not fail the upload: the reconciler queues it later.
   */
  async takeIn(account: Account, name: string, src: string, size: number, sha256: string, ip?: string): Promise<FileRecord> {
    const { store, layout, audit } = this.deps;
    const storedPath = path.join(layout.storeDir, storedName());
    await fs.promises.rename(src, storedPath);
    let file: FileRecord;
    try {
      await fsyncDir(layout.storeDir);
      // A test's way to die here, as a crash would (test/ops-recovery.test.ts); stored-orphans.ts cleans up after it.
      if (process.env.INFLOW_TEST_DIE_AFTER_STORE_MOVE === name) process.kill(process.pid, 'SIGKILL');
      file = await store.files.receive({
        accountId: account.id,
        name,
        storedPath: layout.recordedPath(storedPath),
        size,
        sha256,
        receivedAt: new Date().toISOString(),
      });
    } catch (err) {
      // Not recorded, so not taken in: the file leaves the store again (a stored file always has its row).
      await fs.promises.rename(storedPath, src).catch(() => fs.promises.rm(storedPath, { force: true }));
      throw err;
    }
    audit.write('upload', { account: account.establishment, ip, name, file: file.id, size, sha256 });
    try {
      await enqueueFile(this.deps.queue, file, this.deps.settings, 3000);
      await store.files.markQueued(file.pk);
    } catch (err) {
      process.stderr.write(`intake: ${file.id} stays received, not queued: ${(err as Error).message}\n`);
    }
    // Taken in: from here on nothing may fail the upload.
    return (await store.files.get(file.pk).catch(() => null)) ?? file;
  }

  /**
   * takeInExisting is takeIn for a file already on disk (a held upload renamed to its final name). `src` must be out
   * of every client's reach: what is hashed here is what is stored.
   */
  async takeInExisting(account: Account, name: string, src: string, ip?: string): Promise<FileRecord> {
    const { size, sha256 } = await hashFile(src);
    return this.takeIn(account, name, src, size, sha256, ip);
  }
}

/** hashFile streams a file through SHA-256. */
export async function hashFile(file: string): Promise<{ size: number; sha256: string }> {
  const hash = crypto.createHash('sha256');
  let size = 0;
  for await (const chunk of fs.createReadStream(file)) {
    size += (chunk as Buffer).length;
    hash.update(chunk as Buffer);
  }
  return { size, sha256: hash.digest('hex') };
}

/** fsyncDir makes a rename into `dir` durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fs.promises.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
