/**
 * Waiting for another writer without stalling the event loop, and letting short writers in between long ones.
 *
 * better-sqlite3 waits for a lock inside the call (the busy timeout): the thread does nothing else meanwhile. A
 * connection opened with `lockWaitMs` (the FTPS front) never waits inside a call (busy timeout 0): a call that
 * meets another writer's lock fails at once with SQLITE_BUSY and is run again on timers, whole (it changed
 * nothing: a single statement, or BEGIN IMMEDIATE before any of a transaction's statements), until its deadline;
 * then it fails with StoreBusyError.
 *
 * SQLite's lock is not fair: a waiter polls it, and a worker storing batch after batch frees it for well under a
 * millisecond between two transactions, so a poller seldom gets in (measured: uploads waiting up to 13 s behind
 * transactions of 2–3.5 s). A waiter therefore raises a flag beside the database while it waits, and storeBatch,
 * the long back-to-back writer, lets the flag's waiters in before its next transaction: a waiter then waits for
 * the transaction under way at most.
 */
import fs from 'node:fs';
import { StoreBusyError } from '../types';

/** The busy timeout of a connection opened with `lockWaitMs`: its calls never wait for a lock. */
export const CALL_BUSY_TIMEOUT_MS = 0;
/** Timer waits between tries: from FIRST_RETRY_MS, doubling, at most MAX_RETRY_MS. */
const FIRST_RETRY_MS = 2;
const MAX_RETRY_MS = 10;
/** A flag not renewed for this long was left by a process that died: ignored. Waiters renew it at every try. */
const FLAG_FRESH_MS = 2_000;
/** How long a long writer waits for a raised flag to come down before each transaction; then it goes on anyway. */
const LET_IN_MAX_MS = 500;
const LET_IN_POLL_MS = 2;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** isBusy: SQLite could not get a lock (SQLITE_BUSY and its extended codes). */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** The flag file beside a database that says "a writer is waiting for the lock". */
export class WaitingFlag {
  private waiters = 0;

  constructor(readonly file: string) {}

  /** raise: one more waiter of this process; renews the flag (it is recreated if another process lowered it). */
  raise(): void {
    this.waiters++;
    this.renew();
  }

  renew(): void {
    try {
      fs.writeFileSync(this.file, '');
    } catch {
      // a flag that cannot be written only costs the waiter its priority
    }
  }

  /** lower: one waiter fewer; the last one of this process removes the flag. */
  lower(): void {
    if (--this.waiters === 0) fs.rmSync(this.file, { force: true });
  }

  /** raised: some process renewed the flag lately. */
  raised(): boolean {
    try {
      return Date.now() - fs.statSync(this.file).mtimeMs < FLAG_FRESH_MS;
    } catch {
      return false;
    }
  }

  /** letWaitersIn waits (on timers, at most LET_IN_MAX_MS) while the flag is raised. */
  async letWaitersIn(): Promise<void> {
    const until = Date.now() + LET_IN_MAX_MS;
    while (this.raised() && Date.now() < until) await sleep(LET_IN_POLL_MS);
  }
}

/**
 * retryWhileBusy runs `call` until it does not fail with SQLITE_BUSY, waiting on timers in between and raising
 * `flag` meanwhile; after `waitMs` it fails with StoreBusyError.
 */
export async function retryWhileBusy<T>(call: () => Promise<T>, waitMs: number, flag: WaitingFlag): Promise<T> {
  const deadline = Date.now() + waitMs;
  let delay = FIRST_RETRY_MS;
  let raised = false;
  try {
    for (;;) {
      try {
        return await call();
      } catch (err) {
        if (!isBusy(err)) throw err;
        const left = deadline - Date.now();
        if (left <= 0) throw new StoreBusyError(`the database was locked by another writer for ${waitMs} ms`);
        if (raised) flag.renew();
        else flag.raise();
        raised = true;
        await sleep(Math.min(delay, left));
        delay = Math.min(delay * 2, MAX_RETRY_MS);
      }
    }
  } finally {
    if (raised) flag.lower();
  }
}

/**
 * waitingOnTimers wraps every method of a store facet in retryWhileBusy. A method that returns no promise (a
 * stream) is passed through as it is.
 */
export function waitingOnTimers<T extends object>(facet: T, waitMs: number, flag: WaitingFlag): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(facet)) {
    if (typeof value !== 'function') {
      out[key] = value;
      continue;
    }
    const method = value as (...args: unknown[]) => unknown;
    out[key] = (...args: unknown[]) => {
      const first = method(...args);
      if (!(first instanceof Promise)) return first;
      let tries = 0;
      return retryWhileBusy(() => (tries++ === 0 ? first : (method(...args) as Promise<unknown>)), waitMs, flag);
    };
  }
  return out as T;
}
