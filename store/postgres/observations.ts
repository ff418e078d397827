/** Observations (readings sent one at a time) and their rounds, in PostgreSQL; the changes are composed in pg-store.ts. */
import type { Queryable } from './db';
import type { NewObservation, Observation, ObservationRound } from '../types';
import type { ObservationStatus } from '../../model/observation';

interface ObservationRow {
  id: string;
  account_id: number;
  establishment: string;
  sender: string;
  fields: Observation['fields'];
  vehicle_key: string;
  client: Observation['client'];
  correction_of: string | null;
  status: ObservationStatus;
  file_id: number | null;
  line: number | null;
  received_at: string;
  received_date: string;
  processed_at: string | null;
}

const toObservation = (r: ObservationRow): Observation => ({
  id: r.id,
  accountId: r.account_id,
  account: r.establishment,
  sender: r.sender,
  fields: r.fields,
  vehicleKey: r.vehicle_key,
  client: r.client,
  correctionOf: r.correction_of,
  status: r.status,
  filePk: r.file_id,
  line: r.line,
  receivedAt: r.received_at,
  receivedDate: r.received_date,
  processedAt: r.processed_at,
});

const SELECT = 'SELECT o.*, a.establishment FROM observations o JOIN accounts a ON a.id = o.account_id';

/** The key of the advisory lock that makes claiming rounds one drainer at a time ('obsr'). */
export const ROUND_LOCK = 0x6f627372;

/** Observation statements. */
export class PgObservations {
  constructor(private readonly db: Queryable) {}

  /** add inserts observations in one statement, in the list's order (their pk: arrival order). */
  async add(list: readonly NewObservation[]): Promise<void> {
    const column = <K extends keyof NewObservation>(key: K) => list.map((o) => o[key]);
    await this.db.query(
      `INSERT INTO observations (id, account_id, sender, fields, vehicle_key, client, correction_of, status, received_at, received_date)
       SELECT id, account_id, sender, fields, vehicle_key, client, correction_of, 'PENDING', received_at, received_date
       FROM unnest($1::text[], $2::int[], $3::text[], $4::jsonb[], $5::text[], $6::jsonb[], $7::text[], $8::text[], $9::text[])
         WITH ORDINALITY AS n(id, account_id, sender, fields, vehicle_key, client, correction_of, received_at, received_date, k)
       ORDER BY k`,
      [
        column('id'),
        column('accountId'),
        column('sender'),
        list.map((o) => JSON.stringify(o.fields)),
        column('vehicleKey'),
        list.map((o) => JSON.stringify(o.client)),
        column('correctionOf'),
        column('receivedAt'),
        column('receivedDate'),
      ],
    );
  }

  async get(id: string, db: Queryable = this.db): Promise<Observation | null> {
    const r = (await db.query<ObservationRow>(`${SELECT} WHERE o.id = $1`, [id])).rows[0];
    return r ? toObservation(r) : null;
  }

  async settled(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.db.query<{ id: string }>(`SELECT id FROM observations WHERE status <> 'PENDING' AND id = ANY($1)`, [ids]);
    return rows.map((r) => r.id);
  }

  async waiting(): Promise<boolean> {
    const { rows } = await this.db.query({
      name: 'inflow_observations_waiting',
      text: `SELECT 1 FROM observations WHERE status = 'PENDING' AND file_id IS NULL LIMIT 1`,
    });
    return rows.length > 0;
  }

  async pendingCount(): Promise<number> {
    const { rows } = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM observations WHERE status = 'PENDING'`);
    return rows[0].n;
  }

  async openRounds(db: Queryable): Promise<ObservationRound[]> {
    const { rows } = await db.query<{ id: number; progress_line: number }>(
      `SELECT id, progress_line FROM files WHERE origin = 'observations' AND result IS NULL ORDER BY id`,
    );
    const out: ObservationRound[] = [];
    for (const f of rows) {
      const observations = await this.inRound(db, f.id);
      out.push({
        filePk: f.id,
        progressLine: f.progress_line,
        receivedDate: observations[0]?.receivedDate ?? '',
        observations,
      });
    }
    return out;
  }

  async inRound(db: Queryable, filePk: number): Promise<Observation[]> {
    return (await db.query<ObservationRow>(`${SELECT} WHERE o.file_id = $1 ORDER BY o.line`, [filePk])).rows.map(toObservation);
  }

  async unclaimed(db: Queryable, limit: number): Promise<Observation[]> {
    const { rows } = await db.query<ObservationRow>(`${SELECT} WHERE o.status = 'PENDING' AND o.file_id IS NULL ORDER BY o.pk LIMIT $1`, [
      limit,
    ]);
    return rows.map(toObservation);
  }

  /**
   * newRound makes a round's internal file (it has passed: nothing of it is checked as a whole). It has no sender:
   * each observation's reading is its own sender's; its account is the first observation's.
   */
  async newRound(db: Queryable, accountId: number, receivedAt: string): Promise<number> {
    const { rows } = await db.query<{ id: number }>(
      `INSERT INTO files (account_id, name, stored_path, size, sha256, format, sender, status, received_at, passed, origin)
       VALUES ($1, 'observations', '', 0, '', 'observations', NULL, 'processing', $2, true, 'observations') RETURNING id`,
      [accountId, receivedAt],
    );
    return rows[0].id;
  }

  async claim(db: Queryable, ids: string[], filePk: number): Promise<void> {
    // Lines 1, 2, … in the order of `ids`.
    await db.query(
      `UPDATE observations o SET file_id = $2, line = c.line FROM unnest($1::text[]) WITH ORDINALITY AS c(id, line) WHERE o.id = c.id`,
      [ids, filePk],
    );
  }

  async unclaim(id: string): Promise<void> {
    await this.db.query(`UPDATE observations SET file_id = NULL, line = NULL WHERE id = $1 AND status = 'PENDING'`, [id]);
  }

  /** dropRound removes the file of a round that stored nothing. */
  async dropRound(db: Queryable, filePk: number): Promise<void> {
    await db.query(`DELETE FROM files WHERE id = $1 AND origin = 'observations'`, [filePk]);
  }

  async roundDone(db: Queryable, filePk: number): Promise<void> {
    await db.query(`UPDATE files SET status = 'done' WHERE id = $1`, [filePk]);
  }

  /** settleRound: as the SQLite store's (final status from the issues up to `upto`, the others PENDING again). */
  async settleRound(db: Queryable, filePk: number, upto: number, processedAt: string): Promise<number> {
    const settled = await db.query(
      `UPDATE observations SET processed_at = $1, status = coalesce((
         SELECT CASE WHEN bool_or(i.severity = 'E') THEN 'REJECTED' WHEN bool_or(i.severity = 'A') THEN 'FLAGGED' END
         FROM issues i WHERE i.file_id = observations.file_id AND i.line = observations.line), 'ACCEPTED')
       WHERE file_id = $2 AND line <= $3 AND status = 'PENDING'`,
      [processedAt, filePk, upto],
    );
    await db.query(`UPDATE observations SET file_id = NULL, line = NULL WHERE file_id = $1 AND status = 'PENDING'`, [filePk]);
    return settled.rowCount ?? 0;
  }
}
