/** Streaming rows into a table with COPY (text format): the fastest way PostgreSQL takes many rows. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { Client } from './db';

export type CopyValue = string | number | boolean | null;

const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const SPECIAL = /[\\\t\n\r]/;

/** copyText: one value in COPY's text format (\N for null; backslash, tab and line ends escaped). Hot path. */
export function copyText(v: CopyValue): string {
  if (v === null) return '\\N';
  if (typeof v !== 'string') return String(v);
  return SPECIAL.test(v) ? v.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]) : v;
}

/** Rows per chunk written to the COPY stream. */
const CHUNK = 2_000;

/** copyRows streams `rows` into `table (columns)` on the client's connection (inside its transaction, if any). */
export function copyRows(c: Client, table: string, columns: string, rows: Iterable<CopyValue[]>): Promise<void> {
  const lines = function* () {
    for (const r of rows) yield r.map(copyText).join('\t');
  };
  return copyLines(c, table, columns, lines());
}

/** copyLines streams lines already in COPY's text format (copyText values joined by tabs), without their line ends. */
export async function copyLines(c: Client, table: string, columns: string, text: Iterable<string>): Promise<void> {
  const chunks = function* () {
    let lines: string[] = [];
    for (const l of text) {
      lines.push(l);
      if (lines.length === CHUNK) {
        yield lines.join('\n') + '\n';
        lines = [];
      }
    }
    if (lines.length > 0) yield lines.join('\n') + '\n';
  };
  await pipeline(Readable.from(chunks()), c.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`)));
}

/** Spare CopyBuffer bytes (a worker runs a few batches at once at most), and the largest size kept for reuse. */
const spareBytes: Buffer[] = [];
const SPARE_BUFFERS = 2;
const SPARE_MAX_BYTES = 16 * 2 ** 20;
const FIRST_BYTES = 2 ** 20;
/** Bytes per CopyData message sent. */
const SEND_BYTES = 256 * 2 ** 10;

/**
 * CopyBuffer: a batch's rows in COPY's text format, as bytes off the heap, reused from batch to batch. As strings
 * and objects held until the batch commits, they outlived the young generation's collections and piled up in the
 * old one until a full GC: most of a PostgreSQL worker's heap peak (README, "Worker memory on PostgreSQL"). A byte
 * written may be changed in place (setByte) until the rows are sent.
 */
export class CopyBuffer {
  private bytes: Buffer | null = null;
  private used = 0;

  get length(): number {
    return this.used;
  }

  /** write appends COPY text (copyText values, tabs, line ends). */
  write(text: string): void {
    this.used += this.room(text.length * 3).write(text, this.used, 'utf8');
  }

  /** setByte changes one byte already written (an ASCII character's code). */
  setByte(at: number, byte: number): void {
    if (at >= this.used) throw new Error(`CopyBuffer.setByte: offset ${at} past the ${this.used} bytes written`);
    this.bytes![at] = byte;
  }

  /** copyInto streams the rows into `table (columns)` on the client's connection, then gives the bytes back for reuse. */
  async copyInto(c: Client, table: string, columns: string): Promise<void> {
    const bytes = this.bytes;
    if (!bytes || this.used === 0) return;
    const used = this.used;
    const parts = function* () {
      for (let at = 0; at < used; at += SEND_BYTES) yield bytes.subarray(at, Math.min(used, at + SEND_BYTES));
    };
    await pipeline(Readable.from(parts()), c.query(copyFrom(`COPY ${table} (${columns}) FROM STDIN`)));
    // Reused only once the server has had every byte (COPY completed): a failed COPY's bytes are left to the GC.
    this.bytes = null;
    this.used = 0;
    if (spareBytes.length < SPARE_BUFFERS && bytes.length <= SPARE_MAX_BYTES) spareBytes.push(bytes);
  }

  /** room makes room for `more` bytes after those written and returns the bytes. */
  private room(more: number): Buffer {
    const need = this.used + more;
    if (this.bytes && this.bytes.length >= need) return this.bytes;
    let size = Math.max(this.bytes?.length ?? 0, FIRST_BYTES);
    while (size < need) size *= 2;
    const spare = spareBytes.findIndex((b) => b.length >= size);
    const next = spare >= 0 ? spareBytes.splice(spare, 1)[0] : Buffer.allocUnsafeSlow(size);
    if (this.bytes) this.bytes.copy(next, 0, 0, this.used);
    this.bytes = next;
    return next;
  }
}
