/**
 * Opening the SQLite database: pragmas, migrations, and the write-transaction helper every multi-step change
 * goes through.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { MIGRATIONS, type Migration } from './migrations';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../config/layout';
import { CALL_BUSY_TIMEOUT_MS } from './busy';

export type Db = Database.Database;

export interface OpenOptions {
  /**
   * synchronous=FULL: a commit survives power loss. The intake uses it (a 226 promises durability);
   * workers use NORMAL (WAL stays consistent, the last commits may be redone after a power cut, and
   * processing is idempotent).
   */
  durable?: boolean;
  readonly?: boolean;
  /** The caller waits for other writers on timers (store/sqlite/busy.ts), never for long inside a call. */
  lockWaitMs?: number;
}

/** openDb opens (creating if needed) the database at `file`, in WAL mode, migrated to the latest schema. */
export function openDb(file: string, opts: OpenOptions = {}): Db {
  if (!opts.readonly) createPrivately(file);
  const db = new Database(file, { readonly: !!opts.readonly, timeout: 15_000 });
  if (!opts.readonly) {
    // 8 KiB pages for a new database (ignored once it has tables): a batch of readings in VIN order dirties
    // fewer, fuller pages than with 4 KiB (measured 10–20% faster on a nightly file; 16 KiB gains little more
    // and doubles the bytes written per reading once the registry is much larger than a batch).
    db.pragma('page_size = 8192');
    db.pragma('journal_mode = WAL');
    migrate(db);
  }
  db.pragma(`synchronous = ${opts.durable ? 'FULL' : 'NORMAL'}`);
  db.pragma('foreign_keys = ON');
  // 16 MiB page cache: a nightly file's batches dirty more pages than any cache this size holds, and SQLite
  // spilling them to the WAL was measured as fast as keeping them (8, 16, 32, 64 MiB: within noise; the OS page
  // cache holds the file). Every MiB here is a MiB of each worker's memory.
  db.pragma('cache_size = -16384');
  // Checkpoint every ~400 MB of WAL (50,000 8 KiB pages) rather than 4 MB: a batch of random-VIN inserts dirties thousands of pages,
  // and copying them back once per many batches halves the writes (issue #4 measurements).
  db.pragma('wal_autocheckpoint = 50000');
  if (opts.lockWaitMs !== undefined) {
    // Opened and migrated above with the long wait; from now on a call never waits for a lock (busy.ts).
    db.pragma(`busy_timeout = ${CALL_BUSY_TIMEOUT_MS}`);
    // A checkpoint runs inside the commit that triggers it and copies up to the whole WAL: the workers' commits
    // run them, never this connection's.
    db.pragma('wal_autocheckpoint = 0');
  }
  return db;
}

/**
 * createPrivately makes a new database file mode 600 before SQLite opens it: SQLite gives its -wal and -shm files
 * the database file's mode, so they are private from their first byte too (a file SQLite made itself is 644).
 */
function createPrivately(file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
  try {
    fs.closeSync(fs.openSync(file, 'wx', PRIVATE_FILE_MODE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  const apply = db
    .transaction((step: Migration) => {
      const row = db.prepare('SELECT max(version) AS v FROM schema_version').get() as { v: number | null };
      if ((row.v ?? 0) >= step.version) return; // another process got there first
      db.exec(step.sql);
      if (step.rebuildsTable && (db.pragma('foreign_key_check') as unknown[]).length)
        throw new Error(`migration ${step.version} broke a foreign key`);
      db.prepare('INSERT INTO schema_version (version) VALUES (?)').run(step.version);
    })
    .immediate.bind(null);
  for (const step of MIGRATIONS) {
    // A table rebuilt (SQLite's way to change a constraint) is dropped and recreated: with foreign keys on, dropping
    // it would fail for the rows that reference it. They are off for that step only, and checked before it commits.
    if (step.rebuildsTable) db.pragma('foreign_keys = OFF');
    try {
      apply(step);
    } finally {
      if (step.rebuildsTable) db.pragma('foreign_keys = ON');
    }
  }
}

/**
 * writeTx runs `fn` in a BEGIN IMMEDIATE transaction: the write lock is taken up front, so a read-then-write
 * never fails half way with SQLITE_BUSY (better-sqlite3 #1067), and two workers checking and storing readings
 * of the same vehicle are serialised. Busy waits use the connection's timeout.
 */
export function writeTx<T>(db: Db, fn: () => T): T {
  return db.transaction(fn).immediate();
}
