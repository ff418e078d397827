/** readBatch picks the streaming reader for a detected format. */
import type { BatchFormat, BatchItem } from '../model/file-items';
import { readCsvBatch, type ReadOptions } from './csv-batch';
import { readXmlBatch } from './xml-batch';

/** readBatch streams a batch file's items; `opts.countsOnly` lets the CSV reader skip what a file-level scan ignores. */
export function readBatch(file: string, format: BatchFormat, opts: ReadOptions = {}): AsyncIterable<BatchItem> {
  return format === 'xml' ? readXmlBatch(file) : readCsvBatch(file, opts);
}
