/** readFileItems picks the streaming reader for a detected format. */
import type { FileFormat, FileItem } from '../model/file-items';
import { readCsvFile, type ReadOptions } from './csv-file';
import { readXmlFile } from './xml-file';

/** readFileItems streams a batch file's items; `opts.countsOnly` lets the CSV reader skip what a file-level scan ignores. */
export function readFileItems(file: string, format: FileFormat, opts: ReadOptions = {}): AsyncIterable<FileItem> {
  return format === 'xml' ? readXmlFile(file) : readCsvFile(file, opts);
}
