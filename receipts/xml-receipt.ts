/**
 * The XML receipt (docs/receipts.md; shape in schemas/inflow-receipt-1.xsd): the CSV receipt's H fields as attributes of
 * `<receipt>`, one `<issue>` per I line (attributes, the message as text), `<trailer count=>` as the T line.
 * Text is cleaned as for the CSV receipt (cleanText: no control characters, same length cap) and XML-escaped; the
 * CSV's leading `'` against spreadsheet formulas is not added, since XML cells are not formulas. An absent error
 * number, reading index, ref or VIN is an absent attribute.
 */
import { cleanText } from '../model/text';
import type { ReceiptHeader, ReceiptIssues } from './receipt';
import { writeAtomically } from './atomic-write';

/** xmlReceiptChunks renders a receipt element by element (`\n` line endings). */
export async function* xmlReceiptChunks(h: ReceiptHeader, issues: ReceiptIssues): AsyncIterable<string> {
  yield '<?xml version="1.0" encoding="UTF-8"?>\n';
  yield (
    `<receipt format="INFLOW-RECEIPT" version="1" fileId=${attr(h.fileId)} name=${attr(h.name)} sha256=${attr(h.sha256)}` +
    ` received=${attr(h.received)} processed=${attr(h.processed)} status="${h.status}" records="${h.records}"` +
    ` accepted="${h.accepted}" rejected="${h.rejected}" anomalies="${h.anomalies}" warnings="${h.warnings}">\n`
  );
  let n = 0;
  for await (const i of issues) {
    n++;
    const optional = (name: string, v: string | null) => (v ? ` ${name}=${attr(v)}` : '');
    yield (
      `  <issue${optional('errorNumber', i.errorNumber)} line="${i.line}"${i.reading ? ` reading="${i.reading}"` : ''}` +
      `${optional('ref', i.ref)}${optional('vin', i.vin)}` +
      ` code="${i.code}" severity="${i.severity}" field=${attr(i.field)} correctable="${i.correctable ? 'Y' : 'N'}">` +
      `${escape(cleanText(i.message))}</issue>\n`
    );
  }
  yield `  <trailer count="${n}"/>\n</receipt>\n`;
}

/** writeXmlReceipt writes the XML receipt atomically to `target`. */
export function writeXmlReceipt(target: string, h: ReceiptHeader, issues: ReceiptIssues): Promise<void> {
  return writeAtomically(target, xmlReceiptChunks(h, issues));
}

function attr(v: string): string {
  return `"${escape(cleanText(v))}"`;
}

/** escape makes cleaned text safe in XML content and attributes; characters XML cannot hold become U+FFFD. */
function escape(s: string): string {
  return s
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|[\ufffe\uffff]/g, '\ufffd')
    .replace(/[&<>"]/g, (c) => (c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;'));
}
