/**
 * Issue #15, item 3: several FTPS fronts at once on one files directory. Two `inflow serve --workers 0` and one
 * `inflow worker`, as separate processes; the fronts on one host share its data directory (the SQLite database:
 * docs/deployment.md), the worker reaches the files directory by another path. Uploads to both fronts at once:
 * every file gets exactly one receipt, listed the same through either front, and the fleet's audit trail is in
 * the store. A front's orphan sweep leaves another host's fresh files alone.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { csvBatch, vin } from './helpers/batch';
import { auditEvents, spawnInflow, waitFor, type Proc } from './helpers/ops';
import { dataLayout, HOST_MARK } from '../config/layout';
import { resolveSettings } from '../config/defaults';
import { openStore, type Store } from '../store';
import { AuditLog } from '../store/audit-log';
import { hashPassword } from '../intake/passwords';
import { FOREIGN_GRACE_MS, orphanGraceMs, removeStoredOrphans } from '../intake/stored-orphans';

const A = '2123456692';
const B = '2234567818';
const PW = 'multi front password';
const PER_FRONT = 4;

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-fronts-'));
const dataDir = path.join(base, 'data');
const filesDir = path.join(base, 'files');
/** The worker's path to the files directory: another mount point of the same directory. */
const workerFiles = path.join(base, 'mnt-files');
const prefix = 'test-' + crypto.randomUUID();
const procs: Proc[] = [];
let store: Store;

function env(): NodeJS.ProcessEnv {
  return { INFLOW_DATA_DIR: '', REDIS_URL: process.env.INFLOW_TEST_REDIS_URL!, INFLOW_QUEUE_PREFIX: prefix };
}

/** startFront starts `inflow serve --workers 0` on its own ports and returns its FTPS port. */
async function startFront(pasvMin: number): Promise<number> {
  const args = ['serve', '--workers', '0', '--no-demo', '--data-dir', dataDir, '--files-dir', filesDir, '--ftp-port', '0'];
  const p = await spawnInflow([...args, '--pasv-range', `${pasvMin}-${pasvMin + 19}`], env(), /Ctrl-C stops it/);
  procs.push(p);
  return Number(/FTPS:\s+ftp:\/\/127\.0\.0\.1:(\d+)/.exec(p.out())![1]);
}

async function login(port: number, user: string): Promise<Client> {
  const c = new Client(15000);
  await c.access({
    host: '127.0.0.1',
    port,
    user,
    password: PW,
    secure: true,
    secureOptions: { ca: [fs.readFileSync(path.join(dataLayout(dataDir).tlsDir, 'cert.pem'))], servername: 'localhost' },
  });
  return c;
}

beforeAll(async () => {
  fs.mkdirSync(filesDir);
  fs.symlinkSync(filesDir, workerFiles);
  store = await openStore({ sqlite: dataLayout(dataDir).db });
  for (const e of [A, B])
    await store.accounts.add({ establishment: e, name: 'Garage ' + e, role: 'garage', passwordHash: await hashPassword(PW) });
}, 30_000);

afterAll(async () => {
  for (const p of procs) p.child.kill('SIGTERM');
  await Promise.all(procs.map((p) => p.exited));
  await store.close();
  fs.rmSync(base, { recursive: true, force: true });
}, 60_000);

it('two fronts and a worker: every upload to either front gets exactly one receipt, listed by both fronts', async () => {
  const pasv = 20000 + crypto.randomInt(0, 700) * 50;
  const ports = [await startFront(pasv), await startFront(pasv + 20)];
  const worker = await spawnInflow(['worker', '--data-dir', dataDir, '--files-dir', workerFiles], env(), /is running/);
  procs.push(worker);
  expect(worker.out()).toContain(`files dir ${workerFiles}`);

  // Both accounts send to both fronts, all at once.
  const sent: string[] = [];
  const clients = await Promise.all(ports.flatMap((port) => [A, B].map((e) => login(port, e))));
  await Promise.all(
    clients.map(async (c, k) => {
      const e = k % 2 === 0 ? A : B;
      for (let i = 0; i < PER_FRONT; i++) {
        const name = `front${Math.floor(k / 2)}-${i}.csv`;
        sent.push(`${e}/${name}`);
        const body = csvBatch(e, [{ vin: vin(1000 * k + i), odometer: 20_000 + i }], { trailer: true });
        expect((await c.uploadFrom(Readable.from([Buffer.from(body)]), name)).code).toBe(226);
      }
    }),
  );
  await waitFor(
    'every file done',
    async () => (await store.files.list()).filter((f) => f.status === 'done').length === sent.length,
    60_000,
    200,
  );

  const files = await store.files.list();
  expect(files.map((f) => `${f.account}/${f.name}`).sort()).toEqual([...sent].sort());
  // Recorded relative to the files directory: the worker found them under its own path to it.
  for (const f of files) {
    expect(path.isAbsolute(f.storedPath)).toBe(false);
    expect(f.receiptPath).toBe(path.join('receipts', f.account, `${f.name}.receipt.csv`));
  }
  for (const e of [A, B]) {
    const onDisk = fs.readdirSync(path.join(filesDir, 'receipts', e)).sort();
    expect(onDisk).toEqual(
      files
        .filter((f) => f.account === e)
        .map((f) => `${f.name}.receipt.csv`)
        .sort(),
    );
  }
  // The same /receipts/ whichever front the client lands on.
  const listed = async (c: Client) => (await c.list('/receipts')).map((f) => f.name).sort();
  expect(await listed(clients[0])).toEqual(await listed(clients[2]));
  expect(await listed(clients[1])).toEqual(await listed(clients[3]));
  expect(await listed(clients[0])).toHaveLength(2 * PER_FRONT);

  // A held file sent to one front is listed by the other.
  await clients[0].uploadFrom(Readable.from([Buffer.from('half')]), 'later.csv.part');
  expect((await clients[2].list('/')).map((f) => f.name)).toContain('later.csv.part');
  for (const c of clients) c.close();

  // One trail for the fleet: the fronts' uploads and the worker's receipts, one receipt event per file.
  const events = await auditEvents({ store });
  const receipts = events.filter((e) => e.event === 'receipt');
  expect(receipts.map((e) => e.file).sort()).toEqual(files.map((f) => f.id).sort());
  expect(new Set(receipts.map((e) => e.pid))).toEqual(new Set([worker.child.pid]));
  const uploaders = new Set(events.filter((e) => e.event === 'upload').map((e) => e.pid));
  expect(uploaders).toEqual(new Set(procs.slice(0, 2).map((p) => p.child.pid)));
  expect(events.every((e) => e.host === os.hostname())).toBe(true);

  // The data directory keeps only this host's things.
  for (const shared of ['store', 'receipts', 'drop']) expect(fs.existsSync(path.join(dataDir, shared))).toBe(false);
}, 120_000);

it("a front's orphan sweep takes its own host's unrecorded files after the grace, another host's only after an hour", async () => {
  const layout = dataLayout(dataDir, filesDir);
  const settings = resolveSettings({ dataDir, filesDir }, {});
  const own = path.join(layout.storeDir, `${HOST_MARK}~${crypto.randomUUID()}`);
  const foreign = path.join(layout.storeDir, `other-front.example~${crypto.randomUUID()}`);
  const legacy = path.join(layout.storeDir, crypto.randomUUID()); // named before host marks
  for (const f of [own, foreign, legacy]) fs.writeFileSync(f, 'H;unrecorded\n');
  const recorded = fs.readdirSync(layout.storeDir).filter((n) => ![own, foreign, legacy].map((f) => path.basename(f)).includes(n));
  const audit = new AuditLog(store.audit);
  const deps = { store, layout, settings, audit };
  try {
    expect(await removeStoredOrphans(deps, Date.now() + orphanGraceMs(settings) + 1000)).toEqual([path.basename(own)]);
    expect(fs.existsSync(foreign) && fs.existsSync(legacy)).toBe(true);
    const later = await removeStoredOrphans(deps, Date.now() + FOREIGN_GRACE_MS + 1000);
    expect(later.sort()).toEqual([path.basename(foreign), path.basename(legacy)].sort());
    // Recorded files are never taken, however old.
    expect(fs.readdirSync(layout.storeDir).sort()).toEqual(recorded.sort());
  } finally {
    await audit.close();
  }
});
