/** Writes a processed file's receipt from what the store holds, so a replay rewrites the same receipt. */
import fs from 'node:fs';
import path from 'node:path';
import type { Store, FileRecord, StoredIssue } from '../store';
import { formatErrorNumber } from '../rules/error-number';
import { writeCsvReceipt } from '../receipts/csv-receipt';
import { writeXmlReceipt } from '../receipts/xml-receipt';
import type { ReceiptHeader, ReceiptIssue } from '../receipts/receipt';
import type { DataLayout } from '../config/layout';

/** receiptName is the receipt's file name in the sender's /receipts/ folder. */
export function receiptName(file: Pick<FileRecord, 'name' | 'format'>): string {
  return `${file.name}.receipt.${file.format === 'xml' ? 'xml' : 'csv'}`;
}

/**
 * receiptFormat: the detected format; for a file refused before detection (F06, F07, or F01/F02/F05 from detection
 * itself) the content decides (first non-blank character `<` after a BOM → xml, as detection would), else a name
 * ending in `.xml` unless the file starts with an H line (an empty or binary `x.xml` was meant as XML).
 */
export function receiptFormat(file: Pick<FileRecord, 'name' | 'format' | 'storedPath'>): 'csv' | 'xml' {
  if (file.format === 'xml' || file.format === 'csv') return file.format;
  let head = '';
  try {
    const fd = fs.openSync(file.storedPath, 'r');
    try {
      const buf = Buffer.alloc(512);
      head = buf.subarray(0, fs.readSync(fd, buf, 0, buf.length, 0)).toString('latin1');
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // the stored file is gone: the name decides
  }
  const text = head.replace(/^\xef\xbb\xbf/, '').trimStart();
  if (text.startsWith('<')) return 'xml';
  return /\.xml$/i.test(file.name) && !/^H(;|\r?\n|$)/.test(text) ? 'xml' : 'csv';
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

/**
 * receiptIssueOf: a stored issue as a receipt gives it (and an observation's status, docs/observations.md). An XML
 * record's issue is stored under the record's position, with the line its element starts on beside it: both are
 * given.
 */
export function receiptIssueOf(i: StoredIssue): ReceiptIssue {
  const numbered = i.severity === 'E' || i.severity === 'A';
  return {
    errorNumber: numbered ? formatErrorNumber(i.id) : null,
    line: i.startLine ?? i.line,
    reading: i.startLine === null ? null : i.line,
    ref: i.ref,
    vin: i.vin,
    code: i.code,
    severity: i.severity,
    field: i.field,
    correctable: i.correctable,
    message: i.message,
    state: i.state,
  };
}

/** receiptIssuesOf streams a file's issues as receipt lines. */
export async function* receiptIssuesOf(store: Store, filePk: number): AsyncIterable<ReceiptIssue> {
  for await (const i of store.issues.stream(filePk)) yield receiptIssueOf(i);
}

/** writeReceipt writes the receipt into the account's receipts folder and returns its path (on this host). */
export async function writeReceipt(store: Store, layout: DataLayout, file: FileRecord): Promise<string> {
  const format = receiptFormat({ ...file, storedPath: layout.filesPath(file.storedPath) });
  const target = path.join(layout.receiptsDir(file.account), receiptName({ name: file.name, format }));
  const write = format === 'xml' ? writeXmlReceipt : writeCsvReceipt;
  await write(target, receiptHeaderOf(file), receiptIssuesOf(store, file.pk));
  return target;
}
