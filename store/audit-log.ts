/**
 * The audit trail (docs/ftps.md, "Audit trail"): every process of the fleet appends its events to the store, so the
 * trail of all hosts is in one place (`inflow audit`).
 *
 * Callers write synchronously and never wait for the database: events are buffered in memory and appended in the
 * background, every FLUSH_EVERY_MS or as soon as FLUSH_AT events wait. A store that is busy or down keeps them
 * buffered and is tried again; beyond MAX_BUFFERED the oldest are dropped, with one line on stderr.
 */
import os from 'node:os';
import type { AuditRecord, AuditStore } from './types';

/** Every kind of audited event (docs/ftps.md, "Audit trail"). */
export const AUDIT_EVENTS = [
  'login',
  'login_failed',
  'login_refused',
  'upload',
  'upload_aborted',
  'upload_refused',
  'data_refused',
  'held',
  'receipt',
  'file_retry',
  'file_failed',
  'requeued',
  'handed_back',
  'released',
  'waiting',
  'idle_timeout',
  'connection_refused',
  'held_expired',
  'orphan_removed',
  'internal_error',
  'service',
  'admin',
  'http_request',
] as const;

export type AuditEvent = (typeof AUDIT_EVENTS)[number];

/** The background append's pace: a short wait keeps the trail current, one transaction per wait keeps it cheap. */
export const AUDIT_FLUSH_EVERY_MS = 200;
const FLUSH_EVERY_MS = AUDIT_FLUSH_EVERY_MS;
const FLUSH_AT = 500;
/** Events kept while the store cannot take them (~100 MB at worst); a front under a login flood stays bounded. */
const MAX_BUFFERED = 200_000;
/** A failed append is tried again after this long, doubling up to RETRY_MAX_MS. */
const RETRY_MAX_MS = 5_000;
/** How long close() keeps trying a store that refuses the last events. */
const CLOSE_TRY_MS = 10_000;

const HOST = os.hostname();

export class AuditLog {
  private buffered: AuditRecord[] = [];
  private timer: NodeJS.Timeout | null = null;
  private appending: Promise<boolean> | null = null;
  private retryMs = FLUSH_EVERY_MS;
  /** Events dropped since the store last took some: the first drop of a run says so on stderr. */
  private dropped = 0;
  private lastError: Error | null = null;
  private closed = false;

  constructor(private readonly store: AuditStore) {}

  /** write records one event; it reaches the store in the background (flush() waits for it). Never throws. */
  write(event: AuditEvent, fields: Record<string, unknown>): void {
    if (this.closed) {
      process.stderr.write(`audit: event ${event} after close, not kept\n`);
      return;
    }
    this.buffered.push({ at: new Date().toISOString(), host: HOST, pid: process.pid, event, fields });
    if (this.buffered.length > MAX_BUFFERED) this.drop(this.buffered.length - MAX_BUFFERED);
    if (this.buffered.length >= FLUSH_AT && !this.appending) this.schedule(0);
    else this.schedule(this.retryMs);
  }

  /** flush resolves once every event written so far is in the store, or rejects with the store's error. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.appending) await this.appending;
      if (this.buffered.length === 0) return;
      if (!(await this.appendNow())) throw this.lastError ?? new Error('audit: append failed');
    }
  }

  /** close appends what is left, trying a store that refuses for up to CLOSE_TRY_MS; later writes are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const until = Date.now() + CLOSE_TRY_MS;
    for (;;) {
      try {
        await this.flush();
        break;
      } catch {
        if (Date.now() >= until) {
          const why = this.lastError ? ` (${this.lastError.message})` : '';
          process.stderr.write(`audit: ${this.buffered.length} events not kept: the store took none for ${CLOSE_TRY_MS} ms${why}\n`);
          this.buffered = [];
          break;
        }
        await new Promise((r) => setTimeout(r, Math.min(this.retryMs, Math.max(0, until - Date.now()))));
      }
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.appendNow().then((ok) => {
        if (this.buffered.length > 0) this.schedule(ok ? (this.buffered.length >= FLUSH_AT ? 0 : FLUSH_EVERY_MS) : this.retryMs);
      });
    }, ms);
    // The buffer never keeps a process alive on its own: every owner closes its log on the way out.
    this.timer.unref();
  }

  /** appendNow appends what is buffered (one append at a time); false when the store refused it (kept for later). */
  private appendNow(): Promise<boolean> {
    if (this.appending) return this.appending;
    const batch = this.buffered;
    if (batch.length === 0) return Promise.resolve(true);
    this.buffered = [];
    const run = this.store.append(batch).then(
      () => {
        this.retryMs = FLUSH_EVERY_MS;
        this.lastError = null;
        this.dropped = 0;
        return true;
      },
      (err: Error) => {
        this.buffered = batch.concat(this.buffered); // oldest first, as they happened
        if (this.buffered.length > MAX_BUFFERED) this.drop(this.buffered.length - MAX_BUFFERED);
        this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
        this.lastError = err;
        return false;
      },
    );
    this.appending = run.finally(() => (this.appending = null));
    return this.appending;
  }

  /** drop forgets the `n` oldest buffered events, saying so once per run of drops. */
  private drop(n: number): void {
    if (n <= 0) return;
    this.buffered.splice(0, n);
    if (this.dropped === 0) {
      const why = this.lastError ? ` (${this.lastError.message})` : '';
      process.stderr.write(`audit: the store is not taking events${why}; keeping the latest ${MAX_BUFFERED}, dropping older ones\n`);
    }
    this.dropped += n;
  }
}
