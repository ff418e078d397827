/**
 * The records of a file that passed its file-level checks, with the checks that need nothing but the record
 * (E10–E12, E14–E20), in batches. Reads only the file: it runs on the reader thread.
 *
 * A batch crosses to the job thread as compact strings (one per plain reading, already in VIN order) rather than
 * objects: 50,000 objects per batch cost the job thread more in copying and garbage collection than its SQLite
 * work, and held hundreds of MB (issue #4). Everything else (rejected records, corrections, plate-only readings)
 * travels as objects: they are few.
 */
import { readBatch } from '../parsers/read-batch';
import type { BatchFormat, RecordFields } from '../parsers/types';
import { checkRecord } from '../schemas/record-checks';
import type { Finding } from '../schemas/issue-catalogue';
import { WORK_TYPES, KM_PER_MILE, type Reading } from '../schemas/reading';

/** A record with its stateless check results, waiting for its batch. `fields` only when it has findings. */
export interface PendingRecord {
  line: number;
  fields: RecordFields | null;
  reading: Reading | null;
  findings: Finding[];
}

export interface RecordBatch {
  /** Plain readings (a VIN, no finding, no correction), packed by packReading, sorted by VIN then line. */
  packed: string[];
  /** The other records, in file order. */
  others: PendingRecord[];
  /** The last line the batch covers: the file's progress once it is committed. */
  lastLine: number;
}

const SEP = '\u0001';

/** packReading encodes a plain reading so that sorting the strings sorts by (VIN, line); null when it cannot. */
export function packReading(line: number, r: Reading): string | null {
  if (!r.vin || r.corrects !== null) return null;
  if ((r.ref && r.ref.includes(SEP)) || (r.plate && r.plate.includes(SEP))) return null;
  return [r.vin, String(line).padStart(9, '0'), r.date, r.odometer, r.unit === 'mi' ? 1 : 0, WORK_TYPES.indexOf(r.work),
    r.replaced ? 1 : 0, r.digits ?? '', r.ref ?? '', r.plate ?? ''].join(SEP);
}

/** unpackReading decodes packReading's string. */
export function unpackReading(s: string): PendingRecord {
  const f = s.split(SEP);
  const odometer = Number(f[3]);
  const mi = f[4] === '1';
  return {
    line: Number(f[1]),
    fields: null,
    findings: [],
    reading: {
      vin: f[0], date: f[2], odometer, unit: mi ? 'mi' : 'km', km: mi ? Math.round(odometer * KM_PER_MILE) : odometer,
      work: WORK_TYPES[Number(f[5])], replaced: f[6] === '1', digits: f[7] === '5' ? 5 : null, ref: f[8] || null,
      plate: f[9] || null, corrects: null,
    },
  };
}

/** recordBatches yields the records after line `resumeAfter`, `batchSize` at a time. */
export async function* recordBatches(
  path: string,
  opts: { format: BatchFormat; today: string; resumeAfter: number; batchSize: number },
): AsyncIterable<RecordBatch> {
  let packed: string[] = [];
  let others: PendingRecord[] = [];
  let lastLine = opts.resumeAfter;
  const flush = (): RecordBatch => {
    packed.sort();
    const b = { packed, others, lastLine };
    packed = [];
    others = [];
    return b;
  };
  let ordinal = 0;
  for await (const read of readBatch(path, opts.format)) {
    // An XML record is known by its reading index (SPEC §4): readings may share a line, and the pipeline keys
    // records (seq, issues, resume point) by this number.
    const item = opts.format === 'xml' && (read.kind === 'reading' || read.kind === 'malformed') ? { ...read, line: ++ordinal } : read;
    if (item.line <= opts.resumeAfter) continue; // committed by an earlier attempt
    if (item.kind === 'reading') {
      const checked = checkRecord(item.fields, item.fieldCount, { today: opts.today });
      const p = checked.reading ? packReading(item.line, checked.reading) : null;
      if (p !== null) packed.push(p);
      else others.push({ line: item.line, fields: checked.reading ? null : item.fields, reading: checked.reading, findings: checked.findings });
    } else if (item.kind === 'malformed') {
      others.push({ line: item.line, fields: null, reading: null, findings: [{ code: 'E10', field: 'record', message: item.message }] });
    } else {
      continue;
    }
    lastLine = item.line;
    if (packed.length + others.length >= opts.batchSize) yield flush();
  }
  yield flush();
}
