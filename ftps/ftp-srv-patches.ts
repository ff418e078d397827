/**
 * ftp-srv is used patched: patches/ftp-srv+4.6.3.patch (applied by patch-package at `npm ci`, see package.json's
 * postinstall and the README, "ftp-srv 4.6.3 and FTPS clients") edits ftp-srv's own files. Nothing of ftp-srv is
 * replaced at run time; this module only refuses to start an FTP server on an ftp-srv that is not the patched 4.6.3.
 */
import { readFileSync } from 'fs';
import { dirname, join } from 'path';
import { FtpSrv, type FtpServerOptions } from 'ftp-srv';

/** The ftp-srv version the patch was written for (package.json pins it). */
export const FTP_SRV_VERSION = '4.6.3';
/** First line of every file the patch changes or adds. */
export const PATCH_MARKER = 'odo-inflow: patched ftp-srv 4.6.3';
/** The files the patch changes or adds, relative to ftp-srv's folder. */
export const PATCHED_FILES = [
  'src/index.js',
  'src/connection.js',
  'src/connector/base.js',
  'src/connector/passive.js',
  'src/helpers/tls-sockets.js',
  'src/commands/registration/auth.js',
  'src/commands/registration/user.js',
  'src/commands/registration/pass.js',
  'src/commands/registration/stor.js',
  'src/commands/registration/retr.js',
  'src/commands/registration/list.js',
];

export class FtpSrvPatchError extends Error {
  constructor(detail: string) {
    super(
      `ftp-srv is not the patched ${FTP_SRV_VERSION} this service needs: ${detail}. ` +
        `Reinstall with \`npm ci\` (its postinstall applies patches/ftp-srv+${FTP_SRV_VERSION}.patch).`,
    );
    this.name = 'FtpSrvPatchError';
  }
}

/**
 * Throws FtpSrvPatchError unless the ftp-srv in packageDir (by default the one `require('ftp-srv')` loads) is
 * version 4.6.3 with every patched file carrying the marker.
 */
export function assertFtpSrvPatched(packageDir: string = dirname(require.resolve('ftp-srv/package.json'))): void {
  let version: unknown;
  try {
    version = (JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as { version?: unknown }).version;
  } catch (err) {
    throw new FtpSrvPatchError(`cannot read ${join(packageDir, 'package.json')} (${(err as Error).message})`);
  }
  if (version !== FTP_SRV_VERSION) throw new FtpSrvPatchError(`installed version is ${String(version)}`);
  const unpatched = PATCHED_FILES.filter((f) => {
    try {
      return !readFileSync(join(packageDir, f), 'utf8').startsWith(`// ${PATCH_MARKER}`);
    } catch {
      return true;
    }
  });
  if (unpatched.length) throw new FtpSrvPatchError(`patch not applied to ${unpatched.join(', ')} in ${packageDir}`);
}

let checked = false;

/** new FtpSrv(options), after checking (once per process) that ftp-srv is the patched 4.6.3. */
export function createFtpSrv(options: FtpServerOptions): FtpSrv {
  if (!checked) {
    assertFtpSrvPatched();
    checked = true;
  }
  return new FtpSrv(options);
}
