/**
 * What only the PostgreSQL store has to show: several processes opening a fresh database at once migrate it once,
 * and batches of two store instances (as two worker hosts) touching the same vehicles take turns: the second sees
 * the first's readings or is held up by its file, never a mix, and never a deadlock.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { openStore, type BatchView, type BatchWriter, type Store } from '../store';
import { MIGRATIONS } from '../store/postgres/migrations';
import type { Reading } from '../model/reading';
import { TestDatabases } from './helpers/postgres';

const DIST = path.join(__dirname, '..', 'dist');
const SENDER = '2123456692';
const NOW = '2026-11-26T10:00:00.000Z';
const dbs = new TestDatabases();
afterAll(() => dbs.dropAll());

const reading = (vin: string, date: string, odometer: number): Reading => ({
  ref: null,
  vin,
  plate: null,
  date,
  odometer,
  unit: 'km',
  km: odometer,
  work: 'MAINT',
  replaced: false,
  digits: null,
  corrects: null,
});

describe('migrations', () => {
  it('run once when four processes open a fresh database at the same moment', async () => {
    const db = await dbs.create();
    const child = `require(${JSON.stringify(path.join(DIST, 'store/index.js'))}).openStore({ sqlite: '/nonexistent', databaseUrl: process.argv[1] })
      .then((s) => s.accounts.count().then((n) => { process.stdout.write(String(n)); return s.close(); }))`;
    const runs = await Promise.all([1, 2, 3, 4].map(() => promisify(execFile)(process.execPath, ['-e', child, db.url])));
    expect(runs.map((r) => r.stdout)).toEqual(['0', '0', '0', '0']);
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const { rows } = await c.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await c.end();
    }
  });
});

describe('two store instances storing batches of the same vehicles', () => {
  let a: Store;
  let b: Store;
  let accountId: number;
  beforeAll(async () => {
    const db = await dbs.create();
    a = await openStore({ sqlite: '/nonexistent', databaseUrl: db.url });
    b = await openStore({ sqlite: '/nonexistent', databaseUrl: db.url });
    accountId = (await a.accounts.add({ establishment: SENDER, name: 'Garage', role: 'garage', passwordHash: 'x' })).id;
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  let n = 0;
  const receive = (s: Store) =>
    s.files.receive({ accountId, name: `f${++n}.csv`, storedPath: `/nowhere/${n}`, size: 1, sha256: `sha-${n}`, receivedAt: NOW });
  /** A batch of file `pk` that reads `vins` (in that order), notes what it saw, and stores one reading of each. */
  const batchOf = (s: Store, pk: number, vins: string[], odometer: number, seen: Map<string, number[]>) =>
    s.storeBatch(
      { filePk: pk, sender: SENDER, lastLine: vins.length + 1, lookups: () => ({ vins, plates: [], issueIds: [] }) },
      (view: BatchView, w: BatchWriter) =>
        vins.forEach((vin, k) => {
          seen.set(
            vin,
            view.timeline(vin).map((e) => e.odometer),
          );
          w.addReading({ line: k + 2, reading: reading(vin, '2026-11-20', odometer), vin, plate: null, status: 'ok', corrects: null });
        }),
    );

  it('the second sees every reading of the first, or is held up by the first file and stores nothing', async () => {
    for (let round = 0; round < 10; round++) {
      const vins = Array.from({ length: 50 }, (_, k) => `WVWZZZ1JZ${String(round).padStart(2, '0')}${String(k).padStart(6, '0')}`);
      const fa = await receive(a);
      const fb = await receive(b);
      const seenA = new Map<string, number[]>();
      const seenB = new Map<string, number[]>();
      // Opposite orders: a lock taken vehicle by vehicle would deadlock here.
      const [ra, rb] = await Promise.all([batchOf(a, fa.pk, vins, 1000, seenA), batchOf(b, fb.pk, [...vins].reverse(), 2000, seenB)]);
      const blocked = [ra.blockedBy, rb.blockedBy];
      // One stored and the other was held up by its file (it is in flight), whichever came first.
      expect(blocked).toContainEqual([]);
      expect(blocked).toContainEqual([ra.blockedBy.length ? fb.pk : fa.pk]);
      const [first, second, secondStore, secondSeen, secondVins] =
        ra.blockedBy.length === 0 ? [fa, fb, b, seenB, [...vins].reverse()] : [fb, fa, a, seenA, vins];
      const firstOdo = first === fa ? 1000 : 2000;
      for (const vin of vins) expect(await a.readings.timeline(vin)).toEqual([]); // the first file is pending
      await (first === fa ? a : b).files.accept(first.pk, { format: 'csv', sender: SENDER, records: 50, processedAt: NOW });
      secondSeen.clear();
      expect(await batchOf(secondStore, second.pk, secondVins, firstOdo === 1000 ? 2000 : 1000, secondSeen)).toEqual({ blockedBy: [] });
      for (const vin of vins) expect(secondSeen.get(vin)).toEqual([firstOdo]);
      await secondStore.files.accept(second.pk, { format: 'csv', sender: SENDER, records: 50, processedAt: NOW });
    }
  });

  it('batches of passed-and-finished history: four files over the same vehicles, in opposite orders, all end stored', async () => {
    const vins = Array.from({ length: 200 }, (_, k) => `WVWZZZ1JZXX${String(k).padStart(6, '0')}`);
    const files = await Promise.all([receive(a), receive(b), receive(a), receive(b)]);
    const stores = [a, b, a, b];
    const left = new Set(files.map((f) => f.pk));
    // Each file retries until it is not held up, then finishes: four files over the same vehicles, two instances.
    await Promise.all(
      files.map(async (f, k) => {
        const order = k % 2 === 0 ? vins : [...vins].reverse();
        for (;;) {
          const r = await batchOf(stores[k], f.pk, order, 1000 * (k + 1), new Map());
          if (r.blockedBy.length === 0) break;
          await new Promise((res) => setTimeout(res, 5));
        }
        await stores[k].files.accept(f.pk, { format: 'csv', sender: SENDER, records: vins.length, processedAt: NOW });
        left.delete(f.pk);
      }),
    );
    expect(left.size).toBe(0);
    for (const vin of vins.slice(0, 20))
      expect((await a.readings.timeline(vin)).map((r) => r.odometer).sort()).toEqual([1000, 2000, 3000, 4000]);
  });
});

describe('planner statistics', () => {
  it('a file accepted after the readings grew by more than a tenth leaves them analyzed (autovacuum may be off)', async () => {
    const db = await dbs.create();
    const s = await openStore({ sqlite: '/nonexistent', databaseUrl: db.url });
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    try {
      const accountId = (await s.accounts.add({ establishment: SENDER, name: 'Garage', role: 'garage', passwordHash: 'x' })).id;
      const f = await s.files.receive({
        accountId,
        name: 'big.csv',
        storedPath: '/nowhere/big',
        size: 1,
        sha256: 'sha-big',
        receivedAt: NOW,
      });
      const vins = Array.from({ length: 12_000 }, (_, k) => `WVWZZZ1JZST${String(k).padStart(6, '0')}`);
      await s.storeBatch(
        { filePk: f.pk, sender: SENDER, lastLine: vins.length + 1, lookups: () => ({ vins, plates: [], issueIds: [] }) },
        (_v, w) =>
          vins.forEach((vin, k) =>
            w.addReading({ line: k + 2, reading: reading(vin, '2026-11-20', 1000), vin, plate: null, status: 'ok', corrects: null }),
          ),
      );
      const stats = async () =>
        (
          await c.query<{ mods: string; analyzed: Date | null }>(
            "SELECT n_mod_since_analyze AS mods, last_analyze AS analyzed FROM pg_stat_user_tables WHERE relname = 'readings'",
          )
        ).rows[0];
      // The server counts a committed change within seconds (a backend reports its counts when idle).
      for (let t = 0; Number((await stats()).mods) < vins.length && t < 150; t++) await new Promise((r) => setTimeout(r, 100));
      const before = await stats();
      expect(Number(before.mods)).toBe(vins.length);
      expect(before.analyzed).toBeNull();
      await s.files.accept(f.pk, { format: 'csv', sender: SENDER, records: vins.length, processedAt: NOW });
      const after = await stats();
      expect(after.analyzed).not.toBeNull();
      expect(Number(after.mods)).toBe(0);
    } finally {
      await c.end();
      await s.close();
    }
  }, 30_000);
});

describe('a front keeps the accounts it looks up while the database tells it of their changes', () => {
  const poll = async (check: () => Promise<boolean>, ms: number) => {
    for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 10))) if (await check()) return true;
    return false;
  };

  it('a change through the same store is seen at once, one from another process as soon as it is told', async () => {
    const db = await dbs.create();
    const front = await openStore({ sqlite: '/nonexistent', databaseUrl: db.url, watchAccounts: true });
    const cli = await openStore({ sqlite: '/nonexistent', databaseUrl: db.url });
    const statements = new pg.Client({ connectionString: db.url });
    try {
      await statements.connect();
      await front.accounts.add({ establishment: SENDER, name: 'Garage', role: 'garage', passwordHash: 'h1' });
      // the first lookup starts the listening connection; once it listens, lookups are kept
      const listening = await poll(async () => {
        await front.accounts.byEstablishment(SENDER);
        const r = await statements.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'`,
        );
        return r.rows[0].n === 1;
      }, 5000);
      expect(listening).toBe(true);
      await front.accounts.byEstablishment(SENDER); // kept from here on
      // a row changed behind the store's back, without a notification (the trigger off), is not seen: it was kept
      await statements.query('ALTER TABLE accounts DISABLE TRIGGER accounts_changed');
      await statements.query(`UPDATE accounts SET name = 'Renamed quietly' WHERE establishment = $1`, [SENDER]);
      await statements.query('ALTER TABLE accounts ENABLE TRIGGER accounts_changed');
      expect((await front.accounts.byEstablishment(SENDER))!.name).toBe('Garage');
      // through the same store: at once
      await front.accounts.setPasswordHash(SENDER, 'h2');
      expect(await front.accounts.byEstablishment(SENDER)).toMatchObject({ passwordHash: 'h2', name: 'Renamed quietly' });
      // from another process (the CLI on another host): as soon as the notification arrives
      await cli.accounts.setDisabled(SENDER, true);
      expect(await poll(async () => (await front.accounts.byEstablishment(SENDER))!.disabled, 2000)).toBe(true);
      await cli.accounts.setPasswordHash(SENDER, 'h3');
      expect(await poll(async () => (await front.accounts.byEstablishment(SENDER))!.passwordHash === 'h3', 2000)).toBe(true);
    } finally {
      await statements.end();
      await cli.close();
      await front.close();
    }
  });
});
