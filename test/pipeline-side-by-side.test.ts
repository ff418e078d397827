/**
 * Files processed side by side (docs/guarantees.md): each vehicle sees whole files, one after another. Every
 * reading here is dated weeks ago, so each one raises W50 (late) whatever the order, and the issue ids, taken from
 * the store as each batch is stored, tell the order in which a vehicle's readings were stored: per vehicle, one
 * file's issues all come before the other's. The odometers rise with the dates, so no other issue depends on order.
 *
 * Each file is processed by its own pipeline with a store of its own (as two workers would), in one process, in
 * batches of 10 records so that the files' batches interleave; on SQLite and on PostgreSQL.
 */
import fs from 'node:fs';
import path from 'node:path';
import { resolveSettings } from '../config/defaults';
import { dataLayout } from '../config/layout';
import { openStore, type Store } from '../store';
import { BACKENDS, openTestStore, type TestStore } from './helpers/stores';
import { AuditLog } from '../store/audit-log';
import { processFile, type PipelineContext } from '../pipeline/process-file';
import { csvBatch, daysAgo, vin, type R } from './helpers/batch';
import { fileIdOf } from '../model/file-id';

const SENDERS = ['2123456692', '2200000085', '2300000058', '2400000031', '2500000004', '2600000074'];
const BATCH = 10;

let dir: string;
let databaseUrl: string | null;
let testStore: TestStore;
let stores: Store[] = [];
let accounts: Map<string, number>;

describe.each(BACKENDS)('on %s', (backend) => {
  beforeEach(async () => {
    testStore = await openTestStore(backend);
    ({ dir, databaseUrl } = testStore);
    stores = [testStore.store];
    accounts = new Map();
    for (const s of SENDERS)
      accounts.set(s, (await stores[0].accounts.add({ establishment: s, name: s, role: 'garage', passwordHash: 'x' })).id);
  });

  afterEach(async () => {
    for (const s of stores.slice(1)) await s.close();
    await testStore.dispose();
  });

  let received = 0;
  /** receive takes a CSV file of `sender` in (as the intake does); returns its number. */
  async function receive(sender: string, records: R[], opts: { trailer?: boolean | { count: number; sum: number } } = {}): Promise<number> {
    const text = csvBatch(sender, records, { trailer: opts.trailer ?? true });
    const storedPath = path.join(dir, `upload-${++received}.csv`);
    fs.writeFileSync(storedPath, text);
    const f = await stores[0].files.receive({
      accountId: accounts.get(sender)!,
      name: path.basename(storedPath),
      storedPath,
      size: text.length,
      sha256: `sha-${received}`,
      receivedAt: new Date().toISOString(),
    });
    return f.pk;
  }

  /** processSideBySide processes the files at once, each through a pipeline with a store of its own. */
  async function processSideBySide(pks: number[]): Promise<void> {
    const layout = dataLayout(dir);
    await Promise.all(
      pks.map(async (pk) => {
        const store = await openStore({ sqlite: layout.db, databaseUrl });
        stores.push(store);
        const ctx: PipelineContext = {
          store,
          layout,
          settings: resolveSettings({ dataDir: dir, batchSize: BATCH }, {}),
          audit: new AuditLog(store.audit),
        };
        return processFile(ctx, pk);
      }),
    );
  }

  /** storeOrder: per vehicle, the files of its issues in the order they were stored (by issue id), repeats merged. */
  async function storeOrder(pks: number[]): Promise<Map<string, number[]>> {
    const byVin = new Map<string, { id: number; file: number }[]>();
    for (const pk of pks) {
      for (const i of await stores[0].issues.forFile(pk)) {
        if (!i.vin) continue;
        if (!byVin.has(i.vin)) byVin.set(i.vin, []);
        byVin.get(i.vin)!.push({ id: i.id, file: pk });
      }
    }
    const out = new Map<string, number[]>();
    for (const [v, list] of byVin) {
      const files = list.sort((a, b) => a.id - b.id).map((x) => x.file);
      out.set(
        v,
        files.filter((f, k) => k === 0 || files[k - 1] !== f),
      );
    }
    return out;
  }

  /** twice: each vehicle of `vins` in the file's first half, then again in its second half (other batches). */
  function twice(vins: number[], first: { days: number; km: number }, second: { days: number; km: number }): R[] {
    return [
      ...vins.map((n) => ({ vin: vin(n), date: daysAgo(first.days), odometer: first.km })),
      ...vins.map((n) => ({ vin: vin(n), date: daysAgo(second.days), odometer: second.km })),
    ];
  }

  const range = (from: number, n: number) => Array.from({ length: n }, (_, i) => from + i);

  it('stores two files with interleaved readings of the same vehicles one after the other for each vehicle', async () => {
    const vins = range(1000, 400);
    // A: days 40 and 20; B (vehicles in reverse): days 35 and 25. Rising with the date: no anomaly in any order.
    const a = await receive(SENDERS[0], twice(vins, { days: 40, km: 10000 }, { days: 20, km: 13000 }));
    const b = await receive(SENDERS[1], twice([...vins].reverse(), { days: 35, km: 11000 }, { days: 25, km: 12000 }));
    await processSideBySide([a, b]);

    for (const pk of [a, b]) {
      const f = (await stores[0].files.get(pk))!;
      expect([f.status, f.records]).toEqual(['done', 800]);
      const codes = new Set((await stores[0].issues.forFile(pk)).map((i) => i.code));
      expect([...codes]).toEqual(['W50']);
    }
    const order = await storeOrder([a, b]);
    expect(order.size).toBe(400);
    const mixed = [...order].filter(([, files]) => files.length !== 2);
    expect(mixed).toEqual([]);
    expect(await stores[0].readings.count()).toBe(1600);
  }, 60_000);

  it('finishes many files touching overlapping vehicles in different orders, each vehicle seeing whole files', async () => {
    // Six files over 30 shared vehicles, each in an order of its own; file k's readings at days 60-2k and 59-2k.
    const pool = range(300, 30);
    const pks: number[] = [];
    for (let k = 0; k < 6; k++) {
      const mine = pool.map((_, i) => pool[(i * (k + 1) + k * 7) % pool.length]);
      const ordered = [...new Set(mine)].concat(pool.filter((v) => !mine.includes(v)));
      pks.push(
        await receive(
          SENDERS[k],
          twice(ordered, { days: 60 - 2 * k, km: 10000 + 100 * (2 * k + 1) }, { days: 59 - 2 * k, km: 10000 + 100 * (2 * k + 2) }),
        ),
      );
    }
    await processSideBySide(pks);

    for (const pk of pks) expect((await stores[0].files.get(pk))!.status).toBe('done');
    const order = await storeOrder(pks);
    for (const [v, files] of order) {
      // Each file appears once in the vehicle's store order: never a file's readings on both sides of another's.
      expect({ v, files: files.length }).toEqual({ v, files: 6 });
    }
    const ids = (await Promise.all(pks.map((pk) => stores[0].issues.forFile(pk)))).flat().map((i) => i.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(6 * 60);
    expect(await stores[0].readings.count()).toBe(6 * 60);
  }, 120_000);

  it('lets no file see the readings of a file that fails its file-level checks beside it', async () => {
    const vins = range(500, 40);
    // The failing file's readings are far higher: a file that saw them would flag its own (A40, roll-back).
    const bad = await receive(SENDERS[0], twice(vins, { days: 30, km: 900000 }, { days: 29, km: 910000 }), {
      trailer: { count: 1, sum: 1 },
    });
    const good = await receive(SENDERS[1], twice(vins, { days: 20, km: 20000 }, { days: 19, km: 20100 }));
    await processSideBySide([bad, good]);

    expect((await stores[0].files.get(bad))!.result).toBe('REJECTED');
    expect(await stores[0].readings.forFile(bad)).toEqual([]);
    const goodFile = (await stores[0].files.get(good))!;
    expect([goodFile.result, goodFile.anomalies, goodFile.accepted]).toEqual(['ACCEPTED', 0, 80]);
    expect(new Set((await stores[0].issues.forFile(good)).map((i) => i.code))).toEqual(new Set(['W50']));
  }, 60_000);

  describe('a queue worker (yieldAfterMs set)', () => {
    const ctxFor = (store: Store, yieldAfterMs: number): PipelineContext => {
      const layout = dataLayout(dir);
      return {
        store,
        layout,
        settings: resolveSettings({ dataDir: dir, batchSize: BATCH }, {}),
        audit: new AuditLog(store.audit),
        yieldAfterMs,
      };
    };
    /** holdVehicle: `pk` stores a reading of `vin` and stays in flight (not closed), as a file being processed does. */
    const holdVehicle = (pk: number, v: string) =>
      stores[0].storeBatch(
        { filePk: pk, sender: SENDERS[0], lastLine: 2, lookups: () => ({ vins: [v], plates: [], issueIds: [] }) },
        (_view, w) =>
          w.addReading({
            line: 2,
            reading: {
              vin: v,
              plate: null,
              date: daysAgo(30),
              odometer: 5000,
              unit: 'km',
              km: 5000,
              work: 'MAINT',
              replaced: false,
              digits: null,
              ref: null,
              corrects: null,
            },
            vin: v,
            plate: null,
            status: 'ok',
            corrects: null,
          }),
      );

    it('gives its slot back when its file waits longer than yieldAfterMs for a file in flight', async () => {
      const older = await receive(SENDERS[0], [{ vin: vin(700), date: daysAgo(30), odometer: 5000 }]);
      const younger = await receive(SENDERS[1], [{ vin: vin(700), date: daysAgo(20), odometer: 6000 }]);
      expect(await holdVehicle(older, vin(700))).toEqual({ blockedBy: [] });
      const t0 = Date.now();
      await expect(processFile(ctxFor(stores[0], 300), younger)).rejects.toMatchObject({ code: 'WAIT_FOR_FILES', blockedBy: [older] });
      expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
      expect((await stores[0].files.get(younger))!.progressLine).toBe(0);
    });

    it('releases what its file stored when an older file in flight holds a vehicle it meets', async () => {
      const older = await receive(SENDERS[0], [{ vin: vin(800), date: daysAgo(30), odometer: 5000 }]);
      // Five batches of vehicles of its own first (stored), then the older file's vehicle.
      const younger = await receive(SENDERS[1], [
        ...range(810, 50).map((n) => ({ vin: vin(n), date: daysAgo(20), odometer: 6000 })),
        { vin: vin(800), date: daysAgo(20), odometer: 6000 },
      ]);
      expect(await holdVehicle(older, vin(800))).toEqual({ blockedBy: [] });
      const audit = new AuditLog(stores[0].audit);
      await expect(processFile({ ...ctxFor(stores[0], 60_000), audit }, younger)).rejects.toMatchObject({
        code: 'WAIT_FOR_FILES',
        blockedBy: [older],
      });
      const f = (await stores[0].files.get(younger))!;
      expect([f.progressLine, f.result]).toEqual([0, null]);
      expect(await stores[0].readings.forFile(younger)).toEqual([]);
      expect(await stores[0].issues.forFile(younger)).toEqual([]);
      await audit.flush();
      expect((await stores[0].audit.list({ event: 'released' })).map((e) => e.fields)).toContainEqual(
        expect.objectContaining({ file: fileIdOf(younger), for: [fileIdOf(older)] }),
      );
    });
  });
});
