/**
 * The write stream an FTPS upload goes into: a temp file in the account's drop zone, hashed (SHA-256) and
 * counted as it arrives, capped at the size limit, fsynced at the end. Its `_final` runs the completion step
 * (hold or take in) before the stream finishes, and ftp-srv sends 226 only after `finish`:
 * so a client's 226 means the file is durably stored and recorded. Any error removes the temp file.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { Writable } from 'node:stream';

export class UploadTooLargeError extends Error {
  readonly code = 'UPLOAD_TOO_LARGE';
  /** 552: exceeded storage allocation (RFC 959). */
  readonly replyCode = 552;
  constructor(limit: number) {
    super(`File exceeds the size limit of ${limit} bytes: upload refused (F06)`);
  }
}

/** The client sent nothing for too long during an upload (or stopped reading a download): the transfer is cut. */
export class TransferStalledError extends Error {
  readonly code = 'TRANSFER_STALLED';
  readonly replyCode = 451;
  constructor(idleMs: number) {
    super(`No data for ${Math.round(idleMs / 1000)} s: transfer cut, send the file again`);
  }
}

export interface CompletedUpload {
  tempPath: string;
  size: number;
  sha256: string;
}

export class UploadStream extends Writable {
  private fd: number | null = null;
  private readonly hash = crypto.createHash('sha256');
  private size = 0;
  private completed = false;
  private completing = false;
  /**
   * Runs before the stream fails with UploadTooLargeError, while the data connection is held (not read): the FTPS
   * server sends its 552 there, so the client reads the verdict before its data connection is reset.
   */
  beforeRefusal: ((err: UploadTooLargeError) => Promise<void>) | null = null;

  constructor(
    readonly tempPath: string,
    private readonly maxBytes: number,
    private readonly onComplete: (u: CompletedUpload) => Promise<void>,
  ) {
    super({ highWaterMark: 256 * 1024 });
    // ftp-srv ends a stream that has a 'close' listener by emitting 'close' (pipe() adds one): end it then.
    this.once('close', () => {
      if (!this.destroyed && !this.writableEnded) this.end();
    });
  }

  /** Bytes received so far (the server's stall check reads it). */
  get received(): number {
    return this.size;
  }

  /** Every byte is in and the completion step runs (it may wait for the database): not a stalled transfer. */
  get settling(): boolean {
    return this.completing;
  }

  override _construct(cb: (err?: Error | null) => void): void {
    fs.open(this.tempPath, 'w', 0o600, (err, fd) => {
      this.fd = fd ?? null;
      cb(err);
    });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.size += chunk.length;
    // Over the limit: the error destroys this stream and the data connection (patched STOR): the rest is never read.
    if (this.size > this.maxBytes) {
      const err = new UploadTooLargeError(this.maxBytes);
      if (!this.beforeRefusal) return cb(err);
      this.beforeRefusal(err).then(
        () => cb(err),
        () => cb(err),
      );
      return;
    }
    this.hash.update(chunk);
    fs.write(this.fd!, chunk, 0, chunk.length, null, (err) => cb(err));
  }

  override _final(cb: (err?: Error | null) => void): void {
    fs.fsync(this.fd!, (err) => {
      if (err) return cb(err);
      fs.close(this.fd!, (err2) => {
        this.fd = null;
        if (err2) return cb(err2);
        this.completing = true;
        this.onComplete({ tempPath: this.tempPath, size: this.size, sha256: this.hash.digest('hex') }).then(
          () => {
            this.completed = true;
            cb();
          },
          (e: Error) => cb(e),
        );
      });
    });
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const fd = this.fd;
    this.fd = null;
    const cleanup = () => {
      // Not completed: an aborted, refused or failed upload is discarded, never processed.
      if (!this.completed) fs.rm(this.tempPath, { force: true }, () => cb(err));
      else cb(err);
    };
    if (fd !== null) fs.close(fd, cleanup);
    else cleanup();
  }
}
