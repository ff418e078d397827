/** readFileItems picks the streaming reader for a detected format. */
import type { FileFormat, FileItem } from '../model/file-items';
import { readCsvFile } from './csv-file';
import { readXmlFile } from './xml-file';

/** readFileItems streams a file's items, whatever its format. */
export function readFileItems(file: string, format: FileFormat): AsyncIterable<FileItem> {
  return format === 'xml' ? readXmlFile(file) : readCsvFile(file);
}
