/**
 * The store's public face: the interface (store/types.ts) and how to open one. Callers never see a backend's
 * tables, encodings or handles.
 */
import { SqliteStore } from './sqlite/sqlite-store';
import type { Store } from './types';

export * from './types';

export interface StoreOptions {
  /** The SQLite database file. */
  sqlite: string;
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
}

/** openStore opens (creating and migrating when needed) the store. */
export function openStore(opts: StoreOptions): Store {
  return SqliteStore.open(opts.sqlite, { durable: opts.durable, lockWaitMs: opts.lockWaitMs });
}
