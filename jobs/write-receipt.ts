/** Writes a processed file's receipt from what the store holds, so a replay rewrites the same receipt. */
import path from 'node:path';
import type { Store, FileRecord } from '../store';
import { formatErrorNumber } from '../schemas/error-number';
import { writeCsvReceipt } from '../receipts/csv-receipt';
import type { ReceiptHeader, ReceiptIssue } from '../receipts/receipt';
import type { DataLayout } from '../config/layout';

/** receiptName is the receipt's file name in the sender's /receipts/ folder. */
export function receiptName(file: Pick<FileRecord, 'name' | 'format'>): string {
  return `${file.name}.receipt.${file.format === 'xml' ? 'xml' : 'csv'}`;
}

/** receiptHeaderOf builds the receipt header of a finished file. */
export function receiptHeaderOf(file: FileRecord): ReceiptHeader {
  return {
    fileId: file.id,
    name: file.name,
    sha256: file.sha256,
    received: file.receivedAt,
    processed: file.processedAt ?? '',
    status: file.result ?? 'REJECTED',
    records: file.records ?? 0,
    accepted: file.accepted ?? 0,
    rejected: file.rejected ?? 0,
    anomalies: file.anomalies ?? 0,
    warnings: file.warnings ?? 0,
  };
}

/** receiptIssuesOf streams a file's issues as receipt lines. */
export function* receiptIssuesOf(store: Store, filePk: number): IterableIterator<ReceiptIssue> {
  for (const i of store.issues.iterateForFile(filePk)) {
    const numbered = i.severity === 'E' || i.severity === 'A';
    yield {
      errorNumber: numbered ? formatErrorNumber(i.id) : null,
      line: i.line,
      ref: i.ref,
      vin: i.vin,
      code: i.code,
      severity: i.severity,
      field: i.field,
      correctable: i.correctable,
      message: i.message,
    };
  }
}

/** writeReceipt writes the receipt into the account's receipts folder and returns its path. */
export async function writeReceipt(store: Store, layout: DataLayout, file: FileRecord): Promise<string> {
  const target = path.join(layout.receiptsDir(file.account), receiptName(file));
  await writeCsvReceipt(target, receiptHeaderOf(file), receiptIssuesOf(store, file.pk));
  return target;
}
