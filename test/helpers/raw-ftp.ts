/**
 * An FTP/FTPS client driven by hand, on real sockets, for what FTP clients will not do or let a test choose: stop in
 * the middle of a TLS handshake, send commands without logging in or many logins at once, offer chosen TLS suites,
 * pick which TLS session a data connection offers (its control connection's, another's, none) and when its
 * handshake starts (before the command as basic-ftp does, or after the 150 as lftp and ftplib do), send garbage
 * on a data connection, and come from a chosen local address: 127.0.0.0/8 is all loopback on Linux, so each test
 * client can have its own IP (an attacker's, a branch behind a NAT).
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';

const noop = () => {};

export interface ServerAddress {
  host: string;
  port: number;
}

/** A control connection: every reply line it read, its final replies handed out in order. */
export class RawFtp {
  /** Every reply line read so far, continuation lines included. */
  readonly lines: string[] = [];
  /** Resolves when the server closes the connection (or it breaks). */
  readonly closed: Promise<void>;
  private socket: net.Socket;
  private buf = '';
  private waiters: (() => void)[] = [];
  private finals = 0;
  private consumed = 0;
  private tlsSession: Buffer | null = null;

  private constructor(readonly raw: net.Socket) {
    this.socket = raw;
    this.closed = new Promise((resolve) => raw.once('close', () => resolve()));
    raw.on('error', noop); // a reset is a close here
    this.listen(raw);
  }

  /** connect opens a control connection; the greeting (or a refusal) is its first reply, not read yet. */
  static connect(port: number, opts: { host?: string; localAddress?: string } = {}): Promise<RawFtp> {
    return new Promise((resolve, reject) => {
      const raw = net.connect({ port, host: opts.host ?? '127.0.0.1', localAddress: opts.localAddress });
      raw.once('connect', () => resolve(new RawFtp(raw)));
      raw.once('error', reject);
    });
  }

  /** open connects, reads the greeting (a 220) and, unless `tls` is false, switches to TLS (AUTH TLS). */
  static async open(port: number, opts: { host?: string; localAddress?: string; tls?: boolean } = {}): Promise<RawFtp> {
    const ftp = await RawFtp.connect(port, opts);
    const greeting = await ftp.reply();
    if (!greeting.startsWith('220')) throw new Error(`greeting: ${greeting}`);
    if (opts.tls !== false) await ftp.startTls();
    return ftp;
  }

  get isClosed(): boolean {
    return this.raw.destroyed;
  }

  /** write sends one command line without waiting for its reply. */
  write(line: string): void {
    this.socket.write(line + '\r\n');
  }

  /** cmd sends `line` (when given) and resolves with the next final reply. */
  async cmd(line?: string): Promise<string> {
    if (line !== undefined) this.write(line);
    return this.reply();
  }

  /** reply resolves with the next final reply line ("ddd text"), or rejects when the connection closes first. */
  async reply(timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.consumed >= this.finals) {
      if (this.raw.destroyed) throw new Error(`connection closed; read: ${this.lines.join(' | ')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms; read: ${this.lines.join(' | ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => (clearTimeout(t), resolve()));
      });
    }
    const finals = this.lines.filter((l) => /^\d{3} /.test(l));
    return finals[this.consumed++];
  }

  /** login sends USER and PASS and returns PASS's reply (or USER's, when USER is refused). */
  async login(user: string, password: string): Promise<string> {
    const u = await this.cmd(`USER ${user}`);
    return u.startsWith('331') ? this.cmd(`PASS ${password}`) : u;
  }

  /** startTls sends AUTH TLS and, after its 234, makes the TLS handshake with `options`. */
  async startTls(options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
    const answer = await this.cmd('AUTH TLS');
    if (!answer.startsWith('234')) throw new Error(`AUTH TLS answered ${answer}`);
    this.raw.removeAllListeners('data');
    this.raw.pause();
    const secure = tls.connect({ socket: this.raw, rejectUnauthorized: false, servername: 'localhost', ...options });
    secure.on('session', (s: Buffer) => (this.tlsSession = s));
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    secure.on('error', noop);
    this.socket = secure;
    this.listen(secure);
    return secure;
  }

  /** session: the TLS session this control connection was given last (under TLS 1.3, its latest session ticket). */
  session(): Buffer {
    if (!this.tlsSession) throw new Error('no TLS session yet');
    return this.tlsSession;
  }

  /** waitForSession resolves once the server has given a TLS session (TLS 1.3: the ticket follows the handshake). */
  async waitForSession(): Promise<void> {
    if (!this.tlsSession) await once(this.socket, 'session');
  }

  /** epsv: the passive port (throws with the reply when refused). */
  async epsv(): Promise<number> {
    return epsvPort(await this.cmd('EPSV'));
  }

  close(): void {
    this.socket.destroy();
    this.raw.destroy();
  }

  private listen(socket: net.Socket): void {
    socket.on('data', (d: Buffer) => {
      this.buf += d.toString('utf8');
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) !== -1) {
        const line = this.buf.slice(0, nl).replace(/\r$/, '');
        this.buf = this.buf.slice(nl + 1);
        this.lines.push(line);
        if (/^\d{3} /.test(line)) this.finals++; // the last line of a reply ("220-..." lines come before it)
      }
      this.wake();
    });
    socket.once('close', () => this.wake());
  }

  private wake(): void {
    this.waiters.splice(0).forEach((w) => w());
  }
}

/** epsvPort reads the port of a `229 Entering Extended Passive Mode (|||port|)` reply. */
export function epsvPort(reply: string): number {
  const m = /\(\|\|\|(\d+)\|\)/.exec(reply);
  if (!m) throw new Error(`not an EPSV reply: ${reply}`);
  return Number(m[1]);
}

/** localAddress gives the n-th test client its own loopback address (127.<tag>.x.y). */
export function localAddress(tag: number, n: number): string {
  return `127.${tag}.${Math.floor(n / 250)}.${(n % 250) + 1}`;
}

/** must returns `reply` when it matches `expected`, and throws with the reply otherwise. */
function must(reply: string, expected: RegExp): string {
  if (!expected.test(reply)) throw new Error(`expected ${expected}, got: ${reply}`);
  return reply;
}

/** rawControl connects, switches to TLS (AUTH TLS), logs in, sets PBSZ 0 / PROT P, and has a TLS session to offer. */
export async function rawControl(
  o: ServerAddress & { user: string; password: string; tlsOptions?: tls.ConnectionOptions },
): Promise<RawFtp> {
  const ftp = await RawFtp.open(o.port, { host: o.host, tls: false });
  await ftp.startTls({ servername: undefined, ...o.tlsOptions });
  must(await ftp.cmd(`USER ${o.user}`), /^331 /);
  must(await ftp.cmd(`PASS ${o.password}`), /^230 /);
  must(await ftp.cmd('PBSZ 0'), /^200 /);
  must(await ftp.cmd('PROT P'), /^200 /);
  await ftp.waitForSession();
  return ftp;
}

export interface DataOptions extends ServerAddress {
  /** The session to offer in the TLS handshake; null: none (a full handshake). */
  session: Buffer | null;
  localAddress?: string;
  tlsOptions?: tls.ConnectionOptions;
}

export interface DataOutcome {
  /** The handshake finished (and whether the server resumed the offered session). */
  secure: boolean;
  resumed: boolean;
  /** Every byte the server sent on the data connection. */
  received: Buffer;
  error: string | null;
}

/**
 * tcpData opens the TCP connection of a data connection; startTls then runs its TLS handshake and resolves once
 * the connection is secure or failed. `outcome` resolves when the connection is closed, with what it got.
 */
export async function tcpData(o: DataOptions): Promise<{
  tcp: net.Socket;
  /** Resolves when the TCP connection is closed (by either side). */
  closed: Promise<void>;
  startTls(): Promise<tls.TLSSocket | null>;
  outcome: Promise<DataOutcome>;
}> {
  const tcp = net.connect({ port: o.port, host: o.host, localAddress: o.localAddress });
  tcp.on('error', noop);
  const closed = new Promise<void>((r) => tcp.once('close', () => r()));
  await once(tcp, 'connect');
  let settle: (r: DataOutcome) => void = noop;
  const outcome = new Promise<DataOutcome>((r) => (settle = r));
  const startTls = async () => {
    const secure = tls.connect({ socket: tcp, rejectUnauthorized: false, session: o.session ?? undefined, ...o.tlsOptions });
    const chunks: Buffer[] = [];
    const result: DataOutcome = { secure: false, resumed: false, received: Buffer.alloc(0), error: null };
    secure.on('data', (d: Buffer) => chunks.push(d));
    secure.on('error', (err) => (result.error = err.message));
    secure.on('close', () => settle({ ...result, received: Buffer.concat(chunks) }));
    const handshake = await new Promise<boolean>((r) => {
      secure.once('secureConnect', () => r(true));
      secure.once('close', () => r(false));
    });
    if (!handshake) return null;
    result.secure = true;
    result.resumed = secure.isSessionReused();
    return secure;
  };
  return { tcp, closed, startTls, outcome };
}

/** tlsData is tcpData with the handshake run at once (as basic-ftp does, before the transfer command). */
export async function tlsData(o: DataOptions): Promise<{ socket: tls.TLSSocket | null; outcome: Promise<DataOutcome> }> {
  const d = await tcpData(o);
  return { socket: await d.startTls(), outcome: d.outcome };
}

/** sendAll writes `bytes` and ends the TLS stream (close_notify), resolving once it is all written. */
export function sendAll(socket: tls.TLSSocket, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => socket.end(bytes, resolve));
}
