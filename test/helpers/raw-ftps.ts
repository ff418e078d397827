/**
 * An explicit-FTPS client driven by hand, on raw sockets, for what real clients do not let a test choose: which TLS
 * session a data connection offers (its control connection's, another connection's, none), when its handshake
 * starts (before the command, or after the 150 as lftp and ftplib do), and from which local address it comes.
 */
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';

const noop = () => {};

/** must returns `reply` when it matches `expected`, and throws with the reply otherwise. */
function must(reply: string, expected: RegExp): string {
  if (!expected.test(reply)) throw new Error(`expected ${expected}, got: ${reply}`);
  return reply;
}

/** Collects an FTP reply stream and hands out complete replies (the last line of a multi-line one), in order. */
class Replies {
  private text = '';
  private readonly ready: string[] = [];
  private waiter: (() => void) | null = null;
  private ended = false;

  constructor(socket: net.Socket) {
    socket.on('data', (d: Buffer) => this.push(d.toString('latin1')));
    socket.on('close', () => {
      this.ended = true;
      this.waiter?.();
    });
  }

  private push(d: string): void {
    this.text += d;
    let nl: number;
    while ((nl = this.text.indexOf('\n')) !== -1) {
      const line = this.text.slice(0, nl).replace(/\r$/, '');
      this.text = this.text.slice(nl + 1);
      if (/^\d{3} /.test(line)) this.ready.push(line);
    }
    this.waiter?.();
  }

  /** The next reply; rejects when the connection closes first or after timeoutMs. */
  async next(timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ready.length) {
      if (this.ended) throw new Error('control connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('no reply in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiter = () => (clearTimeout(t), resolve());
      });
      this.waiter = null;
    }
    return this.ready.shift()!;
  }
}

export interface RawControl {
  socket: tls.TLSSocket;
  /** Sends `line` (when given) and resolves with the next reply. */
  cmd(line?: string): Promise<string>;
  /** The TLS session this control connection was given last (under TLS 1.3, its latest session ticket). */
  session(): Buffer;
  /** EPSV: the passive port (throws with the reply when refused). */
  epsv(): Promise<number>;
  close(): void;
}

export interface ServerAddress {
  host: string;
  port: number;
}

/** rawControl connects, switches to TLS (AUTH TLS), logs in, sets PBSZ 0 / PROT P, and has a TLS session to offer. */
export async function rawControl(
  o: ServerAddress & { user: string; password: string; tlsOptions?: tls.ConnectionOptions },
): Promise<RawControl> {
  const raw = net.connect(o.port, o.host);
  raw.on('error', noop);
  await once(raw, 'connect');
  const plain = new Replies(raw);
  must(await plain.next(), /^220 /);
  raw.write('AUTH TLS\r\n');
  must(await plain.next(), /^234 /);
  raw.removeAllListeners('data');
  raw.pause();
  const socket = tls.connect({ socket: raw, rejectUnauthorized: false, ...o.tlsOptions });
  socket.on('error', noop);
  let session: Buffer | null = null;
  socket.on('session', (s: Buffer) => (session = s));
  await once(socket, 'secureConnect');
  const replies = new Replies(socket);
  const cmd = (line?: string) => {
    if (line) socket.write(`${line}\r\n`);
    return replies.next();
  };
  must(await cmd(`USER ${o.user}`), /^331 /);
  must(await cmd(`PASS ${o.password}`), /^230 /);
  must(await cmd('PBSZ 0'), /^200 /);
  must(await cmd('PROT P'), /^200 /);
  if (!session) await once(socket, 'session'); // TLS 1.3: the ticket follows the handshake
  return {
    socket,
    cmd,
    session: () => session!,
    epsv: async () => {
      const reply = await cmd('EPSV');
      const port = Number(/\|\|\|(\d+)\|/.exec(reply)?.[1]);
      if (!port) throw new Error(`EPSV refused: ${reply}`);
      return port;
    },
    close: () => {
      socket.destroy();
      raw.destroy();
    },
  };
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
