/**
 * Dev tool: runs the processing pipeline in-process on a generated preload and nightly file, without FTPS or
 * Redis, and prints the time per file and where it went (scan, store, receipt: from the audit log) — for profiling
 * (`node --cpu-prof dist/scripts/profile-pipeline.js`). The files are those of `npm run bench`: preload, nightly,
 * then the nightly XML (a fifth of the size).
 * Usage: profile-pipeline [--records N] [--keep] [--database-url postgres://…] (an empty database: PostgreSQL instead of SQLite)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveSettings } from '../config/defaults';
import { dataLayout } from '../config/layout';
import { openStore } from '../store';
import { AuditLog } from '../store/audit-log';
import { processFile } from '../pipeline/process-file';
import { daysAgo, writeBatch } from './bench-data';

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const records = Number(args[args.indexOf('--records') + 1] ?? 0) || 200_000;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-prof-'));
  const databaseUrl = args.includes('--database-url') ? args[args.indexOf('--database-url') + 1] : undefined;
  const settings = resolveSettings({ dataDir: dir, databaseUrl });
  const layout = dataLayout(dir);
  const store = await openStore({ sqlite: layout.db, databaseUrl });
  const audit = new AuditLog(store.audit);
  const ctx = { store, layout, settings, audit };
  const account = await store.accounts.add({ establishment: '2123456692', name: 'Prof', role: 'garage', passwordHash: 'x' });
  const vehicles = records / 2;
  const sets = [
    { name: 'preload', from: 0, to: vehicles, dates: [daysAgo(4), daysAgo(3)], firstStep: 0 },
    { name: 'nightly', from: 0, to: vehicles, dates: [daysAgo(2), daysAgo(1)], firstStep: 2 },
    { name: 'nightly-xml', from: 0, to: Math.round(vehicles / 5), dates: [daysAgo(1), daysAgo(1)], firstStep: 4, xml: true },
  ];
  for (const d of sets) {
    const file = path.join(dir, d.name + (d.xml ? '.xml' : '.csv'));
    const written = await writeBatch(d, d.xml ? 'xml' : 'csv', '2123456692', file);
    const sha = '0'.repeat(64) + d.name;
    const row = await store.files.receive({
      accountId: account.id,
      name: d.name,
      storedPath: file,
      size: fs.statSync(file).size,
      sha256: sha,
      receivedAt: new Date().toISOString(),
    });
    const t0 = process.hrtime.bigint();
    const done = await processFile(ctx, row.pk);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    const rss = Math.round(process.memoryUsage().rss / 1e6);
    await audit.flush();
    const ms = (await store.audit.list({ event: 'receipt' })).filter((e) => e.fields.name === d.name).pop()?.fields.ms;
    process.stdout.write(
      `${d.name}: ${done.result} ${done.records} records in ${s.toFixed(2)} s = ${Math.round(written.records / s)} records/s, rss ${rss} MB, ms ${JSON.stringify(ms)}\n`,
    );
  }
  await audit.close();
  await store.close();
  if (!args.includes('--keep')) fs.rmSync(dir, { recursive: true, force: true });
  else process.stdout.write(`kept ${dir}\n`);
}

void main();
