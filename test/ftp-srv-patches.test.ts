/**
 * ftp-srv 4.6.3 as patched by patches/ftp-srv+4.6.3.patch against real FTPS clients (curl, lftp, Python ftplib,
 * basic-ftp) and raw sockets, on 127.0.0.1 with kernel-chosen ports; and the start-up check that refuses an
 * ftp-srv that is not the patched 4.6.3.
 */
import { randomBytes } from 'crypto';
import { once } from 'events';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as net from 'net';
import { tmpdir } from 'os';
import { dirname, join } from 'path';
import { Duplex, Readable } from 'stream';
import * as tls from 'tls';
import { Client } from 'basic-ftp';
import type { FtpSrv } from 'ftp-srv';
import * as selfsigned from 'selfsigned';
import { assertFtpSrvPatched, createFtpSrv, FtpSrvPatchError, PATCHED_FILES } from '../ftps/ftp-srv-patches';
import { ClientResult, curlDownload, curlList, curlUpload, ftplibRound, lftpRound } from './helpers/ftp-clients';
import { rawControl, tcpData, tlsData } from './helpers/raw-ftp';

const HOST = '127.0.0.1';
const USER = 'garage';
const PASSWORD = 'pw odo\\x$1'; // no '"': ftp-srv strips every double quote from command lines
const ROUNDS = 20;

const noop = (): void => undefined;
const quietLog = {
  trace: noop,
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  fatal: noop,
  child() {
    return quietLog;
  },
};

let server: FtpSrv;
let port: number;
let root: string;
let work: string;
let sample: Buffer;
let sampleFile: string;
const logins: { username: string; password: string; secure: boolean }[] = [];
const storEvents: { error?: Error; path?: string }[] = [];
let signalListenersAdded: number;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('waitFor timed out');
    await sleep(10);
  }
}

const access = () => ({ host: HOST, port, user: USER, password: PASSWORD, timeoutMs: 30_000 });
const describeFail = (step: string, r: ClientResult) => `${step}: exit ${r.code}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`;

beforeAll(async () => {
  const pems = await selfsigned.generate([{ name: 'commonName', value: HOST }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: HOST }] }],
  });
  root = mkdtempSync(join(tmpdir(), 'ftp-srv-root-'));
  work = mkdtempSync(join(tmpdir(), 'ftp-srv-work-'));
  sample = randomBytes(100 * 1024);
  sampleFile = join(work, 'sample.bin');
  writeFileSync(sampleFile, sample);

  port = await freePort();
  const pasvBase = await freePort();
  const signalsBefore = ['SIGTERM', 'SIGINT', 'SIGQUIT'].map((s) => process.listenerCount(s));
  server = createFtpSrv({
    url: `ftp://${HOST}:${port}`,
    tls: { key: pems.private, cert: pems.cert, minVersion: 'TLSv1.2' },
    pasv_url: HOST,
    pasv_min: pasvBase + 1,
    pasv_max: pasvBase + 50,
    greeting: 'odo-inflow test',
    log: quietLog,
  });
  signalListenersAdded = ['SIGTERM', 'SIGINT', 'SIGQUIT'].reduce((n, s, i) => n + process.listenerCount(s) - signalsBefore[i], 0);
  server.on('login', ({ connection, username, password }, resolve, reject) => {
    logins.push({ username, password, secure: connection.secure });
    connection.on('STOR', (error: Error | null, path?: string) => storEvents.push({ error: error ?? undefined, path }));
    if (username === USER && password === PASSWORD) resolve({ root });
    else reject(new Error('Bad credentials'));
  });
  server.on('client-error', noop);
  await server.listen();
}, 60_000);

afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

test('createFtpSrv leaves no process signal handlers behind', () => {
  expect(signalListenersAdded).toBe(0);
});

describe('assertFtpSrvPatched', () => {
  const installed = dirname(require.resolve('ftp-srv/package.json'));
  let fake: string;
  beforeEach(() => {
    fake = mkdtempSync(join(tmpdir(), 'ftp-srv-fake-'));
    cpSync(installed, fake, { recursive: true });
  });
  afterEach(() => rmSync(fake, { recursive: true, force: true }));

  const setVersion = (version: string) => {
    const pkg = JSON.parse(readFileSync(join(fake, 'package.json'), 'utf8')) as { version: string };
    writeFileSync(join(fake, 'package.json'), JSON.stringify({ ...pkg, version }));
  };

  test('accepts the installed ftp-srv and a copy of it', () => {
    expect(() => assertFtpSrvPatched()).not.toThrow();
    expect(() => assertFtpSrvPatched(fake)).not.toThrow();
  });

  test('refuses another version, naming it and npm ci', () => {
    setVersion('4.6.4');
    expect(() => assertFtpSrvPatched(fake)).toThrow(FtpSrvPatchError);
    expect(() => assertFtpSrvPatched(fake)).toThrow(/installed version is 4\.6\.4.*`npm ci`/);
  });

  test('refuses 4.6.3 with a patched file back to its published text', () => {
    const stor = join(fake, 'src/commands/registration/stor.js');
    writeFileSync(stor, readFileSync(stor, 'utf8').split('\n').slice(1).join('\n')); // marker line gone
    expect(() => assertFtpSrvPatched(fake)).toThrow(/patch not applied to src\/commands\/registration\/stor\.js in /);
  });

  test('refuses 4.6.3 without the file the patch adds, and a folder that is no package', () => {
    rmSync(
      join(
        fake,
        PATCHED_FILES.find((f) => f.endsWith('tls-sockets.js'))!,
      ),
    );
    expect(() => assertFtpSrvPatched(fake)).toThrow(/patch not applied to src\/helpers\/tls-sockets\.js/);
    rmSync(join(fake, 'package.json'));
    expect(() => assertFtpSrvPatched(fake)).toThrow(/cannot read .*package\.json/);
  });
});

test(`curl --ssl-reqd: ${ROUNDS} upload + list + download rounds`, async () => {
  const failures: string[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    const name = `curl-${i}.bin`;
    const dl = join(work, `${name}.dl`);
    // Rounds alternate EPSV (curl's default) and PASV.
    const o = { ...access(), epsv: i % 2 === 1 };
    const up = await curlUpload({ ...o, localFile: sampleFile, remotePath: `/${name}` });
    if (up.code !== 0) {
      failures.push(`round ${i} ${describeFail('upload', up)}`);
      continue;
    }
    const ls = await curlList({ ...o, remoteDir: '/' });
    if (ls.code !== 0 || !ls.stdout.includes(name)) {
      failures.push(`round ${i} ${describeFail('list', ls)}`);
      continue;
    }
    const down = await curlDownload({ ...o, remotePath: `/${name}`, localFile: dl });
    if (down.code !== 0) {
      failures.push(`round ${i} ${describeFail('download', down)}`);
      continue;
    }
    if (!readFileSync(dl).equals(sample)) failures.push(`round ${i}: downloaded bytes differ`);
  }
  expect(failures).toEqual([]);
}, 90_000);

test(`lftp (GnuTLS): ${ROUNDS} put + cls + get sessions`, async () => {
  const failures: string[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    const name = `lftp-${i}.bin`;
    const dl = join(work, `${name}.dl`);
    const r = await lftpRound({ ...access(), localFile: sampleFile, remoteName: name, downloadPath: name, downloadTo: dl });
    if (r.code !== 0 || !r.stdout.includes(name)) {
      failures.push(`round ${i} ${describeFail('lftp', r)}`);
      continue;
    }
    if (!readFileSync(dl).equals(sample)) failures.push(`round ${i}: downloaded bytes differ`);
  }
  expect(failures).toEqual([]);
}, 90_000);

test(`Python ftplib.FTP_TLS (the README's subclass that resumes the TLS session): ${ROUNDS} STOR + NLST/LIST + RETR sessions`, async () => {
  const failures: string[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    const name = `ftplib-${i}.bin`;
    const dl = join(work, `${name}.dl`);
    const r = await ftplibRound({ ...access(), localFile: sampleFile, remoteName: name, downloadPath: name, downloadTo: dl });
    if (r.code !== 0 || !r.stdout.includes(`'${name}'`)) {
      failures.push(`round ${i} ${describeFail('ftplib', r)}`);
      continue;
    }
    if (!readFileSync(dl).equals(sample)) failures.push(`round ${i}: downloaded bytes differ`);
  }
  expect(failures).toEqual([]);
}, 90_000);

test('plain FTP (curl without --ssl-reqd) is refused at USER; the password never reaches login', async () => {
  const before = logins.length;
  const r = await curlUpload({ ...access(), sslReqd: false, localFile: sampleFile, remotePath: '/plain.bin', extraArgs: ['-v'] });
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/< 530 AUTH TLS required/);
  expect(r.stderr).not.toMatch(/> PASS/);
  expect(logins.length).toBe(before);
  expect(existsSync(join(root, 'plain.bin'))).toBe(false);
});

/** Reads from a plain socket until `re` matches the accumulated text. */
async function readUntil(sock: net.Socket, re: RegExp): Promise<string> {
  let text = '';
  return new Promise((resolve, reject) => {
    const onData = (d: Buffer) => {
      text += d.toString('latin1');
      if (re.test(text)) {
        cleanup();
        resolve(text);
      }
    };
    const onEnd = () => {
      cleanup();
      reject(new Error(`connection ended; got ${JSON.stringify(text)}`));
    };
    const cleanup = () => {
      sock.off('data', onData);
      sock.off('end', onEnd);
      sock.off('error', onEnd);
      sock.pause();
    };
    sock.on('data', onData);
    sock.on('end', onEnd);
    sock.on('error', onEnd);
    sock.resume();
  });
}

/**
 * The TLS client's transport: drops the server's plaintext "234" line, then passes bytes through.
 * Lets the ClientHello go out before the 234 has even arrived.
 */
class After234 extends Duplex {
  private head = '';
  private passing = false;
  reply234: string | undefined;
  constructor(private readonly sock: net.Socket) {
    super();
    sock.on('data', (d: Buffer) => {
      if (this.passing) {
        this.push(d);
        return;
      }
      this.head += d.toString('latin1');
      const nl = this.head.indexOf('\n');
      if (nl === -1) return;
      this.reply234 = this.head.slice(0, nl + 1);
      this.passing = true;
      if (!this.reply234.startsWith('234 ')) {
        this.destroy(new Error(`expected 234, got ${JSON.stringify(this.head)}`));
        return;
      }
      const rest = Buffer.from(this.head.slice(nl + 1), 'latin1');
      if (rest.length) this.push(rest);
    });
    sock.on('end', () => this.push(null));
    sock.on('error', (e) => this.destroy(e));
  }
  override _read(): void {
    this.sock.resume();
  }
  override _write(c: Buffer, _e: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.sock.write(c, cb);
  }
  override _final(cb: () => void): void {
    this.sock.end(cb);
  }
  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void {
    this.sock.destroy();
    cb(e);
  }
}

async function authTlsRace(sameSegment: boolean): Promise<string> {
  const sock = net.connect(port, HOST);
  await once(sock, 'connect');
  try {
    await readUntil(sock, /^220 .*\r\n/m);
    if (sameSegment) sock.cork();
    sock.write('AUTH TLS\r\n');
    const secure = tls.connect({ socket: new After234(sock), rejectUnauthorized: false });
    secure.on('error', noop);
    if (sameSegment) setTimeout(() => sock.uncork(), 20); // AUTH TLS + ClientHello in one write
    await withTimeout(once(secure, 'secureConnect'), 5_000, 'handshake');
    const protocol = secure.getProtocol() ?? '';
    secure.write(`USER ${USER}\r\n`);
    const [reply] = (await once(secure, 'data')) as [Buffer];
    secure.end('QUIT\r\n');
    return `${protocol} ${reply.toString().trim()}`;
  } finally {
    sock.destroy();
  }
}

test('AUTH TLS race: ClientHello sent right behind AUTH TLS (50 times) always completes the handshake', async () => {
  const failures: string[] = [];
  for (let i = 0; i < 50; i++) {
    try {
      const out = await authTlsRace(i % 2 === 0);
      if (!/^TLSv1\.[23] 331/.test(out)) failures.push(`#${i}: ${out}`);
    } catch (err) {
      failures.push(`#${i}: ${(err as Error).message}`);
    }
  }
  expect(failures).toEqual([]);
}, 60_000);

test('command lines split across TCP chunks are reassembled; USER before AUTH TLS gets 530', async () => {
  const before = logins.length;
  const sock = net.connect(port, HOST);
  await once(sock, 'connect');
  try {
    await readUntil(sock, /^220 .*\r\n/m);
    for (const piece of ['US', 'ER gar', 'age\r\n']) {
      sock.write(piece);
      await sleep(30);
    }
    expect(await readUntil(sock, /\r\n$/)).toMatch(/^530 AUTH TLS required/);
    for (const piece of ['AUTH T', 'LS\r', '\n']) {
      sock.write(piece);
      await sleep(30);
    }
    expect(await readUntil(sock, /\r\n$/)).toMatch(/^234 /);
  } finally {
    sock.destroy();
  }
  expect(logins.length).toBe(before);
});

test('a data connection from another IP is dropped; the control connection goes on and gets its own data connection', async () => {
  const ctl = await rawControl({ host: HOST, port, user: USER, password: PASSWORD });
  try {
    const dataPort = await ctl.epsv();
    const stray = await tcpData({ host: HOST, port: dataPort, session: null, localAddress: '127.0.0.2' });
    await withTimeout(stray.closed, 10_000, 'the stray connection closed');
    expect(await ctl.cmd('NOOP')).toMatch(/^200/);
    const data = await tlsData({ host: HOST, port: dataPort, session: ctl.session() });
    expect(await ctl.cmd('NLST')).toMatch(/^150/);
    await withTimeout(data.outcome, 10_000, 'the listing');
    expect(await ctl.cmd()).toMatch(/^226/);
  } finally {
    ctl.close();
  }
});

async function secureClient(): Promise<Client> {
  const client = new Client(15_000);
  await client.access({ host: HOST, port, user: USER, password: PASSWORD, secure: true, secureOptions: { rejectUnauthorized: false } });
  return client;
}

test('an upload whose TLS data connection is dropped mid-file (no close_notify) is not a success', async () => {
  const client = await secureClient();
  const eventsBefore = storEvents.length;
  let sent = 0;
  let stop = false;
  const source = new Readable({
    read() {
      if (stop) {
        this.push(null);
        return;
      }
      setTimeout(() => {
        sent += 16 * 1024;
        this.push(Buffer.alloc(16 * 1024, 7));
      }, 5);
    },
  });
  const outcome = client.uploadFrom(source, 'truncated.bin').then(
    () => 'resolved',
    (err: Error) => `rejected: ${err.message}`,
  );
  try {
    await waitFor(() => sent > 100 * 1024 && !!client.ftp.dataSocket);
    client.ftp.dataSocket!.destroy(); // TCP FIN without TLS close_notify
    expect(await outcome).toMatch(/^rejected/);
    await waitFor(() => storEvents.length > eventsBefore);
    await sleep(200);
  } finally {
    stop = true;
    client.close();
  }
  const events = storEvents.slice(eventsBefore);
  expect(events.length).toBe(1);
  expect(events[0].error?.message).toMatch(/close_notify/);
  expect(existsSync(join(root, 'truncated.bin'))).toBe(false); // ftp-srv's FileSystem unlinks on stream error
}, 30_000);

test('basic-ftp (secure: true) upload / list / download still works', async () => {
  const client = await secureClient();
  const eventsBefore = storEvents.length;
  const dl = join(work, 'basic.dl');
  try {
    await client.uploadFrom(sampleFile, 'basic.bin');
    const names = (await client.list()).map((f) => f.name);
    expect(names).toContain('basic.bin');
    await client.downloadTo(dl, 'basic.bin');
  } finally {
    client.close();
  }
  expect(readFileSync(dl).equals(sample)).toBe(true);
  expect(storEvents.slice(eventsBefore)).toEqual([{ error: undefined, path: join(root, 'basic.bin') }]);
});
