/** The CSV receipt (docs/receipts.md): H line, one I line per issue, T line with the I count. */
import { csvField } from './safe-text';
import type { ReceiptHeader, ReceiptIssues } from './receipt';
import { writeAtomically } from './atomic-write';

/** csvReceiptLines renders a receipt line by line (CRLF-free, `\n` endings). */
export async function* csvReceiptLines(h: ReceiptHeader, issues: ReceiptIssues): AsyncIterable<string> {
  yield (
    [
      'H',
      'INFLOW-RECEIPT',
      '1',
      csvField(h.fileId),
      csvField(h.name),
      csvField(h.sha256),
      csvField(h.received),
      csvField(h.processed),
      h.status,
      h.records,
      h.accepted,
      h.rejected,
      h.anomalies,
      h.warnings,
    ].join(';') + '\n'
  );
  let n = 0;
  for await (const i of issues) {
    n++;
    yield (
      [
        'I',
        i.errorNumber ?? '',
        i.line,
        csvField(i.ref),
        csvField(i.vin),
        i.code,
        i.severity,
        csvField(i.field),
        i.correctable ? 'Y' : 'N',
        csvField(i.message),
      ].join(';') + '\n'
    );
  }
  yield `T;${n}\n`;
}

/** writeCsvReceipt writes the receipt atomically to `target`. */
export function writeCsvReceipt(target: string, h: ReceiptHeader, issues: ReceiptIssues): Promise<void> {
  return writeAtomically(target, csvReceiptLines(h, issues));
}
