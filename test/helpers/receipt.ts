/** Parsing a CSV receipt (docs/receipts.md) the way a sender's software would. */
import { parse } from 'csv-parse/sync';

export interface ParsedReceipt {
  fileId: string;
  name: string;
  sha256: string;
  received: string;
  processed: string;
  status: string;
  records: number;
  accepted: number;
  rejected: number;
  anomalies: number;
  warnings: number;
  issues: {
    errorNumber: string;
    line: number;
    /** XML receipts, an XML file's record: its position among the file's records. */
    reading?: number;
    ref: string;
    vin: string;
    code: string;
    severity: string;
    field: string;
    correctable: string;
    message: string;
  }[];
  trailerCount: number;
}

export function parseReceipt(text: string): ParsedReceipt {
  const rows: string[][] = parse(text, { delimiter: ';', relax_column_count: true });
  const h = rows[0];
  if (h[0] !== 'H' || h[1] !== 'INFLOW-RECEIPT' || h[2] !== '1' || h.length !== 14) throw new Error('bad receipt header: ' + h.join(';'));
  const t = rows[rows.length - 1];
  if (t[0] !== 'T' || t.length !== 2) throw new Error('bad receipt trailer: ' + t.join(';'));
  const issues = rows.slice(1, -1).map((r) => {
    if (r[0] !== 'I' || r.length !== 10) throw new Error('bad receipt issue line: ' + r.join(';'));
    return {
      errorNumber: r[1],
      line: Number(r[2]),
      ref: r[3],
      vin: r[4],
      code: r[5],
      severity: r[6],
      field: r[7],
      correctable: r[8],
      message: r[9],
    };
  });
  return {
    fileId: h[3],
    name: h[4],
    sha256: h[5],
    received: h[6],
    processed: h[7],
    status: h[8],
    records: Number(h[9]),
    accepted: Number(h[10]),
    rejected: Number(h[11]),
    anomalies: Number(h[12]),
    warnings: Number(h[13]),
    issues,
    trailerCount: Number(t[1]),
  };
}
