/** Observations (readings sent one at a time) and their rounds, in PostgreSQL; the changes are composed in pg-store.ts. */
import type { Queryable } from './db';
import type { NewObservation, Observation, ObservationRound, StoredIssue } from '../types';
import { toIssue, type IssueRow } from './issues';
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

/** Named columns, not o.*: the statements are prepared, and a prepared statement's result must not change with the schema. */
const COLUMNS =
  'o.id, o.account_id, a.establishment, o.sender, o.fields, o.vehicle_key, o.client, o.correction_of, o.status, o.file_id, o.line, ' +
  'o.received_at, o.received_date, o.processed_at';
const SELECT = `SELECT ${COLUMNS} FROM observations o JOIN accounts a ON a.id = o.account_id`;

/** The key of the advisory lock that makes claiming rounds one drainer at a time ('obsr'). */
export const ROUND_LOCK = 0x6f627372;

/**
 * $1 the round's file, $2 processed at. Every part runs, read or not (data-modifying WITH), and sees one snapshot: the settled and the released
 * observations are told apart by the round's progress, and its counts are the issues its stores committed.
 */
const CLOSE_ROUND = `
WITH round AS (
  SELECT id, progress_line FROM files WHERE id = $1 AND origin = 'observations' AND result IS NULL FOR UPDATE
), settled AS (
  UPDATE observations o SET processed_at = $2, status = coalesce((
    SELECT CASE WHEN bool_or(i.severity = 'E') THEN 'REJECTED' WHEN bool_or(i.severity = 'A') THEN 'FLAGGED' END
    FROM issues i WHERE i.file_id = o.file_id AND i.line = o.line), 'ACCEPTED')
  FROM round WHERE o.file_id = round.id AND o.line <= round.progress_line AND o.status = 'PENDING'
  RETURNING o.line
), released AS (
  UPDATE observations o SET file_id = NULL, line = NULL
  FROM round WHERE o.file_id = round.id AND o.line > round.progress_line AND o.status = 'PENDING'
), n AS (
  SELECT count(*)::int AS records FROM settled
), counts AS (
  SELECT count(DISTINCT CASE WHEN severity = 'E' THEN line END)::int AS rejected,
         count(*) FILTER (WHERE severity = 'A')::int AS anomalies, count(*) FILTER (WHERE severity = 'W')::int AS warnings
  FROM issues WHERE file_id = $1
), dropped AS (
  DELETE FROM files f USING round, n WHERE f.id = round.id AND n.records = 0
), closed AS (
  UPDATE files f SET status = 'done', processed_at = $2, records = n.records, accepted = n.records - c.rejected,
    rejected = c.rejected, anomalies = c.anomalies, warnings = c.warnings,
    result = CASE WHEN c.rejected > 0 OR c.anomalies > 0 THEN 'PARTIAL' ELSE 'ACCEPTED' END  -- resultOf (store/types.ts)
  FROM round, n, counts c WHERE f.id = round.id AND n.records > 0
)
SELECT records FROM n`;

/** Observation statements. */
export class PgObservations {
  constructor(private readonly db: Queryable) {}

  /** add inserts observations in one statement, in the list's order (their pk: arrival order). */
  async add(list: readonly NewObservation[]): Promise<void> {
    const column = <K extends keyof NewObservation>(key: K) => list.map((o) => o[key]);
    await this.db.query({
      name: 'inflow_observations_add',
      text: `INSERT INTO observations (id, account_id, sender, fields, vehicle_key, client, correction_of, status, received_at, received_date)
       SELECT id, account_id, sender, fields, vehicle_key, client, correction_of, 'PENDING', received_at, received_date
       FROM unnest($1::text[], $2::int[], $3::text[], $4::jsonb[], $5::text[], $6::jsonb[], $7::text[], $8::text[], $9::text[])
         WITH ORDINALITY AS n(id, account_id, sender, fields, vehicle_key, client, correction_of, received_at, received_date, k)
       ORDER BY k`,
      values: [
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
    });
  }

  async get(id: string, db: Queryable = this.db): Promise<Observation | null> {
    const r = (await db.query<ObservationRow>({ name: 'inflow_observation', text: `${SELECT} WHERE o.id = $1`, values: [id] })).rows[0];
    return r ? toObservation(r) : null;
  }

  async getWithIssues(id: string): Promise<{ observation: Observation; issues: StoredIssue[] } | null> {
    const r = (
      await this.db.query<ObservationRow & { issues: IssueRow[] }>({
        name: 'inflow_observation_issues',
        text: `SELECT ${COLUMNS},
                 (SELECT coalesce(json_agg(i ORDER BY i.id), '[]') FROM issues i
                  WHERE o.status <> 'PENDING' AND i.file_id = o.file_id AND i.line = o.line) AS issues
               FROM observations o JOIN accounts a ON a.id = o.account_id WHERE o.id = $1`,
        values: [id],
      })
    ).rows[0];
    return r ? { observation: toObservation(r), issues: r.issues.map(toIssue) } : null;
  }

  async settled(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const { rows } = await this.db.query<{ id: string }>({
      name: 'inflow_observations_settled',
      text: `SELECT id FROM observations WHERE status <> 'PENDING' AND id = ANY($1)`,
      values: [ids],
    });
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

  /** The oldest `limit` observations in no round, none when a round is open (ObservationStore.claimRounds). */
  async unclaimedUnlessOpenRounds(db: Queryable, limit: number): Promise<Observation[]> {
    const { rows } = await db.query<ObservationRow>({
      name: 'inflow_observations_unclaimed',
      text: `${SELECT} WHERE o.status = 'PENDING' AND o.file_id IS NULL
               AND NOT EXISTS (SELECT 1 FROM files WHERE origin = 'observations' AND result IS NULL)
             ORDER BY o.pk LIMIT $1`,
      values: [limit],
    });
    return rows.map(toObservation);
  }

  /**
   * newRound makes a round's internal file (it has passed: nothing of it is checked as a whole) and claims `ids`
   * into it, lines 1, 2, … in their order; returns its pk. It has no sender: each observation's reading is its own
   * sender's; its account is the first observation's.
   */
  async newRound(db: Queryable, accountId: number, receivedAt: string, ids: string[]): Promise<number> {
    const { rows } = await db.query<{ id: number }>({
      name: 'inflow_new_round',
      text: `WITH round AS (
               INSERT INTO files (account_id, name, stored_path, size, sha256, format, sender, status, received_at, passed, origin)
               VALUES ($1, 'observations', '', 0, '', 'observations', NULL, 'processing', $2, true, 'observations') RETURNING id
             ), claimed AS (
               UPDATE observations o SET file_id = round.id, line = c.line
               FROM round, unnest($3::text[]) WITH ORDINALITY AS c(id, line) WHERE o.id = c.id
             )
             SELECT id FROM round`,
      values: [accountId, receivedAt, ids],
    });
    return rows[0].id;
  }

  async unclaim(id: string): Promise<void> {
    await this.db.query(`UPDATE observations SET file_id = NULL, line = NULL WHERE id = $1 AND status = 'PENDING'`, [id]);
  }

  /**
   * closeRound (ObservationStore.closeRound) in one statement, so one round trip: each observation stored (line up
   * to the round's progress) takes its final status from its issues, the others are PENDING again in no round, and
   * the round's file is closed as an accepted file is, or removed when it stored nothing. A closed round is left alone.
   */
  async closeRound(filePk: number, processedAt: string): Promise<void> {
    await this.db.query({ name: 'inflow_close_round', text: CLOSE_ROUND, values: [filePk, processedAt] });
  }
}
