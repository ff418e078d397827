/**
 * Data connections bound to their control connection (issue #13, findings 4 and 5; docs/ftps.md "Data connections"),
 * against the real service: hand-driven TLS sockets (test/helpers/raw-ftps.ts) play the sender and a neighbour
 * behind the same NAT address (both on 127.0.0.1), 127.0.0.2 plays another address, and Python's ftplib plays a
 * client that cannot resume its TLS session.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { csvBatch, vin } from './helpers/batch';
import { rawControl, sendAll, tcpData, tlsData, type RawFtp } from './helpers/raw-ftp';
import { ftplibRound } from './helpers/ftp-clients';
import { auditEvents, envFor, inflowAsync } from './helpers/ops';
import { waitFor } from './helpers/wait';

const PW = 'data connection test password';
const VICTIM = '2123456692';
const NEIGHBOUR = '2200000085';
const PYTHON = '2234567818';
const CAPPED = '2000000141';
const HOST = '127.0.0.1';
const NOT_RESUMED = 'it did not resume the TLS session of the control connection (TLS session reuse is required)';

const sha256 = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

/** Resolves true once nothing listens on the port: we can listen on it ourselves (and stop at once). */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, HOST, () => probe.close(() => resolve(true)));
  });
}

/** Resolves with `p`, or fails saying what did not happen within ms. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

describe('data connections of the service', () => {
  let svc: TestService;
  let seedReceipt: string;
  const open: RawFtp[] = [];
  const control = async (user: string, tlsOptions?: import('node:tls').ConnectionOptions) => {
    const c = await rawControl({ host: HOST, port: svc.ftpPort, user, password: PW, tlsOptions });
    open.push(c);
    return c;
  };
  const addr = () => ({ host: HOST });
  const refusals = async (account: string) => (await auditEvents(svc)).filter((e) => e.event === 'data_refused' && e.account === account);

  beforeAll(async () => {
    svc = await startTestService({ pasvPortsPerAccount: 2 });
    for (const a of [VICTIM, NEIGHBOUR, PYTHON, CAPPED]) await svc.addAccount(a, PW);
    const c = await svc.connect(VICTIM, PW);
    await c.uploadFrom(Readable.from([Buffer.from(csvBatch(VICTIM, [{ vin: vin(1) }], { trailer: true }))]), 'seed.csv');
    seedReceipt = await waitForReceipt(c, 'seed.csv.receipt.csv');
    c.close();
  });
  afterEach(() => open.splice(0).forEach((c) => c.close()));
  afterAll(async () => svc?.teardown());

  describe.each(['TLSv1.3', 'TLSv1.2'] as const)('over %s', (version) => {
    it('a neighbour behind the same NAT who connects first to the victim’s port gets nothing; the victim’s upload is stored intact', async () => {
      const tlsOptions = { minVersion: version, maxVersion: version };
      const victim = await control(VICTIM, tlsOptions);
      const neighbour = await control(NEIGHBOUR, tlsOptions);
      const port = await victim.epsv();

      // First the neighbour, offering the session of its own control connection (one it may resume on its own
      // data connections), then with no session at all: neither handshake completes.
      for (const session of [neighbour.session(), null]) {
        const thief = await tlsData({ ...addr(), port, session, tlsOptions });
        if (thief.socket)
          await sendAll(thief.socket, Buffer.from(csvBatch(VICTIM, [{ vin: vin(2), odometer: 999999 }], { trailer: true })));
        expect(thief.socket ? 'handshake done' : 'refused').toBe('refused');
        expect((await thief.outcome).received.length).toBe(0);
      }

      // The victim's data connection resumes its control connection's session: its upload goes through.
      const mine = await tlsData({ ...addr(), port, session: victim.session(), tlsOptions });
      expect(mine.socket?.isSessionReused()).toBe(true);
      expect(await victim.cmd(`STOR nightly-${version}.csv`)).toMatch(/^150 /);
      const bytes = Buffer.from(csvBatch(VICTIM, [{ vin: vin(3), odometer: 4321 }], { trailer: true }));
      await sendAll(mine.socket!, bytes);
      expect(await victim.cmd()).toMatch(/^226 /);

      const stored = await waitFor('the upload recorded', async () =>
        (await svc.store.files.list({ account: VICTIM })).find((f) => f.name === `nightly-${version}.csv`),
      );
      expect({ size: stored.size, sha256: stored.sha256 }).toEqual({ size: bytes.length, sha256: sha256(bytes) });
      expect((await refusals(VICTIM)).pop()).toMatchObject({ ip: expect.stringContaining('127.0.0.1'), reason: NOT_RESUMED });
    }, 30_000);
  });

  it('a neighbour who connects first cannot read the victim’s receipt; a victim that starts TLS after the 150 (lftp, ftplib) gets it', async () => {
    const victim = await control(VICTIM);
    const neighbour = await control(NEIGHBOUR);
    const port = await victim.epsv();
    const thief = await tlsData({ ...addr(), port, session: neighbour.session() });
    const mine = await tcpData({ ...addr(), port, session: victim.session() });

    expect(thief.socket ? 'handshake done' : 'refused').toBe('refused');
    expect(await victim.cmd('RETR /receipts/seed.csv.receipt.csv')).toMatch(/^150 /);
    const secured = await within(mine.startTls(), 15_000, 'the victim’s TLS handshake');
    expect(secured?.isSessionReused()).toBe(true);
    expect((await within(mine.outcome, 15_000, 'the receipt')).received.toString('utf8')).toBe(seedReceipt);
    expect(await victim.cmd()).toMatch(/^226 /);
    expect((await thief.outcome).received.length).toBe(0);
  }, 30_000);

  it('a plain TCP connection from another IP address is dropped; the victim’s session and transfer go on', async () => {
    const victim = await control(VICTIM);
    const port = await victim.epsv();
    const stray = await tcpData({ ...addr(), port, session: null, localAddress: '127.0.0.2' });
    await within(stray.closed, 10_000, 'the stray connection closed');

    expect(await victim.cmd('NOOP')).toMatch(/^200 /);
    const mine = await tlsData({ ...addr(), port, session: victim.session() });
    expect(await victim.cmd('NLST /receipts')).toMatch(/^150 /);
    expect((await mine.outcome).received.toString()).toContain('seed.csv.receipt.csv');
    expect(await victim.cmd()).toMatch(/^226 /);
    expect((await refusals(VICTIM)).pop()).toMatchObject({
      from: expect.stringContaining('127.0.0.2'),
      reason: 'it came from another IP address than the control connection',
    });
  }, 30_000);

  it('draws passive ports at random from the range', async () => {
    const c = await control(VICTIM);
    const ports: number[] = [];
    for (let i = 0; i < 20; i++) ports.push(await c.epsv());
    const { pasvMin, pasvMax } = svc.settings;
    expect(ports.filter((p) => p < pasvMin || p > pasvMax)).toEqual([]);
    // In sequence, each port would be the one after the previous (19 of 19 steps); at random from 40, about 0.5.
    const nextInSequence = ports.slice(1).filter((p, i) => p === (ports[i] === pasvMax ? pasvMin : ports[i] + 1)).length;
    expect(nextInSequence).toBeLessThan(10);
  });

  it('holds an account to its passive ports (2 here) across its connections; a new EPSV replaces the previous port', async () => {
    const [a1, a2, a3] = [await control(CAPPED), await control(CAPPED), await control(CAPPED)];
    const first = await a1.epsv();
    await a2.epsv();
    expect(await a3.cmd('EPSV')).toMatch(
      /^425 Too many passive ports open for this account \(at most 2\): finish or close another transfer first$/,
    );
    expect(await (await control(NEIGHBOUR)).epsv()).toBeGreaterThan(0); // other accounts keep theirs

    // Another EPSV on a1 closes a1's previous port rather than holding a third.
    let again = await a1.epsv();
    while (again === first) again = await a1.epsv();
    expect(await portFree(first)).toBe(true);

    // A closed connection gives its port back.
    a2.close();
    await waitFor('a port given back to the account', async () => /^229 /.test(await a3.cmd('EPSV')), 10_000, 100);
    expect((await refusals(CAPPED))[0]).toMatchObject({ reason: 'passive port limit', limit: 2 });
  }, 30_000);

  it('refuses stock ftplib (no session reuse) with a clear reply; after `inflow accounts set --tls-reuse optional` it works, from the same IP only', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-ftplib-'));
    try {
      const seed = await svc.connect(PYTHON, PW);
      await seed.uploadFrom(Readable.from([Buffer.from(csvBatch(PYTHON, [{ vin: vin(6) }], { trailer: true }))]), 'seed.csv');
      const receipt = await waitForReceipt(seed, 'seed.csv.receipt.csv');
      seed.close();
      const local = path.join(tmp, 'stock.csv');
      fs.writeFileSync(local, csvBatch(PYTHON, [{ vin: vin(7) }], { trailer: true }));
      const round = () =>
        ftplibRound({
          host: HOST,
          port: svc.ftpPort,
          user: PYTHON,
          password: PW,
          timeoutMs: 40_000,
          tlsReuse: false,
          localFile: local,
          remoteName: 'stock.csv',
          downloadPath: '/receipts/seed.csv.receipt.csv',
          downloadTo: path.join(tmp, 'receipt.csv'),
        });

      const refused = await round();
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(/^FAILED .*SSL/m);
      expect(refused.stdout).toContain(`REPLY 425 No data connection: ${NOT_RESUMED}`);
      expect((await svc.store.files.list({ account: PYTHON })).map((f) => f.name)).toEqual(['seed.csv']);

      const set = await inflowAsync(['accounts', 'set', PYTHON, '--tls-reuse', 'optional'], envFor(svc));
      expect(set).toMatchObject({ code: 0, stdout: `TLS session reuse optional for ${PYTHON}\n` });
      expect(await svc.store.accounts.byEstablishment(PYTHON)).toMatchObject({ tlsReuse: 'optional' });

      const works = await round();
      expect(works).toMatchObject({ code: 0 });
      expect(fs.readFileSync(path.join(tmp, 'receipt.csv'), 'utf8')).toBe(receipt);
      expect((await svc.store.files.list({ account: PYTHON })).map((f) => f.name).sort()).toEqual(['seed.csv', 'stock.csv']);

      // Still bound to the control connection's IP address: a handshake of its own, from another address, is dropped.
      const c = await control(PYTHON);
      const port = await c.epsv();
      const stray = await tlsData({ ...addr(), port, session: null, localAddress: '127.0.0.2' });
      expect(stray.socket ? 'handshake done' : 'refused').toBe('refused');
      const own = await tlsData({ ...addr(), port, session: null });
      expect(own.socket?.isSessionReused()).toBe(false);
      expect(await c.cmd('NLST /')).toMatch(/^150 /);
      await own.outcome;
      expect(await c.cmd()).toMatch(/^226 /);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 90_000);
});

describe('unused passive ports of the service', () => {
  let svc: TestService;
  const IDLE_MS = 1000;
  const open: RawFtp[] = [];
  const control = async () => {
    const c = await rawControl({ host: HOST, port: svc.ftpPort, user: VICTIM, password: PW });
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    svc = await startTestService({ dataIdleMs: IDLE_MS });
    await svc.addAccount(VICTIM, PW);
  });
  afterEach(() => open.splice(0).forEach((c) => c.close()));
  afterAll(async () => svc?.teardown());

  it('closes a data connection that no transfer uses, and its port; the control connection stays', async () => {
    const c = await control();
    const port = await c.epsv();
    const idle = await tlsData({ host: HOST, port, session: c.session() });
    expect(idle.socket?.isSessionReused()).toBe(true);
    const out = await within(idle.outcome, 15_000, 'the idle data connection closed by the server');
    expect(out.received.length).toBe(0);
    expect(await portFree(port)).toBe(true);
    expect(await c.cmd('NOOP')).toMatch(/^200 /);
  }, 30_000);

  it('closes a data connection whose TLS handshake never starts, and a port nobody connects to', async () => {
    const c = await control();
    const silent = await tcpData({ host: HOST, port: await c.epsv(), session: null });
    await within(silent.closed, 15_000, 'the silent connection closed by the server');

    const unused = await c.epsv();
    await waitFor('the unused port closed', () => portFree(unused), 15_000, 200);
    expect(await c.cmd('NOOP')).toMatch(/^200 /);
  }, 40_000);
});
