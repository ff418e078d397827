/**
 * The saxes event handlers of the XML reader: text in, BatchItems out (docs/formats.md). parsers/xml-file.ts feeds it
 * decoded chunks and hands the items on; this module never sees the file.
 *
 * Mapping, and why:
 * - The `<inflow>` root's attributes are the header (fieldCount 5: the header checks then judge the values).
 *   Unknown root attributes are ignored (senders add `xsi:noNamespaceSchemaLocation`); a default namespace makes
 *   the format `{uri}inflow`, so F02 says what is wrong. A root of another name is F01.
 * - Each `<reading>` is one reading: `ref` attribute, child elements vin … corrects, `unit` attribute of
 *   `<odometer>`, values trimmed, '' when absent (any order; optional elements may be omitted). Its fieldCount is
 *   10 plus one per unknown or repeated child element, unknown attribute, nested element or stray text: anything
 *   but 10 is E10, as a CSV record with a field too many. It stays a reading, so the trailer's count still counts it.
 * - Any other element directly in the root is a `malformed` item (E10), as a CSV line of an unknown record type.
 * - `<trailer count= sum=>` is the trailer (fieldCount 2 plus extras, as for a reading).
 * - A DTD (hence any entity declaration, internal or external), a declared encoding other than UTF-8, or input
 *   that is not well-formed is a fatal F05 with line and column; nothing is expanded or fetched (saxes does not
 *   read DTDs). Elements nested deeper than MAX_DEPTH, a token longer than MAX_TOKEN_CHARS or a value longer than
 *   MAX_VALUE_CHARS are F05 too: they would be held in memory whole.
 * - `line` is the line where the element's start tag begins; `index` counts `<reading>` elements from 1.
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { READING_FIELD_COUNT, type FileItem, type HeaderFields, type RecordFields, type TrailerFields } from '../model/file-items';
import { quoteValue } from '../model/text';

type FatalItem = Extract<FileItem, { kind: 'fatal' }>;

/** Deepest element nesting accepted (an INFLOW document needs 3). */
const MAX_DEPTH = 32;
/** Longest value of a reading's element (as the CSV reader's longest record). */
const MAX_VALUE_CHARS = 65_536;
/** Most characters fed without an element or text event (one tag, text node, comment…; an INFLOW token is tiny). */
export const MAX_TOKEN_CHARS = 1 << 20;

/** Child elements of `<reading>`: the field each fills (same name) and its bit in ReadingDraft.seen. */
export const READING_ELEMENTS = ['vin', 'plate', 'date', 'odometer', 'work', 'replaced', 'digits', 'corrects'] as const;
export const FIELD_BIT = new Map<string, number>(READING_ELEMENTS.map((n, i) => [n, 1 << i]));

/** Thrown inside a saxes handler to stop the parse at once; never leaves this module. */
class Stop extends Error {}

interface ReadingDraft {
  line: number;
  fields: RecordFields;
  /** FIELD_BIT of the child elements seen so far. */
  seen: number;
  extra: number;
}

interface TrailerDraft {
  line: number;
  fields: TrailerFields;
  extra: number;
}

/** XmlItems turns the text of an XML batch file, written in order, into BatchItems. */
export class XmlItems {
  /** True once a fatal item is queued: nothing more will come. */
  ended = false;
  private out: FileItem[] = [];
  private readonly parser = new SaxesParser<{ xmlns: false; position: true }>({ xmlns: false, position: true });
  private ending = false;
  private depth = 0;
  private tagLine = 1;
  private lastEvent = 0;
  private index = 0;
  private reading: ReadingDraft | null = null;
  private trailer: TrailerDraft | null = null;
  /** The reading field whose element is open (depth 3), and its text so far. */
  private field: keyof RecordFields | null = null;
  private text = '';
  /** Depth of the outermost element whose content is ignored (unknown element), 0 when none. */
  private skipFrom = 0;

  constructor() {
    const p = this.parser;
    // Seven handlers at most: saxes stores them as properties added after construction, and with more than 7 the
    // parser object drops to dictionary mode, which makes every character read ~5x slower (measured).
    p.on('opentagstart', () => {
      // Emitted on the character after the name: when that is a line break, the tag began on the line before.
      this.tagLine = p.column === 0 ? p.line - 1 : p.line;
      this.lastEvent = p.position;
    });
    p.on('opentag', (tag) => this.open(tag));
    p.on('closetag', () => this.close());
    p.on('text', (t) => this.onText(t));
    p.on('cdata', (t) => this.onText(t));
    p.on('doctype', (dtd) => {
      const start = p.line - countNewlines(dtd);
      this.fail(
        start,
        'F05',
        'The file declares a DTD (<!DOCTYPE …>): DTDs, entity declarations and external entities are not allowed in an INFLOW XML file.',
      );
    });
    p.on('error', (err) => {
      const why = err.message.replace(/^\d+:\d+: /, '').replace(/\.$/, '');
      if (this.ending) this.fail(p.line, 'F05', `The file ends before the XML document does (${why}): it is truncated.`);
      this.fail(p.line, 'F05', `The XML is not well-formed at column ${p.column}: ${why}.`);
    });
  }

  /** write parses the next piece of the document. */
  write(text: string): void {
    if (this.ended || text === '') return;
    this.guard(() => this.parser.write(text));
    if (!this.ended && this.parser.position - this.lastEvent > MAX_TOKEN_CHARS) {
      this.fail(
        this.parser.line,
        'F05',
        `More than ${MAX_TOKEN_CHARS} characters without an element or text (one huge tag, text, comment or DTD): this is not an INFLOW XML file.`,
        false,
      );
    }
  }

  /** end finishes the document: an unclosed root (a truncated file) is F05. */
  end(): void {
    if (this.ended) return;
    this.ending = true;
    this.guard(() => this.parser.close());
  }

  /** take returns the items completed so far and forgets them. */
  take(): FileItem[] {
    const items = this.out;
    this.out = [];
    return items;
  }

  private guard(parse: () => void): void {
    try {
      parse();
    } catch (err) {
      if (!(err instanceof Stop)) throw err;
    }
  }

  private fail(line: number, code: FatalItem['code'], message: string, stop = true): void {
    if (this.ended) return;
    this.out.push({ kind: 'fatal', line, code, message });
    this.ended = true;
    if (stop) throw new Stop();
  }

  private open(tag: SaxesTagPlain): void {
    const depth = ++this.depth;
    if (depth > MAX_DEPTH)
      this.fail(this.tagLine, 'F05', `Elements are nested more than ${MAX_DEPTH} deep: this is not an INFLOW XML file.`);
    if (this.skipFrom) return;
    if (depth === 1) return this.openRoot(tag);
    if (depth === 2) {
      if (tag.name === 'reading') return this.openReading(tag);
      if (tag.name === 'trailer') return this.openTrailer(tag);
      this.skipFrom = depth;
      this.out.push({
        kind: 'malformed',
        line: this.tagLine,
        message: `Unknown element <${cut(tag.name)}>: the <inflow> root holds <reading> elements and one <trailer>.`,
      });
      return;
    }
    if (this.trailer) {
      this.trailer.extra++;
      this.skipFrom = depth;
      return;
    }
    const r = this.reading!;
    const bit = depth === 3 ? FIELD_BIT.get(tag.name) : undefined;
    if (bit === undefined || (r.seen & bit) !== 0) {
      r.extra++; // unknown, repeated or nested element: the reading is malformed (E10)
      this.skipFrom = depth;
      return;
    }
    r.seen |= bit;
    const field = tag.name as keyof RecordFields;
    for (const name in tag.attributes) {
      if (field === 'odometer' && name === 'unit') r.fields.unit = tag.attributes[name].trim();
      else r.extra++;
    }
    this.field = field;
    this.text = '';
  }

  private openRoot(tag: SaxesTagPlain): void {
    const enc = this.parser.xmlDecl.encoding;
    if (enc !== undefined && !isUtf8Name(enc)) {
      this.fail(1, 'F05', `The XML declaration names the encoding ${quoteValue(enc)}: an INFLOW XML file must be UTF-8.`);
    }
    if (tag.name !== 'inflow') {
      this.fail(this.tagLine, 'F01', `The root element is <${cut(tag.name)}>, not <inflow>: this is not an INFLOW XML file.`);
    }
    this.out.push({ kind: 'header', line: this.tagLine, fields: headerFields(tag.attributes), fieldCount: 5 });
  }

  private openReading(tag: SaxesTagPlain): void {
    const fields = noFields();
    let extra = 0;
    for (const name in tag.attributes) {
      if (name === 'ref') fields.ref = tag.attributes[name].trim();
      else extra++;
    }
    this.reading = { line: this.tagLine, fields, seen: 0, extra };
  }

  private openTrailer(tag: SaxesTagPlain): void {
    const a = tag.attributes;
    let extra = 0;
    for (const name in a) if (name !== 'count' && name !== 'sum') extra++;
    this.trailer = { line: this.tagLine, fields: { count: (a.count ?? '').trim(), sum: (a.sum ?? '').trim() }, extra };
  }

  private close(): void {
    const depth = this.depth--;
    if (this.skipFrom) {
      if (depth === this.skipFrom) this.skipFrom = 0;
      return;
    }
    if (depth === 3 && this.field) {
      this.reading!.fields[this.field] = this.text.trim();
      this.field = null;
    } else if (depth === 2 && this.reading) {
      const r = this.reading;
      this.out.push({ kind: 'reading', line: r.line, index: ++this.index, fields: r.fields, fieldCount: READING_FIELD_COUNT + r.extra });
      this.reading = null;
    } else if (depth === 2 && this.trailer) {
      const t = this.trailer;
      this.out.push({ kind: 'trailer', line: t.line, fields: t.fields, fieldCount: 2 + t.extra });
      this.trailer = null;
    }
  }

  private onText(t: string): void {
    this.lastEvent = this.parser.position;
    if (this.skipFrom) return;
    if (this.field) {
      this.text += t; // one text node is bounded by MAX_TOKEN_CHARS; text split by comments or CDATA, here
      if (this.text.length > MAX_VALUE_CHARS) {
        this.fail(
          this.reading!.line,
          'F05',
          `The <${this.field}> of the reading starting on this line is longer than ${MAX_VALUE_CHARS} characters.`,
        );
      }
      return;
    }
    if (!/\S/.test(t)) return;
    if (this.reading)
      this.reading.extra++; // text between a reading's elements
    else if (this.trailer) this.trailer.extra++;
    else if (this.depth === 1) {
      const line = this.parser.line - countNewlines(t.slice(t.search(/\S/)));
      this.out.push({
        kind: 'malformed',
        line,
        message: 'Text directly in the <inflow> root: it holds only <reading> elements and one <trailer>.',
      });
    }
  }
}

/** The encodings an XML declaration may name: UTF-8 (US-ASCII is a subset). */
export function isUtf8Name(encoding: string): boolean {
  return /^(UTF-?8|US-ASCII)$/i.test(encoding);
}

/** headerFields: the header of the `<inflow>` root's attributes (a default namespace changes the format). */
export function headerFields(a: Record<string, string>): HeaderFields {
  const ns = a.xmlns;
  return {
    format: ns === undefined ? 'INFLOW' : `{${ns}}inflow`,
    version: (a.version ?? '').trim(),
    sender: (a.sender ?? '').trim(),
    created: (a.created ?? '').trim(),
    software: (a.software ?? '').trim(),
  };
}

/** A reading's fields before its elements are read: all absent. */
export function noFields(): RecordFields {
  return { ref: '', vin: '', plate: '', date: '', odometer: '', unit: '', work: '', replaced: '', digits: '', corrects: '' };
}

function cut(name: string): string {
  return quoteValue(name, 40).slice(1, -1);
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) n++;
  return n;
}
