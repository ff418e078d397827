/**
 * The store's backends for the tests that run against both: `openTestStore(backend)` opens an empty store (SQLite
 * in a temp directory, or a PostgreSQL database of its own) and says how to get rid of it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../store';
import { createTestDatabase } from './postgres';

export type Backend = 'sqlite' | 'postgres';
export const BACKENDS: Backend[] = ['sqlite', 'postgres'];

export interface TestStore {
  store: Store;
  /** The data directory (SQLite's file is in it; on PostgreSQL it holds only files). */
  dir: string;
  /** The database URL on PostgreSQL, else null. */
  databaseUrl: string | null;
  /** dispose closes the store and removes its directory and database. */
  dispose(): Promise<void>;
}

export async function openTestStore(backend: Backend): Promise<TestStore> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `inflow-${backend}-`));
  const db = backend === 'postgres' ? await createTestDatabase() : null;
  const store = await openStore({ sqlite: path.join(dir, 'inflow.db'), databaseUrl: db?.url ?? null });
  return {
    store,
    dir,
    databaseUrl: db?.url ?? null,
    dispose: async () => {
      await store.close();
      await db?.drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
