/**
 * The garage-side uploader (`inflow upload`, docs/cli.md): what a DMS calls at night to push its batch files.
 *
 * - Explicit FTPS only (AUTH TLS): the server's certificate must be trusted by the system, or by `ca` (the
 *   server's certificate or its CA, PEM); `insecure` skips the check and nothing else does.
 * - Each file goes up as `<name>.part` (held by the server, never processed) and is renamed to `<name>` when the
 *   transfer is complete: the server takes the file in on the rename only, so an interrupted transfer is never
 *   processed, and the retry overwrites the partial `.part`.
 * - A failed attempt (socket error, timeout, FTP 4xx) closes the connection, waits (back-off doubling from
 *   `backoffMs`) and starts again on a new connection; login, permission (5xx) and certificate errors are not retried.
 *   When the rename's reply was lost, the retry first looks whether the `.part` is gone (renamed) and does not
 *   upload the file a second time.
 * - `--wait`: polls `/receipts/<name>.receipt.csv` (or `.xml`) until a receipt for this upload appears (its sha256 is
 *   the file's and it is not the receipt that was there before the upload).
 * The password is only ever handed to the FTP client: never logged, never in an error message.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client, FTPError, type AccessOptions } from 'basic-ftp';
import { parseReceiptText, type ReceiptSummary } from './receipt-summary';

export interface UploaderOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** PEM text of the certificate(s) to trust instead of the system's CAs. */
  ca?: string;
  insecure?: boolean;
  /** Retries after a failed attempt (so attempts = retries + 1). */
  retries: number;
  /** First back-off delay; doubled for each further retry. */
  backoffMs: number;
  /** Socket timeout of the FTP client. */
  socketTimeoutMs: number;
  /** Receipt polling interval and deadline. */
  pollMs: number;
  waitTimeoutMs: number;
}

/** Where the uploader reports: log lines, and the progress of the current transfer. */
export interface UploadReporter {
  log(line: string): void;
  progress(p: { name: string; bytes: number; total: number; startedAt: number }): void;
  /** The transfer of the current attempt ended (complete or not). */
  endProgress(): void;
}

/** An error not worth retrying (login, permission, certificate, local file). */
export class FatalUploadError extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** sha256File hashes a local file (the receipt names the sha256 of what the server received). */
export async function sha256File(file: string): Promise<string> {
  const h = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** isRetryable: network trouble and FTP 4xx (transient) are; FTP 5xx, TLS trust and our own refusals are not. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof FatalUploadError) return false;
  if (err instanceof FTPError) return err.code >= 400 && err.code < 500;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT|HOSTNAME|ERR_SSL/.test(code)) return false;
  return true;
}

/** describeError: one line, naming a certificate problem in words a DMS administrator can act on. */
export function describeError(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
  if (typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME/.test(code)) {
    return `the server's certificate is not trusted (${msg}): pass --ca FILE with the registry's certificate, or --insecure`;
  }
  if (err instanceof FTPError && err.code === 530) return `login refused by the server (${msg})`;
  return msg;
}

export class Uploader {
  constructor(
    private readonly o: UploaderOptions,
    private readonly report: UploadReporter,
  ) {}

  private accessOptions(): AccessOptions {
    return {
      host: this.o.host,
      port: this.o.port,
      user: this.o.user,
      password: this.o.password,
      secure: true,
      secureOptions: {
        minVersion: 'TLSv1.2',
        ...(this.o.ca ? { ca: this.o.ca } : {}),
        ...(this.o.insecure ? { rejectUnauthorized: false } : {}),
      },
    };
  }

  /** connect logs in over explicit FTPS; a certificate or login refusal is fatal. */
  async connect(): Promise<Client> {
    const client = new Client(this.o.socketTimeoutMs);
    try {
      await client.access(this.accessOptions());
      return client;
    } catch (err) {
      client.close();
      if (!isRetryable(err) || (err instanceof FTPError && err.code === 530)) throw new FatalUploadError(describeError(err));
      throw err;
    }
  }

  /** withRetries runs `attempt` until it succeeds, a fatal error occurs or the retries are used up. */
  private async withRetries<T>(what: string, attempt: (n: number) => Promise<T>): Promise<T> {
    for (let n = 1; ; n++) {
      try {
        return await attempt(n);
      } catch (err) {
        if (!isRetryable(err)) throw err instanceof FatalUploadError ? err : new FatalUploadError(describeError(err));
        if (n > this.o.retries) throw new FatalUploadError(`${what}: failed after ${n} attempts: ${describeError(err)}`);
        const delay = this.o.backoffMs * 2 ** (n - 1);
        this.report.log(`${what}: attempt ${n} failed (${describeError(err)}); retrying in ${(delay / 1000).toFixed(1)} s`);
        await sleep(delay);
      }
    }
  }

  /**
   * upload sends one local file as `<name>.part`, then renames it to `<name>`. Returns the remote name, the file's
   * sha256 and the receipt that was in /receipts/ before (to tell a fresh receipt from last night's).
   */
  async upload(localFile: string): Promise<{ name: string; sha256: string; previous: Map<string, string> }> {
    const name = path.basename(localFile);
    const part = `${name}.part`;
    let st: fs.Stats;
    try {
      st = fs.statSync(localFile);
    } catch {
      throw new FatalUploadError(`${name}: no such file ${localFile}`);
    }
    if (!st.isFile()) throw new FatalUploadError(`${name}: ${localFile} is not a file`);
    const sha256 = await sha256File(localFile);
    let previous: Map<string, string> | null = null;
    let uploaded = false; // the .part is complete on the server; only the rename is left
    const started = Date.now();
    this.report.log(`${name}: ${st.size} bytes to ${this.o.host}:${this.o.port} as ${this.o.user} (explicit FTPS)`);
    await this.withRetries(name, async () => {
      const client = await this.connect();
      try {
        if (previous === null) previous = await this.currentReceipts(client, name);
        if (uploaded && !(await this.exists(client, part))) {
          // The rename went through before the connection broke: the file is taken in; do not send it again.
          return;
        }
        if (!uploaded) {
          const startedAt = Date.now();
          client.trackProgress((info) => {
            if (info.type === 'upload') this.report.progress({ name, bytes: info.bytes, total: st.size, startedAt });
          });
          try {
            await client.uploadFrom(localFile, part);
          } finally {
            client.trackProgress();
            this.report.endProgress();
          }
          uploaded = true;
        }
        await client.rename(part, name);
      } finally {
        client.close();
      }
    });
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    this.report.log(`${name}: sent ${st.size} bytes in ${secs.toFixed(1)} s (${formatBytes(st.size / secs)}/s) and renamed from ${part}`);
    return { name, sha256, previous: previous ?? new Map() };
  }

  private async exists(client: Client, remote: string): Promise<boolean> {
    try {
      await client.size(remote);
      return true;
    } catch (err) {
      if (err instanceof FTPError && err.code >= 500) return false;
      throw err;
    }
  }

  /** The receipt names of a file: CSV or XML, as the server wrote it for the file's format. */
  static receiptNames(name: string): string[] {
    return [`${name}.receipt.csv`, `${name}.receipt.xml`];
  }

  /** currentReceipts downloads the receipts of this name that are there now (before the upload). */
  private async currentReceipts(client: Client, name: string): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const r of Uploader.receiptNames(name)) {
      const text = await this.tryDownload(client, `/receipts/${r}`);
      if (text !== null) out.set(r, text);
    }
    return out;
  }

  private async tryDownload(client: Client, remote: string): Promise<string | null> {
    if (!(await this.exists(client, remote))) return null;
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    });
    try {
      await client.downloadTo(sink, remote);
    } catch (err) {
      if (err instanceof FTPError && err.code >= 500) return null; // gone between SIZE and RETR
      throw err;
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  /**
   * waitForReceipts polls /receipts/ every pollMs until each upload's receipt is there, or the deadline passes.
   * Returns, per name, the parsed receipt and its path, or null when none came in time.
   */
  async waitForReceipts(
    uploads: { name: string; sha256: string; previous: Map<string, string> }[],
  ): Promise<Map<string, { summary: ReceiptSummary; path: string } | null>> {
    const result = new Map<string, { summary: ReceiptSummary; path: string } | null>();
    const pending = new Set(uploads.map((u) => u.name));
    const deadline = Date.now() + this.o.waitTimeoutMs;
    let client: Client | null = null;
    this.report.log(
      `waiting for ${pending.size === 1 ? 'the receipt' : `${pending.size} receipts`} (up to ${Math.round(this.o.waitTimeoutMs / 1000)} s)`,
    );
    try {
      while (pending.size) {
        try {
          if (!client || client.closed) client = await this.connect();
          for (const u of uploads) {
            if (!pending.has(u.name)) continue;
            for (const r of Uploader.receiptNames(u.name)) {
              const text = await this.tryDownload(client, `/receipts/${r}`);
              if (text === null || text === u.previous.get(r)) continue;
              let summary: ReceiptSummary;
              try {
                summary = parseReceiptText(text);
              } catch {
                continue; // not a whole receipt
              }
              if (summary.sha256 !== u.sha256) continue; // a receipt of another upload of this name
              result.set(u.name, { summary, path: `/receipts/${r}` });
              pending.delete(u.name);
              break;
            }
          }
        } catch (err) {
          if (err instanceof FatalUploadError) throw err;
          this.report.log(`polling /receipts/: ${describeError(err)}; trying again`);
          client?.close();
          client = null;
        }
        if (!pending.size || Date.now() + this.o.pollMs > deadline) break;
        await sleep(this.o.pollMs);
      }
    } finally {
      client?.close();
    }
    for (const n of pending) result.set(n, null);
    return result;
  }
}

/** formatBytes: 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(n) : n.toFixed(1)} ${units[i]}`;
}

function formatDuration(secs: number): string {
  if (!Number.isFinite(secs)) return '--:--';
  const s = Math.max(0, Math.round(secs));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = String(s % 60).padStart(2, '0');
  return h ? `${h}:${String(m).padStart(2, '0')}:${r}` : `${m}:${r}`;
}

/** progressLine renders the one-line bar: name, bar, percent, bytes, rate, ETA. */
export function progressLine(p: { name: string; bytes: number; total: number; startedAt: number }, now: number, width = 24): string {
  const frac = p.total > 0 ? Math.min(1, p.bytes / p.total) : 1;
  const filled = Math.round(frac * width);
  const secs = Math.max((now - p.startedAt) / 1000, 0.001);
  const rate = p.bytes / secs;
  const eta = rate > 0 ? (p.total - p.bytes) / rate : Infinity;
  return (
    `${p.name} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ` +
    `${formatBytes(p.bytes)}/${formatBytes(p.total)} ${formatBytes(rate)}/s ETA ${formatDuration(eta)}`
  );
}

/**
 * consoleReporter writes to `out` (stderr): on a terminal a one-line bar redrawn at most 10 times a second; else
 * plain log lines, progress at most every 5 seconds. `now` is injectable for tests.
 */
export function consoleReporter(out: { write(s: string): unknown; isTTY?: boolean }, now: () => number = Date.now): UploadReporter {
  const tty = !!out.isTTY;
  let lastDraw = 0;
  let drawn = false;
  const stamp = () => new Date(now()).toISOString();
  return {
    log(line) {
      if (drawn) {
        out.write('\n');
        drawn = false;
      }
      out.write(tty ? `${line}\n` : `${stamp()} ${line}\n`);
    },
    progress(p) {
      const t = now();
      const done = p.bytes >= p.total;
      if (tty) {
        if (t - lastDraw < 100 && !done) return; // ≤ 10 redraws a second
        lastDraw = t;
        out.write(`\r\x1b[2K${progressLine(p, t)}`);
        drawn = true;
      } else {
        if (t - Math.max(lastDraw, p.startedAt) < 5000 || done) return; // the end is logged by the caller
        lastDraw = t;
        out.write(`${stamp()} ${progressLine(p, t, 0).replace(' [] ', ' ')}\n`);
      }
    },
    endProgress() {
      if (drawn) out.write('\n');
      drawn = false;
      lastDraw = 0;
    },
  };
}
