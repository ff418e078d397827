/**
 * Recognising a batch file's format by its content (docs/formats.md: not by its name), from its first few KB.
 *
 * Outcomes:
 * - empty, blank, binary (a NUL byte, or many control bytes) or text that is neither → fatal F01;
 * - first non-blank character `<` → XML, judged past the prolog (declaration, comments, PIs): a DTD → fatal F05
 *   (refused before any parser sees it); a root other than `<inflow>` → fatal F01; an `<inflow>` root with neither
 *   `version` nor `sender` → fatal F02 "header missing" (as for CSV); else xml. What the sample cannot show (a
 *   prolog longer than it, a root start tag cut off) is left to the XML reader, which applies the same rules;
 * - line 1 is an H line (`H;…`, however malformed: the header checks give F02) → csv;
 * - semicolon-separated text whose line 1 is not an H line → fatal F02 "header missing": it is laid out like a
 *   batch file, and what it lacks is the header (typically line 1 is already an R record).
 * Invalid UTF-8 is not decided here: the reader reports it with its line (F05).
 */
import { open } from 'node:fs/promises';
import type { FileFormat, FileItem } from '../model/file-items';

type FatalItem = Extract<FileItem, { kind: 'fatal' }>;

/** How much of the file is looked at. */
const SAMPLE_BYTES = 8192;
/** Share of control bytes (other than tab, CR, LF, FF) above which text is taken for binary. */
const MAX_CONTROL_SHARE = 0.01;

/** detectFormat returns the batch format of the file at `path`, or the fatal item that refuses it. */
export async function detectFormat(path: string): Promise<{ format: FileFormat } | { fatal: FatalItem }> {
  const handle = await open(path, 'r');
  let sample: Buffer;
  try {
    const buf = Buffer.alloc(SAMPLE_BYTES);
    const { bytesRead } = await handle.read(buf, 0, SAMPLE_BYTES, 0);
    sample = buf.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  return formatOfSample(sample);
}

/** formatOfSample is detectFormat's rule on the first bytes of a file. */
export function formatOfSample(sample: Buffer): { format: FileFormat } | { fatal: FatalItem } {
  const refuse = (line: number, code: FatalItem['code'], message: string) => ({
    fatal: { kind: 'fatal', line, code, message } satisfies FatalItem,
  });
  if (sample.length === 0) return refuse(1, 'F01', 'The file is empty.');
  const bytes = sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf ? sample.subarray(3) : sample;

  const nul = bytes.indexOf(0);
  if (nul !== -1) {
    return refuse(lineAt(bytes, nul), 'F01', 'The file is binary (it holds NUL bytes), not an INFLOW CSV or XML file.');
  }
  let controls = 0;
  for (const b of bytes) if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d) controls++;
  if (controls > bytes.length * MAX_CONTROL_SHARE) {
    return refuse(1, 'F01', 'The file is binary (it holds control bytes), not an INFLOW CSV or XML file.');
  }

  // latin1 maps byte to char one to one: the ASCII structure is seen whatever the encoding (UTF-8 is checked later).
  const text = bytes.toString('latin1');
  if (text.trim() === '') return refuse(1, 'F01', 'The file holds no data, only blank lines.');
  if (text.trimStart().startsWith('<')) {
    const root = xmlRoot(text);
    if (root.kind === 'doctype') {
      return refuse(
        lineAt(bytes, root.at),
        'F05',
        'The file declares a DTD (<!DOCTYPE …>): DTDs, entity declarations and external entities are not allowed in an INFLOW XML file.',
      );
    }
    if (root.kind === 'element' && root.name !== 'inflow') {
      const name = root.name.length > 40 ? root.name.slice(0, 39) + '…' : root.name;
      return refuse(lineAt(bytes, root.at), 'F01', `The root element is <${name}>, not <inflow>: this is not an INFLOW XML file.`);
    }
    if (root.kind === 'element' && root.startTag !== null && !/\s(version|sender)\s*=/.test(root.startTag)) {
      return refuse(
        lineAt(bytes, root.at),
        'F02',
        'The header is missing: the <inflow> root has no version and no sender attribute (<inflow version="1" sender="…" created="…" software="…">).',
      );
    }
    return { format: 'xml' };
  }
  const lines = text.split('\n');
  const line1 = lines[0].replace(/\r$/, '');
  if (/^H(;|$)/.test(line1)) return { format: 'csv' };
  if (lines.some((l) => l.includes(';'))) {
    const type = /^\s*"?\s*([A-Za-z]?)\s*"?\s*;/.exec(line1)?.[1] ?? '';
    const why =
      type === 'R' || type === 'T'
        ? `line 1 is already an ${type} record`
        : line1.trim() === ''
          ? 'line 1 is blank'
          : 'line 1 is not an H line';
    return refuse(
      1,
      'F02',
      `The header is missing: ${why}, and an INFLOW CSV file starts with its H line (H;INFLOW;1;sender;created;software).`,
    );
  }
  return refuse(1, 'F01', 'The file is not an INFLOW CSV or XML file: it is neither semicolon-separated nor XML.');
}

type XmlStart =
  { kind: 'doctype'; at: number } | { kind: 'element'; name: string; startTag: string | null; at: number } | { kind: 'unknown' };

/** xmlRoot looks past the XML prolog (declaration, PIs, comments, whitespace) at the DTD or root element, if in view. */
function xmlRoot(text: string): XmlStart {
  let i = 0;
  for (;;) {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
    const end = text.startsWith('<?', i) ? text.indexOf('?>', i + 2) : text.startsWith('<!--', i) ? text.indexOf('-->', i + 4) : null;
    if (end === null) break;
    if (end === -1) return { kind: 'unknown' }; // the prolog goes on past the sample
    i = end + (text[end] === '?' ? 2 : 3);
  }
  if (text.startsWith('<!DOCTYPE', i)) return { kind: 'doctype', at: i };
  const name = /^<([^\s/>!?<]+)/.exec(text.slice(i, i + 1024))?.[1];
  if (name === undefined) return { kind: 'unknown' }; // not well-formed: the reader says where
  const close = text.indexOf('>', i);
  return { kind: 'element', name, startTag: close === -1 ? null : text.slice(i, close + 1), at: i };
}

function lineAt(buf: Buffer, offset: number): number {
  let line = 1;
  for (let i = buf.indexOf(0x0a); i !== -1 && i < offset; i = buf.indexOf(0x0a, i + 1)) line++;
  return line;
}
