/**
 * Passive data connections, our side of them (docs/ftps.md, "Data connections"). The patched ftp-srv
 * (connector/passive.js) binds each data connection to its control connection: same IP address, and under TLS a
 * resumption of the control connection's TLS session; it drops any other connection without touching the session it
 * tried to join. Here: how many passive ports an account may hold, whether its data connections must resume (the
 * account's `tlsReuse`, read at each PASV/EPSV so that a change applies at once), how long an unused port stays open,
 * and the audit of refused data connections.
 */
import type { EventEmitter } from 'node:events';
import type { Settings } from '../config/defaults';
import type { Store, TlsReuse } from '../store';
import type { AuditLog } from '../store/audit-log';
import type { CountsUnderLimit } from './counts-under-limit';

/** A PASV/EPSV refused: ftp-srv replies with `code` and the message. */
export class PassivePortRefusedError extends Error {
  readonly code = 425;
}

/** What this module reads of an ftp-srv connection (a logged-in one: the username is the establishment number). */
interface FtpConnection {
  username?: string;
  ip?: string;
}

/** What the patched ftp-srv's pasv_lease gives a passive port: its account's TLS rule, and a release for its end. */
interface PassiveLease {
  tlsReuse: TlsReuse;
  release(): void;
}

/** The options of the patched ftp-srv for passive ports (connector/passive.js). */
export function passivePortOptions(deps: { settings: Settings; store: Store; audit: AuditLog; counts: CountsUnderLimit }): {
  pasv_lease(connection: FtpConnection): Promise<PassiveLease>;
  pasv_idle_ms: number;
} {
  const { settings, store, audit, counts } = deps;
  // Accounts at their limit whose refusal is in the audit log already: one line until a port is given back.
  const limitAudited = new Set<string>();
  return {
    pasv_idle_ms: settings.dataIdleMs,
    pasv_lease: async (connection) => {
      // Only logged-in connections reach PASV/EPSV: the username is the account's establishment number.
      const account = String(connection.username ?? '');
      const found = await store.accounts.byEstablishment(account).catch(() => null);
      if (!counts.take(account)) {
        if (!limitAudited.has(account))
          audit.write('data_refused', { account, ip: connection.ip, reason: 'passive port limit', limit: settings.pasvPortsPerAccount });
        limitAudited.add(account);
        throw new PassivePortRefusedError(
          `Too many passive ports open for this account (at most ${settings.pasvPortsPerAccount}): finish or close another transfer first`,
        );
      }
      let released = false;
      return {
        tlsReuse: found?.tlsReuse ?? 'required',
        release: () => {
          if (released) return;
          released = true;
          counts.release(account);
          limitAudited.delete(account);
        },
      };
    },
  };
}

/** auditRefusedDataConnections writes the first refused connection of each passive port to the audit log. */
export function auditRefusedDataConnections(server: EventEmitter, audit: AuditLog): void {
  server.on(
    'data-connection-refused',
    ({ connection, address, reason }: { connection: FtpConnection; address: string; reason: string }) => {
      audit.write('data_refused', { account: connection.username ?? null, ip: connection.ip, from: address, reason });
    },
  );
}
