/**
 * A fleet across hosts (issue 15, item 5; root only, as CI runs): network namespaces on a bridge stand for the
 * machines: `db` (a PostgreSQL cluster of its own and a redis-server, reachable only over that network), `front`
 * (the FTPS front, `serve --workers 0`), `w1` and `w2` (two `inflow worker` processes each); the test process is
 * the client network. The hosts share nothing but the network and one directory (--files-dir, standing for the NFS
 * mount of uploads and receipts); each has a data directory of its own.
 *
 * 20 files of 4 accounts with vehicles shared between files go up over FTPS; every process of the worker host first
 * seen in the middle of a big file is SIGKILLed (then that host starts again). Every file must end `done` with exactly one receipt, and what the
 * database holds must equal what one worker on SQLite makes of the same files one after the other, in the same
 * order (normalised dumps: test/helpers/store-dump.ts).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { dataLayout } from '../config/layout';
import { openStore, type FileRecord, type Store } from '../store';
import { formatErrorNumber } from '../rules/error-number';
import { buildNet, requireRoot, runTempDir, type Host, type TestNet } from './helpers/netns';
import { startPostgres, startRedis, type NetService } from './helpers/netns-services';
import { ACCOUNTS, fleetFiles, type FleetFile } from './helpers/fleet-files';
import { dumpDiff, dumpStore } from './helpers/store-dump';
import { referenceRun } from './helpers/reference-run';
import { parseReceipt } from './helpers/receipt';
import { BIN, type Proc } from './helpers/ops';
import { waitFor, waitForOutput } from './helpers/wait';

const PASSWORD = 'multi-host test password';
const BIG = 20_000;
const FILES = fleetFiles(20, 3, BIG, 200);
/** The kill waits for a few committed batches of a big file (and comes long before its end). */
const KILL_AFTER_LINE = 4000;
const BIG_FILES = FILES.filter((f) => f.name.startsWith('big-'));
// Small batches, so a kill lands between committed batches of a big file; short locks, so a dead host's file is
// taken over in seconds (defaults: 100,000 records, 30 s); four files at once across the fleet.
const FLEET_ENV = {
  INFLOW_BATCH_SIZE: '2000',
  INFLOW_JOB_LOCK_MS: '8000',
  INFLOW_STALLED_INTERVAL_MS: '1000',
  INFLOW_GLOBAL_CONCURRENCY: '4',
  INFLOW_JOB_BACKOFF_MS: '200',
  INFLOW_RECONCILE_SECONDS: '2',
};

let net: TestNet;
let pg: NetService | undefined;
let redis: NetService | undefined;
let root = '';
const procs: (Proc & { host: string })[] = [];
let store: Store | undefined;

/** Where each host keeps what: its own data directory; the files directory all share. */
const dirs = {
  files: () => path.join(root, 'shared-files'),
  data: (host: string) => path.join(root, `data-${host}`),
};
/** The shared files directory as every host sees it (paths in the database are relative to it). */
const shared = () => dataLayout(dirs.data('client'), dirs.files());

/** The options that point a command at the fleet's database, Redis and files directory. */
function fleetArgs(host: string): string[] {
  return ['--data-dir', dirs.data(host), '--database-url', pg!.url, '--files-dir', dirs.files()];
}

/** startIn starts `inflow <args>` inside `host` and resolves once its output matches `ready`. */
async function startIn(host: Host, args: string[], ready: string | RegExp): Promise<Proc> {
  const env = { ...process.env, INFLOW_DATA_DIR: '', REDIS_URL: '', INFLOW_DATABASE_URL: '', INFLOW_FILES_DIR: '', ...FLEET_ENV };
  const child = net.spawnIn(host, process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  await waitForOutput(child, () => out, ready, `inflow ${args[0]} on ${host.name}`, 30_000);
  const p = { child, out: () => out, exited, host: host.name };
  procs.push(p);
  return p;
}

const startWorker = (host: Host) => startIn(host, ['worker', ...fleetArgs(host.name), '--redis-url', redis!.url], 'is running');

/** addAccount runs `inflow accounts add` on the client network (the root namespace), against the fleet's database. */
function addAccount(est: string): Promise<void> {
  const env = { ...process.env, INFLOW_DATA_DIR: '', REDIS_URL: '', INFLOW_DATABASE_URL: '', INFLOW_FILES_DIR: '' };
  // prettier-ignore
  const args = [BIN, 'accounts', 'add', est, '--name', `Garage ${est}`, '--password-stdin',
    '--data-dir', dirs.data('client'), '--database-url', pg!.url];
  const child = spawn(process.execPath, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  child.stdin.end(PASSWORD);
  return new Promise((resolve, reject) =>
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`inflow accounts add ${est} exited ${code}: ${out}`)))),
  );
}

async function connect(account: string): Promise<Client> {
  const c = new Client(30_000);
  await c.access({
    host: net.hosts.front.ip,
    port: 2121,
    user: account,
    password: PASSWORD,
    secure: true,
    secureOptions: { ca: [fs.readFileSync(path.join(dirs.data('front'), 'tls', 'cert.pem'))] },
  });
  return c;
}

/** upload sends files over FTPS, one connection per account, the accounts side by side. */
async function upload(files: FleetFile[]): Promise<void> {
  await Promise.all(
    ACCOUNTS.map(async (a) => {
      const mine = files.filter((f) => f.account === a);
      if (mine.length === 0) return;
      const c = await connect(a);
      try {
        for (const f of mine) await c.uploadFrom(Readable.from([Buffer.from(f.text)]), f.name);
      } finally {
        c.close();
      }
    }),
  );
}

/** The file a worker of `host` is storing now, with committed batches, and the pid of that worker. */
async function fileInProgressOn(host: string): Promise<{ file: FileRecord; pid: number } | null> {
  const pids = new Set(procs.filter((p) => p.host === host && p.child.exitCode === null).map((p) => p.child.pid));
  const spoolDir = dataLayout(dirs.data(host)).spoolDir;
  const spools = fs.existsSync(spoolDir) ? fs.readdirSync(spoolDir) : [];
  const processing = await store!.files.withStatus(['processing']);
  lastSeen = `processing: ${processing.map((f) => `${f.id} ${f.name} line ${f.progressLine}`).join(', ')}; spools: ${spools.join(', ')}`;
  for (const f of processing) {
    if (f.progressLine < KILL_AFTER_LINE) continue;
    // A spool is named <file id>.<pid>.<uuid> (pipeline/spool.ts): the worker that reads the file now.
    const pid = spools.map((s) => s.split('.')).find(([id, p]) => id === f.id && pids.has(Number(p)))?.[1];
    if (pid) return { file: f, pid: Number(pid) };
  }
  return null;
}

/** seen: what the fleet was doing, for a wait that timed out. */
let lastSeen = '';
const seen = () => lastSeen + '\n' + procs.map((p) => `${p.host} ${p.child.pid}:\n${p.out().slice(-1500)}`).join('\n');

beforeAll(async () => {
  requireRoot('test/multi-host.test.ts');
  root = runTempDir('fleet');
  net = await buildNet(['db', 'front', 'w1', 'w2']);
  pg = await startPostgres(net, net.hosts.db);
  redis = await startRedis(net, net.hosts.db);
  await Promise.all(ACCOUNTS.map(addAccount));
  const front = net.hosts.front;
  // prettier-ignore
  await startIn(front, [
    'serve', '--workers', '0', '--no-demo', ...fleetArgs('front'), '--redis-url', redis.url,
    '--ftp-host', front.ip, '--ftp-port', '2121', '--pasv-range', '50000-50063',
  ], 'odo-inflow is serving');
  await Promise.all([net.hosts.w1, net.hosts.w1, net.hosts.w2, net.hosts.w2].map(startWorker));
  store = await openStore({ sqlite: '', databaseUrl: pg.url });
}, 90_000);

afterAll(async () => {
  await store?.close();
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await redis?.stop();
  await pg?.stop();
  await net?.teardown();
  if (root) fs.rmSync(root, { recursive: true, force: true });
});

describe('a fleet on four hosts: FTPS front, two worker hosts, PostgreSQL and Redis on a database host', () => {
  let killed: { file: FileRecord; pid: number; pids: number[]; host: 'w1' | 'w2' };
  let files: FileRecord[];

  it('is a network of its own: a host reaches the database host, and nothing of the machine', () => {
    const query = (url: string) => () => net.runIn(net.hosts.w1, 'psql', [url, '-Atc', 'SELECT inet_client_addr()']);
    expect(query(pg!.url)().trim()).toBe(net.hosts.w1.ip);
    // The machine's own PostgreSQL (127.0.0.1:5432, if it runs) is not there for the hosts.
    expect(query('postgres://postgres@127.0.0.1:5432/postgres')).toThrow(/failed/);
  });

  it('takes 20 files in over FTPS and processes them all, although every process of a worker host is SIGKILLed in the middle of a file', async () => {
    // The big files first, each from its own account, while all four workers are idle. Two files are processed at
    // a time across the fleet (PostgreSQL's global concurrency): the host whose worker is first seen in the middle
    // of a big file is the one killed (which host takes the first files is BullMQ's and the kernel's choice).
    const start = Date.now();
    await upload(BIG_FILES);
    const smallOnes = upload(FILES.filter((f) => !BIG_FILES.includes(f)));
    const inProgress = await waitFor(
      'a worker host in the middle of a file',
      async () => {
        for (const host of ['w1', 'w2'] as const) {
          const found = await fileInProgressOn(host);
          if (found) return { ...found, host };
        }
        return null;
      },
      60_000,
      20,
      seen,
    );
    const victim = net.hosts[inProgress.host];
    const pids = await net.killHost(victim);
    killed = { ...inProgress, pids };
    expect(pids).toContain(inProgress.pid);
    expect((await store!.files.get(inProgress.file.pk))!.status).toBe('processing');
    await smallOnes;
    // The host comes back: its data directory is as the kill left it (a spool of the killed attempt).
    await Promise.all([startWorker(victim), startWorker(victim)]);

    files = await waitFor(
      'every file done',
      async () => {
        const all = await store!.files.list();
        return all.length === FILES.length && all.every((f) => f.status === 'done') ? all : null;
      },
      150_000,
      250,
      seen,
    );
    const seconds = Math.round((Date.now() - start) / 1000);
    const again = files.find((f) => f.pk === killed.file.pk)!;
    const attempts = files.reduce((n, f) => n + f.attempts, 0);
    expect(again.attempts).toBeGreaterThanOrEqual(2);
    process.stdout.write(
      `multi-host: ${killed.host} (pids ${pids.join(', ')}) killed while ${killed.pid} stored ${killed.file.name} ` +
        `after line ${killed.file.progressLine} of ${BIG + 1} (${again.attempts} attempts at it); ` +
        `all ${files.length} files done ${seconds} s after the first upload, in ${attempts} attempts\n`,
    );
  }, 180_000);

  it('wrote exactly one receipt per file into the shared files directory, and the front serves it', async () => {
    for (const f of files) {
      expect(f.receiptPath).not.toBeNull();
      const receipt = parseReceipt(fs.readFileSync(shared().filesPath(f.receiptPath!), 'utf8'));
      expect({ status: receipt.status, records: receipt.records }).toEqual({ status: f.result, records: f.records });
      const issues = await store!.issues.forFile(f.pk);
      const numbers = issues.filter((i) => i.severity === 'E' || i.severity === 'A').map((i) => formatErrorNumber(i.id));
      expect(
        receipt.issues
          .map((i) => i.errorNumber)
          .filter(Boolean)
          .sort(),
      ).toEqual(numbers.sort());
    }
    for (const a of ACCOUNTS) {
      const expected = FILES.filter((f) => f.account === a)
        .map((f) => `${f.name}.receipt.csv`)
        .sort();
      expect(fs.readdirSync(shared().receiptsDir(a)).sort()).toEqual(expected);
      const c = await connect(a);
      expect((await c.list('/receipts')).map((e) => e.name).sort()).toEqual(expected);
      c.close();
    }
    // Uploads and receipts are in the shared directory only, none on a host's own disk.
    for (const host of ['front', 'w1', 'w2']) {
      for (const d of ['store', 'drop', 'receipts']) expect(fs.readdirSync(dirs.data(host))).not.toContain(d);
    }
  });

  it("keeps the fleet's audit trail in one place, each event with its host", async () => {
    const events = await store!.audit.list();
    const uploads = events.filter((e) => e.event === 'upload');
    expect(uploads).toHaveLength(FILES.length);
    for (const e of uploads) expect({ host: e.host, ip: e.fields.ip }).toEqual({ host: 'front', ip: net.clientIp });
    const receipts = events.filter((e) => e.event === 'receipt');
    expect(new Set(receipts.map((e) => e.fields.file))).toEqual(new Set(files.map((f) => f.id)));
    const workerPids = new Set(procs.filter((p) => p.host !== 'front').map((p) => p.child.pid));
    for (const e of receipts) {
      expect(['w1', 'w2']).toContain(e.host);
      expect(workerPids).toContain(e.pid);
    }
    // The killed file's receipt came from another worker, which took it over.
    const killedFile = receipts.filter((e) => e.fields.file === killed.file.id);
    expect(killedFile.length).toBeGreaterThan(0);
    expect(killedFile.map((e) => e.pid)).not.toContain(killed.pid);
  });

  it('holds what one worker on SQLite makes of the same files in the same order: readings, issues, error numbers', async () => {
    const got = await dumpStore(store!);
    const ordered = [...files].sort((a, b) => a.pk - b.pk);
    const reference = await referenceRun(
      ACCOUNTS,
      ordered.map((f) => ({
        account: f.account,
        name: f.name,
        text: FILES.find((x) => x.name === f.name)!.text,
        receivedAt: f.receivedAt,
      })),
    );
    expect(dumpDiff(reference, got)).toBe('');
    expect(new Set(got.errorNumbers).size).toBe(got.errorNumbers.length);
    expect(got.errorNumbers).toHaveLength(reference.errorNumbers.length);
    // The data raise what they were made to raise (else the comparison would prove little).
    const codes = new Set([...got.files.values()].flat().map((l) => l.split(' ')[3]));
    for (const c of ['A40', 'A41', 'A42', 'W50', 'W52', 'W53', 'E12', 'E14', 'E16', 'E17', 'E19', 'E20', 'E21', 'E30', 'F04']) {
      expect(codes).toContain(c);
    }
  }, 120_000);
});
