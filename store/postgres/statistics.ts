/**
 * Planner statistics kept fresh by the store itself. The fetch of a batch runs on a generic plan (batch-fetch.ts);
 * on a table of millions of readings without statistics the planner may scan it whole for every batch (a nightly file
 * onto 10,000,000 readings got no receipt in 900 s). Autovacuum would analyze the tables, but it may be off (it is on
 * this project's test machines), so after a file is accepted the tables that changed by more than a tenth since their
 * last ANALYZE are analyzed (a sample of rows: about a second on 10,000,000 readings).
 */
import type { Pool } from './db';

const TABLES = ['readings', 'issues', 'files', 'vehicles'];

const STALE = `
SELECT relname FROM pg_stat_user_tables
WHERE relname = ANY($1::text[]) AND n_mod_since_analyze > 0.1 * greatest(n_live_tup, 10000)`;

/** analyzeStaleTables analyzes the store's big tables whose statistics are out of date; returns their names. */
export async function analyzeStaleTables(pool: Pool): Promise<string[]> {
  const { rows } = await pool.query<{ relname: string }>(STALE, [TABLES]);
  const stale = rows.map((r) => r.relname).filter((t) => TABLES.includes(t));
  if (stale.length > 0) await pool.query(`ANALYZE ${stale.join(', ')}`);
  return stale;
}
