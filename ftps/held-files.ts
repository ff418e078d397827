/**
 * Held files (docs/ftps.md): a `.part`, `.tmp` or dot name waits in its account's drop zone, unprocessed, until it
 * is renamed. Held files may not pile up: their bytes count against a quota per account (`heldBytesPerAccount`, 552
 * beyond), and one whose last write is older than `heldFileMaxAgeMs` is deleted, as is the temporary file of an
 * upload that a crash left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Settings } from '../config/defaults';
import type { AuditLog } from '../store/audit-log';

export { isHeldName, INCOMING } from '../intake/file-names';
import { INCOMING } from '../intake/file-names';

/** Each held file counts at least this much against the quota: an empty file still takes an inode and a block. */
const MIN_CHARGE = 4096;

/** How often expired files are looked for, at most: a held file lives at most this much past its time. */
const SWEEP_EVERY_MS = 15 * 60_000;

export class HeldQuotaError extends Error {
  readonly code = 'HELD_QUOTA';
  /** 552: exceeded storage allocation (RFC 959). */
  readonly replyCode = 552;
  constructor(quota: number) {
    super(`Held files (.part, .tmp, dot names) of this account would exceed ${quota} bytes: rename or delete them first`);
  }
}

export class HeldFiles {
  private readonly queues = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly opts: {
      dropRoot: string;
      audit: AuditLog;
      settings: Pick<Settings, 'heldFileMaxAgeMs' | 'heldBytesPerAccount'>;
    },
  ) {}

  /** heldBytes: what the held files of a drop zone count against its quota, leaving out `except` (about to be replaced). */
  async heldBytes(dropDir: string, except?: string): Promise<number> {
    let total = 0;
    for (const name of await readdirOrNone(dropDir)) {
      if (name === INCOMING || name === except) continue;
      const st = await fs.promises.lstat(path.join(dropDir, name)).catch(() => null);
      if (st?.isFile()) total += Math.max(st.size, MIN_CHARGE);
    }
    return total;
  }

  /** assertRoom refuses a held upload before its first byte when the drop zone's held files fill the quota already. */
  async assertRoom(dropDir: string): Promise<void> {
    const quota = this.opts.settings.heldBytesPerAccount;
    if (quota > 0 && (await this.heldBytes(dropDir)) >= quota) throw new HeldQuotaError(quota);
  }

  /**
   * hold moves a finished upload into its drop zone under its held name; HeldQuotaError when that takes the held
   * files over the quota (the upload's stream then discards it). One drop zone's holds and expiries run one at a time.
   */
  hold(dropDir: string, name: string, tempPath: string, size: number): Promise<void> {
    return this.inTurn(dropDir, async () => {
      const quota = this.opts.settings.heldBytesPerAccount;
      if (quota > 0 && (await this.heldBytes(dropDir, name)) + Math.max(size, MIN_CHARGE) > quota) throw new HeldQuotaError(quota);
      await fs.promises.rename(tempPath, path.join(dropDir, name));
    });
  }

  /** sweep deletes held files, and temporary files of uploads, whose last write is older than the maximum age. */
  async sweep(now = Date.now()): Promise<void> {
    const maxAge = this.opts.settings.heldFileMaxAgeMs;
    for (const account of await readdirOrNone(this.opts.dropRoot)) {
      const dropDir = path.join(this.opts.dropRoot, account);
      await this.inTurn(dropDir, async () => {
        const held = (await readdirOrNone(dropDir)).filter((n) => n !== INCOMING).map((name) => ({ file: path.join(dropDir, name), name }));
        const unfinished = (await readdirOrNone(path.join(dropDir, INCOMING))).map((n) => ({
          file: path.join(dropDir, INCOMING, n),
          name: null,
        }));
        for (const { file, name } of [...held, ...unfinished]) {
          const st = await fs.promises.lstat(file).catch(() => null);
          if (!st?.isFile() || now - st.mtimeMs <= maxAge) continue;
          await fs.promises.rm(file, { force: true });
          const what = name === null ? { upload: 'unfinished' } : { name };
          this.opts.audit.write('held_expired', { account, ...what, size: st.size, lastWrite: st.mtime.toISOString() });
        }
      });
    }
  }

  /** start sweeps now and then every quarter of the maximum age (at most every 15 minutes); 0 never expires. */
  start(): void {
    const maxAge = this.opts.settings.heldFileMaxAgeMs;
    if (maxAge <= 0 || this.timer) return;
    let running = false;
    const sweep = () => {
      if (running) return; // a sweep of many drop zones may outlast the period
      running = true;
      void this.sweep()
        .catch((err: Error) => process.stderr.write(`held files: sweep failed: ${err.message}\n`))
        .finally(() => (running = false));
    };
    this.timer = setInterval(sweep, Math.max(100, Math.min(SWEEP_EVERY_MS, maxAge / 4)));
    this.timer.unref();
    sweep();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** inTurn runs `fn` after whatever runs for the same drop zone. */
  private inTurn<T>(dropDir: string, fn: () => Promise<T>): Promise<T> {
    const next = (this.queues.get(dropDir) ?? Promise.resolve()).then(fn, fn);
    const settled = next.catch(() => {});
    this.queues.set(dropDir, settled);
    void settled.then(() => this.queues.get(dropDir) === settled && this.queues.delete(dropDir));
    return next;
  }
}

async function readdirOrNone(dir: string): Promise<string[]> {
  return fs.promises.readdir(dir).catch(() => []);
}
