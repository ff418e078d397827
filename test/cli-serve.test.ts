/**
 * The README's first command on a fresh data directory: `inflow serve` on its embedded defaults starts a private
 * redis-server (with a password), makes a self-signed certificate and the demo account, and a fixture uploaded with
 * curl gets its receipt. Everything in the data directory is private from the start. SIGTERM stops it, Redis
 * included.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { curlUpload, run } from './helpers/ftp-clients';
import { parseReceipt } from './helpers/receipt';
import { curlReceipt, demoAccess, spawnServe } from './helpers/serve-process';

const ROOT = path.join(__dirname, '..');
let dir: string;
let child: ChildProcess;
let out: () => string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-serve-'));
  // data in ./var of the working directory, as on a fresh machine
  ({ child, out } = await spawnServe(dir));
});

afterAll(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  fs.rmSync(dir, { recursive: true, force: true });
});

it('prints the demo login, keeps it in var/demo-account.txt (mode 600) and made a certificate', () => {
  expect(out()).toMatch(/user:\s+2123456692/);
  expect(out()).toMatch(/password:\s+\S{20}/);
  expect(out()).toContain('curl --ssl-reqd -k');
  const demo = path.join(dir, 'var', 'demo-account.txt');
  expect(fs.statSync(demo).mode & 0o777).toBe(0o600);
  expect(fs.existsSync(path.join(dir, 'var', 'tls', 'cert.pem'))).toBe(true);
  expect(fs.existsSync(path.join(dir, 'var', 'inflow.db'))).toBe(true);
  expect(fs.readFileSync(path.join(dir, 'var', 'redis.url'), 'utf8')).toMatch(/^redis:\/\/:[0-9a-f]{48}@127\.0\.0\.1:\d+\n$/);
  expect(out()).toMatch(/Redis: {4}redis:\/\/127\.0\.0\.1:\d+ \(private redis-server/); // its password is not shown
});

it('takes a fixture uploaded with curl --ssl-reqd -k -T and serves its receipt', async () => {
  const access = demoAccess(dir);
  const up = await curlUpload({
    ...access,
    localFile: path.join(ROOT, 'fixtures', 'valid-3-readings.csv'),
    remotePath: '/valid-3-readings.csv',
  });
  expect(up.stderr).toBe('');
  expect(up.code).toBe(0);
  const local = path.join(dir, 'receipt.csv');
  await curlReceipt(access, 'valid-3-readings.csv', local);
  const receipt = parseReceipt(fs.readFileSync(local, 'utf8'));
  expect(receipt.status).toBe('ACCEPTED');
  expect(receipt.records).toBe(3);
});

it('keeps every file of the data directory mode 600 and every folder 700, from the start', () => {
  const found: string[] = [];
  const walk = (p: string) => {
    const st = fs.lstatSync(p);
    found.push(`${path.relative(dir, p)} ${(st.mode & 0o777).toString(8)}`);
    if (st.isDirectory()) for (const name of fs.readdirSync(p)) walk(path.join(p, name));
  };
  walk(path.join(dir, 'var'));
  const names = found.map((f) => f.split(' ')[0]);
  // What a first start and one upload make: the database with its WAL, Redis's AOF and log, a stored file, a receipt.
  for (const name of ['inflow.db-wal', 'inflow.db-shm', 'redis.url', 'tls/key.pem', 'redis/redis.log', 'redis/appendonlydir']) {
    expect(names).toContain(path.join('var', name));
  }
  expect(names.filter((n) => n.startsWith('var/store/'))).toHaveLength(1);
  expect(names).toContain('var/receipts/2123456692/valid-3-readings.csv.receipt.csv');
  expect(found.filter((f) => !/ (600|700)$/.test(f))).toEqual([]);
});

it('runs its private Redis with a password that only redis.url tells, and the commands that read redis.url use it', async () => {
  const redisUrl = fs.readFileSync(path.join(dir, 'var', 'redis.url'), 'utf8').trim();
  const net = await import('node:net');
  const answer = await new Promise<string>((resolve) => {
    const s = net.connect(Number(new URL(redisUrl).port), '127.0.0.1', () => s.write('PING\r\n'));
    s.once('data', (d) => (s.destroy(), resolve(d.toString())));
  });
  expect(answer).toMatch(/^-NOAUTH/);
  // `inflow replay` finds the queue through redis.url: it re-queues the file and follows it to the end.
  const inflow = (args: string[]) =>
    run(process.execPath, [path.join(ROOT, 'bin', 'inflow.js'), ...args], {
      env: { REDIS_URL: '', INFLOW_DATA_DIR: path.join(dir, 'var') },
      timeoutMs: 60_000,
    });
  const [file] = JSON.parse((await inflow(['files', 'list', '--json'])).stdout) as { id: string }[];
  const replay = await inflow(['replay', file.id, '--json']);
  expect(replay.code).toBe(0);
  expect(JSON.parse(replay.stdout)).toEqual([expect.objectContaining({ id: file.id, status: 'done' })]);
});

it('stops on SIGTERM with exit 0 and stops its private Redis', async () => {
  const redisUrl = fs.readFileSync(path.join(dir, 'var', 'redis.url'), 'utf8').trim();
  const code = await new Promise<number | null>((resolve) => {
    child.once('exit', (c) => resolve(c));
    child.kill('SIGTERM');
  });
  expect(code).toBe(0);
  const port = Number(new URL(redisUrl).port);
  const net = await import('node:net');
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(true));
  });
  expect(refused).toBe(true);
});
