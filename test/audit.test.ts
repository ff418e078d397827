/**
 * The audit trail in the store (issue #15): AuditLog's background appends, a busy store keeping the events until
 * it takes them, and `inflow audit` with its filters.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import { dataLayout } from '../config/layout';
import { openStore, type Store } from '../store';
import { AuditLog } from '../store/audit-log';
import { BIN, waitFor } from './helpers/ops';
import { DIST } from './helpers/build';

const GARAGE = '2123456692';
const OTHER = '2234567818';

let dir: string;
let store: Store;
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-audit-'));
  store = await openStore({ sqlite: dataLayout(dir).db, lockWaitMs: 200 });
});
afterEach(async () => {
  await store.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** inflow runs the CLI on this test's data directory, with `input` on stdin. */
function inflow(args: string[], input = ''): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', dir], {
    input,
    encoding: 'utf8',
    env: { ...process.env, INFLOW_DATA_DIR: '', REDIS_URL: '' },
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('AuditLog', () => {
  it('appends in the background, in order, with host and pid', async () => {
    const audit = new AuditLog(store.audit);
    for (let i = 0; i < 3; i++) audit.write('login', { account: GARAGE, n: i });
    expect(await store.audit.list()).toEqual([]); // written, not yet appended
    const listed = await waitFor('the events in the store', async () => {
      const got = await store.audit.list();
      return got.length === 3 ? got : null;
    });
    expect(listed.map((e) => e.fields.n)).toEqual([0, 1, 2]);
    expect(listed[0]).toMatchObject({ host: os.hostname(), pid: process.pid, event: 'login', fields: { account: GARAGE, n: 0 } });
    await audit.close();
  });

  it('keeps the events while another writer holds the database, and appends them once it lets go', async () => {
    const audit = new AuditLog(store.audit);
    const other = new Database(dataLayout(dir).db);
    other.exec('BEGIN IMMEDIATE');
    try {
      audit.write('admin', { action: 'one' });
      await expect(audit.flush()).rejects.toThrow(/busy|lock/i);
      audit.write('admin', { action: 'two' });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    await audit.flush();
    expect((await store.audit.list()).map((e) => e.fields.action)).toEqual(['one', 'two']);
    await audit.close();
    audit.write('admin', { action: 'after close' }); // refused, with a line on stderr
    expect(await store.audit.list()).toHaveLength(2);
  });
});

/**
 * The child: a process whose store stays locked by another connection while it audits more events than it keeps;
 * then the lock goes, and close() appends what was kept. Its stderr is what an operator would see.
 */
const DROPPING_CHILD = `
const path = require('node:path');
const Database = require('better-sqlite3');
const dist = (m) => require(path.join(${JSON.stringify(DIST)}, m));
const { openStore } = dist('store/index.js');
const { AuditLog } = dist('store/audit-log.js');
const [db, n] = process.argv.slice(1);
openStore({ sqlite: db, lockWaitMs: 50 }).then((store) => {
  const other = new Database(db);
  other.exec('BEGIN IMMEDIATE');
  const audit = new AuditLog(store.audit);
  for (let i = 0; i < Number(n); i++) audit.write('login_failed', { username: 'u' + i });
  audit.flush().catch(() => {
    other.exec('ROLLBACK');
    audit.close().then(() => store.close());
  });
});
`;

describe('AuditLog under a store that takes nothing', () => {
  it('keeps the latest 200,000 events, drops the oldest with one line on stderr, and appends the rest once it can', async () => {
    const db = dataLayout(dir).db;
    const r = spawnSync(process.execPath, ['-e', DROPPING_CHILD, db, '200005'], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('audit: the store is not taking events; keeping the latest 200000, dropping older ones\n');
    const kept = await store.audit.list();
    expect(kept).toHaveLength(200_000);
    expect([kept[0].fields.username, kept[kept.length - 1].fields.username]).toEqual(['u5', 'u200004']);
  }, 90_000);
});

describe('inflow audit', () => {
  it('prints the trail oldest first, filtered by time, event and account, as text or JSON', async () => {
    expect(inflow(['accounts', 'add', GARAGE, '--name', 'Garage Dupont', '--password-stdin'], 'pw one two three').code).toBe(0);
    expect(inflow(['accounts', 'add', OTHER, '--name', 'Garage Other', '--password-stdin'], 'pw one two three').code).toBe(0);
    const between = new Date().toISOString();
    expect(inflow(['accounts', 'disable', OTHER]).code).toBe(0);
    const audit = new AuditLog(store.audit);
    audit.write('login_failed', { username: GARAGE, ip: '192.0.2.7' });
    await audit.close();

    const all = JSON.parse(inflow(['audit', '--json']).out) as {
      event: string;
      pid: number;
      host: string;
      fields: Record<string, unknown>;
    }[];
    expect(all.map((e) => [e.event, e.fields.action ?? null])).toEqual([
      ['admin', 'accounts add'],
      ['admin', 'accounts add'],
      ['admin', 'accounts disable'],
      ['login_failed', null],
    ]);
    expect(all[0].host).toBe(os.hostname());
    expect(all[3].pid).toBe(process.pid);

    const since = JSON.parse(inflow(['audit', '--json', '--since', between]).out) as { event: string }[];
    expect(since).toHaveLength(2);
    // --account matches fields.account, else fields.username
    const failed = JSON.parse(inflow(['audit', '--json', '--event', 'login_failed', '--account', GARAGE]).out);
    expect(failed).toEqual([expect.objectContaining({ event: 'login_failed', fields: { username: GARAGE, ip: '192.0.2.7' } })]);
    const last = JSON.parse(inflow(['audit', '--json', '--limit', '2']).out) as { event: string }[];
    expect(last.map((e) => e.event)).toEqual(['admin', 'login_failed']);

    const text = inflow(['audit', '--event', 'admin', '--limit', '1']);
    expect(text.code).toBe(0);
    expect(text.out).toMatch(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z  ${os.hostname()}\\[\\d+\\]  admin {11}\\{"action":"accounts disable","establishment":"${OTHER}"\\}\\n$`,
      ),
    );
    expect(inflow(['audit', '--event', 'nope'])).toMatchObject({ code: 1, err: expect.stringMatching(/--event must be one of login, /) });
    expect(inflow(['audit', '--since', 'yesterday'])).toMatchObject({ code: 1, err: expect.stringMatching(/--since must be an ISO date/) });
  });
});
