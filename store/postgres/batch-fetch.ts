/**
 * What a batch (or a manual correction) reads, fetched in one round trip once its vehicles are locked: every
 * timeline, the register entries, the issues corrections name, the vehicles' anomalies, and the files in flight
 * that hold them up (in flight: files.ts IN_FLIGHT). One row of text, JSON and array columns.
 */
import type { Client } from './db';
import { STATUS_SUPERSEDED } from './readings';
import { WORK_TYPES } from '../../model/reading';

import type { AnomalyState } from '../../model/anomaly-state';
import type { CorrectionTargetIssue, Vehicle } from '../types';
import { toIssue, type IssueRow } from './issues';

const ODOREP = WORK_TYPES.indexOf('ODOREP');

/**
 * The stored readings of the looked-up vehicles that the batch sees (not superseded; of passed files, the
 * correction form or its own file), one a line, tab-separated: vin, day, file, line, odometer, unit, starts a series
 * (0/1), sender. Text rather than JSON or rows: measured the fastest to build and to take apart for a few hundred
 * thousand readings.
 */
export type FetchedReadings = string;
/** [vin, issue id, code, state, file, line, the reading's digits] */
export type FetchedAnomaly = [string, number, string, AnomalyState, number, number, number | null];

export interface Fetched {
  registerInUse: boolean;
  readings: FetchedReadings;
  vehicles: Vehicle[];
  targets: CorrectionTargetIssue[];
  anomalies: FetchedAnomaly[];
  /** Other files in flight with readings of these vehicles or owning these issues. */
  blockers: number[];
}

/**
 * $1 vins, $2 the batch's own file (0 for a manual correction), $3 issue ids, $4 whether anomalies are needed
 * (a correction's path only). Superseded readings are not fetched; readings of files that have not passed only block.
 * The readings and the files they block on come from one pass over the vehicles' index entries (FILTER clauses):
 * a CTE read twice was materialised and took twice as long (EXPLAIN ANALYZE, 10,000 VINs: ~100 ms vs ~46 ms).
 */
const FETCH = `
WITH t AS (
  SELECT i.*, coalesce(f.sender, (SELECT o.sender FROM observations o WHERE o.file_id = i.file_id AND o.line = i.line),
                       (SELECT m.sender FROM readings m WHERE m.file_id = 0 AND m.line = i.line AND i.file_id = 0)) AS file_sender,
         (i.file_id NOT IN (0, $2) AND f.result IS NULL AND f.status <> 'failed') AS blocks
  FROM issues i LEFT JOIN files f ON f.id = i.file_id
  WHERE i.id = ANY($3::bigint[])
), seen AS (
  SELECT
    coalesce(string_agg(r.vin || E'\t' || r.day || E'\t' || r.file_id || E'\t' || r.line || E'\t' || r.odometer || E'\t' ||
      r.unit || E'\t' || (r.replaced OR r.work = ${ODOREP})::int || E'\t' || r.sender, E'\n')
      FILTER (WHERE r.status <> ${STATUS_SUPERSEDED} AND (r.file_id IN (0, $2) OR f.passed)), '') AS readings,
    array_agg(DISTINCT r.file_id) FILTER (WHERE r.file_id NOT IN (0, $2) AND f.result IS NULL AND f.status <> 'failed') AS blockers
  FROM readings r LEFT JOIN files f ON f.id = r.file_id
  WHERE r.vin = ANY($1::text[])
)
SELECT
  EXISTS (SELECT 1 FROM vehicles) AS register,
  seen.readings,
  (SELECT coalesce(json_agg(v), '[]') FROM vehicles v WHERE v.vin = ANY($1::text[])) AS vehicles,
  (SELECT coalesce(json_agg(t), '[]') FROM t) AS targets,
  (SELECT coalesce(json_agg(json_build_array(r.vin, i.id, i.code, i.state, r.file_id, r.line, r.digits)
     ORDER BY r.vin, r.day, r.file_id, r.line, i.id), '[]')
   FROM readings r JOIN issues i ON i.file_id = r.file_id AND i.line = r.line
   WHERE $4 AND r.vin = ANY($1::text[]) AND r.status <> ${STATUS_SUPERSEDED} AND i.severity = 'A') AS anomalies,
  ARRAY(SELECT unnest(seen.blockers) UNION SELECT file_id FROM t WHERE blocks) AS blockers
FROM seen`;

interface FetchRow {
  register: boolean;
  readings: FetchedReadings;
  vehicles: { vin: string; plate: string | null; first_registration: string | null; imported: boolean; digits: number | null }[];
  targets: (IssueRow & { file_sender: string | null; blocks: boolean })[];
  anomalies: FetchedAnomaly[];
  blockers: number[];
}

export async function fetchForBatch(
  c: Client,
  o: { vins: string[]; filePk: number; issueIds: number[]; anomalies: boolean },
): Promise<Fetched> {
  const { rows } = await c.query<FetchRow>({
    name: 'inflow_batch_fetch',
    text: FETCH,
    values: [o.vins, o.filePk, o.issueIds, o.anomalies],
  });
  const r = rows[0];
  return {
    registerInUse: r.register,
    readings: r.readings,
    vehicles: r.vehicles.map((v) => ({
      vin: v.vin,
      plate: v.plate,
      firstRegistration: v.first_registration,
      imported: v.imported,
      digits: v.digits,
    })),
    targets: r.targets.map((t) => ({ issue: toIssue(t), sender: t.file_sender })),
    anomalies: r.anomalies,
    blockers: r.blockers.map(Number),
  };
}

/** What the lock needs before it is taken: the VINs behind the batch's plates and the issues it names, and the register entries of those plates. */
const RESOLVE = `
SELECT
  (SELECT coalesce(json_agg(v), '[]') FROM (SELECT DISTINCT ON (plate) * FROM vehicles WHERE plate = ANY($1::text[])
     ORDER BY plate, first_registration DESC NULLS LAST) v) AS plates,
  ARRAY(SELECT DISTINCT vin FROM issues WHERE id = ANY($2::bigint[]) AND vin IS NOT NULL) AS target_vins`;

export async function resolveForBatch(
  c: Client,
  plates: string[],
  issueIds: number[],
): Promise<{ plateVehicles: Vehicle[]; targetVins: string[] }> {
  if (plates.length === 0 && issueIds.length === 0) return { plateVehicles: [], targetVins: [] };
  const { rows } = await c.query<{ plates: FetchRow['vehicles']; target_vins: string[] }>({
    name: 'inflow_batch_resolve',
    text: RESOLVE,
    values: [plates, issueIds],
  });
  const r = rows[0];
  return {
    plateVehicles: r.plates.map((v) => ({
      vin: v.vin,
      plate: v.plate,
      firstRegistration: v.first_registration,
      imported: v.imported,
      digits: v.digits,
    })),
    targetVins: r.target_vins,
  };
}
