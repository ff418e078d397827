/**
 * An observation: one reading sent on its own through the web services (docs/observations.md), checked by the same
 * pipeline as a batch file's records. This is only the vocabulary; the store keeps them, the pipeline decides.
 */
import type { RecordFields } from './file-items';

/** PENDING until the pipeline has checked it; then ACCEPTED, FLAGGED (an A issue) or REJECTED (an E issue). */
export const OBSERVATION_STATUSES = ['PENDING', 'ACCEPTED', 'FLAGGED', 'REJECTED'] as const;
export type ObservationStatus = (typeof OBSERVATION_STATUSES)[number];

/** The DMS that sent it: the `client-software-builder`, `-name` and `-version` headers. */
export interface ClientSoftware {
  builder: string;
  name: string;
  version: string;
}

/**
 * One reading as a DMS sends it (SPEC §11): the fields of an R record, `sender` being a fleet's establishment. The
 * JSON shape is checked at the edge (JSON Schema); the values are judged by the record checks, as a file's are.
 */
export interface ObservationInput {
  ref?: string;
  vin?: string;
  plate?: string;
  date: string;
  odometer: number | string;
  unit: string;
  work: string;
  replaced?: string | boolean;
  digits?: number | string;
  corrects?: string;
  sender?: string;
}

/** recordFieldsOf turns an observation's input into a record's fields as a file would give them ('' when absent). */
export function recordFieldsOf(input: ObservationInput): RecordFields {
  const text = (v: string | number | undefined | null) => (v === undefined || v === null ? '' : String(v).trim());
  const replaced = input.replaced === true ? 'Y' : input.replaced === false ? 'N' : text(input.replaced);
  return {
    ref: text(input.ref),
    vin: text(input.vin),
    plate: text(input.plate),
    date: text(input.date),
    odometer: text(input.odometer),
    unit: text(input.unit),
    work: text(input.work),
    replaced,
    digits: text(input.digits),
    corrects: text(input.corrects),
  };
}
