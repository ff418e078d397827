/**
 * The store's public face: the interface (store/types.ts) and how to open one. Callers never see a backend's
 * tables, encodings or handles.
 */
import { SqliteStore } from './sqlite/sqlite-store';
import { PgStore } from './postgres/pg-store';
import { unreachableAsBusy } from './postgres/unreachable';
import type { Store } from './types';
import { isPostgresUrl } from '../config/database-url';

export * from './types';

export interface StoreOptions {
  /** The SQLite database file, used when there is no `databaseUrl`. */
  sqlite: string;
  /** A PostgreSQL URL (`postgres://` or `postgresql://`): the store is that database instead (docs/postgres.md). */
  databaseUrl?: string | null;
  /**
   * A commit survives power loss (synchronous=FULL): the intake uses it, as a 226 promises durability. Workers
   * do without (processing is idempotent: the last commits may be redone after a power cut).
   */
  durable?: boolean;
  /**
   * For a process whose event loop must never stall (the FTPS front): another writer's lock is waited for on
   * timers, never inside a call, for up to this many ms; then the call fails with StoreBusyError and nothing is
   * changed. Unset, the calling thread itself waits (up to 15 s), as a worker or a command-line tool may.
   */
  lockWaitMs?: number;
  /**
   * For a front, which looks an account up on every request: on PostgreSQL the accounts looked up are kept in
   * memory while the database tells this process of each change to them (store/postgres/account-watch.ts). SQLite
   * reads them from its file, no trip to a server.
   */
  watchAccounts?: boolean;
}

/**
 * openStore opens (creating and migrating when needed) the store: PostgreSQL when a database URL is given, else
 * the SQLite file. `durable` and `lockWaitMs` are SQLite's (PostgreSQL commits are durable, and its calls never
 * hold the caller's thread).
 */
export async function openStore(opts: StoreOptions): Promise<Store> {
  if (opts.databaseUrl) {
    if (!isPostgresUrl(opts.databaseUrl)) throw new Error('the database URL must start with postgres:// or postgresql://');
    return unreachableAsBusy(await PgStore.open(opts.databaseUrl, { watchAccounts: opts.watchAccounts }));
  }
  return SqliteStore.open(opts.sqlite, { durable: opts.durable, lockWaitMs: opts.lockWaitMs });
}
