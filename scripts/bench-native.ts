/**
 * The native baseline of a stage: the backend's own command-line bulk import of the same records into one table
 * keyed (vin, date, odometer) that already holds every earlier stage's records (imported untimed). SQLite: the
 * sqlite3 tool's `.import` into a WITHOUT ROWID table; PostgreSQL: psql's `\copy` into a table with that primary
 * key, in a database of its own. Timed: the import process alone.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { benchDatabaseName, createDatabase, dropDatabase, psql, withDatabase } from './bench-pg';
import { BenchFailure, log, type Run } from './bench-stack';
import type { StageFile } from './bench-stage';

export interface NativeResult {
  /** What was timed: `sqlite3 .import` or `psql \copy`. */
  tool: string;
  records: number;
  seconds: number;
  recordsPerSecond: number;
  /** Records already in the table (imported untimed). */
  preloaded: number;
  /** native seconds / our seconds for the same records. */
  ratio: number;
}

const COLUMNS =
  'ref TEXT, vin TEXT NOT NULL, plate TEXT, date TEXT NOT NULL, odometer INTEGER NOT NULL, unit TEXT, work TEXT, replaced TEXT, digits TEXT, corrects TEXT';

interface Importer {
  tool: string;
  load(rows: string[]): void;
  count(): number;
  drop(): void;
}

/** nativeBaseline times the import of stage `s`'s rows onto every earlier stage's (all files written with rows). */
export function nativeBaseline(run: Run, files: StageFile[][], s: number, oursSeconds: number): NativeResult {
  const imp = run.pg ? pgImporter(run.pg.server) : sqliteImporter(path.join(run.dir, 'native.db'));
  try {
    let preloaded = 0;
    for (let e = 0; e < s; e++) {
      imp.load(files[e].map((f) => f.native!));
      preloaded += files[e].reduce((a, f) => a + f.batch.records, 0);
    }
    const records = files[s].reduce((a, f) => a + f.batch.records, 0);
    const t0 = performance.now();
    imp.load(files[s].map((f) => f.native!));
    const seconds = (performance.now() - t0) / 1000;
    const count = imp.count();
    if (count !== preloaded + records)
      throw new BenchFailure(`native baseline: the table holds ${count} rows, expected ${preloaded + records}`);
    log(`${run.backend}: ${imp.tool} of ${records} records onto ${preloaded} in ${seconds.toFixed(2)} s`);
    return {
      tool: imp.tool,
      records,
      seconds: Math.round(seconds * 100) / 100,
      recordsPerSecond: Math.round(records / seconds),
      preloaded,
      ratio: Math.round((seconds / oursSeconds) * 10_000) / 10_000,
    };
  } finally {
    imp.drop();
  }
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  if (r.status !== 0)
    throw new BenchFailure(`${cmd} ${args.slice(-1)[0]} failed (exit ${r.status}): ${(r.stderr || String(r.error)).slice(0, 2000)}`);
  return r.stdout;
}

function sqliteImporter(db: string): Importer {
  fs.rmSync(db, { force: true });
  const sqlite = (commands: string[]) => run('sqlite3', ['-bail', db, ...commands]);
  sqlite([`CREATE TABLE readings (${COLUMNS}, PRIMARY KEY (vin, date, odometer)) WITHOUT ROWID;`]);
  return {
    tool: 'sqlite3 .import',
    load: (rows) => void sqlite(rows.flatMap((r) => ['.mode csv', '.separator ;', `.import "${r}" readings`])),
    count: () => Number(sqlite(['SELECT count(*) FROM readings;']).trim()),
    drop: () => fs.rmSync(db, { force: true }),
  };
}

function pgImporter(server: string): Importer {
  const name = benchDatabaseName('native');
  createDatabase(server, name);
  const url = withDatabase(server, name);
  psql(url, `CREATE TABLE readings (${COLUMNS}, PRIMARY KEY (vin, date, odometer))`);
  return {
    tool: 'psql \\copy',
    // CSV format: an empty unquoted field is NULL, as the sqlite3 import's empty text.
    load: (rows) =>
      void run('psql', [
        url,
        '-X',
        '-q',
        '-v',
        'ON_ERROR_STOP=1',
        ...rows.flatMap((r) => ['-c', `\\copy readings FROM '${r}' WITH (FORMAT csv, DELIMITER ';')`]),
      ]),
    count: () => Number(psql(url, 'SELECT count(*) FROM readings').trim()),
    drop: () => dropDatabase(server, name),
  };
}
