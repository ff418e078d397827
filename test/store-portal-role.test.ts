/**
 * The portal role (ad sites, issue #16) on both backends, and SQLite's migration 9, which rebuilds the accounts table
 * to allow it: every account and its files survive it, foreign keys still hold.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../store/sqlite/migrations';
import { openStore } from '../store';
import { BACKENDS, openTestStore } from './helpers/stores';

describe.each(BACKENDS)('%s', (backend) => {
  it('keeps a portal account like any other', async () => {
    const t = await openTestStore(backend);
    try {
      const a = await t.store.accounts.add({ establishment: '2123456692', name: 'Ads', role: 'portal', passwordHash: 'h' });
      expect(a.role).toBe('portal');
      expect((await t.store.accounts.byEstablishment('2123456692'))!.role).toBe('portal');
      // (Not `rejects.toThrow()`: better-sqlite3's errors come from the realm of the test file that loaded it first.)
      const refused = await t.store.accounts
        .add({ establishment: '2200000085', name: 'x', role: 'owner' as never, passwordHash: 'h' })
        .then(
          () => null,
          (err: Error) => err.message,
        );
      expect(refused).toMatch(/check constraint/i);
    } finally {
      await t.dispose();
    }
  });
});

it('SQLite migration 9 keeps the accounts, their settings and their files', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-migration-9-'));
  const file = path.join(dir, 'inflow.db');
  const db = new Database(file);
  db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  for (const step of MIGRATIONS.filter((m) => m.version <= 8)) {
    db.exec(step.sql);
    db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(step.version);
  }
  db.prepare(
    `INSERT INTO accounts (id, establishment, name, role, senders, password_hash, disabled, created_at, tls_reuse)
     VALUES (7, '2123456692', 'Fleet', 'fleet', '["2200000085"]', 'hash', 1, '2026-01-01', 'optional')`,
  ).run();
  db.prepare(
    `INSERT INTO files (id, account_id, name, stored_path, size, sha256, status, received_at) VALUES (3, 7, 'n.csv', 'p', 1, 's', 'done', 't')`,
  ).run();
  db.close();

  const store = await openStore({ sqlite: file });
  try {
    expect(await store.accounts.byEstablishment('2123456692')).toMatchObject({
      id: 7,
      role: 'fleet',
      senders: ['2200000085'],
      passwordHash: 'hash',
      disabled: true,
      tlsReuse: 'optional',
    });
    expect((await store.files.get(3))!.account).toBe('2123456692');
    expect((await store.accounts.add({ establishment: '2200000085', name: 'Ads', role: 'portal', passwordHash: 'h' })).role).toBe('portal');
  } finally {
    await store.close();
  }
  const check = new Database(file, { readonly: true });
  try {
    expect(check.pragma('foreign_key_check')).toEqual([]);
    expect(String((check.prepare("SELECT sql FROM sqlite_master WHERE name = 'files'").get() as { sql: string }).sql)).toMatch(
      /REFERENCES accounts\(id\)/,
    );
  } finally {
    check.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
