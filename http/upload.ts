/**
 * Taking in a batch file sent as an HTTPS body: streamed into the account's drop zone (`.incoming`, where FTPS
 * uploads in progress go, and which the held-file sweep clears after a crash), hashed, capped at `maxFileBytes`
 * (a body that stalls is cut by idle-cut.ts), then handed to the same intake as an FTPS upload. A refused or broken
 * upload leaves nothing behind: no file, no row.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Account, FileRecord } from '../store';
import { StoreBusyError } from '../store';
import { INCOMING } from '../intake/file-names';
import { TransferStalledError, UploadStream, UploadTooLargeError } from '../intake/upload-stream';
import { HttpProblem } from './problems';
import type { HttpDeps } from './deps';

/** receiveUpload streams `body` to the intake as `name`; resolves with the file taken in, or throws an HttpProblem. */
export async function receiveUpload(
  deps: HttpDeps,
  upload: { account: Account; name: string; body: Readable; declaredBytes: number | null; ip: string },
): Promise<FileRecord> {
  const { settings, layout, intake, audit } = deps;
  const { account, name, ip } = upload;
  const refused = (reason: string, extra: Record<string, unknown> = {}) =>
    audit.write('upload_refused', { account: account.establishment, ip, name, via: 'https', reason, ...extra });
  if (upload.declaredBytes !== null && upload.declaredBytes > settings.maxFileBytes) {
    refused('size limit', { limit: settings.maxFileBytes, declared: upload.declaredBytes });
    throw tooLarge(settings.maxFileBytes);
  }
  const incoming = path.join(layout.dropDir(account.establishment), INCOMING);
  await fs.promises.mkdir(incoming, { recursive: true, mode: 0o700 });
  let taken: FileRecord | null = null;
  const sink = new UploadStream(path.join(incoming, crypto.randomUUID()), settings.maxFileBytes, async (u) => {
    taken = await intake.takeIn(account, name, u.tempPath, u.size, u.sha256, ip);
  });
  try {
    await pipeline(upload.body, sink); // the body is cut when it stalls (idle-cut.ts)
  } catch (err) {
    // The answer goes out once the partial file is gone: a refused upload leaves nothing behind when it is answered.
    if (!sink.closed) await new Promise((resolve) => sink.once('close', resolve));
    if (err instanceof UploadTooLargeError) {
      refused('size limit', { limit: settings.maxFileBytes });
      throw tooLarge(settings.maxFileBytes);
    }
    if (err instanceof TransferStalledError) {
      refused('transfer stalled');
      throw new HttpProblem(408, err.message, { headers: { Connection: 'close' } });
    }
    if (err instanceof StoreBusyError) {
      refused('database busy', { error: err.message });
      throw new HttpProblem(503, 'The registry is busy: the file was not taken in, send it again later', {
        headers: { 'Retry-After': '30' },
      });
    }
    audit.write('upload_aborted', { account: account.establishment, ip, name, via: 'https', error: (err as Error).message });
    throw err;
  }
  return taken!;
}

function tooLarge(limit: number): HttpProblem {
  return new HttpProblem(413, new UploadTooLargeError(limit).message, { headers: { Connection: 'close' } });
}
