/**
 * What one client may hold on the control port (docs/ftps.md, Limits): connections per IP address and per account,
 * a deadline and a number of commands before login, and an idle timer. A connection over a limit is answered 421
 * and closed, and its sockets are destroyed whether or not that reply could be written: a connection stuck in its
 * TLS handshake (AUTH TLS, then nothing) never completes a write, so waiting for the 421 would keep it forever.
 */
import type { Socket } from 'node:net';
import type { Settings } from '../config/defaults';
import type { AuditLog } from '../store/audit-log';
import { CountsUnderLimit } from './counts-under-limit';

/** How long a last reply may take to go out before the sockets are destroyed anyway. */
const LAST_REPLY_MS = 1000;

/** The parts of ftp-srv's connection used here. */
export interface ControlConnection {
  ip?: string;
  authenticated?: boolean;
  commandSocket: Socket;
  commands: { handle(line: string): unknown };
  reply(code: number, message: string): Promise<unknown>;
}

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

interface Tracked {
  connection: ControlConnection;
  /** The TCP socket as accepted: after AUTH TLS, `commandSocket` is the TLS socket wrapped around it. */
  raw: Socket;
  ip: string;
  account: string | null;
  idle: IdleTimer;
  loginDeadline: NodeJS.Timeout | null;
  commandsBeforeLogin: number;
  /** Answered 421: what the client still sends is not handled. */
  hungUp: boolean;
}

type Limits = Pick<
  Settings,
  'ftpIdleMs' | 'maxConnectionsPerIp' | 'maxConnectionsPerAccount' | 'loginTimeoutMs' | 'maxCommandsBeforeLogin'
>;

/** ControlConnections keeps the control connections within their limits, from accept to close. */
export class ControlConnections {
  private readonly open = new Map<string, Tracked>();
  private readonly perIp: CountsUnderLimit;
  private readonly perAccount: CountsUnderLimit;

  constructor(
    private readonly limits: Limits,
    private readonly audit: AuditLog,
  ) {
    this.perIp = new CountsUnderLimit(limits.maxConnectionsPerIp);
    this.perAccount = new CountsUnderLimit(limits.maxConnectionsPerAccount);
  }

  /** opened takes a new connection in, before its greeting; false when its IP address is at its limit (then closed). */
  opened(id: string, connection: ControlConnection): boolean {
    const raw = connection.commandSocket;
    const ip = String(connection.ip ?? '');
    if (!this.perIp.take(ip)) {
      const max = this.limits.maxConnectionsPerIp;
      this.audit.write('connection_refused', { ip, reason: 'too many connections from this address', limit: max });
      // Before ftp-srv's greeting, written straight to the socket: a 421 is the only line this client reads.
      raw.end(`421 Too many connections from your address (at most ${max}): close one and try again\r\n`, () => raw.destroy());
      setTimeout(() => raw.destroy(), LAST_REPLY_MS).unref();
      return false;
    }
    const idle = new IdleTimer(this.limits.ftpIdleMs, () => {
      this.audit.write('idle_timeout', { ip, idleMs: this.limits.ftpIdleMs });
      void hangUp(t, 421, 'Idle timeout: closing control connection');
    });
    const t: Tracked = { connection, raw, ip, account: null, idle, loginDeadline: null, commandsBeforeLogin: 0, hungUp: false };
    if (this.limits.loginTimeoutMs > 0) {
      t.loginDeadline = setTimeout(() => {
        if (connection.authenticated) return;
        this.audit.write('connection_refused', { ip, reason: 'no login in time', limitMs: this.limits.loginTimeoutMs });
        void hangUp(t, 421, `Login timeout: log in within ${Math.round(this.limits.loginTimeoutMs / 1000)} s of connecting`);
      }, this.limits.loginTimeoutMs);
      t.loginDeadline.unref();
    }
    const handle = connection.commands.handle.bind(connection.commands);
    connection.commands.handle = (line: string) => {
      if (t.hungUp) return;
      t.idle.touch();
      const max = this.limits.maxCommandsBeforeLogin;
      if (!connection.authenticated && max > 0 && ++t.commandsBeforeLogin > max) {
        this.audit.write('connection_refused', { ip, reason: 'too many commands before login', limit: max });
        return hangUp(t, 421, `Too many commands before login (at most ${max}): log in first`);
      }
      return handle(line);
    };
    this.open.set(id, t);
    return true;
  }

  /**
   * loggedIn counts an accepted login against its account's limit. Over it, the client is answered 421 and closed,
   * and the returned promise says so (false) once the connection is gone.
   */
  async loggedIn(id: string, account: string): Promise<boolean> {
    const t = this.open.get(id);
    if (!t) return false;
    if (this.perAccount.take(account)) {
      t.account = account;
      if (t.loginDeadline) clearTimeout(t.loginDeadline);
      return true;
    }
    const max = this.limits.maxConnectionsPerAccount;
    this.audit.write('connection_refused', { ip: t.ip, username: account, reason: 'too many connections for this account', limit: max });
    await hangUp(t, 421, `Too many connections for this account (at most ${max}): close one and try again`);
    return false;
  }

  /** A transfer on the connection begins or ends: the idle timer stands still while one runs. */
  transferBegins(id: string): void {
    this.open.get(id)?.idle.begin();
  }

  transferEnds(id: string): void {
    this.open.get(id)?.idle.end();
  }

  closed(id: string): void {
    const t = this.open.get(id);
    if (!t) return;
    this.open.delete(id);
    t.idle.stop();
    if (t.loginDeadline) clearTimeout(t.loginDeadline);
    this.perIp.release(t.ip);
    if (t.account !== null) this.perAccount.release(t.account);
  }

  /** stopAll stops every timer (the server is closing its connections). */
  stopAll(): void {
    for (const t of this.open.values()) {
      t.idle.stop();
      if (t.loginDeadline) clearTimeout(t.loginDeadline);
    }
  }
}

/** hangUp sends a last reply, then destroys the connection's sockets: at once when written, else after LAST_REPLY_MS. */
function hangUp(t: Tracked, code: number, message: string): Promise<void> {
  t.hungUp = true;
  return new Promise((resolve) => {
    const destroy = () => {
      clearTimeout(timer);
      t.connection.commandSocket.destroy();
      t.raw.destroy();
      resolve();
    };
    const timer = setTimeout(destroy, LAST_REPLY_MS);
    Promise.resolve(t.connection.reply(code, message)).then(destroy, destroy);
  });
}
