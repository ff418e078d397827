/**
 * What one client can hold on the control port (docs/ftps.md, issue 13): connections per IP address and per
 * account, a connection that never finishes its TLS handshake, commands before login, restarts (REST) and the TLS
 * 1.2 suites. Real sockets and TLS against the real server; basic-ftp where a real client does the job.
 */
import { Readable, Writable } from 'node:stream';
import { Client, FTPError } from 'basic-ftp';
import { startTestService, useTestService, waitForReceipt, type TestService } from './helpers/service';
import { csvBatch, vin } from './helpers/batch';
import { auditEvents } from './helpers/ops';
import { waitFor } from './helpers/wait';
import { RawFtp } from './helpers/raw-ftp';

const GARAGE = '2123456692';
const PW = 'limits test password';

const failure = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ok',
    (err: Error) => err.message,
  );

/** greeted: a new control connection and its first reply (the greeting, or a refusal). */
async function greeted(port: number): Promise<{ ftp: RawFtp; first: string }> {
  const ftp = await RawFtp.connect(port);
  return { ftp, first: await ftp.reply() };
}

/** closedWithin: whether the server closes the connection within `ms`. */
async function closedWithin(ftp: RawFtp, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([ftp.closed.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(r, ms, false)))]);
  clearTimeout(timer);
  return closed;
}

describe('connections per IP address', () => {
  const svc = useTestService({ maxConnectionsPerIp: 3 }, [], PW);

  it('answers the connection beyond the limit 421 and closes it; a closed one makes room', async () => {
    const open = await Promise.all([1, 2, 3].map(() => greeted(svc.ftpPort)));
    expect(open.map((o) => o.first.slice(0, 3))).toEqual(['220', '220', '220']);

    const fourth = await greeted(svc.ftpPort);
    expect(fourth.first).toBe('421 Too many connections from your address (at most 3): close one and try again');
    await fourth.ftp.closed;
    expect(fourth.ftp.lines).toEqual([fourth.first]); // no greeting after the refusal
    expect(await auditEvents(svc)).toContainEqual(
      expect.objectContaining({ event: 'connection_refused', reason: 'too many connections from this address', limit: 3 }),
    );

    open[0].ftp.close();
    // The server counts the connection out when it sees it close.
    const next = await waitFor('room for a new connection', async () => {
      const c = await greeted(svc.ftpPort);
      if (c.first.startsWith('220')) return c;
      c.ftp.close();
      return null;
    });
    expect(await next.ftp.cmd('NOOP')).toMatch(/^200/);
    for (const c of [...open, next]) c.ftp.close();
  });
});

describe('connections per account', () => {
  const svc = useTestService({ maxConnectionsPerAccount: 2 }, [GARAGE], PW);

  it('answers a login beyond the limit 421 and closes it; a closed session makes room', async () => {
    const a = await svc.connect(GARAGE, PW);
    const b = await svc.connect(GARAGE, PW);
    expect(await failure(svc.connect(GARAGE, PW))).toMatch(
      /^421 Too many connections for this account \(at most 2\): close one and try again/,
    );
    expect(await auditEvents(svc)).toContainEqual(
      expect.objectContaining({ event: 'connection_refused', username: GARAGE, reason: 'too many connections for this account' }),
    );
    expect(await failure(a.list('/'))).toBe('ok'); // the two sessions go on
    a.close();
    const c = await waitFor('room for a new session', () => svc.connect(GARAGE, PW).catch(() => null));
    await c.uploadFrom(Readable.from([Buffer.from(csvBatch(GARAGE, [{ vin: vin(1) }], { trailer: true }))]), 'after.csv');
    b.close();
    c.close();
  });
});

describe('a client that does not log in', () => {
  const svc = useTestService({ ftpIdleMs: 1000, loginTimeoutMs: 3000, maxCommandsBeforeLogin: 20 }, [], PW);

  it('is closed at the idle time-out when it sends AUTH TLS and never makes the handshake', async () => {
    const { ftp } = await greeted(svc.ftpPort);
    expect(await ftp.cmd('AUTH TLS')).toMatch(/^234/);
    // Nothing more: the server waits for a ClientHello that never comes; its 421 can never be written.
    expect(await closedWithin(ftp, 15_000)).toBe(true);
    expect((await auditEvents(svc)).map((e) => e.event)).toContain('idle_timeout');
  }, 30_000);

  it('is closed (421) at the login deadline however often it sends NOOP', async () => {
    const { ftp } = await greeted(svc.ftpPort);
    // A client's pace (time must pass): four times as often as the idle time-out, fewer than 20 before the deadline.
    const noop = setInterval(() => !ftp.isClosed && ftp.write('NOOP'), 250);
    const closed = await closedWithin(ftp, 20_000);
    clearInterval(noop);
    expect(closed).toBe(true);
    expect(ftp.lines).toContain('421 Login timeout: log in within 3 s of connecting');
  }, 30_000);

  it('is closed (421) after 20 commands without logging in', async () => {
    const { ftp } = await greeted(svc.ftpPort);
    ftp.write(Array(22).fill('NOOP').join('\r\n'));
    const replies: string[] = [];
    for (let i = 0; i < 21; i++) replies.push(await ftp.reply());
    expect(replies.slice(0, 20)).toEqual(Array(20).fill(expect.stringMatching(/^200/)));
    expect(replies[20]).toBe('421 Too many commands before login (at most 20): log in first');
    await ftp.closed;
    expect(ftp.lines.filter((l) => /^\d{3} /.test(l))).toHaveLength(22); // the greeting, 20 × 200, the 421: nothing after
  });
});

describe('a client that repeats PASS on one connection', () => {
  const svc = useTestService({ maxCommandsBeforeLogin: 20 }, [GARAGE], PW);

  /** guess sends `lines` over TLS, each after the reply to the one before, until the server closes the connection. */
  async function guess(lines: (i: number) => string): Promise<string[]> {
    const { ftp } = await greeted(svc.ftpPort);
    await ftp.startTls();
    const replies: string[] = [];
    for (let i = 0; i < 40; i++) {
      const reply = await ftp.cmd(lines(i)).catch(() => null);
      if (reply === null) break;
      replies.push(reply);
    }
    return replies;
  }

  const audited = async (event: string) => (await auditEvents(svc)).filter((e) => e.event === event && e.username === GARAGE);

  it('checks 5 passwords (the lockout), refuses the next ones unchecked, and closes at the 20th command (421)', async () => {
    const replies = await guess((i) => (i === 0 ? `USER ${GARAGE}` : `PASS wrong password ${i}`));
    // AUTH TLS, USER, 18 × PASS: 20 commands; the 21st is answered 421.
    expect(replies).toHaveLength(20);
    expect(replies.slice(1, 19)).toEqual(Array(18).fill(expect.stringMatching(/^530 /)));
    expect(replies[19]).toBe('421 Too many commands before login (at most 20): log in first');
    expect([(await audited('login_failed')).length, (await audited('login_refused')).length]).toEqual([5, 13]);
  }, 60_000);

  it('cannot change its username after a failed PASS, so USER and PASS in turn change nothing', async () => {
    const replies = await guess((i) => (i % 2 === 0 ? `USER ${3_000_000_000 + i}` : `PASS wrong password ${i}`));
    expect(replies).toHaveLength(20);
    expect(replies.slice(0, 4)).toEqual([
      '331 Username okay, awaiting password',
      '530 Login incorrect',
      '530 Username already set',
      expect.stringMatching(/^530 /),
    ]);
    expect(replies[19]).toMatch(/^421 Too many commands before login/);
    expect((await auditEvents(svc)).filter((e) => e.event === 'login_failed' && e.username === '3000000000')).toHaveLength(5);
  }, 60_000);
});

describe('restarts (REST)', () => {
  let svc: TestService;
  let c: Client;
  beforeAll(async () => {
    svc = await startTestService();
    await svc.addAccount(GARAGE, PW);
    c = await svc.connect(GARAGE, PW);
  });
  afterAll(async () => {
    c?.close();
    await svc?.teardown();
  });

  it('refuses REST with 502, and the next uploads and downloads of the session work whole', async () => {
    const err = await c.send('REST 100').catch((e: FTPError) => e);
    expect(err).toBeInstanceOf(FTPError);
    expect((err as FTPError).code).toBe(502);

    const body = csvBatch(GARAGE, [{ vin: vin(2) }], { trailer: true });
    await c.uploadFrom(Readable.from([Buffer.from(body)]), 'after-rest.csv');
    await waitForReceipt(c, 'after-rest.csv.receipt.csv');

    // A download from an offset sends REST first: refused, so no client takes a whole file for its tail.
    const sink = new Writable({ write: (_c, _e, cb) => cb() });
    const resumed = await c.downloadTo(sink, '/receipts/after-rest.csv.receipt.csv', 100).catch((e: FTPError) => e);
    expect((resumed as FTPError).code).toBe(502);
    expect(await failure(c.uploadFrom(Readable.from([Buffer.from(body)]), 'again.csv'))).toBe('ok');
  });
});

describe('TLS suites', () => {
  const svc = useTestService({}, [], PW);

  const handshake = async (options: import('node:tls').ConnectionOptions) => {
    const { ftp } = await greeted(svc.ftpPort);
    try {
      const s = await ftp.startTls(options);
      return `${s.getProtocol()} ${s.getCipher().name}`;
    } catch (err) {
      return `refused: ${(err as Error).message}`;
    } finally {
      ftp.close();
    }
  };

  it('refuses CBC suites in TLS 1.2', async () => {
    for (const cipher of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA384']) {
      expect(await handshake({ maxVersion: 'TLSv1.2', ciphers: cipher })).toMatch(/^refused: .*handshake failure/);
    }
  });

  it('takes ECDHE with AES-GCM or ChaCha20-Poly1305 in TLS 1.2, and TLS 1.3 as before', async () => {
    for (const cipher of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
      expect(await handshake({ maxVersion: 'TLSv1.2', ciphers: cipher })).toBe(`TLSv1.2 ${cipher}`);
    }
    expect(await handshake({})).toMatch(/^TLSv1\.3 TLS_(AES_256_GCM_SHA384|AES_128_GCM_SHA256|CHACHA20_POLY1305_SHA256)$/);
  });
});
