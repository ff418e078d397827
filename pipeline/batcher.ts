/**
 * A file's records, with the checks that need nothing but the record (E10–E12, E14–E20), in batches. Runs on the
 * reader thread.
 *
 * A batch crosses to the job thread as bytes (one packed string per plain reading, already in VIN order) rather
 * than objects or strings: 100,000 strings per batch are promoted to the job thread's old generation on arrival
 * and pile up there until a full GC (a 1,000,000-record file grew that heap by ~100 MB), while the bytes are one
 * transferable buffer that goes back to the reader for the next batch (issue #4). Everything else (rejected
 * records, corrections, plate-only readings) travels as objects, usually few; a file may hold nothing else, so a
 * batch is cut once its objects reach OTHERS_BYTES (issue #13).
 */
import type { FileFormat, FileItem } from '../model/file-items';
import { checkRecord } from '../rules/record-checks';
import { WORK_TYPES, kmOf, type CheckedRecord, type Reading } from '../model/reading';

export interface RecordBatch {
  /**
   * Plain readings (a VIN, no finding, no correction): packReading's strings, sorted by VIN then line, as UTF-8
   * each followed by END, in `packed[0, packedBytes)`. Read them with unpackBatch.
   */
  packed: Uint8Array;
  packedBytes: number;
  /** The other records, in file order. A batch holding a correction holds no packed reading (Batcher.add). */
  others: CheckedRecord[];
  /** The last line the batch covers: the file's progress once it is committed. */
  lastLine: number;
  /** The establishment in the file's header (null: no header was read). */
  sender: string | null;
}

const SEP = '\u0001';
/** Ends each packed reading in a batch's bytes. */
const END = 0x02;
const END_CHAR = '\u0002';
const SEP_BYTE = 0x01;

/** packReading encodes a plain reading so that sorting the strings sorts by (VIN, line); null when it cannot. */
export function packReading(line: number, r: Reading, startLine?: number): string | null {
  if (!r.vin || r.corrects !== null) return null;
  const unsafe = (v: string | null) => v !== null && (v.includes(SEP) || v.includes(END_CHAR));
  if (unsafe(r.ref) || unsafe(r.plate)) return null;
  return [
    r.vin,
    String(line).padStart(9, '0'),
    r.date,
    r.odometer,
    r.unit === 'mi' ? 1 : 0,
    WORK_TYPES.indexOf(r.work),
    r.replaced ? 1 : 0,
    r.digits ?? '',
    r.ref ?? '',
    r.plate ?? '',
    startLine ?? '',
  ].join(SEP);
}

/** unpackReading decodes packReading's string. */
export function unpackReading(s: string): CheckedRecord {
  const f = s.split(SEP);
  const odometer = Number(f[3]);
  const mi = f[4] === '1';
  return {
    line: Number(f[1]),
    startLine: f[10] ? Number(f[10]) : undefined,
    fields: null,
    findings: [],
    reading: {
      vin: f[0],
      date: f[2],
      odometer,
      unit: mi ? 'mi' : 'km',
      km: kmOf(odometer, mi ? 'mi' : 'km'),
      work: WORK_TYPES[Number(f[5])],
      replaced: f[6] === '1',
      digits: f[7] === '5' ? 5 : null,
      ref: f[8] || null,
      plate: f[9] || null,
      corrects: null,
    },
  };
}

/** unpackBatch decodes a batch's packed readings, in order (one string at a time: only young garbage). */
export function* unpackBatch(b: RecordBatch): Generator<CheckedRecord> {
  const buf = Buffer.from(b.packed.buffer, b.packed.byteOffset, b.packedBytes);
  let at = 0;
  while (at < buf.length) {
    const end = buf.indexOf(END, at);
    yield unpackReading(buf.toString('utf8', at, end));
    at = end + 1;
  }
}

/** packedVins gives the VIN of each of a batch's packed readings, in order, without decoding the rest. */
export function* packedVins(b: RecordBatch): Generator<string> {
  const buf = Buffer.from(b.packed.buffer, b.packed.byteOffset, b.packedBytes);
  for (let at = 0; at < buf.length; at = buf.indexOf(END, at) + 1) yield buf.toString('utf8', at, buf.indexOf(SEP_BYTE, at));
}

/** packedRecords: where each of a batch's packed readings starts and ends (its END byte), with its line. */
function packedRecords(b: RecordBatch): { buf: Buffer; starts: number[]; ends: number[]; lines: number[] } {
  const buf = Buffer.from(b.packed.buffer, b.packed.byteOffset, b.packedBytes);
  const starts: number[] = [];
  const ends: number[] = [];
  const lines: number[] = [];
  for (let at = 0; at < buf.length;) {
    const end = buf.indexOf(END, at);
    const sep = buf.indexOf(SEP_BYTE, at);
    starts.push(at);
    ends.push(end);
    lines.push(Number(buf.toString('latin1', sep + 1, buf.indexOf(SEP_BYTE, sep + 1))));
    at = end + 1;
  }
  return { buf, starts, ends, lines };
}

/** recordCount: the records a batch holds. */
export function recordCount(b: RecordBatch): number {
  const buf = Buffer.from(b.packed.buffer, b.packed.byteOffset, b.packedBytes);
  let n = b.others.length;
  for (let at = buf.indexOf(END); at !== -1; at = buf.indexOf(END, at + 1)) n++;
  return n;
}

/**
 * splitBatch cuts a batch by line into consecutive parts of at most `maxRecords` records: part k holds the records
 * of lines (cut k-1, cut k], its packed readings still in VIN order, and its lastLine is cut k (the file's progress
 * once the part is stored). Stored one after the other, the parts give what the batch gives: each record is checked
 * against the history the file's earlier lines left, whichever batch they were in (check-batch.ts).
 */
export function splitBatch(b: RecordBatch, maxRecords: number): RecordBatch[] {
  const { buf, starts, ends, lines } = packedRecords(b);
  const all = Float64Array.from([...lines, ...b.others.map((r) => r.line)]).sort();
  if (all.length <= maxRecords) return [b];
  const cuts: number[] = [];
  for (let i = maxRecords - 1; i < all.length - 1; i += maxRecords) cuts.push(all[i]);
  cuts.push(b.lastLine);
  const partOf = (line: number) => {
    let lo = 0;
    let hi = cuts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cuts[mid] >= line) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  const part = lines.map(partOf);
  const bytes = cuts.map(() => 0);
  part.forEach((k, i) => (bytes[k] += ends[i] - starts[i] + 1));
  const packed = bytes.map((n) => new Uint8Array(n));
  const filled = cuts.map(() => 0);
  part.forEach((k, i) => {
    packed[k].set(buf.subarray(starts[i], ends[i] + 1), filled[k]);
    filled[k] += ends[i] - starts[i] + 1;
  });
  return cuts.map((lastLine, k) => ({
    packed: packed[k],
    packedBytes: bytes[k],
    others: b.others.filter((r) => partOf(r.line) === k),
    lastLine,
    sender: b.sender,
  }));
}

/**
 * What a batch may hold in objects (`others`), estimated by heapBytesOf: a small part of the reader thread's 32 MB
 * heap (pipeline/file-reader.ts), which also holds the batch's packed strings, the chunks its records were cut from
 * and, when the batch waits in the spool, its JSON. The job thread holds a few such batches at a time.
 */
export const OTHERS_BYTES = 4 * 2 ** 20;
/** The objects around a record's strings (the record, its fields or reading, its findings, the strings' headers). */
const RECORD_OVERHEAD_BYTES = 600;

/**
 * heapBytesOf estimates, from above, what a record kept as an object takes on the heap, its strings at two bytes a
 * character. Measured (Node 20): a reading with a wrong unit takes ~740 bytes (estimate ~770), an `R;x` ~340 (~710).
 */
export function heapBytesOf(r: CheckedRecord): number {
  let chars = 0;
  if (r.fields) for (const v of Object.values(r.fields)) chars += v.length;
  if (r.reading) chars += (r.reading.ref?.length ?? 0) + (r.reading.vin?.length ?? 0) + (r.reading.plate?.length ?? 0) + 32;
  for (const f of r.findings) chars += f.message.length + f.field.length;
  return RECORD_OVERHEAD_BYTES + 2 * chars;
}

/** Gives a buffer of at least `bytes` for a batch's packed readings (the reader thread reuses returned ones). */
export type BufferSource = (bytes: number) => Uint8Array;

/** A new buffer each time (its own ArrayBuffer, never Node's shared pool: it may be transferred). */
export const newBuffer: BufferSource = (bytes) => new Uint8Array(bytes);

/** packBatch writes sorted packed strings into one buffer, each followed by END. */
function packBatch(strings: string[], buffers: BufferSource): { packed: Uint8Array; packedBytes: number } {
  let bytes = 0;
  for (const s of strings) bytes += Buffer.byteLength(s) + 1;
  const packed = buffers(bytes);
  const out = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
  let at = 0;
  for (const s of strings) {
    at += out.write(s, at);
    out[at++] = END;
  }
  return { packed, packedBytes: at };
}

export interface BatchOptions {
  format: FileFormat;
  today: string;
  /** Records up to this line were committed by an earlier attempt: skipped. */
  resumeAfter: number;
  batchSize: number;
}

/**
 * Batcher turns a file's items, fed in order, into record batches: the stateless checks, packing, VIN order. Fed
 * item by item beside the file-level checks (pipeline/reader-thread.ts).
 */
export class Batcher {
  /**
   * The first batch is small, so that the job thread starts storing soon; the others have the batch size. (Batches
   * of 1,000 doubling up to the batch size were tried: in-process, alternating, the XML stage took 6.9/4.7/5.9 s
   * against 4.2/4.2/5.7 s with these.)
   */
  static readonly FIRST_BATCH = 10_000;
  private limit: number;
  private packed: string[] = [];
  private others: CheckedRecord[] = [];
  /** Records of the current batch, those an earlier attempt committed included. */
  private count = 0;
  /** heapBytesOf the batch's objects, those an earlier attempt committed included. */
  private othersBytes = 0;
  /** The batch holds a packed reading, or a correction (committed ones included): the two never share a batch. */
  private hasPacked = false;
  private hasCorrection = false;
  private lastLine: number;
  private ordinal = 0;
  private sender: string | null = null;

  constructor(
    private readonly opts: BatchOptions,
    private readonly buffers: BufferSource = newBuffer,
  ) {
    this.lastLine = opts.resumeAfter;
    this.limit = Math.min(opts.batchSize, Batcher.FIRST_BATCH);
  }

  /** add takes the file's next item and hands `emit` each batch it completes (a correction may complete two). */
  add(read: FileItem, emit: (b: RecordBatch) => void): void {
    const { opts } = this;
    if (read.kind === 'header') {
      this.sender ??= read.fields.sender;
      return;
    }
    if (read.kind !== 'reading' && read.kind !== 'malformed') return;
    // An XML record is known by its reading index (docs/checks.md): readings may share a line, and the pipeline keys
    // records (seq, issues, resume point) by this number; the line it starts on goes along for the receipt.
    const line = opts.format === 'xml' ? ++this.ordinal : read.line;
    const startLine = opts.format === 'xml' ? read.line : undefined;
    const rec = this.recordOf(read, line, startLine);
    const committed = line <= opts.resumeAfter;
    if (typeof rec === 'string') {
      if (this.hasCorrection) this.end(emit);
      this.hasPacked = true;
      if (!committed) this.packed.push(rec);
    } else {
      // A correction may change another vehicle's history: it is checked in file order (pipeline/check-batch.ts),
      // apart from the packed readings, which the batch before it takes.
      const correction = !!rec.reading?.corrects;
      if (correction && this.hasPacked) this.end(emit);
      this.hasCorrection ||= correction;
      this.othersBytes += heapBytesOf(rec);
      if (!committed) this.others.push(rec);
    }
    if (!committed) this.lastLine = line;
    if (++this.count >= this.limit || this.othersBytes >= OTHERS_BYTES) this.end(emit);
  }

  /** recordOf: a record after its stateless checks, as a packed string when it is a plain reading. */
  private recordOf(
    item: FileItem & { kind: 'reading' | 'malformed' },
    line: number,
    startLine: number | undefined,
  ): string | CheckedRecord {
    if (item.kind === 'malformed') {
      return { line, startLine, fields: null, reading: null, findings: [{ code: 'E10', field: 'record', message: item.message }] };
    }
    const checked = checkRecord(item.fields, item.fieldCount, { today: this.opts.today, format: this.opts.format });
    const p = checked.reading ? packReading(line, checked.reading, startLine) : null;
    return p ?? { line, startLine, fields: checked.reading ? null : item.fields, reading: checked.reading, findings: checked.findings };
  }

  /** end ends the current batch: sent when it holds records to store, dropped when an earlier attempt committed them all. */
  private end(emit: (b: RecordBatch) => void): void {
    if (this.packed.length + this.others.length > 0) emit(this.flush());
    else this.cut();
  }

  /** cut starts a new batch. */
  private cut(): void {
    this.count = 0;
    this.othersBytes = 0;
    this.hasPacked = false;
    this.hasCorrection = false;
    this.limit = this.opts.batchSize;
  }

  /** flush returns what is gathered as a batch (the last one of the file: possibly empty). */
  flush(): RecordBatch {
    this.packed.sort();
    const b = { ...packBatch(this.packed, this.buffers), others: this.others, lastLine: this.lastLine, sender: this.sender };
    this.packed = [];
    this.others = [];
    this.cut();
    return b;
  }
}
