/** readBatch picks the streaming reader for a detected format. */
import type { BatchFormat, BatchItem } from './types';
import { readCsvBatch } from './csv-batch';

export async function* readBatch(file: string, format: BatchFormat): AsyncIterable<BatchItem> {
  if (format === 'csv') {
    yield* readCsvBatch(file);
    return;
  }
  // XML batch files arrive with the XML reader (issue #5); until then they are refused as a whole.
  yield { kind: 'fatal', line: 1, code: 'F01', message: 'XML batch files are not accepted yet: send the CSV format' };
}
