/**
 * Logins and lockout (docs/ftps.md, "Logins and lockout"; issue #13, findings 3 and 8) against the real FTPS front,
 * with raw parallel TLS clients, each from its own loopback address: attempts are counted before the password is
 * checked, however parallel; a username's lock does not shut out the IP the account logs in from, nor an IP's
 * failures the accounts behind it; password checks are bounded (a burst is refused at once beyond the queue, unknown
 * users go through the same check, and a burst in flight does not stall an upload); every refusal is audited,
 * plain FTP included, with usernames cut to 64 characters.
 */
import { Readable } from 'node:stream';
import { startTestService, useTestService, type TestService } from './helpers/service';
import { auditEvents } from './helpers/ops';
import { curlList } from './helpers/ftp-clients';
import { localAddress, RawFtp } from './helpers/raw-ftp';

const GARAGE = '2123456692';
const OTHER = '2200000085';
const BRANCH = '2300000058';
const SHOP = '2400000031';
const PW = 'login test password';

/** connectAll opens n TLS control connections, the i-th from localAddress(tag, i), and sends USER on each. */
async function connectAll(svc: TestService, tag: number, users: string[]): Promise<RawFtp[]> {
  const conns = await Promise.all(users.map((_, i) => RawFtp.open(svc.ftpPort, { localAddress: localAddress(tag, i) })));
  const replies = await Promise.all(conns.map((c, i) => c.cmd(`USER ${users[i]}`)));
  expect(replies).toEqual(Array(users.length).fill(expect.stringMatching(/^331/)));
  return conns;
}

/** loginFrom logs in on a new TLS connection from `ip` and returns the PASS reply. */
async function loginFrom(svc: TestService, ip: string, user: string, password: string): Promise<string> {
  const c = await RawFtp.open(svc.ftpPort, { localAddress: ip });
  try {
    return await c.login(user, password);
  } finally {
    c.close();
  }
}

const count = (answers: string[], re: RegExp) => answers.filter((a) => re.test(a)).length;

describe('lockout', () => {
  const svc = useTestService({ workers: 0, loginMaxFailures: 5, loginIpMaxFailures: 20 }, [GARAGE, OTHER, BRANCH, SHOP], PW);
  const events = async (user: string) => (await auditEvents(svc)).filter((e) => e.username === user);

  it('counts attempts before the password check: 300 parallel wrong passwords get 5 checks, the right one sent during the burst is refused', async () => {
    const conns = await connectAll(svc, 11, Array(300).fill(GARAGE));
    try {
      const [stranger, ...burst] = conns;
      const wrong = burst.map((c, i) => c.cmd(`PASS wrong password ${i}`));
      await Promise.race(wrong); // the burst is being answered: its first attempts hold or used up the 5 places
      const right = await stranger.cmd(`PASS ${PW}`);
      const answers = await Promise.all(wrong);

      expect(count(answers, /^530 Login incorrect/)).toBe(5);
      expect(count(answers, /^530 Too many failed logins: try again later/)).toBe(294);
      expect(right).toMatch(/^530 Too many failed logins/);
      const mine = await events(GARAGE);
      expect(mine.filter((e) => e.event === 'login_failed')).toHaveLength(5);
      expect(mine.filter((e) => e.event === 'login')).toHaveLength(0);
      expect(mine.filter((e) => e.event === 'login_refused' && e.reason === 'locked' && e.key === `user:${GARAGE}`)).toHaveLength(295);
    } finally {
      conns.forEach((c) => c.close());
    }
  }, 120_000);

  it("does not let a username's lock shut out the IP the account logged in from before; strangers stay locked out", async () => {
    const office = localAddress(12, 0);
    expect(await loginFrom(svc, office, OTHER, PW)).toMatch(/^230/);
    // Anyone may lock a public establishment number from elsewhere:
    const guesses: string[] = [];
    for (let i = 0; i < 6; i++) guesses.push(await loginFrom(svc, localAddress(12, 1 + i), OTHER, 'guess ' + i));
    expect(guesses.slice(0, 5)).toEqual(Array(5).fill(expect.stringMatching(/^530 Login incorrect/)));
    expect(guesses[5]).toMatch(/^530 Too many failed logins/);
    expect(await loginFrom(svc, localAddress(12, 50), OTHER, PW)).toMatch(/^530 Too many failed logins/);

    expect(await loginFrom(svc, office, OTHER, PW)).toMatch(/^230/);
    expect((await events(OTHER)).pop()).toMatchObject({ event: 'login', ip: office, knownIp: true });

    // The office's own mistypes have their own limit: 5, then the office (and only it) is locked too.
    for (let i = 0; i < 5; i++) expect(await loginFrom(svc, office, OTHER, 'typo ' + i)).toMatch(/^530 Login incorrect/);
    expect(await loginFrom(svc, office, OTHER, PW)).toMatch(/^530 Too many failed logins/);
    expect((await events(OTHER)).pop()).toMatchObject({ event: 'login_refused', reason: 'locked', key: `user@ip:${OTHER}@${office}` });
  }, 60_000);

  it("does not let an IP's failures lock out the accounts that log in from it (a chain's branches behind one NAT)", async () => {
    const nat = localAddress(13, 0);
    expect(await loginFrom(svc, nat, SHOP, PW)).toMatch(/^230/);
    for (let i = 0; i < 20; i++)
      expect(await loginFrom(svc, nat, `99999999${String(i).padStart(2, '0')}`, 'nope')).toMatch(/^530 Login incorrect/);
    expect(await loginFrom(svc, nat, '9999999999', 'nope')).toMatch(/^530 Too many failed logins/);

    // The NAT's address is locked for accounts that never logged in from it, not for those that did.
    expect(await loginFrom(svc, nat, BRANCH, PW)).toMatch(/^530 Too many failed logins/);
    expect((await events(BRANCH)).pop()).toMatchObject({ event: 'login_refused', reason: 'locked', key: `ip:${nat}` });
    expect(await loginFrom(svc, nat, SHOP, PW)).toMatch(/^230/);
  }, 60_000);
});

describe('bounded password checks', () => {
  const svc = useTestService({ workers: 0, loginCheckConcurrency: 1, loginCheckQueue: 2 }, [GARAGE], PW);

  it('refuses at once an attempt beyond the running check and its queue; an unknown user takes the same check as a known one', async () => {
    const users = Array.from({ length: 40 }, (_, i) => (i < 2 ? GARAGE : `88888888${String(i).padStart(2, '0')}`));
    const conns = await connectAll(svc, 14, users);
    try {
      const answers = await Promise.all(conns.map((c, i) => c.cmd(`PASS wrong ${i}`)));
      const busy = count(answers, /^530 Too many logins at once: try again later/);
      expect(busy).toBeGreaterThan(0);
      expect(busy + count(answers, /^530 Login incorrect/)).toBe(40);

      const burst = (await auditEvents(svc)).filter((e) => users.includes(String(e.username)));
      expect(burst.filter((e) => e.event === 'login_refused' && e.reason === 'busy')).toHaveLength(busy);
      expect(burst.filter((e) => e.event === 'login_refused' && e.reason === 'busy' && e.username !== GARAGE).length).toBeGreaterThan(0);
      const failed = burst.filter((e) => e.event === 'login_failed');
      expect(failed).toHaveLength(40 - busy);
      // Each was answered after a password check that waited its turn: unknown users too (against a stand-in hash).
      for (const e of failed) expect(e).toMatchObject({ waitedMs: expect.any(Number), knownIp: false });
      expect(failed.filter((e) => e.reason === 'unknown user').length).toBeGreaterThan(0);
    } finally {
      conns.forEach((c) => c.close());
    }
  }, 120_000);
});

describe('a login burst and uploads', () => {
  let svc: TestService;
  beforeAll(async () => {
    // Limits out of the way, one check at a time and room for the whole burst: the burst lasts while the upload runs.
    svc = await startTestService({
      workers: 0,
      loginMaxFailures: 1000,
      loginIpMaxFailures: 1000,
      loginCheckConcurrency: 1,
      loginCheckQueue: 1000,
    });
    await svc.addAccount(GARAGE, PW);
    await svc.addAccount(OTHER, PW);
  });
  afterAll(async () => svc?.teardown());

  it('completes a STOR on another account while a burst of wrong passwords is in flight: the burst is still being refused after the 226', async () => {
    const client = await svc.connect(OTHER, PW);
    const conns = await connectAll(svc, 15, Array(120).fill(GARAGE));
    try {
      let answered = 0;
      const wrong = conns.map(async (c, i) => {
        const reply = await c.cmd(`PASS wrong ${i}`);
        answered++;
        return reply;
      });
      await Promise.race(wrong); // password checks are running
      await client.uploadFrom(Readable.from([Buffer.from('x')]), 'one-byte.csv'); // resolves on the 226
      const answeredAt226 = answered;
      const answers = await Promise.all(wrong);

      expect(answers).toEqual(Array(120).fill(expect.stringMatching(/^530 Login incorrect/)));
      expect((await auditEvents(svc)).filter((e) => e.event === 'upload' && e.account === OTHER)).toHaveLength(1);
      expect(answeredAt226).toBeLessThan(120);
    } finally {
      conns.forEach((c) => c.close());
      client.close();
    }
  }, 180_000);
});

describe('audit of refusals', () => {
  const svc = useTestService({ workers: 0 }, [GARAGE], PW);

  it('audits a login tried over plain FTP, before AUTH TLS (curl without --ssl-reqd; raw USER and PASS)', async () => {
    const r = await curlList({ host: '127.0.0.1', port: svc.ftpPort, user: GARAGE, password: PW, sslReqd: false, remoteDir: '/' });
    expect(r.code).not.toBe(0);
    const plain = await RawFtp.open(svc.ftpPort, { tls: false, localAddress: localAddress(16, 0) });
    try {
      expect(await plain.cmd(`USER ${OTHER}`)).toMatch(/^530 AUTH TLS required before login/);
      expect(await plain.cmd('PASS plain secret')).toMatch(/^530 AUTH TLS required before login/);
    } finally {
      plain.close();
    }

    const events = await auditEvents(svc);
    expect(events.filter((e) => e.username === GARAGE)).toEqual([
      expect.objectContaining({ event: 'login_refused', reason: 'no TLS', command: 'USER', ip: '127.0.0.1' }),
    ]);
    expect(events.filter((e) => e.ip === localAddress(16, 0))).toEqual([
      expect.objectContaining({ event: 'login_refused', reason: 'no TLS', command: 'USER', username: OTHER }),
      expect.objectContaining({ event: 'login_refused', reason: 'no TLS', command: 'PASS' }),
    ]);
    expect(JSON.stringify(events)).not.toContain('secret');
  }, 60_000);

  it('cuts an 8 KB username to 64 characters in the audit log, over plain FTP and over TLS', async () => {
    const long = 'u'.repeat(8000);
    const plain = await RawFtp.open(svc.ftpPort, { tls: false, localAddress: localAddress(16, 1) });
    try {
      expect(await plain.cmd(`USER ${long}`)).toMatch(/^530 AUTH TLS required before login/);
    } finally {
      plain.close();
    }
    expect(await loginFrom(svc, localAddress(16, 2), long, 'tls secret')).toMatch(/^530 Login incorrect/);

    const events = await auditEvents(svc);
    const cut = { username: 'u'.repeat(64), usernameLength: 8000 };
    expect(events.filter((e) => e.ip === localAddress(16, 2))).toEqual([
      expect.objectContaining({ event: 'login_failed', reason: 'unknown user', ...cut }),
    ]);
    expect(events.filter((e) => e.ip === localAddress(16, 1))).toEqual([
      expect.objectContaining({ event: 'login_refused', reason: 'no TLS', ...cut }),
    ]);
    expect(JSON.stringify(await auditEvents(svc))).not.toContain('u'.repeat(65));
  }, 60_000);
});
