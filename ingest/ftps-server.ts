/**
 * The FTPS front door: a thin adapter from ftp-srv to the core. It does login, the jail and error
 * translation; uploads go to the intake through the jail's file system.
 */
import type { FtpSrv } from 'ftp-srv';
import type { Settings } from '../config/defaults';
import type { DataLayout } from '../config/layout';
import type { Store } from '../store';
import type { AuditLog } from '../store/audit-log';
import type { Intake } from './intake';
import { createFtpSrv } from './ftp-srv-patches';
import { JailFileSystem } from './jail-fs';
import { LoginGuard } from './login-guard';
import { authenticate } from './login';

export interface FtpsServer {
  port: number;
  close(): Promise<void>;
}

// Refused for every account: active mode (server-initiated connections), appends, directories, SITE.
const DENIED = ['PORT', 'EPRT', 'APPE', 'STOU', 'MKD', 'XMKD', 'RMD', 'XRMD', 'SITE'];

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
  const guard = deps.guard ?? new LoginGuard();
  const server: FtpSrv = createFtpSrv({
    url: `ftp://${settings.ftpHost}:${settings.ftpPort}`,
    tls: { cert: deps.tls.cert, key: deps.tls.key, minVersion: 'TLSv1.2' },
    pasv_url: settings.pasvUrl ?? settings.ftpHost,
    pasv_min: settings.pasvMin,
    pasv_max: settings.pasvMax,
    anonymous: false,
    greeting: ['odo-inflow registry intake. Explicit FTPS only: AUTH TLS, then log in.'],
    blacklist: DENIED,
    log: silentLogger(),
  } as any);

  server.on('login', ({ connection, username, password }: any, resolve: any, reject: any) => {
    const ip = String(connection.ip ?? '');
    authenticate({ store, guard, audit }, { username, password, ip, secure: !!connection.secure })
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
        resolve({ fs, blacklist: DENIED });
      })
      .catch((err: Error) => reject(err));
  });
  server.on('client-error', () => {}); // a client's broken socket is its own problem; never crash the server

  await server.listen();
  const address = (server as any).server.address();
  return {
    port: typeof address === 'object' && address ? address.port : settings.ftpPort,
    close: async () => {
      await server.close();
    },
  };
}

/** ftp-srv logs through bunyan to stdout by default; the audit log is our record. */
function silentLogger(): any {
  const noop = () => {};
  const log: any = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, fatal: noop };
  log.child = () => log;
  return log;
}
