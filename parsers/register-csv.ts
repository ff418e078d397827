/** Streams the rows of a vehicle register extract (semicolon CSV with a header row), with their line numbers. */
import fs from 'node:fs';
import { parse } from 'csv-parse';

export interface RegisterRow {
  line: number;
  fields: string[];
}

/** readRegisterCsv yields the header row first (line 1), then every data row; blank lines are skipped. */
export async function* readRegisterCsv(file: string): AsyncIterable<RegisterRow> {
  const parser = fs
    .createReadStream(file)
    .pipe(parse({ delimiter: ';', bom: true, relax_column_count: true, skip_empty_lines: true, info: true, max_record_size: 65536 }));
  for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
    yield { line: info.lines, fields: record };
  }
}
