/**
 * The file-level checks that read the whole file (F01, F02, F03, F04, F05, F06): format by content, header,
 * trailer, encoding and record limit. Reads only the file: it runs on the reader thread.
 */
import { detectFormat } from '../parsers/detect-format';
import { readBatch } from '../parsers/read-batch';
import type { BatchFormat, BatchItem } from '../parsers/types';
import { checkHeader } from '../schemas/header-checks';
import { FileTally } from '../schemas/file-tally';
import type { Finding } from '../schemas/issue-catalogue';

/** A file-level problem with the line it was found on (0: the file as a whole). */
export interface FileFinding extends Finding {
  line: number;
}

export interface ScanResult {
  format: BatchFormat | null;
  sender: string | null;
  records: number;
  findings: FileFinding[];
}

/** scanFile reads the whole file once and returns its file-level findings (none: its records may be stored). */
export async function scanFile(path: string, opts: { allowedSenders: readonly string[]; maxRecords: number }): Promise<ScanResult> {
  const out: ScanResult = { format: null, sender: null, records: 0, findings: [] };
  const detected = await detectFormat(path);
  if ('fatal' in detected) {
    out.findings.push({ code: detected.fatal.code, field: 'file', line: detected.fatal.line, message: detected.fatal.message });
    return out;
  }
  out.format = detected.format;
  const tally = new FileTally();
  let header: (BatchItem & { kind: 'header' }) | null = null;
  let trailerLine = 0;
  let records = 0;
  let overLimit = false;
  for await (const item of readBatch(path, detected.format, { countsOnly: true })) {
    if (item.kind === 'header' && header === null) header = item;
    if (item.kind === 'trailer') trailerLine = item.line;
    if (item.kind === 'reading' || item.kind === 'malformed') records++;
    tally.add(item);
    if (records > opts.maxRecords) {
      overLimit = true; // F06: stop reading; the rest does not matter
      break;
    }
  }
  const totals = tally.finish({ maxRecords: opts.maxRecords });
  out.records = totals.records;
  out.sender = header?.fields.sender ?? null;
  const headerFindings = checkHeader(header, opts.allowedSenders);
  for (const f of headerFindings) out.findings.push({ ...f, line: header?.line ?? 1 });
  for (const f of totals.findings) {
    if (headerFindings.some((h) => h.code === f.code)) continue; // a missing header is said once
    out.findings.push({ ...f, line: f.code === 'F04' ? trailerLine : 0 });
  }
  if (overLimit && !out.findings.some((f) => f.code === 'F06')) {
    out.findings.push({ code: 'F06', field: 'file', line: 0, message: `more than ${opts.maxRecords} records` });
  }
  return out;
}
