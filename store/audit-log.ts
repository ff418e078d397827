/**
 * The audit log (docs/ftps.md): one JSON object per line, appended. Small appends with O_APPEND are atomic, so the
 * FTPS front and every worker process may write the same file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../config/layout';

export type AuditEvent =
  | 'login'
  | 'login_failed'
  | 'login_refused'
  | 'upload'
  | 'upload_aborted'
  | 'upload_refused'
  | 'data_refused'
  | 'held'
  | 'receipt'
  | 'file_retry'
  | 'file_failed'
  | 'requeued'
  | 'handed_back'
  | 'released'
  | 'waiting'
  | 'idle_timeout'
  | 'connection_refused'
  | 'held_expired'
  | 'orphan_removed'
  | 'internal_error'
  | 'service'
  | 'admin';

export class AuditLog {
  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  }

  /** write appends one event; an audit write that fails is reported on stderr, never fatal to the caller. */
  write(event: AuditEvent, fields: Record<string, unknown>): void {
    const line = JSON.stringify({ ts: new Date().toISOString(), event, ...fields }) + '\n';
    try {
      fs.appendFileSync(this.file, line, { mode: PRIVATE_FILE_MODE });
    } catch (err) {
      process.stderr.write(`audit log write failed: ${(err as Error).message}\n`);
    }
  }
}
