/**
 * The fast path of the XML reader: the plain shape that batch software writes (an optional XML declaration, the
 * `<inflow>` root, `<reading>` elements of known child elements with text values, a `<trailer>`, white space) is
 * read with a few anchored regular expressions, about twice as fast as saxes with XmlItems' handlers (issue #5).
 *
 * It gives up at the first thing it does not take: a comment, a processing instruction, CDATA, a DTD, an entity
 * or character reference, a name or character it does not know, a self-closing reading, text where elements
 * belong, an unknown element, a repeated child, anything not well-formed, invalid UTF-8, a token longer than
 * MAX_PLAIN_TOKEN… parsers/xml-file.ts then reads the file again with saxes (XmlItems) from the start and drops
 * the items this reader already gave, so every decision and every message about such input is XmlItems' own.
 * What it takes, it must take exactly as XmlItems would: the same items, fields, lines and counts
 * (test/parsers-xml-plain.test.ts compares both on the fixtures, on variants and on random mutations).
 */
import { READING_FIELD_COUNT, type FileItem, type TrailerFields } from '../model/file-items';
import { FIELD_BIT, headerFields, isUtf8Name, noFields, READING_ELEMENTS } from './xml-items';

/** Longest token (tag, reading, run of white space) taken here; saxes' limits (xml-items.ts) are far above it. */
export const MAX_PLAIN_TOKEN = 60_000;

const S = '[ \\t\\r\\n]';
// An attribute value taken here: no markup, no reference, no control character, no line break (saxes normalises
// those), no surrogate (a lone one is not well-formed; a pair, rare in an attribute, is left to saxes too).
const VALUE = `(?:"([^"<&\\u0000-\\u001f\\ud800-\\udfff\\ufffe\\uffff]*)"|'([^'<&\\u0000-\\u001f\\ud800-\\udfff\\ufffe\\uffff]*)')`;
const DECL = new RegExp(
  `<\\?xml${S}+version${S}*=${S}*(?:"1\\.0"|'1\\.0')(?:${S}+encoding${S}*=${S}*(?:"([A-Za-z][A-Za-z0-9._-]*)"|'([A-Za-z][A-Za-z0-9._-]*)'))?` +
    `(?:${S}+standalone${S}*=${S}*(?:"(?:yes|no)"|'(?:yes|no)'))?${S}*\\?>`,
  'y',
);
const ATTR = new RegExp(`${S}+([A-Za-z_][A-Za-z0-9_.:-]*)${S}*=${S}*${VALUE}`, 'y');
const TAG_END = new RegExp(`${S}*(/?)>`, 'y');
const READING_OPEN = new RegExp(`<reading(?:${S}+ref${S}*=${S}*${VALUE})?${S}*>`, 'y');
const CHILD = new RegExp(`${S}*<(${READING_ELEMENTS.join('|')})(?:${S}+unit${S}*=${S}*${VALUE})?${S}*(?:/>|>([^<]*)</\\1${S}*>)`, 'y');
const READING_CLOSE = new RegExp(`${S}*</reading${S}*>`, 'y');
const END_TAG_REST = new RegExp(`${S}*>`, 'y');
/** Not taken inside a reading: a reference, a character XML forbids (a lone surrogate too), `]]>`, a CR without LF. */
const NOT_PLAIN =
  /[&\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|\]\]>|\r(?!\n)|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** A quick look for anything NOT_PLAIN could find (one character class: several times faster on a clean reading). */
const MAYBE_NOT_PLAIN = /[&\]\u0000-\u0008\u000b-\u001f\ud800-\udfff\ufffe\uffff]/;

/** The index of the first `ch` after `i` in `s`, Infinity when none. */
function after(s: string, ch: string, i: number): number {
  const at = s.indexOf(ch, i + 1);
  return at < 0 ? Infinity : at;
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;

/** Thrown to leave the parse when the input is not plain; never leaves this module. */
class NotPlain extends Error {}

/** PlainXmlItems: the text of a plain XML batch file, written in order, to BatchItems (as XmlItems). */
export class PlainXmlItems {
  /** True once the input proved not plain: nothing more comes out; read the file with XmlItems instead. */
  gaveUp = false;
  private out: FileItem[] = [];
  private buf = '';
  private line = 1;
  private index = 0;
  private state: 'start' | 'prolog' | 'root' | 'epilog' = 'start';
  /** White space read since the last token (saxes limits characters without an event). */
  private spaceRun = 0;
  /** Where the next LF and CR of the text being parsed are (Infinity: none). */
  private nextLf = Infinity;
  private nextCr = Infinity;

  get ended(): boolean {
    return this.gaveUp;
  }

  /** write reads the next piece of the document. */
  write(text: string): void {
    if (this.gaveUp) return;
    this.buf = this.buf.length ? this.buf + text : text;
    this.guard(false);
  }

  /** end finishes the document: anything but a closed root and white space after it is not plain. */
  end(): void {
    if (this.gaveUp) return;
    this.guard(true);
    if (!this.gaveUp && (this.state !== 'epilog' || this.buf.length)) this.giveUp();
  }

  /** take returns the items completed so far and forgets them. */
  take(): FileItem[] {
    const items = this.out;
    this.out = [];
    return items;
  }

  giveUp(): void {
    this.gaveUp = true;
    this.buf = '';
  }

  private guard(final: boolean): void {
    try {
      const at = this.parse(this.buf, final);
      this.buf = this.buf.slice(at);
      if (this.buf.length > MAX_PLAIN_TOKEN) this.giveUp();
    } catch (err) {
      if (!(err instanceof NotPlain)) throw err;
      this.giveUp();
    }
  }

  /** parse reads whole tokens from `buf` and returns where the unread rest begins. */
  private parse(buf: string, final: boolean): number {
    let p = 0;
    this.nextLf = after(buf, '\n', -1);
    this.nextCr = after(buf, '\r', -1);
    if (this.state === 'start') {
      if (buf.length < '<?xml '.length && !final) return 0; // not enough to tell a declaration
      if (buf.startsWith('<?xml')) {
        DECL.lastIndex = 0;
        const m = DECL.exec(buf);
        if (!m) return this.wait(buf, 0, final);
        const enc = m[1] ?? m[2];
        if (enc !== undefined && !isUtf8Name(enc)) throw new NotPlain();
        p = this.token(buf, 0, DECL.lastIndex);
      }
      this.state = 'prolog';
    }
    for (;;) {
      // White space; a CR at the end may be the first half of a CR LF.
      let q = p;
      while (q < buf.length && isSpace(buf.charCodeAt(q))) q++;
      if (q === buf.length && q > p && buf.charCodeAt(q - 1) === 0x0d && !final) q--;
      if (q > p) {
        this.spaceRun += q - p;
        if (this.spaceRun > MAX_PLAIN_TOKEN) throw new NotPlain();
        this.countLines(buf, p, q);
        p = q;
      }
      if (p >= buf.length - 1) return p;
      if (this.state === 'epilog') throw new NotPlain();
      if (buf.charCodeAt(p) !== 0x3c) throw new NotPlain();
      const next = this.state === 'prolog' ? this.root(buf, p, final) : this.inRoot(buf, p, final);
      if (next === p) return p;
      p = next;
    }
  }

  /** The root's start tag: the header. */
  private root(buf: string, p: number, final: boolean): number {
    if (!buf.startsWith('<inflow', p)) return buf.length - p < 7 ? this.wait(buf, p, final) : this.notPlain();
    const tag = this.startTag(buf, p + 7);
    if (!tag || tag.selfClosing) return tag ? this.notPlain() : this.wait(buf, p, final);
    const line = this.line;
    p = this.token(buf, p, tag.end);
    this.out.push({ kind: 'header', line, fields: headerFields(tag.attributes), fieldCount: 5 });
    this.state = 'root';
    return p;
  }

  /** A reading, the trailer or the root's end tag. */
  private inRoot(buf: string, p: number, final: boolean): number {
    if (buf.startsWith('<reading', p)) return this.reading(buf, p, final);
    if (buf.startsWith('<trailer', p)) return this.trailer(buf, p, final);
    if (buf.startsWith('</inflow', p)) {
      END_TAG_REST.lastIndex = p + 8;
      if (!END_TAG_REST.exec(buf)) return this.wait(buf, p, final);
      this.state = 'epilog';
      return this.token(buf, p, END_TAG_REST.lastIndex);
    }
    return buf.length - p < 9 ? this.wait(buf, p, final) : this.notPlain();
  }

  private reading(buf: string, p: number, final: boolean): number {
    const close = buf.indexOf('</reading', p);
    const gt = close < 0 ? -1 : buf.indexOf('>', close);
    if (gt < 0) return this.wait(buf, p, final);
    const end = gt + 1;
    if (end - p > MAX_PLAIN_TOKEN) this.notPlain();
    const text = buf.slice(p, end);
    if (MAYBE_NOT_PLAIN.test(text) && NOT_PLAIN.test(text)) this.notPlain();
    READING_OPEN.lastIndex = p;
    const open = READING_OPEN.exec(buf);
    if (!open) this.notPlain();
    const fields = noFields();
    fields.ref = (open![1] ?? open![2] ?? '').trim();
    let at = READING_OPEN.lastIndex;
    let seen = 0;
    for (;;) {
      CHILD.lastIndex = at;
      const c = CHILD.exec(buf);
      if (!c) break;
      const name = c[1] as (typeof READING_ELEMENTS)[number];
      const bit = FIELD_BIT.get(name)!;
      if (seen & bit) this.notPlain(); // repeated: XmlItems counts it (E10)
      seen |= bit;
      const unit = c[2] ?? c[3];
      if (unit !== undefined) {
        if (name !== 'odometer') this.notPlain();
        fields.unit = unit.trim();
      }
      const value = c[4] ?? '';
      fields[name] = (value.includes('\r') ? value.replace(/\r\n/g, '\n') : value).trim();
      at = CHILD.lastIndex;
    }
    READING_CLOSE.lastIndex = at;
    if (!READING_CLOSE.exec(buf) || READING_CLOSE.lastIndex !== end) this.notPlain();
    const line = this.line;
    this.out.push({ kind: 'reading', line, index: ++this.index, fields, fieldCount: READING_FIELD_COUNT });
    return this.token(buf, p, end);
  }

  private trailer(buf: string, p: number, final: boolean): number {
    const tag = this.startTag(buf, p + 8);
    if (!tag) return this.wait(buf, p, final);
    const fields: TrailerFields = { count: '', sum: '' };
    for (const name in tag.attributes) {
      if (name !== 'count' && name !== 'sum') this.notPlain(); // XmlItems counts it (E10)
      fields[name as keyof TrailerFields] = tag.attributes[name].trim();
    }
    let end = tag.end;
    if (!tag.selfClosing) {
      let q = end;
      while (q < buf.length && isSpace(buf.charCodeAt(q))) q++;
      if (!buf.startsWith('</trailer', q)) return buf.length - q < 9 ? this.wait(buf, p, final) : this.notPlain();
      END_TAG_REST.lastIndex = q + 9;
      if (!END_TAG_REST.exec(buf)) return this.wait(buf, p, final);
      end = END_TAG_REST.lastIndex;
    }
    const line = this.line;
    this.out.push({ kind: 'trailer', line, fields, fieldCount: 2 });
    return this.token(buf, p, end);
  }

  /** A start tag's attributes and end from just after its name; null when it does not end (yet) as one. */
  private startTag(buf: string, from: number): { attributes: Record<string, string>; end: number; selfClosing: boolean } | null {
    // No prototype, as saxes' attributes: `__proto__` is an attribute name like any other.
    const attributes: Record<string, string> = Object.create(null);
    let at = from;
    for (;;) {
      ATTR.lastIndex = at;
      const a = ATTR.exec(buf);
      if (!a) break;
      if (Object.prototype.hasOwnProperty.call(attributes, a[1])) this.notPlain(); // saxes: not well-formed
      attributes[a[1]] = a[2] ?? a[3];
      at = ATTR.lastIndex;
    }
    TAG_END.lastIndex = at;
    const e = TAG_END.exec(buf);
    return e ? { attributes, end: TAG_END.lastIndex, selfClosing: e[1] === '/' } : null;
  }

  /** Not complete yet: wait for more text, unless there is no more or the token is too long to be plain. */
  private wait(buf: string, p: number, final: boolean): number {
    if (final || buf.length - p > MAX_PLAIN_TOKEN) this.notPlain();
    return p;
  }

  /** A token [from, to) was read: count its lines; returns `to`. */
  private token(buf: string, from: number, to: number): number {
    this.spaceRun = 0;
    this.countLines(buf, from, to);
    return to;
  }

  /** Counts the LFs in [from, to): the ranges come in order, so the next LF and CR are looked up once each. */
  private countLines(buf: string, from: number, to: number): void {
    while (this.nextLf < to) {
      this.line++;
      this.nextLf = after(buf, '\n', this.nextLf);
    }
    while (this.nextCr < to) {
      if (buf.charCodeAt(this.nextCr + 1) !== 0x0a) this.notPlain(); // a lone CR is a line break to saxes: left to it
      this.nextCr = after(buf, '\r', this.nextCr);
    }
  }

  private notPlain(): never {
    throw new NotPlain();
  }
}
