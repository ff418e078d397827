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
