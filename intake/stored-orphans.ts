/**
 * Stored files without their row. takeIn moves an upload into the store before it records it, and moves it back
 * when recording fails; a front that dies in between (kill -9, power) leaves the file in the store with no row.
 * Its client got no 226, so it sends the file again: the left file is removed, and audited.
 *
 * A live front has a file in the store unrecorded for at most its wait for the database (`intakeDbWaitMs`) and an
 * fsync, so only files whose last change is older than that and a margin are looked at: at start-up, and once more
 * that grace later for the files that were too recent then.
 *
 * Several fronts may share the store (docs/deployment.md). A stored name carries the host that made it
 * (config/layout.ts): the files of this host's fronts are judged as above; another host's (and names from before
 * host marks) only after FOREIGN_GRACE_MS, far beyond any clock skew between hosts or attribute caching of a
 * network file system, so that a file another front has just stored and not yet recorded is never taken. Ages are
 * measured by the clock that stamps the files (on NFS the server's, not this host's): "now" is the change time of a
 * file this sweep has just written beside them.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Settings } from '../config/defaults';
import { HOST_MARK, PRIVATE_FILE_MODE, storedByHost, type DataLayout } from '../config/layout';
import type { Store } from '../store';
import type { AuditLog } from '../store/audit-log';

/** Added to the intake's wait for the database: an fsync, a slow disk. */
const GRACE_MARGIN_MS = 10_000;
/** How old another host's stored file must be before it may count as an orphan. */
export const FOREIGN_GRACE_MS = 60 * 60_000;

interface Deps {
  store: Store;
  layout: DataLayout;
  settings: Pick<Settings, 'intakeDbWaitMs'>;
  audit: AuditLog;
}

/** orphanGraceMs: how long a stored file may be without its row before it counts as left by a dead front. */
export function orphanGraceMs(settings: Pick<Settings, 'intakeDbWaitMs'>): number {
  return settings.intakeDbWaitMs + GRACE_MARGIN_MS;
}

/** fileSystemNow: the time the file system of `dir` stamps a change with now (its server's clock on NFS). */
async function fileSystemNow(dir: string): Promise<number> {
  const probe = path.join(dir, `.clock-${HOST_MARK}-${process.pid}`);
  try {
    await fs.promises.writeFile(probe, '', { mode: PRIVATE_FILE_MODE });
    return (await fs.promises.stat(probe)).ctimeMs;
  } catch {
    return Date.now(); // no store yet: nothing to sweep either
  } finally {
    await fs.promises.rm(probe, { force: true });
  }
}

/**
 * removeStoredOrphans removes the store's files that no row records and that changed before the grace; returns
 * their names. `now` (for tests) stands for the file system's present time.
 */
export async function removeStoredOrphans(deps: Deps, now?: number): Promise<string[]> {
  const { store, layout, audit } = deps;
  now ??= await fileSystemNow(layout.storeDir);
  const old: { file: string; recorded: string; size: number; changed: Date }[] = [];
  for (const name of await fs.promises.readdir(layout.storeDir).catch(() => [])) {
    if (name.startsWith('.')) continue; // a sweep's clock probe
    const file = path.join(layout.storeDir, name);
    const grace = storedByHost(name) === HOST_MARK ? orphanGraceMs(deps.settings) : FOREIGN_GRACE_MS;
    const st = await fs.promises.stat(file).catch(() => null);
    // ctime: a rename into the store changes it, while mtime keeps the upload's last write.
    if (st?.isFile() && st.ctimeMs < now - grace) old.push({ file, recorded: layout.recordedPath(file), size: st.size, changed: st.ctime });
  }
  // A row records the path relative to the files directory, or (made before files directories) absolute.
  const unrecorded = new Set(await store.files.unrecorded(old.flatMap((o) => [o.file, o.recorded])));
  const removed: string[] = [];
  for (const o of old.filter((x) => unrecorded.has(x.file) && unrecorded.has(x.recorded))) {
    await fs.promises.rm(o.file, { force: true });
    audit.write('orphan_removed', { stored: path.basename(o.file), size: o.size, changed: o.changed.toISOString() });
    removed.push(path.basename(o.file));
  }
  return removed;
}

/** startOrphanSweep runs removeStoredOrphans now and once more after the grace; stop() cancels the second pass. */
export function startOrphanSweep(deps: Deps): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const sweep = () => {
    running = removeStoredOrphans(deps).catch((err) => process.stderr.write(`stored files: ${(err as Error).message}\n`));
  };
  sweep();
  const later = setTimeout(sweep, orphanGraceMs(deps.settings));
  later.unref();
  return {
    stop: async () => {
      clearTimeout(later);
      await running; // a pass in flight must not use the store after it is closed
    },
  };
}
