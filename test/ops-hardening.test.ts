/**
 * The hardened front door (docs/ftps.md, issue 6): brute-force lockout per username and per IP, the size limit enforced
 * while streaming (a 64 MiB upload against 1 MiB, generated on the fly, against a real `serve` process whose memory
 * is watched), the record limit (F06), idle and transfer timeouts that never cut an upload that moves, and the
 * audit log of it all.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { startTestService, useTestService, waitForReceipt, type TestService } from './helpers/service';
import { parseReceipt } from './helpers/receipt';
import { csvBatch, rLine, vin } from './helpers/batch';
import { auditEvents, BIN, spawnInflow, type Proc } from './helpers/ops';
import { isEmptyDir, sleep, waitFor } from './helpers/wait';
import { freePort } from '../app/redis-server';

const GARAGE = '2123456692';
const OTHER = '2200000085';
const PW = 'hardening test password';

describe('brute-force lockout', () => {
  let svc: TestService;
  const LOCK_MS = 1500;

  beforeAll(async () => {
    svc = await startTestService({ loginMaxFailures: 5, loginIpMaxFailures: 5, loginWindowMs: 60_000, loginLockMs: LOCK_MS });
    await svc.addAccount(GARAGE, PW);
    await svc.addAccount(OTHER, PW);
  });
  afterAll(async () => svc?.teardown());

  const login = (user: string, password: string) =>
    svc.connect(user, password).then(
      (c) => (c.close(), 'ok'),
      (err: Error) => err.message,
    );
  const events = () => auditEvents(svc);

  it('locks a username after 5 failed logins: the 6th and a right password are refused; the lock lifts after its time', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 6; i++) answers.push(await login(GARAGE, 'wrong password ' + i));
    expect(answers.slice(0, 5)).toEqual(Array(5).fill(expect.stringMatching(/^530 Login incorrect/)));
    expect(answers[5]).toMatch(/^530 Too many failed logins/);
    const lockedAt = Date.now();
    expect(await login(GARAGE, PW)).toMatch(/^530 Too many failed logins/);

    const mine = (await events()).filter((e) => e.username === GARAGE);
    expect(mine.map((e) => e.event)).toEqual([...Array(5).fill('login_failed'), 'login_refused', 'login_refused']);
    expect(mine[4].locked).toEqual(expect.arrayContaining([`user:${GARAGE}`]));
    expect(mine[5]).toMatchObject({ reason: 'locked', key: `user:${GARAGE}` });
    expect(JSON.stringify(mine)).not.toContain('wrong password'); // passwords are never logged

    // Time must pass here: the lock's duration is what is tested (no event marks a lock lifting).
    await sleep(Math.max(0, LOCK_MS + 100 - (Date.now() - lockedAt)));
    expect(await login(GARAGE, PW)).toBe('ok');
    expect((await events()).filter((e) => e.username === GARAGE).pop()).toMatchObject({ event: 'login' });
  }, 30_000);

  it('locks an IP that fails loginIpMaxFailures times, whatever the usernames, for accounts that never logged in from it', async () => {
    for (let i = 0; i < 5; i++) expect(await login(`99999999${String(i).padStart(2, '0')}`, 'nope')).toMatch(/^530 Login incorrect/);
    expect(await login(OTHER, PW)).toMatch(/^530 Too many failed logins/);
    expect((await events()).filter((e) => e.username === OTHER).pop()).toMatchObject({
      event: 'login_refused',
      reason: 'locked',
      key: expect.stringMatching(/^ip:/),
    });
    await sleep(LOCK_MS + 100); // the lock's duration, as above
    expect(await login(OTHER, PW)).toBe('ok');
  }, 30_000);
});

describe('timeouts', () => {
  const svc = useTestService({ ftpIdleMs: 1000, transferIdleMs: 1000 }, [GARAGE], PW);

  it('closes a control connection idle for longer than ftpIdleMs', async () => {
    const c = await svc.connect(GARAGE, PW);
    await c.list('/');
    // The server's idle timer fires after ftpIdleMs (1 s) of silence: it audits it, then closes the connection.
    await waitFor('the idle timeout', async () => (await auditEvents(svc)).some((e) => e.event === 'idle_timeout'), 10_000, 50);
    await expect(c.list('/')).rejects.toThrow();
    c.close();
    expect((await auditEvents(svc)).map((e) => e.event)).toContain('idle_timeout');
  });

  it('does not cut an upload that takes longer than both timeouts while its bytes keep moving', async () => {
    const c = await svc.connect(GARAGE, PW);
    const body = Buffer.from(
      csvBatch(
        GARAGE,
        Array.from({ length: 400 }, (_, i) => ({ vin: vin(5000 + i) })),
        { trailer: true },
      ),
    );
    const chunks = 12;
    const size = Math.ceil(body.length / chunks);
    const t0 = Date.now();
    await c.uploadFrom(
      Readable.from(
        (async function* () {
          for (let i = 0; i < chunks; i++) {
            yield body.subarray(i * size, (i + 1) * size);
            await sleep(250); // a slow client's pace (time must pass): 3 s in all, three times each timeout
          }
        })(),
      ),
      'slow.csv',
    );
    expect(Date.now() - t0).toBeGreaterThan(2500);
    expect(parseReceipt(await waitForReceipt(c, 'slow.csv.receipt.csv')).status).toBe('ACCEPTED');
    c.close();
  }, 30_000);

  it('cuts an upload that stops sending, and discards it', async () => {
    const c = await svc.connect(GARAGE, PW);
    const body = Buffer.from(csvBatch(GARAGE, [{ vin: vin(6000) }], { trailer: true }));
    const err = await c
      .uploadFrom(
        Readable.from(
          (async function* () {
            yield body.subarray(0, 20);
            // The client goes silent until the server cuts the transfer (after transferIdleMs), then sends the rest.
            await waitFor(
              'the stalled transfer to be cut',
              async () => (await auditEvents(svc)).some((e) => e.event === 'upload_refused' && e.name === 'stalled.csv'),
              10_000,
              50,
            ).catch(() => {});
            yield body.subarray(20);
          })(),
        ),
        'stalled.csv',
      )
      .then(
        () => null,
        (e: Error) => e.message,
      );
    expect(err).toMatch(/451 No data for 1 s: transfer cut/);
    c.close();
    expect((await svc.store.files.list()).map((f) => f.name)).not.toContain('stalled.csv');
    expect(fs.readdirSync(path.join(svc.layout.dropDir(GARAGE), '.incoming'))).toEqual([]);
    expect(await auditEvents(svc)).toContainEqual(
      expect.objectContaining({ event: 'upload_refused', name: 'stalled.csv', reason: 'transfer stalled' }),
    );
  }, 30_000);
});

describe('the record limit', () => {
  let svc: TestService;
  beforeAll(async () => {
    // Batches of 20: the first ones may be stored (pending) before the reader reaches the limit; none may stay.
    svc = await startTestService({ maxRecords: 100, batchSize: 20 });
    await svc.addAccount(GARAGE, PW);
  });
  afterAll(async () => svc?.teardown());

  it('rejects a file with more records than the limit (F06) and stores nothing of it', async () => {
    const c = await svc.connect(GARAGE, PW);
    await c.uploadFrom(
      Readable.from([
        Buffer.from(
          csvBatch(
            GARAGE,
            Array.from({ length: 5000 }, (_, i) => ({ vin: vin(i + 1) })),
            { trailer: true },
          ),
        ),
      ]),
      'many.csv',
    );
    const r = parseReceipt(await waitForReceipt(c, 'many.csv.receipt.csv'));
    c.close();
    expect(r.status).toBe('REJECTED');
    expect(r.issues.map((i) => [i.code, i.message])).toContainEqual([
      'F06',
      'The file holds more than 100 records, the limit per file: split it into smaller files.',
    ]);
    expect(await svc.store.readings.count()).toBe(0);
    expect((await svc.store.files.list()).map((f) => f.progressLine)).toEqual([0]); // nothing of it left stored
  });
});

describe('a 64 MiB upload against a 1 MiB limit, on a real serve process', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-limit-'));
  let serve: Proc;
  let port: number;
  afterAll(() => {
    if (serve && serve.child.exitCode === null) serve.child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);

  it('is cut off with a clear error, nothing of it is processed, and the memory stays flat', async () => {
    port = await freePort();
    const pasv = 20000 + crypto.randomInt(0, 800) * 50;
    const env = {
      INFLOW_DATA_DIR: dir,
      REDIS_URL: process.env.INFLOW_TEST_REDIS_URL,
      INFLOW_QUEUE_PREFIX: 'test-' + crypto.randomUUID(),
      INFLOW_MAX_FILE_BYTES: String(1024 * 1024),
      INFLOW_PASV_MIN: String(pasv),
      INFLOW_PASV_MAX: String(pasv + 39),
    };
    expect(
      spawnSync(process.execPath, [BIN, 'accounts', 'add', GARAGE, '--name', 'G', '--password-stdin'], {
        env: { ...process.env, ...env },
        input: PW,
      }).status,
    ).toBe(0);
    serve = await spawnInflow(['serve', '--no-demo', '--ftp-port', String(port)], env, 'Ctrl-C stops it.');
    const pid = serve.child.pid!;
    const client = new Client(30000);
    await client.access({
      host: '127.0.0.1',
      port,
      user: GARAGE,
      password: PW,
      secure: true,
      secureOptions: { ca: [fs.readFileSync(path.join(dir, 'tls', 'cert.pem'))], servername: 'localhost' },
    });
    await client.list('/'); // warm up: TLS, a data connection
    const before = rssKb(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 20);

    const TOTAL = 64 * 1024 * 1024;
    const line = Buffer.from(rLine({ vin: vin(1) }) + '\n');
    const chunk = Buffer.concat(Array(Math.ceil(65536 / line.length)).fill(line)).subarray(0, 65536);
    let sent = 0;
    const source = Readable.from(
      (function* () {
        yield Buffer.from(`H;INFLOW;1;${GARAGE};2026-11-25T22:00:00+01:00;x\n`);
        while (sent < TOTAL) {
          sent += chunk.length;
          yield chunk;
        }
      })(),
    );
    const err = await client.uploadFrom(source, 'huge.csv').then(
      () => null,
      (e: Error) => e.message,
    );
    clearInterval(sampler);
    expect(client.closed).toBe(false); // a refusal, not a broken session: the client may go on
    expect((await client.list('/receipts')).length).toBe(0);
    client.close();

    expect(err).toMatch(/552 File exceeds the size limit of 1048576 bytes: upload refused \(F06\)/);
    expect(sent).toBeLessThan(TOTAL / 4); // the rest was never read
    expect(peak - before).toBeLessThan(24 * 1024); // KiB: flat, not 64 MiB
    // The refused upload's temporary file is discarded after the 552 went out: wait for that, then look.
    const incoming = path.join(dir, 'drop', GARAGE, '.incoming');
    await waitFor('huge.csv to be discarded', () => isEmptyDir(incoming), 10_000, 50);
    const list = spawnSync(process.execPath, [BIN, 'files', 'list', '--json'], { env: { ...process.env, ...env }, encoding: 'utf8' });
    expect(JSON.parse(list.stdout)).toEqual([]);
    expect(fs.readdirSync(incoming)).toEqual([]);
    expect(fs.readdirSync(path.join(dir, 'receipts', GARAGE))).toEqual([]);
    const events = await auditEvents(dir);
    expect(events).toContainEqual(
      expect.objectContaining({ event: 'upload_refused', name: 'huge.csv', reason: 'size limit', limit: 1048576 }),
    );
    expect(events.some((e) => e.event === 'upload')).toBe(false);
    process.stdout.write(`size limit: client sent ${(sent / 1048576).toFixed(1)} MiB of 64; server RSS ${before} → peak ${peak} KiB\n`);

    serve.child.kill('SIGTERM');
    expect((await serve.exited).code).toBe(0);
  }, 60_000);
});
