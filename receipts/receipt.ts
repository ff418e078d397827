/** What a receipt says (docs/receipts.md), whatever its format. */
import type { IssueCode, Severity } from '../model/issue-catalogue';
import type { AnomalyState } from '../model/anomaly-state';

export type ReceiptStatus = 'ACCEPTED' | 'PARTIAL' | 'REJECTED' | 'DUPLICATE';

export interface ReceiptHeader {
  fileId: string;
  name: string;
  sha256: string;
  received: string;
  processed: string;
  status: ReceiptStatus;
  records: number;
  accepted: number;
  rejected: number;
  anomalies: number;
  warnings: number;
}

export interface ReceiptIssue {
  errorNumber: string | null;
  /** The line where the record starts; a file-level issue: where it was found, 0 for the file as a whole. */
  line: number;
  /** An XML file's record: its 1-based position among the file's records (the XML receipt's `reading`). */
  reading?: number | null;
  ref: string | null;
  vin: string | null;
  code: IssueCode;
  severity: Severity;
  field: string;
  correctable: boolean;
  message: string;
  /** Where an anomaly stands now (A issues; null for others). Not in the CSV or XML receipt: it changes after it. */
  state?: AnomalyState | null;
}

/** A receipt's issues, in receipt order: a list, or a stream from the store. */
export type ReceiptIssues = AsyncIterable<ReceiptIssue> | Iterable<ReceiptIssue>;

/** collectText joins a receipt's chunks (for a receipt printed whole). */
export async function collectText(chunks: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const c of chunks) out += c;
  return out;
}

/** Text handed to a stream at once at least (a receipt of millions of lines is not millions of writes). */
const PIECE_CHARS = 64 * 1024;

/** inPieces joins a receipt's chunks into pieces of about PIECE_CHARS, for a stream. */
export async function* inPieces(chunks: AsyncIterable<string>): AsyncIterable<string> {
  let piece = '';
  for await (const c of chunks) {
    piece += c;
    if (piece.length >= PIECE_CHARS) {
      yield piece;
      piece = '';
    }
  }
  if (piece) yield piece;
}
