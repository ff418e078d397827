/**
 * The JSON receipt of the web services (docs/web-services.md): `{header, issues}`, the header's and issues' fields
 * as the CSV and XML receipts give them, plus each anomaly's state now. Rendered issue by issue: a receipt of a
 * file of millions of records never sits whole in memory.
 */
import type { ReceiptHeader, ReceiptIssues } from './receipt';

/** jsonReceiptChunks renders the receipt as JSON text, in pieces. */
export async function* jsonReceiptChunks(h: ReceiptHeader, issues: ReceiptIssues): AsyncIterable<string> {
  yield `{"header":${JSON.stringify(h)},"issues":[`;
  let separator = '';
  for await (const i of issues) {
    yield separator + JSON.stringify(i);
    separator = ',';
  }
  yield ']}';
}
