/**
 * The reference a fleet's run is compared with: the same files processed one after the other, in the given order,
 * by one in-process pipeline on a SQLite store in a temp directory.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveSettings } from '../../config/defaults';
import { dataLayout } from '../../config/layout';
import { openStore } from '../../store';
import { AuditLog } from '../../store/audit-log';
import { processFile, type PipelineContext } from '../../pipeline/process-file';
import { dumpStore, type StoreDump } from './store-dump';

export interface ReferenceFile {
  account: string;
  name: string;
  text: string;
  /** As the fleet received it: late reporting (W50) and future dates (E17) are judged against it. */
  receivedAt: string;
}

/** referenceRun processes `files` in order, one at a time, and dumps the store. */
export async function referenceRun(accounts: string[], files: ReferenceFile[]): Promise<StoreDump> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-reference-'));
  const layout = dataLayout(dir);
  const store = await openStore({ sqlite: layout.db });
  const audit = new AuditLog(store.audit);
  try {
    const ctx: PipelineContext = { store, layout, settings: resolveSettings({ dataDir: dir }, {}), audit };
    const ids = new Map<string, number>();
    for (const a of accounts) ids.set(a, (await store.accounts.add({ establishment: a, name: a, role: 'garage', passwordHash: 'x' })).id);
    for (const [n, f] of files.entries()) {
      const storedPath = path.join(dir, `stored-${n}`);
      fs.writeFileSync(storedPath, f.text);
      const rec = await store.files.receive({
        accountId: ids.get(f.account)!,
        name: f.name,
        storedPath,
        size: Buffer.byteLength(f.text),
        sha256: `reference-${n}`,
        receivedAt: f.receivedAt,
      });
      await processFile(ctx, rec.pk);
    }
    return await dumpStore(store);
  } finally {
    await audit.close();
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
