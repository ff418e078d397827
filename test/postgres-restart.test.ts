/**
 * The database server going away and coming back (README "A fleet on several hosts"): `inflow serve` on a
 * PostgreSQL cluster of the test's own (initdb/pg_ctl, a free port), which is stopped under it. While it is down an
 * upload is answered 451 ("send it again later", not a permanent 5xx) and nothing of it is kept; the service stays
 * up, and once the server is back the same upload gets its 226 and its receipt.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import pg from 'pg';
import { freePort } from '../app/redis-server';
import { curlUpload } from './helpers/ftp-clients';
import { parseReceipt } from './helpers/receipt';
import { waitFor } from './helpers/wait';
import { curlReceipt, demoAccess, spawnServe } from './helpers/serve-process';

const ROOT = path.join(__dirname, '..');
let dir: string;
let pgDir: string;
let pgPort: number;
let child: ChildProcess;

/** pgCtl runs pg_ctl on the test's cluster as the postgres user (initdb and the server refuse root). */
function pgCtl(...args: string[]): void {
  execFileSync('runuser', ['-u', 'postgres', '--', 'pg_ctl', '-D', path.join(pgDir, 'data'), '-w', ...args], { stdio: 'ignore' });
}

const startServer = () => pgCtl('-o', `-p ${pgPort} -k ${pgDir} -c listen_addresses=127.0.0.1`, '-l', path.join(pgDir, 'log'), 'start');

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-pg-restart-'));
  pgDir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-pg-cluster-'));
  fs.chmodSync(pgDir, 0o755);
  execFileSync('chown', ['postgres', pgDir]);
  execFileSync('runuser', ['-u', 'postgres', '--', 'initdb', '-D', path.join(pgDir, 'data'), '-A', 'trust', '-U', 'postgres'], {
    stdio: 'ignore',
  });
  pgPort = await freePort();
  startServer();
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${pgPort}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE inflow');
  await admin.end();

  const url = `postgres://postgres@127.0.0.1:${pgPort}/inflow`;
  ({ child } = await spawnServe(dir, ['--database-url', url]));
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
  try {
    pgCtl('-m', 'immediate', 'stop');
  } catch {
    // already stopped
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.rmSync(pgDir, { recursive: true, force: true });
});

it('answers 451 while the database is down, keeps nothing, and takes the file once it is back', async () => {
  const access = demoAccess(dir);
  const upload = { ...access, localFile: path.join(ROOT, 'fixtures', 'valid-3-readings.csv'), remotePath: '/valid-3-readings.csv' };

  // A session logged in before the server stops: its upload is refused with 451, the client keeps its file.
  const session = new Client(15000);
  await session.access({ ...access, secure: true, secureOptions: { rejectUnauthorized: false } });
  pgCtl('-m', 'fast', 'stop');
  const body = fs.readFileSync(upload.localFile);
  await expect(session.uploadFrom(Readable.from([body]), 'valid-3-readings.csv')).rejects.toMatchObject({
    code: 451,
    message: expect.stringContaining('send it again later'),
  });
  session.close();
  // A new login needs the account from the database: refused for now, with a reply that says to come back later.
  const refused = await curlUpload(upload);
  expect(refused.code).not.toBe(0);
  expect(refused.stderr).toContain('530');
  expect(child.exitCode).toBeNull();
  const kept = fs.readdirSync(path.join(dir, 'var', 'store'), { withFileTypes: true }).filter((e) => e.isFile());
  expect(kept).toEqual([]);

  startServer();
  let last = '';
  await waitFor(
    'an upload once the database is back',
    async () => {
      const r = await curlUpload(upload);
      last = r.stderr;
      return r.code === 0;
    },
    30_000,
    500,
    () => last,
  );
  const local = path.join(dir, 'receipt.csv');
  await curlReceipt(access, 'valid-3-readings.csv', local, 60_000);
  expect(parseReceipt(fs.readFileSync(local, 'utf8'))).toMatchObject({ status: 'ACCEPTED', records: 3 });
}, 150_000);
