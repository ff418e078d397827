/**
 * `inflow accounts set <id> --tls-reuse required|optional` (docs/cli.md): the account setting that lets a client
 * which cannot resume its TLS session on data connections (Python's stock ftplib) in; every account starts at
 * `required`, those of a database made before the setting existed too (migration 5). What the setting does to
 * FTPS data connections is tested in ftps-data-connections.test.ts.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../store/sqlite/migrations';
import { auditEvents } from './helpers/ops';

const BIN = path.join(__dirname, '..', 'bin', 'inflow.js');
const GARAGE = '2123456692';

function inflow(args: string[], dir: string, input = '') {
  const r = spawnSync(process.execPath, [BIN, ...args, '--data-dir', dir], {
    input,
    encoding: 'utf8',
    env: { ...process.env, INFLOW_DATA_DIR: '', REDIS_URL: '' },
    timeout: 30000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const listed = (dir: string) =>
  JSON.parse(inflow(['accounts', 'list', '--json'], dir).out) as { establishment: string; tlsReuse: string }[];

describe('inflow accounts set --tls-reuse', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-cli-set-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('starts every account at required; sets optional and back, shows it in list, and audits it', async () => {
    expect(
      inflow(['accounts', 'add', GARAGE, '--name', 'Garage Dupont', '--password-stdin'], dir, 'a password of some length\n').code,
    ).toBe(0);
    expect(listed(dir)).toEqual([expect.objectContaining({ establishment: GARAGE, tlsReuse: 'required' })]);

    expect(inflow(['accounts', 'set', GARAGE, '--tls-reuse', 'optional'], dir)).toEqual({
      code: 0,
      out: `TLS session reuse optional for ${GARAGE}\n`,
      err: '',
    });
    expect(listed(dir)).toEqual([expect.objectContaining({ establishment: GARAGE, tlsReuse: 'optional' })]);
    expect(inflow(['accounts', 'list'], dir).out).toContain('Garage Dupont (TLS session reuse optional)');

    expect(inflow(['accounts', 'set', GARAGE, '--tls-reuse', 'required'], dir).code).toBe(0);
    expect(listed(dir)[0].tlsReuse).toBe('required');
    expect(inflow(['accounts', 'list'], dir).out).not.toContain('TLS session reuse');

    const admin = (await auditEvents(dir)).filter((e) => e.action === 'accounts set');
    expect(admin).toEqual([
      expect.objectContaining({ event: 'admin', establishment: GARAGE, tlsReuse: 'optional' }),
      expect.objectContaining({ event: 'admin', establishment: GARAGE, tlsReuse: 'required' }),
    ]);
  });

  it('refuses another value, an unknown account, and a missing --tls-reuse', () => {
    expect(inflow(['accounts', 'add', GARAGE, '--name', 'G', '--password-stdin'], dir, 'a password of some length\n').code).toBe(0);
    expect(inflow(['accounts', 'set', GARAGE, '--tls-reuse', 'never'], dir)).toMatchObject({
      code: 1,
      err: 'inflow: --tls-reuse must be one of required, optional, got "never"\n',
    });
    expect(inflow(['accounts', 'set', '2200000085', '--tls-reuse', 'optional'], dir)).toMatchObject({
      code: 1,
      err: 'inflow: no account 2200000085\n',
    });
    expect(inflow(['accounts', 'set', GARAGE], dir).code).toBe(2);
    expect(listed(dir)[0].tlsReuse).toBe('required');
  });

  it('gives the accounts of a database made before the setting existed (schema 4) required', () => {
    const db = new Database(path.join(dir, 'inflow.db'));
    db.exec('CREATE TABLE schema_version (version INTEGER NOT NULL)');
    for (const step of MIGRATIONS.filter((m) => m.version <= 4)) {
      db.exec(step.sql);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(step.version);
    }
    db.prepare(
      `INSERT INTO accounts (establishment, name, role, password_hash, created_at) VALUES (?, 'Old garage', 'garage', 'x', '2026-01-01T00:00:00Z')`,
    ).run(GARAGE);
    db.close();
    expect(listed(dir)).toEqual([expect.objectContaining({ establishment: GARAGE, name: 'Old garage', tlsReuse: 'required' })]);
  });
});
