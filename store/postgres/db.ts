/**
 * Opening the PostgreSQL store: a connection pool, the migrations (once, whatever number of processes start at the
 * same moment) and the transaction helper every multi-statement change goes through.
 */
import pg from 'pg';
import { MIGRATIONS } from './migrations';

export type Pool = pg.Pool;
export type Client = pg.PoolClient;

/** Connections per store (per process): a worker's batch holds one, reads and the FTPS front's calls the others. */
export const POOL_SIZE = 4;
/** The advisory lock key migrations run under ('infl'). */
const MIGRATION_LOCK = 0x696e666c;

/** bigint (int8) columns come back as numbers: ids and reception orders stay far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/** openPool connects to `url` and migrates the database to the latest schema. */
export async function openPool(url: string): Promise<Pool> {
  const pool = new pg.Pool({ connectionString: url, max: POOL_SIZE, types });
  // An idle connection the server closed (restart, failover) must not crash the process: the pool replaces it.
  pool.on('error', (err) => process.stderr.write(`postgres: idle connection lost: ${err.message}\n`));
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }
  return pool;
}

async function migrate(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    // Session lock: a second process starting at the same time waits here, then finds every step applied.
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    for (const step of MIGRATIONS) {
      if (done.has(step.version)) continue;
      await client.query('BEGIN');
      try {
        await client.query(step.sql);
        await client.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())', [step.version]);
        await client.query('COMMIT');
      } catch (err) {
        await client.query('ROLLBACK');
        throw err;
      }
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}

/**
 * inTx runs `fn` in a transaction on one connection of the pool: committed when it returns, rolled back when it
 * throws. `opening` is sent with BEGIN, in the same round trip: statements without parameters that the transaction
 * starts with (a SET LOCAL, a lock); each round trip to the server is a wake-up of two processes. `fn` gets the
 * last opening statement's result.
 */
export async function inTx<T>(pool: Pool, fn: (c: Client, opened: pg.QueryResult) => Promise<T>, opening = ''): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    const results = (await client.query(opening ? `BEGIN; ${opening}` : 'BEGIN')) as pg.QueryResult | pg.QueryResult[];
    const out = await fn(client, Array.isArray(results) ? results[results.length - 1] : results);
    await client.query('COMMIT');
    return out;
  } catch (err) {
    // A connection that cannot even roll back is handed back broken: the pool closes it.
    await client.query('ROLLBACK').catch((e: Error) => (broken = e));
    throw err;
  } finally {
    client.release(broken);
  }
}

/** A pool or a client in a transaction: what the statement classes run on. */
export type Queryable = Pool | Client;
