/**
 * The real pipeline (processFile, its reader thread from dist/) on both backends: the fixture files and a few
 * files with anomalies, a plate looked up in the register and a correction, processed in the same order, give the
 * same receipts on PostgreSQL as on SQLite (the same results, issues and error numbers; times aside).
 */
import fs from 'node:fs';
import path from 'node:path';
import { resolveSettings } from '../config/defaults';
import { dataLayout } from '../config/layout';
import { AuditLog } from '../store/audit-log';
import { processFile } from '../pipeline/process-file';
import { formatErrorNumber } from '../rules/error-number';
import { csvBatch, daysAgo } from './helpers/batch';
import { openTestStore, type Backend } from './helpers/stores';

const SENDER = '2123456692';
const FIXTURES = path.join(__dirname, '..', 'fixtures');
const V1 = 'WVWZZZ1JZXW000101';
const V2 = 'WVWZZZ1JZXW000102';

/** Receipts as they compare: every timestamp and the data directory taken out. */
const normalised = (text: string, dir: string) =>
  text.replaceAll(dir, '<dir>').replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)/g, '<time>');

async function receiptsOn(backend: Backend): Promise<{ name: string; result: string | null; receipt: string }[]> {
  const t = await openTestStore(backend);
  try {
    const { store, dir } = t;
    const layout = dataLayout(dir);
    const ctx = {
      store,
      layout,
      settings: resolveSettings({ dataDir: dir, databaseUrl: t.databaseUrl ?? undefined }, {}),
      audit: new AuditLog(store.audit),
    };
    const accountId = (await store.accounts.add({ establishment: SENDER, name: 'Garage', role: 'garage', passwordHash: 'x' })).id;
    await store.vehicles.upsertMany([{ vin: V2, plate: '1-XYZ-987', firstRegistration: '2020-01-01', imported: false, digits: null }]);
    const out: { name: string; result: string | null; receipt: string }[] = [];
    const send = async (name: string, content: Buffer | string) => {
      const storedPath = path.join(dir, `${out.length + 1}-${name}`);
      fs.writeFileSync(storedPath, content);
      const f = await store.files.receive({
        accountId,
        name,
        storedPath,
        size: fs.statSync(storedPath).size,
        sha256: `sha-${name}`,
        receivedAt: new Date().toISOString(),
      });
      const done = await processFile(ctx, f.pk);
      out.push({ name, result: done.result, receipt: normalised(fs.readFileSync(layout.filesPath(done.receiptPath!), 'utf8'), dir) });
      return done;
    };
    for (const name of fs
      .readdirSync(FIXTURES)
      .filter((n) => /\.(csv|xml)$/.test(n))
      .sort())
      await send(name, fs.readFileSync(path.join(FIXTURES, name)));
    await send(
      'history.csv',
      csvBatch(
        SENDER,
        [
          { vin: V1, date: daysAgo(20), odometer: 10000 },
          { vin: V2, date: daysAgo(20), odometer: 50000 },
          { vin: V1, date: daysAgo(10), odometer: 9000 },
          { plate: '1-XYZ-987', date: daysAgo(10), odometer: 52000 },
        ],
        { trailer: true },
      ),
    );
    const flagged = await send('decrease.csv', csvBatch(SENDER, [{ vin: V1, date: daysAgo(5), odometer: 500 }], { trailer: true }));
    const a = (await store.issues.forFile(flagged.pk)).find((i) => i.severity === 'A')!;
    await send(
      'correction.csv',
      csvBatch(SENDER, [{ vin: V1, date: daysAgo(5), odometer: 10500, corrects: formatErrorNumber(a.id) }], { trailer: true }),
    );
    return out;
  } finally {
    await t.dispose();
  }
}

it('gives the same receipts on PostgreSQL as on SQLite', async () => {
  const sqlite = await receiptsOn('sqlite');
  const postgres = await receiptsOn('postgres');
  expect(sqlite.length).toBeGreaterThan(30);
  expect(sqlite.map((r) => r.result)).toContain('PARTIAL');
  expect(sqlite.at(-1)!.result).toBe('ACCEPTED'); // the correction is taken
  expect(postgres).toEqual(sqlite);
}, 180_000);
