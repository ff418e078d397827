/**
 * The file-level checks that read the whole file (F01, F02, F03, F04, F05, F06): format by content, header,
 * trailer, encoding and record limit. Runs on the reader thread.
 */
import type { FileFormat, FileItem } from '../model/file-items';
import { checkHeader } from '../rules/header-checks';
import { FileTally } from '../rules/file-tally';
import type { FileFinding } from '../model/issue-catalogue';

export interface ScanResult {
  format: FileFormat | null;
  sender: string | null;
  records: number;
  findings: FileFinding[];
}

/** What the scan needs besides the file. */
export interface ScanOptions {
  allowedSenders: readonly string[];
  maxRecords: number;
}

/** FileScan: the file-level checks fed item by item, beside the records (pipeline/reader-thread.ts). */
export class FileScan {
  private readonly tally = new FileTally();
  private header: (FileItem & { kind: 'header' }) | null = null;
  private trailerLine = 0;

  constructor(
    private readonly format: FileFormat,
    private readonly opts: ScanOptions,
  ) {}

  /** add takes the file's next item; false once past the record limit (F06: the rest does not matter). */
  add(item: FileItem): boolean {
    if (item.kind === 'header' && this.header === null) this.header = item;
    if (item.kind === 'trailer') this.trailerLine = item.line;
    this.tally.add(item);
    return this.tally.records <= this.opts.maxRecords; // past it, the tally's F06 says so
  }

  result(): ScanResult {
    const out: ScanResult = { format: this.format, sender: null, records: 0, findings: [] };
    const totals = this.tally.finish({ maxRecords: this.opts.maxRecords });
    out.records = totals.records;
    out.sender = this.header?.fields.sender ?? null;
    const headerFindings = checkHeader(this.header, this.opts.allowedSenders);
    for (const f of headerFindings) out.findings.push({ ...f, line: this.header?.line ?? 1 });
    for (const f of totals.findings) {
      if (headerFindings.some((h) => h.code === f.code)) continue; // a missing header is said once
      out.findings.push({ ...f, line: f.code === 'F04' ? this.trailerLine : 0 });
    }
    return out;
  }
}

/** unreadable: the scan of a file whose format cannot be told (F01, or F05 for bad bytes at its start). */
export function unreadable(fatal: { code: FileFinding['code']; line: number; message: string }): ScanResult {
  return {
    format: null,
    sender: null,
    records: 0,
    findings: [{ code: fatal.code, field: 'file', line: fatal.line, message: fatal.message }],
  };
}
