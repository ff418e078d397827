/**
 * The streaming reader of XML batch files (SPEC §3.2): bytes → UTF-8 check → saxes → BatchItems, in bounded
 * memory whatever the file's size (the file is read in chunks; saxes keeps only the open tags and the current
 * token). fast-xml-parser was not used: it holds whole documents (stack-pitfalls §5). How elements map to items
 * is in parsers/xml-items.ts.
 *
 * Invalid UTF-8 ends the input at the bad byte: the items completed before it come out, then a fatal F05 for its
 * line (unless the XML before it was already not well-formed: the first problem in the file wins).
 */
import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { BatchItem } from './types';
import { Utf8Checker } from './utf8-guard';
import { XmlItems } from './xml-items';

const CHUNK_BYTES = 256 * 1024;

/** readXmlBatch streams the items of an XML batch file, in file order (see parsers/types.ts for the contract). */
export async function* readXmlBatch(path: string): AsyncIterable<BatchItem> {
  const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  const checker = new Utf8Checker();
  const decoder = new StringDecoder('utf8');
  const items = new XmlItems();
  let passed = 0;
  let first = true;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const bad = checker.check(chunk);
      let text = decoder.write(bad ? chunk.subarray(0, Math.max(0, bad.offset - passed)) : chunk);
      if (first && text.length > 0) {
        first = false;
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1); // the BOM SPEC §3 allows
      }
      items.write(text);
      yield* items.take();
      if (items.ended) return;
      if (bad) {
        yield utf8Fatal(bad.line);
        return;
      }
      passed += chunk.length;
    }
    const bad = checker.end();
    if (bad) {
      yield utf8Fatal(bad.line);
      return;
    }
    items.end();
    yield* items.take();
  } finally {
    stream.destroy();
  }
}

function utf8Fatal(line: number): BatchItem {
  return { kind: 'fatal', line, code: 'F05', message: 'The file is not valid UTF-8 on this line: it must be saved as UTF-8.' };
}
