/**
 * The FTPS front door: a thin adapter from ftp-srv to the core. It does login, the jail and error
 * translation; uploads go to the intake through the jail's file system.
 *
 * Timeouts: ftp-srv's own `timeout` is an idle timer on the control socket, which sits idle during a transfer, so
 * it cuts long uploads (ftp-srv #387); it stays off. Instead each connection has an idle timer that every command
 * restarts and that stands still while a transfer runs (`ftpIdleMs`), and each transfer is cut when no byte moves
 * for `transferIdleMs` (a stalled or vanished client), however long it has been running.
 *
 * Shutdown: `drain()` stops listening, refuses new logins and uploads, and waits (up to a grace time) for the
 * transfers in progress, so an upload that was being sent still gets its 226; `close()` then drops the rest.
 */
import type { FtpSrv } from 'ftp-srv';
import type { Settings } from '../config/defaults';
import type { DataLayout } from '../config/layout';
import type { Store } from '../store';
import type { AuditLog } from '../store/audit-log';
import type { Intake } from '../intake/intake';
import { createFtpSrv } from './ftp-srv-patches';
import { JailFileSystem } from './jail-fs';
import { LoginGuard, loginGuardOptions } from '../intake/login-guard';
import { auditedUsername, auditLoginWithoutTls, authenticate, LoginRefusedError } from '../intake/login';
import { PasswordChecks } from '../intake/passwords';
import { UploadStream, UploadTooLargeError, TransferStalledError } from './upload-stream';

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

// Refused for every account: active mode (server-initiated connections), appends, directories, SITE.
const DENIED = ['PORT', 'EPRT', 'APPE', 'STOU', 'MKD', 'XMKD', 'RMD', 'XRMD', 'SITE'];

// ftp-srv exports its error classes as `ftpErrors` (its .d.ts says otherwise).
const { FileSystemError } = (require('ftp-srv') as { ftpErrors: { FileSystemError: new (msg: string, code?: number) => Error } }).ftpErrors;

/**
 * One connection's idle timer: restarted by every command, stopped while a transfer runs, restarted when the last
 * transfer ends.
 */
class IdleTimer {
  private timer: NodeJS.Timeout | null = null;
  private transfers = 0;
  private stopped = false;

  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {
    this.touch();
  }

  touch(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped || this.transfers > 0 || this.ms <= 0) return;
    this.timer = setTimeout(() => {
      this.stopped = true;
      this.onIdle();
    }, this.ms);
    this.timer.unref();
  }

  begin(): void {
    this.transfers++;
    this.touch();
  }

  end(): void {
    this.transfers = Math.max(0, this.transfers - 1);
    this.touch();
  }

  stop(): void {
    this.stopped = true;
    this.touch();
  }
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
}): Promise<FtpsServer> {
  const { settings, layout, store, intake, audit } = deps;
  const guard = deps.guard ?? new LoginGuard(loginGuardOptions(settings));
  const checks = new PasswordChecks({ concurrency: settings.loginCheckConcurrency, queue: settings.loginCheckQueue });
  const server: FtpSrv = createFtpSrv({
    url: `ftp://${settings.ftpHost}:${settings.ftpPort}`,
    tls: { cert: deps.tls.cert, key: deps.tls.key, minVersion: 'TLSv1.2' },
    pasv_url: settings.pasvUrl ?? settings.ftpHost,
    pasv_min: settings.pasvMin,
    pasv_max: settings.pasvMax,
    anonymous: false,
    greeting: ['odo-inflow registry intake. Explicit FTPS only: AUTH TLS, then log in.'],
    blacklist: DENIED,
    timeout: 0, // see the file comment: our own idle timers
    log: silentLogger(),
  } as any);

  let draining = false;
  let transfers = 0;
  const idleWaiters: (() => void)[] = [];
  const timers = new Map<string, IdleTimer>();

  /** A USER or PASS before AUTH TLS is answered 530 by ftp-srv (patched) without a 'login' event: audited here. */
  const auditPlainLogin = (command: { directive: string; arg: string | null }, ip: string) => {
    if (command.directive !== 'USER' && command.directive !== 'PASS') return;
    const username = command.directive === 'USER' ? (command.arg ?? '') : undefined;
    auditLoginWithoutTls(audit, { ip, command: command.directive, username });
  };

  (server as unknown as NodeJS.EventEmitter).on('connect', ({ connection, id }: any) => {
    const ip = String(connection.ip ?? '');
    const timer = new IdleTimer(settings.ftpIdleMs, () => {
      audit.write('idle_timeout', { ip, idleMs: settings.ftpIdleMs });
      void Promise.resolve(connection.close(421, 'Idle timeout: closing control connection')).catch(() => {});
    });
    timers.set(id, timer);
    const commands = connection.commands;
    const handle = commands.handle.bind(commands);
    commands.handle = (line: string) => {
      timer.touch();
      if (!connection.secure) auditPlainLogin(commands.parse(line), ip);
      return handle(line);
    };
  });
  server.on('disconnect', ({ id }: any) => {
    timers.get(id)?.stop();
    timers.delete(id);
  });

  /**
   * track counts a transfer from now until its stream closes, and cuts it when its byte count has not moved for
   * transferIdleMs (polled: no listener is added to a stream ftp-srv is about to read or pipe).
   */
  const track = (
    connectionId: string,
    stream: NodeJS.EventEmitter & { destroyed: boolean; destroy(err?: Error): void },
    progress: () => number,
  ) => {
    const idle = timers.get(connectionId);
    idle?.begin();
    transfers++;
    let last = -1;
    const poll =
      settings.transferIdleMs > 0
        ? setInterval(() => {
            const now = progress();
            if (now === last) stream.destroy(new TransferStalledError(settings.transferIdleMs));
            last = now;
          }, settings.transferIdleMs)
        : null;
    poll?.unref();
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      if (poll) clearInterval(poll);
      idle?.end();
      transfers--;
      if (transfers === 0) idleWaiters.splice(0).forEach((w) => w());
    };
    // ftp-srv ends an upload stream with a synthetic 'close': the transfer is over only when the
    // stream is destroyed, after the intake took the file in and the 226 went out.
    stream.on('close', () => {
      if (stream.destroyed) end();
    });
  };

  server.on('login', ({ connection, username, password }: any, resolve: any, reject: any) => {
    const ip = String(connection.ip ?? '');
    if (draining) {
      audit.write('login_refused', { ...auditedUsername(String(username)), ip, reason: 'shutting down' });
      return reject(new LoginRefusedError('Service is shutting down: try again later'));
    }
    authenticate({ store, guard, checks, audit }, { username, password, ip, secure: !!connection.secure })
      .then((account) => {
        const fs = new JailFileSystem(connection, {
          account,
          dropDir: layout.dropDir(account.establishment),
          receiptsDir: layout.receiptsDir(account.establishment),
          maxFileBytes: settings.maxFileBytes,
          intake,
          audit,
          ip,
        });
        const write = fs.write.bind(fs);
        fs.write = (fileName: string, opts?: { append?: boolean; start?: any }) => {
          if (draining) {
            audit.write('upload_refused', { account: account.establishment, ip, name: fileName, reason: 'shutting down' });
            throw new FileSystemError('Service is shutting down: upload refused, try again later', 550);
          }
          const res = write(fileName, opts);
          const stream = res.stream as UploadStream;
          if (stream instanceof UploadStream) {
            track(connection.id, stream, () => stream.received);
            stream.beforeRefusal = (err) => replyFirst(connection, err.replyCode, err.message);
            stream.once('error', (err: Error) => {
              if (err instanceof UploadTooLargeError) {
                audit.write('upload_refused', {
                  account: account.establishment,
                  ip,
                  name: fileName,
                  reason: 'size limit',
                  limit: settings.maxFileBytes,
                });
              } else if (err instanceof TransferStalledError) {
                audit.write('upload_refused', { account: account.establishment, ip, name: fileName, reason: 'transfer stalled' });
              }
            });
          }
          return res;
        };
        const read = fs.read.bind(fs);
        fs.read = async (fileName: string) => {
          const res = await read(fileName);
          const stream = res.stream as import('node:fs').ReadStream;
          track(connection.id, stream, () => stream.bytesRead);
          return res;
        };
        resolve({ fs, blacklist: DENIED });
      })
      .catch((err: Error) => reject(err));
  });
  server.on('client-error', () => {}); // a client's broken socket is its own problem; never crash the server

  await server.listen();
  const netServer = (server as any).server as import('node:net').Server;
  const address = netServer.address();
  return {
    port: typeof address === 'object' && address ? address.port : settings.ftpPort,
    activeTransfers: () => transfers,
    drain: async (graceMs) => {
      draining = true;
      netServer.close(); // no new connections; the open ones go on
      if (transfers === 0) return;
      const started = Date.now();
      await new Promise<void>((r) => {
        const t = setTimeout(r, graceMs);
        idleWaiters.push(() => (clearTimeout(t), r()));
      });
      // The last 226 has just been written: let the clients read it before their connections are closed.
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(LINGER_MS, graceMs - (Date.now() - started)))));
    },
    close: async () => {
      draining = true;
      for (const t of timers.values()) t.stop();
      await server.close();
    },
  };
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
