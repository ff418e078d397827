/**
 * Drive real external FTPS clients (curl, lftp, Python ftplib) against any explicit-FTPS server.
 * Arguments go through argv/env/files, never a shell; passwords never appear on a command line.
 */
import { spawn } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { constants, tmpdir } from 'os';
import { join } from 'path';

export interface ClientResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface ServerAccess {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Per-process timeout, ms (default 60 s). */
  timeoutMs?: number;
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  input?: string;
  timeoutMs?: number;
}

/** Runs a program; code is its exit status, 124 on timeout, 128+n when killed by signal n. */
export function run(cmd: string, args: string[], opts: RunOptions = {}): Promise<ClientResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 60_000);
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdin.on('error', () => {
      /* child may exit before reading stdin */
    });
    child.stdin.end(opts.input ?? '');
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: 127, stdout, stderr: stderr + String(err) });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (timedOut) resolve({ code: 124, stdout, stderr: `${stderr}\n[timed out]` });
      else resolve({ code: code ?? 128 + (signal ? constants.signals[signal] : 0), stdout, stderr });
    });
  });
}

function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'ftp-client-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

// ---------------------------------------------------------------- curl

export interface CurlOptions extends ServerAccess {
  /** --ssl-reqd (explicit FTPS, AUTH TLS). false = plain FTP as curl does by default. */
  sslReqd?: boolean;
  /** false adds --disable-epsv (PASV instead of curl's default EPSV). */
  epsv?: boolean;
  extraArgs?: string[];
}

function ftpUrl(host: string, port: number, path: string): string {
  const h = host.includes(':') ? `[${host}]` : host;
  const p = path
    .split('/')
    .map((seg) => encodeURIComponent(seg))
    .join('/');
  return `ftp://${h}:${port}${p.startsWith('/') ? '' : '/'}${p}`;
}

/** curl config (read from stdin with -K -) carrying the credentials. */
function curlConfig(user: string, password: string): string {
  const q = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}"`;
  return `user = ${q(`${user}:${password}`)}\n`;
}

function curl(o: CurlOptions, args: string[]): Promise<ClientResult> {
  const base = ['-K', '-', '-sS', '-k', '--max-time', String(Math.ceil((o.timeoutMs ?? 60_000) / 1000))];
  if (o.sslReqd !== false) base.push('--ssl-reqd');
  if (o.epsv === false) base.push('--disable-epsv');
  return run('curl', [...base, ...(o.extraArgs ?? []), ...args], {
    input: curlConfig(o.user, o.password),
    timeoutMs: (o.timeoutMs ?? 60_000) + 5_000,
  });
}

export function curlUpload(o: CurlOptions & { localFile: string; remotePath: string }): Promise<ClientResult> {
  return curl(o, ['-T', o.localFile, ftpUrl(o.host, o.port, o.remotePath)]);
}

export function curlDownload(o: CurlOptions & { remotePath: string; localFile: string }): Promise<ClientResult> {
  return curl(o, ['-o', o.localFile, ftpUrl(o.host, o.port, o.remotePath)]);
}

/** LIST of a directory (curl sends LIST for a URL ending in '/'). */
export function curlList(o: CurlOptions & { remoteDir: string }): Promise<ClientResult> {
  const dir = o.remoteDir.endsWith('/') ? o.remoteDir : `${o.remoteDir}/`;
  return curl(o, [ftpUrl(o.host, o.port, dir)]);
}

// ---------------------------------------------------------------- lftp

export interface RoundOptions extends ServerAccess {
  localFile: string;
  remoteName: string;
  downloadPath: string;
  downloadTo: string;
}

function lftpQuote(s: string): string {
  if (/["'\\\r\n;&|`$]/.test(s)) throw new Error(`lftp helper refuses path with special characters: ${JSON.stringify(s)}`);
  return `"${s}"`;
}

/** One lftp (GnuTLS) session: explicit FTPS, protected data, put + cls -l + get. Password via LFTP_PASSWORD. */
export function lftpRound(o: RoundOptions): Promise<ClientResult> {
  return withTempDir(async (dir) => {
    const script = join(dir, 'script.lftp');
    const host = o.host.includes(':') ? `[${o.host}]` : o.host;
    writeFileSync(
      script,
      [
        'set cmd:fail-exit yes',
        'set ftp:ssl-force true',
        'set ftp:ssl-protect-data true',
        'set ssl:verify-certificate no',
        'set net:max-retries 1', // no silent retries: every failure must show
        'set net:timeout 20',
        'set net:reconnect-interval-base 1',
        'set xfer:clobber on',
        `open -u ${lftpQuote(o.user)} --env-password -p ${Number(o.port)} ${lftpQuote(host)}`,
        `put ${lftpQuote(o.localFile)} -o ${lftpQuote(o.remoteName)}`,
        'cls -l',
        `get ${lftpQuote(o.downloadPath)} -o ${lftpQuote(o.downloadTo)}`,
        'bye',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    return run('lftp', ['--norc', '-f', script], { env: { LFTP_PASSWORD: o.password, HOME: dir }, timeoutMs: o.timeoutMs });
  });
}

// ---------------------------------------------------------------- Python ftplib

/**
 * The FTP_TLS subclass the README gives senders (Python's own does not resume the control connection's TLS
 * session on data connections), read from the README so that the tested code is the documented code.
 */
export function ftplibSubclass(): string {
  const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
  const block = /```python\n([\s\S]*?class ReusedSessionFTP_TLS[\s\S]*?)```/.exec(readme);
  if (!block) throw new Error('README.md has no python block with class ReusedSessionFTP_TLS');
  return block[1];
}

const FTPLIB_SCRIPT = `
import os, ssl, sys
host, port, user, local, remote, dl_path, dl_to, kind = sys.argv[1:9]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ftp = (ReusedSessionFTP_TLS if kind == "reuse" else ftplib.FTP_TLS)(context=ctx, timeout=20)
try:
    print(ftp.connect(host, int(port)))
    print(ftp.auth())
    print(ftp.login(user, os.environ["FTP_PASSWORD"]))
    print(ftp.prot_p())
    with open(local, "rb") as f:
        print(ftp.storbinary("STOR " + remote, f))
    print("NLST", ftp.nlst())
    print(ftp.retrlines("LIST"))
    with open(dl_to, "wb") as f:
        print(ftp.retrbinary("RETR " + dl_path, f.write))
    print(ftp.quit())
except ftplib.all_errors as e:
    print("FAILED", repr(e))
    if not isinstance(e, ftplib.Error):  # a broken data connection: the server's reply follows
        try:
            print("REPLY", ftp.getresp())
        except ftplib.all_errors as reply:
            print("REPLY", reply)
    sys.exit(1)
`;

/**
 * One Python ftplib session: auth, login, prot_p, STOR, NLST + LIST, RETR; with the README's subclass (default) or
 * with the stock FTP_TLS (`tlsReuse: false`). A failure prints `FAILED <exception>` and the server's `REPLY`.
 */
export function ftplibRound(o: RoundOptions & { tlsReuse?: boolean }): Promise<ClientResult> {
  const kind = o.tlsReuse === false ? 'stock' : 'reuse';
  return run(
    'python3',
    ['-c', ftplibSubclass() + FTPLIB_SCRIPT, o.host, String(o.port), o.user, o.localFile, o.remoteName, o.downloadPath, o.downloadTo, kind],
    { env: { FTP_PASSWORD: o.password }, timeoutMs: o.timeoutMs },
  );
}
