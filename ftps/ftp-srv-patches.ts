/**
 * Runtime patches for ftp-srv 4.6.3 (no edits in node_modules). See docs in
 * /work/shared/notes/stack-pitfalls.md §1 and §7 for the upstream behaviour they replace.
 *
 *  a. AUTH TLS: the command parser stops at "AUTH TLS" and every later byte goes to the TLSSocket
 *     (replaces src/commands/registration/auth.js; fast clients sent their ClientHello into the parser).
 *  b. Passive data under TLS: plain net server, TLSSocket wrapped on accept, counts as connected at once,
 *     handshake may finish after 150 (replaces Passive#setupServer, src/connector/passive.js).
 *  c. USER/PASS refused with 530 until the control connection is secure (wraps user.js / pass.js).
 *  d. STOR fails when the data connection ends without TLS close_notify, errors or closes early;
 *     the write stream is destroyed with an error, never ended (replaces stor.js, and appe.js/stou.js
 *     which captured the old handler).
 *  e. Command lines are buffered across TCP chunks and handled one at a time, in order
 *     (replaces FtpConnection#_handleData, src/connection.js).
 *  f. Connector#end replaces the connection's connector only if it is still the current one: a data server
 *     that closes late (after a failed RETR) no longer wipes the connector the next EPSV/PASV set up, which
 *     made that transfer fail with "550 No connector setup" (src/connector/base.js).
 *  Also: FtpServer#disconnectClient without its stray 1 s timer (src/index.js); createFtpSrv drops the
 *  SIGTERM/SIGINT/SIGQUIT handlers that call process.exit (#280).
 */
import * as net from 'net';
import * as tls from 'tls';
import { Duplex } from 'stream';
import { FtpSrv, type FtpServerOptions } from 'ftp-srv';

// ---- minimal local types for ftp-srv internals (plain JS, no typings) ----
interface Command { directive: string; arg: string | null; flags: string[]; raw: string }
interface HandlerArgs { log: Logger; command: Command; previous_command?: Command }
type Handler = (this: Conn, args: HandlerArgs) => unknown;
interface RegistryEntry { directive: string | string[]; handler: Handler; flags?: Record<string, unknown> }
interface Logger { error(...a: unknown[]): void; debug(...a: unknown[]): void; trace(...a: unknown[]): void }
interface Server extends NodeJS.EventEmitter {
  options: { tls?: tls.SecureContextOptions & tls.TlsOptions | false; [k: string]: unknown };
  url: { hostname: string };
  getNextPasvPort(): PromiseLike<number>;
}
interface Connector {
  dataSocket: DataSocket | null;
  dataServer: net.Server | null;
  readonly socket: DataSocket | null;
  connection: Conn;
  server: Server;
  log: Logger;
  closeServer(): void;
  end(): void;
  waitForConnection(): PromiseLike<DataSocket>;
}
type DataSocket = net.Socket & { connected?: boolean; [kCloseNotify]?: boolean };
interface WriteResult { stream?: NodeJS.WritableStream & { path?: string; destroy?(e?: Error): void }; clientPath?: string }
interface Conn extends NodeJS.EventEmitter {
  server: Server;
  commandSocket: net.Socket;
  commands: { handle(line: string): unknown };
  connector: Connector;
  log: Logger;
  encoding: BufferEncoding;
  secure: boolean;
  restByteCount: number | undefined;
  fs?: { write?(name: string, opts: { append: boolean; start?: number }): unknown; get?(p: string): unknown; getUniqueName?(p: string): unknown };
  reply(code: number | object, ...letters: unknown[]): PromiseLike<unknown>;
  close(code?: number, message?: string): PromiseLike<unknown>;
  [kParser]?: ParserState;
}
interface ParserState { buf: Buffer; queue: Promise<unknown>; halted: boolean; pending: Buffer[] }

const kParser = Symbol('odo.ftpParser');
/** Set on a TLS data socket when its read side ends: true = peer sent close_notify first. */
export const kCloseNotify = Symbol('odo.closeNotify');

const PATCHED = Symbol.for('odo-inflow.ftp-srv-patched');
const MAX_LINE = 8 * 1024;
const DATA_CONNECT_TIMEOUT = 30_000; // as passive.js CONNECT_TIMEOUT
const DATA_HANDSHAKE_TIMEOUT = 30_000;

/** Data-connection failure during a transfer: 451 (transient, client may retry). */
class DataConnectionError extends Error {
  readonly replyCode = 451;
  constructor(message: string) { super(message); this.name = 'DataConnectionError'; }
}

// One SecureContext per server: honours every context option (minVersion, ciphers, ...) and lets
// data connections resume the control connection's TLS session.
const contexts = new WeakMap<object, tls.SecureContext>();
function secureContextFor(server: Server): tls.SecureContext {
  let ctx = contexts.get(server);
  if (!ctx) {
    ctx = tls.createSecureContext(server.options.tls || {});
    contexts.set(server, ctx);
  }
  return ctx;
}
function tlsSocketOptions(server: Server): tls.TLSSocketOptions {
  const o = server.options.tls || {};
  return { isServer: true, secureContext: secureContextFor(server), requestCert: !!o.requestCert, rejectUnauthorized: o.rejectUnauthorized !== false };
}

/** Feeds a raw socket into a TLSSocket through JS, so we see the TCP EOF separately from TLS EOF. */
class RawStream extends Duplex {
  constructor(private readonly raw: net.Socket) {
    super({ allowHalfOpen: true }); // the TLS layer decides when to send FIN (after close_notify)
    raw.on('data', (c: Buffer) => { if (!this.push(c)) raw.pause(); });
    raw.on('end', () => this.push(null));
    raw.on('close', () => { if (!this.destroyed) this.destroy(); });
  }
  override _read(): void { this.raw.resume(); }
  override _write(c: Buffer, _e: BufferEncoding, cb: (e?: Error | null) => void): void { this.raw.write(c, cb); }
  override _final(cb: (e?: Error | null) => void): void { this.raw.end(() => cb()); }
  override _destroy(e: Error | null, cb: (e?: Error | null) => void): void { this.raw.destroy(); cb(e); }
}

/**
 * Wraps an accepted data socket in TLS. Node's TLSSocket reports 'end' both for close_notify and for a
 * bare TCP FIN (measured, Node 20); via RawStream we know which came first and record it in kCloseNotify.
 */
export function wrapDataSocket(raw: net.Socket, options: tls.TLSSocketOptions): DataSocket {
  const rawStream = new RawStream(raw);
  let tcpEofFirst = false;
  // Registered before TLSSocket's own listener: runs before the TCP EOF is handed to OpenSSL.
  rawStream.on('end', () => {
    const state = (secure as unknown as { _readableState?: { ended?: boolean } })._readableState;
    if (!state?.ended) tcpEofFirst = true;
  });
  const secure: DataSocket = new tls.TLSSocket(rawStream, options);
  secure.allowHalfOpen = false; // like an accepted net.Socket: answer the peer's EOF with ours
  raw.on('error', (err) => secure.destroy(err)); // RST etc. must reach the TLS socket's users
  secure.once('end', () => { secure[kCloseNotify] = !tcpEofFirst; });
  return secure;
}

function sameIp(a?: string, b?: string): boolean {
  const norm = (s?: string) => (s || '').toLowerCase().replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '');
  return !!a && norm(a) === norm(b);
}

// ---- (e) command line buffering; (a) parser halts at AUTH TLS ----
function parserState(conn: Conn): ParserState {
  return (conn[kParser] ??= { buf: Buffer.alloc(0), queue: Promise.resolve(), halted: false, pending: [] });
}
function isAuthTls(line: string): boolean {
  return /^\s*AUTH\s+TLS\s*$/i.test(line);
}
function handleData(this: Conn, data: Buffer | string): void {
  const st = parserState(this);
  const chunk = typeof data === 'string' ? Buffer.from(data, this.encoding) : data;
  if (st.halted) { st.pending.push(chunk); return; } // bytes after AUTH TLS belong to the TLS handshake
  st.buf = st.buf.length ? Buffer.concat([st.buf, chunk]) : chunk;
  let nl: number;
  while (!st.halted && (nl = st.buf.indexOf(0x0a)) !== -1) {
    const line = st.buf.subarray(0, nl).toString(this.encoding).replace(/\r$/, '');
    st.buf = st.buf.subarray(nl + 1);
    if (!line.trim()) continue;
    if (isAuthTls(line) && this.server.options.tls && !this.secure) {
      st.halted = true;
      this.commandSocket.pause();
      if (st.buf.length) st.pending.push(st.buf);
      st.buf = Buffer.alloc(0);
      enqueue(this, line, () => { if (st.halted) resumeParser(this); }); // AUTH refused (e.g. blacklisted)
    } else {
      enqueue(this, line);
    }
  }
  if (st.buf.length > MAX_LINE) {
    st.buf = Buffer.alloc(0);
    st.halted = true;
    void this.reply(500, 'Command line too long').then(() => this.close(0));
  }
}
function enqueue(conn: Conn, line: string, after?: () => void): void {
  const st = parserState(conn);
  st.queue = st.queue
    .then(() => conn.commands.handle(line))
    .catch((err: unknown) => conn.log.error(err, 'Command handler failed'))
    .then(after);
}
/** Un-halts the parser and re-parses what arrived meanwhile (AUTH TLS did not switch to TLS). */
function resumeParser(conn: Conn): void {
  const st = parserState(conn);
  st.halted = false;
  const pending = st.pending;
  st.pending = [];
  for (const b of pending) handleData.call(conn, b);
  conn.commandSocket.resume();
}

// ---- (a) AUTH TLS ----
const authHandler: Handler = function (this: Conn, { command }) {
  const method = (command.arg || '').trim().toUpperCase();
  if (method !== 'TLS') return this.reply(504);
  if (!this.server.options.tls) return this.reply(502);
  if (this.secure) return this.reply(202);
  const st = parserState(this);
  const raw = this.commandSocket;
  raw.pause();
  return Promise.resolve(this.reply(234)).then(() => {
    if (raw.destroyed) return;
    // Bytes already read past "AUTH TLS\r\n" go back in front of the socket; TLSSocket's initRead
    // drains a socket's buffered data into OpenSSL (node lib/_tls_wrap.js).
    raw.pause();
    const early = st.pending;
    st.pending = [];
    st.buf = Buffer.alloc(0);
    if (early.length) raw.unshift(Buffer.concat(early));
    // initRead's raw.read() would also emit the ClientHello as 'data' to the parser: move the raw
    // socket's 'data' listeners (connection.js) onto the TLS socket instead.
    const dataListeners = raw.listeners('data') as ((chunk: Buffer) => void)[];
    raw.removeAllListeners('data');
    const secureSocket = new tls.TLSSocket(raw, tlsSocketOptions(this.server));
    secureSocket.on('data', (chunk: Buffer) => { for (const l of dataListeners) l.call(raw, chunk); });
    // As auth.js: other listeners registered on the raw socket (connection.js, index.js) keep working.
    for (const event of ['timeout', 'end', 'close', 'drain', 'error']) {
      secureSocket.on(event, (...args: unknown[]) => raw.emit(event, ...args));
    }
    this.commandSocket = secureSocket;
    this.secure = true;
    st.halted = false;
  });
};

// ---- (c) no login in clear ----
function requireTls(orig: Handler): Handler {
  return function (this: Conn, args) {
    if (this.server.options.tls && !this.secure) return this.reply(530, 'AUTH TLS required before login');
    return orig.call(this, args);
  };
}

// ---- (b) passive data connections ----
function setupServer(this: Connector): PromiseLike<net.Server> {
  this.closeServer();
  return this.server.getNextPasvPort().then((port) => {
    this.dataSocket = null;
    let idleServerTimeout: NodeJS.Timeout | undefined;
    const secure = this.connection.secure;

    const connectionHandler = (raw: net.Socket): void => {
      if (!sameIp(this.connection.commandSocket.remoteAddress, raw.remoteAddress)) {
        this.log.error({ pasv_connection: raw.remoteAddress, cmd_connection: this.connection.commandSocket.remoteAddress },
          'Connecting addresses do not match');
        raw.destroy();
        void Promise.resolve(this.connection.reply(550, 'Remote addresses do not match')).then(() => this.connection.close());
        return;
      }
      clearTimeout(idleServerTimeout);
      // Raw socket errors reach the TLS socket (wrapDataSocket), so one 'error' listener either way.
      let socket: DataSocket = raw;
      if (secure) {
        socket = wrapDataSocket(raw, tlsSocketOptions(this.server));
        const handshakeTimer = setTimeout(() => socket.destroy(new DataConnectionError('TLS handshake on data connection timed out')),
          DATA_HANDSHAKE_TIMEOUT);
        socket.once('secure', () => clearTimeout(handshakeTimer));
        socket.once('close', () => clearTimeout(handshakeTimer));
      }
      socket.on('error', (error) => this.server?.emit('client-error', { connection: this.connection, context: 'dataSocket', error }));
      // Connected on TCP accept; a TLS handshake completes after 150 (writes are queued until then).
      socket.connected = true;
      this.dataSocket = socket;
      socket.once('close', () => this.closeServer());
    };

    // Under TLS the raw socket must not answer the peer's FIN by itself: our close_notify goes first.
    const dataServer = net.createServer({ pauseOnConnect: true, allowHalfOpen: secure }, connectionHandler);
    this.dataServer = dataServer;
    dataServer.maxConnections = 1;
    dataServer.on('error', (error) => this.server?.emit('client-error', { connection: this.connection, context: 'dataServer', error }));
    dataServer.once('close', () => { clearTimeout(idleServerTimeout); this.log.trace('Passive server closed'); this.end(); });

    return new Promise<net.Server>((resolve, reject) => {
      dataServer.once('error', reject);
      dataServer.listen(port, this.server.url.hostname, () => {
        dataServer.removeListener('error', reject);
        idleServerTimeout = setTimeout(() => this.closeServer(), DATA_CONNECT_TIMEOUT);
        this.log.debug({ port }, 'Passive connection listening');
        resolve(dataServer);
      });
    });
  });
}

// ---- (d) STOR / APPE / STOU ----
const storHandler: Handler = async function (this: Conn, { log, command }) {
  if (!this.fs) return this.reply(550, 'File system not instantiated');
  if (!this.fs.write) return this.reply(402, 'Not supported by file system');
  const append = command.directive === 'APPE';
  const fileName = command.arg ?? '';
  try {
    const socket = await this.connector.waitForConnection();
    this.commandSocket.pause();
    const fsResponse = (await this.fs.write(fileName, { append, start: this.restByteCount })) as WriteResult & NodeJS.WritableStream;
    let { stream, clientPath } = fsResponse;
    if (!stream && !clientPath) { stream = fsResponse; clientPath = fileName; }
    const out = stream!;
    const serverPath = out.path || fileName;
    this.restByteCount = 0;

    const secure = this.secure;
    let resolveDone!: () => void;
    let rejectDone!: (e: Error) => void;
    const done = new Promise<void>((res, rej) => { resolveDone = res; rejectDone = rej; });
    let settled = false;
    let streamFinished = false;
    let socketEnded = false;
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      socket.unpipe(out as NodeJS.WritableStream);
      out.destroy?.(err); // never end(): a committing _final must not run on a partial file
      socket.destroy();
      rejectDone(err);
    };
    const check = (): void => {
      if (!settled && streamFinished && socketEnded) { settled = true; resolveDone(); }
    };
    out.on('error', fail);
    out.once('finish', () => { streamFinished = true; check(); });
    socket.pipe(out as NodeJS.WritableStream, { end: false });
    socket.once('end', () => {
      if (secure && socket[kCloseNotify] === false) {
        fail(new DataConnectionError('Data connection closed without TLS close_notify: upload truncated'));
        return;
      }
      socketEnded = true;
      // As stor.js: a stream with 'close' listeners (ftp-srv's FileSystem) is ended via a synthetic 'close'.
      if (out.listenerCount('close')) out.emit('close');
      else out.end();
    });
    socket.once('error', (err: Error) => fail(new DataConnectionError(`Data connection error: ${err.message}`)));
    socket.once('close', () => { if (!socketEnded) fail(new DataConnectionError('Data connection closed before end of file')); });

    await this.reply(150);
    socket.resume();
    await done;
    this.emit('STOR', null, serverPath);
    await this.reply(226, clientPath);
    out.destroy?.();
  } catch (e) {
    const err = e as Error & { replyCode?: number };
    log.error(err);
    if (err?.name === 'TimeoutError') {
      await this.reply(425, 'No connection established');
    } else {
      this.emit('STOR', err);
      await this.reply(err?.replyCode ?? 550, err?.message);
    }
  } finally {
    this.connector.end();
    this.commandSocket.resume();
  }
};
const appeHandler: Handler = function (this: Conn, args) { return storHandler.call(this, args); };
// As stou.js, calling the patched STOR.
const stouHandler: Handler = async function (this: Conn, args) {
  if (!this.fs) return this.reply(550, 'File system not instantiated');
  if (!this.fs.get || !this.fs.getUniqueName) return this.reply(402, 'Not supported by file system');
  const fileName = args.command.arg ?? '';
  let name: string;
  try {
    await this.fs.get(fileName);
    name = String(await this.fs.getUniqueName(fileName));
  } catch {
    name = fileName;
  }
  args.command.arg = name;
  return storHandler.call(this, args);
};

// index.js disconnectClient arms a 1 s timer (never cleared) that can only reject an already settled
// promise; it keeps the process (and Jest) alive after close(). Same logic without it.
function disconnectClient(this: { connections: Record<string, Conn>; log: Logger }, id: string): Promise<string | void> {
  const client = this.connections[id];
  if (!client) return Promise.resolve();
  delete this.connections[id];
  try {
    void client.close(0);
  } catch (err) {
    this.log.error(err, 'Error closing connection', { id });
  }
  return Promise.resolve('Disconnected');
}

// base.js end() always installs `new Connector(this)` (passing itself as the connection) on the connection,
// even when called late from an old data server's 'close' event after the client opened a new one.
function connectorEnd(this: Connector & { type: unknown; closeSocket(): void }): void {
  this.closeSocket();
  this.closeServer();
  this.type = false;
  const BaseConnector = require('ftp-srv/src/connector/base') as new (c: Conn) => Connector;
  if (this.connection.connector === this) this.connection.connector = new BaseConnector(this.connection);
}

/** Idempotent: patches ftp-srv's shared command registry and prototypes. */
export function applyFtpSrvPatches(): void {
  const registry = require('ftp-srv/src/commands/registry') as Record<string, RegistryEntry>;
  const Connection = require('ftp-srv/src/connection') as { prototype: Record<string | symbol, unknown> };
  const Passive = require('ftp-srv/src/connector/passive') as { prototype: Record<string | symbol, unknown> };
  const Server = require('ftp-srv/src/index') as { prototype: Record<string | symbol, unknown> };
  if (Connection.prototype[PATCHED]) return;

  registry.AUTH.handler = authHandler;
  registry.USER.handler = requireTls(registry.USER.handler);
  registry.PASS.handler = requireTls(registry.PASS.handler);
  registry.STOR.handler = storHandler;
  registry.APPE.handler = appeHandler;
  registry.STOU.handler = stouHandler;
  Connection.prototype._handleData = handleData; // bound per connection in the constructor
  Passive.prototype.setupServer = setupServer;
  Server.prototype.disconnectClient = disconnectClient;
  (require('ftp-srv/src/connector/base') as { prototype: Record<string, unknown> }).prototype.end = connectorEnd;
  Connection.prototype[PATCHED] = true;
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT'];

/** new FtpSrv(options) with our patches, minus the process-exiting signal handlers it installs (#280). */
export function createFtpSrv(options: FtpServerOptions): FtpSrv {
  applyFtpSrvPatches();
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const server = new FtpSrv(options);
  for (const s of SIGNALS) {
    for (const l of process.listeners(s)) {
      if (!before.get(s)!.has(l)) process.removeListener(s, l);
    }
  }
  return server;
}
