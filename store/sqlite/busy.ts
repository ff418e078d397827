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

  /** letWaitersIn waits (on timers, at most LET_IN_MAX_MS) while the flag is raised; true when it was. */
  async letWaitersIn(): Promise<boolean> {
    if (!this.raised()) return false;
    const until = Date.now() + LET_IN_MAX_MS;
    while (this.raised() && Date.now() < until) await sleep(LET_IN_POLL_MS);
    return true;
  }
}

/** What WriterTurns reads of the observations (arrival numbers: their pk). */
export interface PendingObservations {
  /** The newest PENDING observation's arrival number; 0 when none. */
  newestPending(): number;
  /** Some observation that arrived in (after, upTo] is still PENDING. */
  pendingIn(after: number, upTo: number): boolean;
}

/**
 * Observations let in keep the writer while more keep coming: this long without a new one (a DMS posts its next
 * reading a poll after its last one's final status) ends their turn.
 */
const OBSERVATIONS_LINGER_MS = 30;
/** Others wanted the writer within this long: the long writer keeps its changes short (Store.giveWay). */
const WANTED_LATELY_MS = 5_000;

/**
 * WriterTurns: the long writer's turns on the one writer (Store.giveWay). Before each change it lets in the writers
 * of other processes (the flag), then the observations kept since its last change and those that keep coming: their
 * drainer, in this process or another, claims, stores and closes their rounds while this writer waits on timers,
 * for at most `maxMs`. Observations held up by the file itself (docs/observations.md) cannot be settled before it
 * closes: each costs one such wait, not one at every change.
 */
export class WriterTurns {
  /** Observations up to this arrival number were let in already. */
  private letInUpTo = 0;
  private wantedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly flag: WaitingFlag,
    private readonly observations: PendingObservations,
  ) {}

  /** giveWay lets the others in; true when some wanted the writer within WANTED_LATELY_MS. */
  async giveWay(maxMs: number): Promise<boolean> {
    const writers = await this.flag.letWaitersIn();
    const observations = await this.letObservationsIn(maxMs);
    if (writers || observations) this.wantedAt = Date.now();
    return Date.now() - this.wantedAt < WANTED_LATELY_MS;
  }

  /**
   * letObservationsIn waits while observations kept since the last call are pending, and as long as new ones come
   * within OBSERVATIONS_LINGER_MS of the last settled, at most `maxMs`; true when any came.
   */
  private async letObservationsIn(maxMs: number): Promise<boolean> {
    const until = Date.now() + maxMs;
    let came = false;
    let quietSince = Date.now();
    while (Date.now() < until) {
      const newest = this.observations.newestPending();
      if (newest > this.letInUpTo) {
        const after = this.letInUpTo;
        this.letInUpTo = newest;
        came = true;
        while (this.observations.pendingIn(after, newest) && Date.now() < until) await sleep(LET_IN_POLL_MS);
        quietSince = Date.now();
      } else if (came && Date.now() - quietSince < OBSERVATIONS_LINGER_MS) {
        await sleep(LET_IN_POLL_MS);
      } else {
        break;
      }
    }
    return came;
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
