/**
 * `inflow serve --database-url postgres://…`: the service on a PostgreSQL database of its own. The demo account is
 * made there, a fixture uploaded with curl gets its receipt, the file's record and readings are in PostgreSQL and
 * there is no SQLite database in the data directory; the URL's password is never printed.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { curlUpload } from './helpers/ftp-clients';
import { parseReceipt } from './helpers/receipt';
import { curlReceipt, demoAccess, spawnServe } from './helpers/serve-process';
import { createTestDatabase, type TestDatabase } from './helpers/postgres';

const ROOT = path.join(__dirname, '..');
const PASSWORD = 'not-to-be-printed'; // trust auth: the server takes any
let dir: string;
let db: TestDatabase;
let url: string;
let child: ChildProcess;
let out: () => string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-serve-pg-'));
  db = await createTestDatabase();
  url = db.url.replace('postgres@', `postgres:${PASSWORD}@`);
  ({ child, out } = await spawnServe(dir, ['--database-url', url]));
});

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  await db?.drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('says which database it uses, without the password', () => {
  expect(out()).toContain(`database: postgres://postgres:***@127.0.0.1:5432/${db.name}`);
  expect(out()).not.toContain(PASSWORD);
});

it('takes a fixture uploaded with curl and writes its receipt; the store is PostgreSQL', async () => {
  const access = demoAccess(dir);
  const up = await curlUpload({
    ...access,
    localFile: path.join(ROOT, 'fixtures', 'valid-3-readings.csv'),
    remotePath: '/valid-3-readings.csv',
  });
  expect(up.code).toBe(0);
  const local = path.join(dir, 'receipt.csv');
  await curlReceipt(access, 'valid-3-readings.csv', local);
  const receipt = parseReceipt(fs.readFileSync(local, 'utf8'));
  expect(receipt.status).toBe('ACCEPTED');
  expect(receipt.records).toBe(3);

  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    const files = await c.query('SELECT name, status, result FROM files');
    expect(files.rows).toEqual([{ name: 'valid-3-readings.csv', status: 'done', result: 'ACCEPTED' }]);
    expect((await c.query('SELECT count(*)::int AS n FROM readings')).rows[0].n).toBe(3);
  } finally {
    await c.end();
  }
  expect(fs.existsSync(path.join(dir, 'var', 'inflow.db'))).toBe(false);
});
