/**
 * The streaming reader of CSV batch files (docs/formats.md): bytes → UTF-8 check → csv-parse → BatchItems, in bounded
 * memory whatever the file's size.
 *
 * Decisions, and why:
 * - Line 1 is read apart: when it is an H line it becomes the header item and csv-parse starts on line 2.
 *   csv-parse takes the first record's field count as the expected one and builds a full error object for every
 *   record of another length, even with relax_column_count (10x slower, measured). For the same reason
 *   csv-parse is first fed one synthetic 11-field record (PRIMER, dropped), so R records stay on the fast path even
 *   when line 2 is blank, a trailer or garbage.
 * - Quoting is RFC 4180 with relax_quotes: a quote inside an unquoted value, or text after a closing quote, is kept
 *   in the value as a literal character instead of stopping the parse. The record stays an R record (so the
 *   trailer's count still matches) and the field checks reject the odd value (E12, E14, E16, E20, …).
 * - A quote that is never closed swallows the rest of the file into one field: csv-parse reports it at the end of
 *   the file, or once the record exceeds MAX_RECORD_CHARS. Nothing after that point can be read as records, so it
 *   is a fatal F05 ("not well-formed", as for XML) on the line where that record starts.
 * - Line numbers are counted here, not taken from csv-parse (whose count adds a line for a \r inside a quoted
 *   value): a record starts on the line after the previous record's last line; a record spans 1 + the number of
 *   \n inside its values. Blank lines are records of one empty field and are skipped but counted.
 * - Invalid UTF-8 ends the input at the bad byte; records that reach the bad line are dropped and a fatal F05 for
 *   that line is the last item, so the items before it do not depend on how the file was cut into chunks.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { parse, type CsvError, type Options, type Parser } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import type { FileItem, RecordFields } from '../model/file-items';
import { Utf8Checker, type Utf8Error } from './utf8-guard';
import { quoteValue } from '../model/text';

type FatalItem = Extract<FileItem, { kind: 'fatal' }>;

/** Longest record csv-parse accepts (characters); an INFLOW record is a few hundred. */
const MAX_RECORD_CHARS = 65_536;
/** Longest first line looked at for a header (bytes). */
const MAX_HEADER_BYTES = 65_536;
const CHUNK_BYTES = 256 * 1024;
/** One record of 11 empty fields: sets csv-parse's expected field count to that of an R record. */
const PRIMER = Buffer.from(';'.repeat(10) + '\n');

const CSV_OPTIONS: Options = {
  delimiter: ';',
  quote: '"',
  escape: '"',
  record_delimiter: ['\r\n', '\n'], // both, whatever the first line uses
  relax_column_count: true,
  relax_quotes: true,
  skip_records_with_error: true, // errors go to on_skip, which turns them into an in-order marker
  max_record_size: MAX_RECORD_CHARS,
  bom: false, // stripped here: the BOM is at the start of the file, not of what csv-parse is fed
};

/** A csv-parse error, pushed into the record stream so that it arrives after the records before it. */
interface CsvFault {
  fault: string;
}

/** readCsvFile streams the items of a CSV batch file, in file order (model/file-items.ts says what each item is). */
export async function* readCsvFile(path: string): AsyncIterable<FileItem> {
  const source = new ValidChunks(path);
  try {
    // Line 1, apart from the rest.
    let head: Buffer = Buffer.alloc(0);
    let nl = -1;
    let eof = false;
    while (nl === -1 && head.length <= MAX_HEADER_BYTES) {
      const chunk = await source.next();
      if (chunk === null) {
        eof = true;
        break;
      }
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk]);
      nl = head.indexOf(0x0a);
    }
    if (head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) {
      head = head.subarray(3);
      if (nl !== -1) nl -= 3;
    }
    const first = nl !== -1 || eof ? headerItem(head.subarray(0, nl === -1 ? head.length : nl)) : null;
    let rest = head;
    let firstLine = 1;
    if (first === null && nl === -1 && !eof && startsWithH(head)) {
      yield lastFatal(source, fatal(1, 'F02', `The header line is longer than ${MAX_HEADER_BYTES} bytes.`));
      return;
    }
    if (first !== null) {
      if (first.kind === 'fatal') {
        yield lastFatal(source, first);
        return;
      }
      if (!(source.error && source.error.line <= 1)) yield first;
      rest = nl === -1 ? Buffer.alloc(0) : head.subarray(nl + 1);
      firstLine = 2;
    }

    // A file without a quote character is plain `;`-separated lines: split it directly, 3-4 times faster than
    // csv-parse and the same records (nothing to unquote). Any quote, anywhere: csv-parse.
    if (!(await hasQuote(path))) {
      yield* plainRecords(rest, source, firstLine);
      return;
    }

    // The rest, through csv-parse.
    const parser: Parser = parse({
      ...CSV_OPTIONS,
      on_skip: (err: CsvError | undefined): undefined => {
        parser.push({ fault: err?.code ?? 'CSV_ERROR' } satisfies CsvFault);
        return undefined;
      },
    });
    pipeline(Readable.from(body(rest, source), { objectMode: false }), parser, () => {
      // Errors reach the loop below through the parser; a consumer that stops early ends up here too.
    });

    let nextLine = firstLine;
    let primed = false;
    let index = 0;
    let csvFault: FatalItem | null = null;
    for await (const rec of parser as AsyncIterable<string[] | CsvFault>) {
      if (!Array.isArray(rec)) {
        csvFault = fatal(nextLine, 'F05', faultMessage(rec.fault));
        break;
      }
      if (!primed) {
        primed = true;
        continue;
      }
      const line = nextLine;
      const breaks = lineBreaks(rec);
      nextLine = line + 1 + breaks;
      if (source.error && line + breaks >= source.error.line) continue; // cut short by the bad byte
      const item = recordItem(rec, line, index + 1);
      if (item === null) continue;
      if (item.kind === 'reading') index++;
      yield item;
    }
    const last = lastFatal(source, csvFault);
    if (last) yield last;
  } finally {
    source.close();
  }
}

/** hasQuote tells whether the file holds a `"` anywhere. */
async function hasQuote(path: string): Promise<boolean> {
  for await (const chunk of createReadStream(path, { highWaterMark: CHUNK_BYTES })) {
    if ((chunk as Buffer).indexOf(0x22) !== -1) return true;
  }
  return false;
}

/** plainRecords: the items after the header of a file without quotes, one line a record. */
async function* plainRecords(rest: Buffer, source: ValidChunks, firstLine: number): AsyncGenerator<FileItem> {
  const decoder = new StringDecoder('utf8');
  let carry = decoder.write(rest);
  let line = firstLine;
  let index = 0;
  for (;;) {
    const chunk = await source.next();
    const eof = chunk === null;
    carry += eof ? decoder.end() : decoder.write(chunk);
    let start = 0;
    const lines: string[] = [];
    for (let nl = carry.indexOf('\n'); nl !== -1; nl = carry.indexOf('\n', start)) {
      lines.push(carry.slice(start, nl));
      start = nl + 1;
    }
    carry = carry.slice(start);
    if (eof && carry.length > 0) lines.push(carry);
    for (const text of lines) {
      const at = line++;
      if (source.error && at >= source.error.line) continue; // cut short by the bad byte
      if (text.length > MAX_RECORD_CHARS) {
        yield lastFatal(source, fatal(at, 'F05', faultMessage('CSV_MAX_RECORD_SIZE')));
        return;
      }
      const item = recordItem(text.split(';'), at, index + 1);
      if (item === null) continue;
      if (item.kind === 'reading') index++;
      yield item;
    }
    if (!eof && carry.length > MAX_RECORD_CHARS) {
      yield lastFatal(source, fatal(line, 'F05', faultMessage('CSV_MAX_RECORD_SIZE')));
      return;
    }
    if (eof) break;
  }
  const last = lastFatal(source, null);
  if (last) yield last;
}

/** The file's bytes, cut at the first invalid UTF-8 sequence (then `error` says where). */
class ValidChunks {
  error: Utf8Error | null = null;
  private readonly stream: ReadStream;
  private readonly chunks: AsyncIterator<Buffer>;
  private readonly checker = new Utf8Checker();
  private passed = 0;
  private done = false;

  constructor(path: string) {
    this.stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
    this.chunks = this.stream[Symbol.asyncIterator]();
  }

  /** next returns the next valid bytes, or null at the end of the file or of its valid part. */
  async next(): Promise<Buffer | null> {
    if (this.done) return null;
    const r = await this.chunks.next();
    if (r.done) {
      this.done = true;
      this.error = this.checker.end();
      return null;
    }
    const chunk: Buffer = r.value;
    const err = this.checker.check(chunk);
    if (err) {
      this.done = true;
      this.error = err; // set before the prefix is handed out: records reaching err.line get dropped
      const keep = err.offset - this.passed;
      return keep > 0 ? chunk.subarray(0, keep) : null;
    }
    this.passed += chunk.length;
    return chunk;
  }

  close(): void {
    this.stream.destroy();
  }
}

async function* body(rest: Buffer, source: ValidChunks): AsyncGenerator<Buffer> {
  yield PRIMER;
  if (rest.length > 0) yield rest;
  for (let chunk = await source.next(); chunk !== null; chunk = await source.next()) yield chunk;
}

/** headerItem returns line 1 as a header item when it is an H line, a fatal F02 when it is one csv-parse cannot read. */
function headerItem(line: Buffer): Extract<FileItem, { kind: 'header' }> | FatalItem | null {
  if (!startsWithH(line)) return null;
  let rec: string[];
  try {
    rec = (parseSync(line, { ...CSV_OPTIONS, skip_records_with_error: false }) as string[][])[0] ?? [];
  } catch {
    // An unclosed quote: the header cannot span lines, so this line is all there is of it.
    return fatal(1, 'F02', 'The header line is not valid CSV: a quote is not closed.');
  }
  if ((rec[0] ?? '').trim() !== 'H') return null;
  const f = (i: number) => (rec[i] ?? '').trim();
  return {
    kind: 'header',
    line: 1,
    fields: { format: f(1), version: f(2), sender: f(3), created: f(4), software: f(5) },
    fieldCount: rec.length - 1,
  };
}

/** startsWithH tells whether a line's first field may be the record type H (optionally quoted or padded). */
function startsWithH(line: Buffer): boolean {
  const m = /^\s*"?\s*H\s*"?\s*(;|\r?$)/.exec(line.subarray(0, 16).toString('latin1'));
  return m !== null;
}

/** recordItem maps one csv-parse record to its item; null for a blank line. */
function recordItem(rec: string[], line: number, nextIndex: number): FileItem | null {
  const type = rec[0].trim();
  if (rec.length === 1 && type === '') return null;
  const fieldCount = rec.length - 1;
  const f = (i: number) => (i < rec.length ? rec[i].trim() : '');
  switch (type) {
    case 'R': {
      const fields: RecordFields = {
        ref: f(1),
        vin: f(2),
        plate: f(3),
        date: f(4),
        odometer: f(5),
        unit: f(6),
        work: f(7),
        replaced: f(8),
        digits: f(9),
        corrects: f(10),
      };
      return { kind: 'reading', line, index: nextIndex, fields, fieldCount };
    }
    case 'T':
      return { kind: 'trailer', line, fields: { count: f(1), sum: f(2) }, fieldCount };
    case 'H':
      return { kind: 'malformed', line, message: 'A header line (H) is only allowed as the first line of the file.' };
    case '':
      return { kind: 'malformed', line, message: 'The line has no record type: it must start with R or T.' };
    default:
      return { kind: 'malformed', line, message: `Unknown record type ${quoteValue(type, 10)}: a record starts with R or T.` };
  }
}

/** lineBreaks returns the number of \n inside a record's values (quoted values may span lines). */
function lineBreaks(rec: string[]): number {
  let n = 0;
  for (let i = 0; i < rec.length; i++) {
    const v = rec[i];
    for (let j = v.indexOf('\n'); j !== -1; j = v.indexOf('\n', j + 1)) n++;
  }
  return n;
}

function faultMessage(code: string): string {
  if (code === 'CSV_QUOTE_NOT_CLOSED') {
    return 'A quote opened in the record starting on this line is never closed, so the rest of the file cannot be read.';
  }
  if (code === 'CSV_MAX_RECORD_SIZE') {
    return `The record starting on this line is longer than ${MAX_RECORD_CHARS} characters (probably a quote that is never closed), so the rest of the file cannot be read.`;
  }
  return `The file is not valid CSV from this line on (${code}).`;
}

/** lastFatal returns the one fatal item that ends the file: invalid UTF-8 wins, as it may be what broke the CSV. */
function lastFatal(source: ValidChunks, other: FatalItem): FatalItem;
function lastFatal(source: ValidChunks, other: FatalItem | null): FatalItem | null;
function lastFatal(source: ValidChunks, other: FatalItem | null): FatalItem | null {
  if (source.error) {
    return fatal(source.error.line, 'F05', 'The file is not valid UTF-8 on this line: it must be saved as UTF-8.');
  }
  return other;
}

function fatal(line: number, code: FatalItem['code'], message: string): FatalItem {
  return { kind: 'fatal', line, code, message };
}
