/**
 * What the batch-file parsers yield. CSV and XML readers produce the same items, so the pipeline after them
 * does not know which format a file was in.
 */

/** How many fields follow the record type of an R record (ref, vin, plate, date, odometer, unit, work, replaced, digits, corrects). */
export const READING_FIELD_COUNT = 10;

/** The fields of one reading as sent, trimmed, '' when empty or absent. Same shape from CSV and XML. */
export interface RecordFields {
  ref: string;
  vin: string;
  plate: string;
  date: string;
  odometer: string;
  unit: string;
  work: string;
  replaced: string;
  digits: string;
  corrects: string;
}

/** The header (CSV `H` line, XML `<inflow>` attributes), as sent. */
export interface HeaderFields {
  format: string; // 'INFLOW' for CSV; 'INFLOW' for XML when the root is <inflow>
  version: string;
  sender: string;
  created: string;
  software: string;
}

/** The trailer (CSV `T` line, XML `<trailer>`), as sent. */
export interface TrailerFields {
  count: string;
  sum: string;
}

/**
 * One item of a batch file, in file order. `line` is the 1-based line where the item starts.
 * - header: always first when the file has a recognisable header (`fieldCount` lets the checks spot F02).
 * - reading: an R record (XML <reading>); `index` is its 1-based ordinal among readings; `fieldCount` is the
 *   number of fields after the record type (10 expected for CSV; always 10 for XML).
 * - malformed: a record line that is not a reading (unknown record type, unparseable quoting): an E10.
 * - trailer: the T record.
 * - fatal: the file cannot be read further (invalid UTF-8 → F05, not well-formed XML → F05, binary → F01);
 *   it is the last item.
 */
export type FileItem =
  | { kind: 'header'; line: number; fields: HeaderFields; fieldCount: number }
  | { kind: 'reading'; line: number; index: number; fields: RecordFields; fieldCount: number }
  | { kind: 'malformed'; line: number; message: string }
  | { kind: 'trailer'; line: number; fields: TrailerFields; fieldCount: number }
  | { kind: 'fatal'; line: number; code: 'F01' | 'F02' | 'F05'; message: string };

export type FileFormat = 'csv' | 'xml';
