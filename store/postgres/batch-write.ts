/**
 * Storing what a batch wrote (batch-view.ts) in one statement: one multi-row INSERT or UPDATE per table, each fed
 * by unnest over array parameters, and the file's progress. Prepared once per connection (a named statement).
 */
import type { Client } from './db';
import type { MemoryBatch } from './batch-view';
import { WORK_TYPES } from '../../model/reading';
import { dayOf } from '../../model/day-number';

const WRITE = `
WITH new_readings AS (
  INSERT INTO readings (file_id, line, vin, day, odometer, unit, work, replaced, digits, status, sender, ref, plate, corrects)
  SELECT * FROM unnest($1::int[], $2::int[], $3::text[], $4::int[], $5::int[], $6::int2[], $7::int2[], $8::bool[], $9::int2[],
    $10::int2[], $11::text[], $12::text[], $13::text[], $14::int8[])
  ON CONFLICT DO NOTHING
), new_issues AS (
  INSERT INTO issues (file_id, line, start_line, code, severity, field, message, ref, vin, correctable, corrected_by, state, state_by)
  SELECT * FROM unnest($15::int[], $16::int[], $17::int[], $18::text[], $19::text[], $20::text[], $21::text[], $22::text[],
    $23::text[], $24::bool[], $25::int8[], $26::text[], $27::int8[])
  ON CONFLICT (file_id, line, code, field) DO NOTHING
), superseded AS (
  UPDATE readings r SET status = 3 FROM unnest($28::int[], $29::int[]) AS u(file_id, line)
  WHERE r.file_id = u.file_id AND r.line = u.line
), changed AS (
  UPDATE issues i SET corrected_by = coalesce(i.corrected_by, u.corrected_by),
    state = CASE WHEN u.state IS NOT NULL AND i.severity = 'A' THEN u.state ELSE i.state END,
    state_by = CASE WHEN u.state IS NOT NULL AND i.severity = 'A' THEN u.state_by ELSE i.state_by END
  FROM unnest($30::int8[], $31::int8[], $32::text[], $33::int8[]) AS u(id, corrected_by, state, state_by)
  WHERE i.id = u.id
)
UPDATE files SET progress_line = $34 WHERE id = $35`;

/** writeBatch stores the batch's writes and sets the file's progress to `lastLine` (no file: filePk 0). */
export async function writeBatch(c: Client, b: MemoryBatch, filePk: number, lastLine: number): Promise<void> {
  const rs = b.readings;
  const is = b.issues;
  const changes = [...b.issueChanges];
  await c.query({
    name: 'inflow_batch_write',
    text: WRITE,
    values: [
      rs.map((p) => p.fileId),
      rs.map((p) => p.r.line),
      rs.map((p) => p.r.vin),
      rs.map((p) => dayOf(p.r.reading.date)),
      rs.map((p) => p.r.reading.odometer),
      rs.map((p) => (p.r.reading.unit === 'mi' ? 1 : 0)),
      rs.map((p) => WORK_TYPES.indexOf(p.r.reading.work)),
      rs.map((p) => p.r.reading.replaced),
      rs.map((p) => p.r.reading.digits),
      rs.map((p) => p.status),
      rs.map((p) => p.sender),
      rs.map((p) => p.r.reading.ref),
      rs.map((p) => p.r.plate),
      rs.map((p) => p.r.corrects),
      is.map((p) => p.fileId),
      is.map((p) => p.i.line),
      is.map((p) => p.i.startLine ?? null),
      is.map((p) => p.i.code),
      is.map((p) => p.i.severity),
      is.map((p) => p.i.field),
      is.map((p) => p.i.message),
      is.map((p) => p.i.ref),
      is.map((p) => p.i.vin),
      is.map((p) => p.i.correctable),
      is.map((p) => p.correctedBy),
      is.map((p) => p.state),
      is.map((p) => p.stateBy),
      b.superseded.map(([f]) => f),
      b.superseded.map(([, l]) => l),
      changes.map(([id]) => id),
      changes.map(([, ch]) => ch.correctedBy),
      changes.map(([, ch]) => ch.state),
      changes.map(([, ch]) => ch.stateBy),
      lastLine,
      filePk,
    ],
  });
}
