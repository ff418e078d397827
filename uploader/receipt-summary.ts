/** Reading a receipt (docs/receipts.md, CSV or XML) the way the uploader's `--wait` reports it to a DMS. */
import { parse } from 'csv-parse/sync';
import { XMLParser } from 'fast-xml-parser';

export interface ReceiptIssueLine {
  errorNumber: string;
  line: number;
  ref: string;
  vin: string;
  code: string;
  severity: string;
  field: string;
  correctable: string;
  message: string;
}

export interface ReceiptSummary {
  fileId: string;
  name: string;
  sha256: string;
  status: string;
  records: number;
  accepted: number;
  rejected: number;
  anomalies: number;
  warnings: number;
  issues: ReceiptIssueLine[];
}

/** parseReceiptText reads a CSV or an XML receipt; throws when it is neither (e.g. a receipt being written). */
export function parseReceiptText(text: string): ReceiptSummary {
  const body = text.replace(/^\ufeff/, '');
  return body.trimStart().startsWith('<') ? parseXml(body) : parseCsv(body);
}

function parseCsv(text: string): ReceiptSummary {
  const rows: string[][] = parse(text, { delimiter: ';', relax_column_count: true, relax_quotes: true });
  const h = rows[0];
  if (!h || h[0] !== 'H' || h[1] !== 'INFLOW-RECEIPT' || h.length < 14) throw new Error('not an INFLOW receipt');
  if (rows[rows.length - 1]?.[0] !== 'T') throw new Error('receipt without its trailer');
  const issues = rows
    .filter((r) => r[0] === 'I')
    .map((r) => ({
      errorNumber: r[1] ?? '',
      line: Number(r[2]),
      ref: r[3] ?? '',
      vin: r[4] ?? '',
      code: r[5] ?? '',
      severity: r[6] ?? '',
      field: r[7] ?? '',
      correctable: r[8] ?? '',
      message: r[9] ?? '',
    }));
  return {
    fileId: h[3],
    name: h[4],
    sha256: h[5],
    status: h[8],
    records: Number(h[9]),
    accepted: Number(h[10]),
    rejected: Number(h[11]),
    anomalies: Number(h[12]),
    warnings: Number(h[13]),
    issues,
  };
}

function parseXml(text: string): ReceiptSummary {
  const doc = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    textNodeName: 'text',
    parseAttributeValue: false,
    parseTagValue: false,
    processEntities: true,
    isArray: (name) => name === 'issue',
  }).parse(text);
  const r = doc?.receipt;
  if (!r || r.format !== 'INFLOW-RECEIPT' || !r.trailer) throw new Error('not an INFLOW receipt');
  const issues = ((r.issue ?? []) as Record<string, string>[]).map((i) => ({
    errorNumber: i.errorNumber ?? '',
    line: Number(i.line),
    ref: i.ref ?? '',
    vin: i.vin ?? '',
    code: i.code ?? '',
    severity: i.severity ?? '',
    field: i.field ?? '',
    correctable: i.correctable ?? '',
    message: typeof i === 'string' ? i : (i.text ?? ''),
  }));
  return {
    fileId: r.fileId,
    name: r.name,
    sha256: r.sha256,
    status: r.status,
    records: Number(r.records),
    accepted: Number(r.accepted),
    rejected: Number(r.rejected),
    anomalies: Number(r.anomalies),
    warnings: Number(r.warnings),
    issues,
  };
}

/** Exit codes of `inflow upload --wait` (besides 1 for a failed upload). */
export const EXIT_REJECTED = 3;
export const EXIT_NO_RECEIPT = 4;

/** exitCodeOf: 0 for ACCEPTED and PARTIAL, 3 for REJECTED and DUPLICATE (nothing of the file was taken in). */
export function exitCodeOf(status: string): number {
  return status === 'ACCEPTED' || status === 'PARTIAL' ? 0 : EXIT_REJECTED;
}

/** summaryText renders a receipt for a DMS log: the status and counts, then one line per issue (up to `max`). */
export function summaryText(s: ReceiptSummary, receiptPath: string, max = 1000): string {
  const lines = [
    `${s.name}: ${s.status} (file ${s.fileId}) records ${s.records}, accepted ${s.accepted}, rejected ${s.rejected}, ` +
      `anomalies ${s.anomalies}, warnings ${s.warnings}`,
  ];
  for (const i of s.issues.slice(0, max)) {
    lines.push(`  line ${i.line}  ${i.code} ${i.severity}  ${i.errorNumber || '-'}  ${i.vin || '-'}  ${i.field}  ${i.message}`);
  }
  if (s.issues.length > max) lines.push(`  ... ${s.issues.length - max} more issues in ${receiptPath}`);
  return lines.join('\n') + '\n';
}
