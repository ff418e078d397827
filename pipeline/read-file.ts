/**
 * Reading a file once, start to end: every item goes to both the file-level checks (FileScan) and the Batcher
 * (the stateless record checks). Runs on the reader thread (pipeline/reader-thread.ts), which only adds the
 * messages, the credits and the spool around it.
 */
import { FileScan, unreadable, type ScanOptions, type ScanResult } from './file-scan';
import { Batcher, type BatchOptions, type BufferSource, type RecordBatch } from './batcher';
import { detectFormat } from '../parsers/detect-format';
import { readFileItems } from '../parsers/read-file-items';
import { checkHeader } from '../rules/header-checks';

export type ReadOptions = ScanOptions & Omit<BatchOptions, 'format'>;

export interface ReadResult {
  verdict: ScanResult;
  /** The file's last batch, when its records are to be stored (the verdict passed); null otherwise. */
  last: RecordBatch | null;
}

/**
 * readFile reads `path`, handing each full batch to `onBatch` as it is made, and returns the verdict of the
 * file-level checks. No batch is made when the header already fails (wrong format, version or sender: nothing
 * could be stored); past the record limit (F06) the rest of the file is not read.
 */
export async function readFile(
  path: string,
  opts: ReadOptions,
  buffers: BufferSource,
  onBatch: (b: RecordBatch) => void,
): Promise<ReadResult> {
  const detected = await detectFormat(path);
  if (!('format' in detected)) return { verdict: unreadable(detected.fatal), last: null };
  const scan = new FileScan(detected.format, opts);
  const batcher = new Batcher({ ...opts, format: detected.format }, buffers);
  let storing: boolean | null = null; // decided by the first item: a header that passes its checks
  for await (const item of readFileItems(path, detected.format)) {
    if (!scan.add(item)) break;
    storing ??= item.kind === 'header' && checkHeader(item, opts.allowedSenders).length === 0;
    if (!storing) continue;
    batcher.add(item, onBatch);
  }
  const verdict = scan.result();
  return { verdict, last: storing && verdict.findings.length === 0 ? batcher.flush() : null };
}
