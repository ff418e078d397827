/**
 * The streaming reader of XML batch files (docs/formats.md): bytes → UTF-8 check → the plain reader, or saxes →
 * BatchItems, in bounded memory whatever the file's size (the file is read in chunks; saxes keeps only the open
 * tags and the current token, the plain reader one token). fast-xml-parser was not used: it holds whole documents
 * in memory. How elements map to items is in parsers/xml-items.ts; the plain reader's fast path for the
 * usual shape of a file, in parsers/xml-plain.ts.
 *
 * Invalid UTF-8 ends the input at the bad byte: the items completed before it come out, then a fatal F05 for its
 * line (unless the XML before it was already not well-formed: the first problem in the file wins).
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { FileItem } from '../model/file-items';
import { Utf8Checker } from './utf8-guard';
import { XmlItems } from './xml-items';
import { PlainXmlItems } from './xml-plain';

const CHUNK_BYTES = 256 * 1024;

/**
 * readXmlFile streams the items of an XML batch file, in file order (model/file-items.ts says what each item is). The
 * plain reader (parsers/xml-plain.ts) goes first; at the first thing it does not take, the file is read again with
 * saxes from the start and the items already given are skipped (a file that is not plain near its end is parsed
 * about one and a half times).
 */
export async function* readXmlFile(path: string): AsyncIterable<FileItem> {
  const plain = new PlainXmlItems();
  let given = 0;
  for await (const item of readWith(path, plain)) {
    given++;
    yield item;
  }
  if (!plain.gaveUp) return;
  for await (const item of readWith(path, new XmlItems())) {
    if (given > 0) given--;
    else yield item;
  }
}

/** readXmlBatchWithSaxes: saxes alone, without the plain reader first (the reference test/parsers-xml-plain.test.ts compares with). */
export function readXmlBatchWithSaxes(path: string): AsyncIterable<FileItem> {
  return readWith(path, new XmlItems());
}

/** readWith: bytes → UTF-8 check → `items` → BatchItems. */
async function* readWith(path: string, items: XmlItems | PlainXmlItems): AsyncIterable<FileItem> {
  const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  const checker = new Utf8Checker();
  const decoder = new StringDecoder('utf8');
  let passed = 0;
  let first = true;
  // Invalid UTF-8 is XmlItems' to report (the plain reader gives up: the XML before it may not be well-formed).
  const badBytes = (line: number): FileItem[] => {
    if (items instanceof PlainXmlItems) {
      items.giveUp();
      return [];
    }
    return [utf8Fatal(line)];
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const bad = checker.check(chunk);
      let text = decoder.write(bad ? chunk.subarray(0, Math.max(0, bad.offset - passed)) : chunk);
      if (first && text.length > 0) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // a leading BOM is allowed (docs/formats.md)
      }
      items.write(text);
      yield* items.take();
      if (items.ended) return;
      if (bad) {
        yield* badBytes(bad.line);
        return;
      }
      passed += chunk.length;
    }
    const bad = checker.end();
    if (bad) {
      yield* badBytes(bad.line);
      return;
    }
    items.end();
    yield* items.take();
  } finally {
    stream.destroy();
  }
}

function utf8Fatal(line: number): FileItem {
  return { kind: 'fatal', line, code: 'F05', message: 'The file is not valid UTF-8 on this line: it must be saved as UTF-8.' };
}
