/**
 * A database of its own on the machine's PostgreSQL (127.0.0.1:5432, user postgres, trust auth) for a test:
 * `createTestDatabase()` makes one, `drop()` removes it. Names carry the run (set by globalSetup), the process and a
 * random suffix; globalTeardown drops whatever this run left (a test that crashed before its afterAll).
 */
import crypto from 'node:crypto';
import pg from 'pg';

export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const PREFIX = 'inflow_test_';

/** The prefix of this run's databases. */
export const runPrefix = (run = process.env.INFLOW_TEST_RUN ?? 'norun'): string => `${PREFIX}${run}_`;

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

const dropNamed = (c: pg.Client, name: string) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `${runPrefix()}${process.pid}_${crypto.randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  let dropped = false;
  return {
    name,
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: async () => {
      if (dropped) return;
      dropped = true;
      await admin((c) => dropNamed(c, name));
    },
  };
}

/** dropRunDatabases drops every database of the run `run` (globalTeardown's safety net); returns their names. */
export async function dropRunDatabases(run: string): Promise<string[]> {
  return admin(async (c) => {
    const { rows } = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [runPrefix(run)]);
    for (const r of rows) await dropNamed(c, r.datname);
    return rows.map((r) => r.datname);
  });
}

/** databasesCreated: one test file's databases, dropped together in its afterAll. */
export class TestDatabases {
  private readonly all: TestDatabase[] = [];

  async create(): Promise<TestDatabase> {
    const db = await createTestDatabase();
    this.all.push(db);
    return db;
  }

  async dropAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((d) => d.drop()));
  }
}
