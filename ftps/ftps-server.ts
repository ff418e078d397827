/**
 * The FTPS front door: a thin adapter from ftp-srv to the core. It does login, the jail and error
 * translation; uploads go to the intake through the jail's file system.
 *
 * Timeouts: ftp-srv's own `timeout` is an idle timer on the control socket, which sits idle during a transfer, so
 * it cuts long uploads (ftp-srv #387); it stays off. Instead each connection has an idle timer that every command
 * restarts and that stands still while a transfer runs (`ftpIdleMs`), a login deadline and connection limits
 * (connection-limits.ts), and each transfer is cut when no byte moves for `transferIdleMs` (transfers.ts).
 *
 * Shutdown: `drain()` stops listening, refuses new logins and uploads, and waits (up to a grace time) for the
 * transfers in progress, so an upload that was being sent still gets its 226; `close()` then drops the rest.
 */
import type { FtpConnection, FtpSrv } from 'ftp-srv';
import type { Settings } from '../config/defaults';
import type { DataLayout } from '../config/layout';
import type { Account, Store } from '../store';
import type { AuditLog } from '../store/audit-log';
import type { Intake } from '../intake/intake';
import path from 'node:path';
import { createFtpSrv } from './ftp-srv-patches';
import { JailFileSystem } from './jail-fs';
import { ControlConnections } from './connection-limits';
import { guardReplies } from './client-replies';
import { HeldFiles, HeldQuotaError, isHeldName } from './held-files';
import { LoginGuard, loginGuardOptions } from '../intake/login-guard';
import { auditedUsername, auditLoginWithoutTls, authenticate, FTPS_ROLES, LoginRefusedError } from '../intake/login';
import { PasswordChecks } from '../intake/passwords';
import { UploadStream, UploadTooLargeError, TransferStalledError } from '../intake/upload-stream';
import { Transfers } from './transfers';
import { auditRefusedDataConnections, passivePortOptions } from './data-connections';
import { CountsUnderLimit } from './counts-under-limit';
import { TLS_POLICY } from '../config/tls-policy';

export interface FtpsServer {
  port: number;
  /** Transfers (uploads and downloads) running now. */
  activeTransfers(): number;
  /** drain stops new connections, logins and uploads, and waits up to graceMs for the transfers in progress. */
  drain(graceMs: number): Promise<void>;
  close(): Promise<void>;
}

/** After the last transfer of a drain, how long clients get to read their 226 before connections close. */
const LINGER_MS = 1000;

// Refused for every account: active mode (server-initiated connections), appends, restarts (a held `.part` is sent
// again whole), directories, SITE.
const DENIED = ['PORT', 'EPRT', 'APPE', 'STOU', 'REST', 'MKD', 'XMKD', 'RMD', 'XRMD', 'SITE'];

// ftp-srv exports its error classes as `ftpErrors` (its .d.ts says otherwise).
const { FileSystemError } = (require('ftp-srv') as { ftpErrors: { FileSystemError: new (msg: string, code?: number) => Error } }).ftpErrors;

/** What the steps of the front share. */
interface Front {
  settings: Settings;
  layout: DataLayout;
  store: Store;
  intake: Intake;
  audit: AuditLog;
  guard: LoginGuard;
  checks: PasswordChecks;
  connections: ControlConnections;
  held: HeldFiles;
  transfers: Transfers;
  /** Set by drain(): no new login or upload. */
  draining: boolean;
}

/** startFtpsServer listens for explicit FTPS on settings.ftpHost:ftpPort. */
export async function startFtpsServer(deps: {
  settings: Settings;
  layout: DataLayout;
  store: Store;
  intake: Intake;
  audit: AuditLog;
  tls: { cert: string; key: string };
  guard?: LoginGuard;
  /** The password checks' slots, shared with the other front ends of the process (one thread pool). */
  checks?: PasswordChecks;
}): Promise<FtpsServer> {
  const { settings, layout, audit } = deps;
  const connections = new ControlConnections(settings, audit);
  const front: Front = {
    ...deps,
    guard: deps.guard ?? new LoginGuard(loginGuardOptions(settings)),
    checks: deps.checks ?? new PasswordChecks({ concurrency: settings.loginCheckConcurrency, queue: settings.loginCheckQueue }),
    connections,
    held: new HeldFiles({ dropRoot: layout.dropRoot, audit, settings }),
    transfers: new Transfers(settings.transferIdleMs, connections),
    draining: false,
  };
  const server = newFtpSrv(front, deps.tls);
  watchConnections(server, front);
  server.on('login', ({ connection, username, password }: any, resolve: any, reject: any) =>
    logIn(front, { connection, username: String(username), password }).then(resolve, reject),
  );
  server.on('client-error', () => {}); // a client's broken socket is its own problem; never crash the server
  await server.listen();
  front.held.start();
  return controls(server, front);
}

/** newFtpSrv sets ftp-srv up: explicit FTPS, passive ports, the refused commands, our own time-outs and log. */
function newFtpSrv(front: Front, tls: { cert: string; key: string }): FtpSrv {
  const { settings, store, audit } = front;
  const server: FtpSrv = createFtpSrv({
    url: `ftp://${settings.ftpHost}:${settings.ftpPort}`,
    tls: { cert: tls.cert, key: tls.key, ...TLS_POLICY },
    pasv_url: settings.pasvUrl ?? settings.ftpHost,
    pasv_min: settings.pasvMin,
    pasv_max: settings.pasvMax,
    anonymous: false,
    greeting: ['odo-inflow registry intake. Explicit FTPS only: AUTH TLS, then log in.'],
    blacklist: DENIED,
    timeout: 0, // see the file comment: our own idle timers
    log: silentLogger(),
    ...passivePortOptions({ settings, store, audit, counts: new CountsUnderLimit(settings.pasvPortsPerAccount) }),
  } as any);
  auditRefusedDataConnections(server as unknown as NodeJS.EventEmitter, audit);
  return server;
}

/**
 * watchConnections keeps each control connection within its limits, turns library errors into plain replies, and
 * audits a USER or PASS sent before AUTH TLS (ftp-srv, patched, answers it 530 without a 'login' event).
 */
function watchConnections(server: FtpSrv, front: Front): void {
  const { connections, audit } = front;
  (server as unknown as NodeJS.EventEmitter).on('connect', ({ connection, id }: any) => {
    if (!connections.opened(id, connection)) return;
    const ip = String(connection.ip ?? '');
    guardReplies(connection, (code, text) => audit.write('internal_error', { ip, code, error: text }));
    const commands = connection.commands;
    const handle = commands.handle.bind(commands);
    commands.handle = (line: string) => {
      if (!connection.secure) auditPlainLogin(audit, commands.parse(line), ip);
      return handle(line);
    };
  });
  server.on('disconnect', ({ id }: any) => connections.closed(id));
}

function auditPlainLogin(audit: AuditLog, command: { directive: string; arg: string | null }, ip: string): void {
  if (command.directive !== 'USER' && command.directive !== 'PASS') return;
  const username = command.directive === 'USER' ? (command.arg ?? '') : undefined;
  auditLoginWithoutTls(audit, { ip, command: command.directive, username });
}

/**
 * logIn decides a login and gives the account its jail; rejects with the refusal the client sees (530, or 421 and
 * closed when the account is at its connection limit).
 */
async function logIn(
  front: Front,
  login: { connection: FtpConnection; username: string; password: string },
): Promise<{ fs: JailFileSystem; blacklist: string[] }> {
  const { connection, username, password } = login;
  const { store, guard, checks, audit } = front;
  const ip = String(connection.ip ?? '');
  if (front.draining) {
    audit.write('login_refused', { ...auditedUsername(username), ip, reason: 'shutting down' });
    throw new LoginRefusedError('Service is shutting down: try again later');
  }
  try {
    const account = await authenticate(
      { store, guard, checks, audit },
      { username, password, ip, secure: !!connection.secure, roles: FTPS_ROLES },
    );
    // Over the account's limit: answered 421 and closed; the refusal only ends ftp-srv's PASS handler.
    if (!(await front.connections.loggedIn(connection.id, account.establishment))) throw new LoginRefusedError('Too many connections');
    return { fs: jailOf(front, connection, account, ip), blacklist: DENIED };
  } catch (err) {
    if (err instanceof LoginRefusedError) throw err;
    audit.write('internal_error', { ip, username, code: 530, error: (err as Error).message });
    throw new LoginRefusedError('Login failed: try again later');
  }
}

/** jailOf makes the account's jail, with its transfers tracked and its uploads refused while draining or over quota. */
function jailOf(front: Front, connection: FtpConnection, account: Account, ip: string): JailFileSystem {
  const { settings, layout, intake, held, audit, transfers } = front;
  const dropDir = layout.dropDir(account.establishment);
  const fs = new JailFileSystem(connection, {
    account,
    dropDir,
    receiptsDir: layout.receiptsDir(account.establishment),
    maxFileBytes: settings.maxFileBytes,
    intake,
    held,
    audit,
    ip,
  });
  const write = fs.write.bind(fs);
  fs.write = async (fileName: string, opts?: { append?: boolean; start?: any }) => {
    await admitUpload(front, { account: account.establishment, ip, name: fileName, dropDir });
    const res = write(fileName, opts);
    const stream = res.stream as UploadStream;
    if (stream instanceof UploadStream) watchUpload(front, connection, stream, { account: account.establishment, ip, name: fileName });
    return res;
  };
  const read = fs.read.bind(fs);
  fs.read = async (fileName: string) => {
    const res = await read(fileName);
    const stream = res.stream as import('node:fs').ReadStream;
    transfers.track(connection.id, stream, () => stream.bytesRead);
    return res;
  };
  return fs;
}

interface UploadOf {
  account: string;
  ip: string;
  name: string;
}

/** admitUpload refuses an upload while draining, and a held one when the account's held files fill its quota. */
async function admitUpload(front: Front, u: UploadOf & { dropDir: string }): Promise<void> {
  const { audit, held } = front;
  const { account, ip, name } = u;
  if (front.draining) {
    audit.write('upload_refused', { account, ip, name, reason: 'shutting down' });
    throw new FileSystemError('Service is shutting down: upload refused, try again later', 550);
  }
  if (!isHeldName(path.posix.basename(String(name)))) return;
  await held.assertRoom(u.dropDir).catch((err: Error) => {
    audit.write('upload_refused', { account, ip, name, reason: 'held quota' });
    throw err;
  });
}

/** watchUpload tracks an upload's transfer, replies to a refusal before the data connection is reset, and audits it. */
function watchUpload(front: Front, connection: FtpConnection, stream: UploadStream, u: UploadOf): void {
  const { settings, audit } = front;
  front.transfers.track(
    connection.id,
    stream,
    () => stream.received,
    () => stream.settling,
  );
  stream.beforeRefusal = (err) => replyFirst(connection, err.replyCode, err.message);
  stream.once('error', (err: Error) => {
    const reason = refusalReason(err);
    const limit = err instanceof UploadTooLargeError ? { limit: settings.maxFileBytes } : {};
    if (reason) audit.write('upload_refused', { ...u, reason, ...limit });
  });
}

/** controls: the handle `serve` keeps, to count transfers, drain and close. */
function controls(server: FtpSrv, front: Front): FtpsServer {
  const { settings, transfers } = front;
  const netServer = (server as any).server as import('node:net').Server;
  const address = netServer.address();
  return {
    port: typeof address === 'object' && address ? address.port : settings.ftpPort,
    activeTransfers: () => transfers.count,
    drain: async (graceMs) => {
      front.draining = true;
      netServer.close(); // no new connections; the open ones go on
      if (transfers.count === 0) return;
      const started = Date.now();
      await transfers.idle(graceMs);
      // The last 226 has just been written: let the clients read it before their connections are closed.
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(LINGER_MS, graceMs - (Date.now() - started)))));
    },
    close: async () => {
      front.draining = true;
      front.connections.stopAll();
      front.held.stop();
      await server.close();
    },
  };
}

/** The audit's reason for an upload that one of the limits refused; null for any other failure. */
function refusalReason(err: Error): string | null {
  if (err instanceof UploadTooLargeError) return 'size limit';
  if (err instanceof TransferStalledError) return 'transfer stalled';
  if (err instanceof HeldQuotaError) return 'held quota';
  return null;
}

/**
 * replyFirst sends a STOR's error reply while the data connection is still held, and drops the same reply when the
 * STOR handler sends it after resetting the data connection. Clients such as basic-ftp close the whole session on
 * a reset data connection, so they would never read the reply that says why; sent first, it is read first.
 */
async function replyFirst(connection: any, code: number, message: string): Promise<void> {
  if (!connection[kReplyOnce]) {
    const reply = connection.reply.bind(connection);
    connection.reply = (options: unknown, ...letters: unknown[]) => {
      const pending = connection[kReplyOnce].pending as { code: number; message: string; until: number } | null;
      if (pending && options === pending.code && letters[0] === pending.message && Date.now() < pending.until) {
        connection[kReplyOnce].pending = null;
        return Promise.resolve();
      }
      return reply(options, ...letters);
    };
    connection[kReplyOnce] = { pending: null };
  }
  await connection.reply(code, message);
  connection[kReplyOnce].pending = { code, message, until: Date.now() + 30_000 };
  await new Promise((r) => setTimeout(r, 250)); // the client reads it before the reset
}
const kReplyOnce = Symbol('odo.replyOnce');

/** ftp-srv logs through bunyan to stdout by default; the audit log is our record. */
function silentLogger(): any {
  const noop = () => {};
  const log: any = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop };
  log.child = () => log;
  return log;
}
