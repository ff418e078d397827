/**
 * The JSON Schemas of the web services' inputs and outputs. Fastify validates requests and serialises answers with
 * them, and the OpenAPI document (/api/v1/openapi.json, docs/openapi.json) is generated from them: one definition.
 */
import { ANOMALY_STATES } from '../model/anomaly-state';
import { WORK_TYPES } from '../model/reading';
import { SEVERITIES } from '../model/issue-catalogue';
import { OBSERVATION_STATUSES } from '../model/observation';
import { FILE_RESULTS, FILE_STATUSES } from '../store';
import { PROBLEM_SCHEMA, PROBLEM_TYPE } from './problems';

const nullable = (type: string) => ({ type: [type, 'null'] });

/** The DMS headers that identify the client software (Car-Pass's); required on the observation and file routes. */
export const CLIENT_HEADERS = ['client-software-builder', 'client-software-name', 'client-software-version'] as const;

export const CLIENT_HEADERS_SCHEMA = {
  type: 'object',
  required: [...CLIENT_HEADERS],
  properties: Object.fromEntries(
    CLIENT_HEADERS.map((h) => [h, { type: 'string', minLength: 1, maxLength: 100, description: `The DMS's ${h.slice(16)}` }]),
  ),
} as const;

export const FILE_SCHEMA = {
  $id: 'File',
  type: 'object',
  required: ['id', 'account', 'name', 'sha256', 'status', 'result', 'receivedAt'],
  properties: {
    id: { type: 'string', description: 'file id, F and six or more digits' },
    account: { type: 'string', description: 'establishment number of the uploading account' },
    name: { type: 'string' },
    sha256: { type: 'string' },
    status: { type: 'string', enum: [...FILE_STATUSES] },
    result: { type: ['string', 'null'], enum: [...FILE_RESULTS, null] },
    receivedAt: { type: 'string' },
    processedAt: nullable('string'),
    size: { type: 'integer' },
    format: nullable('string'),
    records: nullable('integer'),
    accepted: nullable('integer'),
    rejected: nullable('integer'),
    anomalies: nullable('integer'),
    warnings: nullable('integer'),
    duplicateOf: nullable('string'),
  },
} as const;

export const ISSUE_SCHEMA = {
  $id: 'Issue',
  type: 'object',
  required: ['errorNumber', 'code', 'severity', 'field', 'correctable', 'message', 'state'],
  properties: {
    errorNumber: { type: ['string', 'null'], description: 'E and A issues only: the number a correction quotes' },
    line: { type: 'integer' },
    reading: { type: ['integer', 'null'], description: "an XML record's position among the file's records" },
    ref: nullable('string'),
    vin: nullable('string'),
    code: { type: 'string' },
    severity: { type: 'string', enum: [...SEVERITIES] },
    field: { type: 'string' },
    correctable: { type: 'boolean' },
    message: { type: 'string' },
    state: { type: ['string', 'null'], enum: [...ANOMALY_STATES, null], description: 'where an anomaly stands now' },
  },
} as const;

export const RECEIPT_SCHEMA = {
  $id: 'Receipt',
  type: 'object',
  required: ['header', 'issues'],
  properties: {
    header: {
      type: 'object',
      required: ['fileId', 'name', 'sha256', 'received', 'processed', 'status', 'records', 'accepted', 'rejected', 'anomalies', 'warnings'],
      properties: {
        fileId: { type: 'string' },
        name: { type: 'string' },
        sha256: { type: 'string' },
        received: { type: 'string' },
        processed: { type: 'string' },
        status: { type: 'string', enum: [...FILE_RESULTS] },
        records: { type: 'integer' },
        accepted: { type: 'integer' },
        rejected: { type: 'integer' },
        anomalies: { type: 'integer' },
        warnings: { type: 'integer' },
      },
    },
    issues: { type: 'array', items: { $ref: 'Issue#' } },
  },
} as const;

const DESCRIPTIONS = {
  type: 'object',
  required: ['nl', 'fr', 'de', 'en'],
  properties: { nl: { type: 'string' }, fr: { type: 'string' }, de: { type: 'string' }, en: { type: 'string' } },
} as const;

export const ACTIVITY_SCHEMA = {
  $id: 'Activity',
  type: 'object',
  required: ['code', 'description'],
  properties: { code: { type: 'string', enum: [...WORK_TYPES] }, description: DESCRIPTIONS },
} as const;

export const LABEL_SCHEMA = {
  $id: 'LabelDecision',
  type: 'object',
  description: 'the same object as `inflow label --json` (docs/label.md)',
  required: ['vin', 'mileage', 'date', 'issued', 'reasons', 'readings', 'lastReading'],
  properties: {
    vin: { type: 'string' },
    mileage: { type: 'integer' },
    date: { type: 'string' },
    issued: { type: 'boolean' },
    reasons: {
      type: 'array',
      items: {
        type: 'object',
        required: ['rule', 'code', 'message'],
        properties: { rule: { type: 'integer', minimum: 1, maximum: 8 }, code: { type: 'string' }, message: { type: 'string' } },
      },
    },
    readings: { type: 'integer' },
    lastReading: {
      type: ['object', 'null'],
      properties: {
        date: { type: 'string' },
        odometer: { type: 'integer' },
        unit: { type: 'string', enum: ['km', 'mi'] },
        km: { type: 'integer' },
        digits: nullable('integer'),
        sender: { type: 'string' },
      },
    },
    firstRegistration: nullable('string'),
    ageMonths: nullable('integer'),
    ageFrom: { type: ['string', 'null'], enum: ['first registration', 'first reading', null] },
    inRegister: { type: 'boolean' },
  },
} as const;

const text = (description: string) => ({ type: 'string', description }) as const;

/** The reading's fields (an R record's, docs/formats.md), as JSON: the shape only; the values are judged as a file's. */
export const READING_PROPERTIES = {
  ref: text("the DMS's own reference (work order)"),
  vin: text('the VIN; a VIN or a plate is needed'),
  plate: text('the Belgian plate, when there is no VIN'),
  date: text('the date of the reading, YYYY-MM-DD'),
  odometer: { type: 'integer', description: 'the odometer as shown, in `unit`' },
  unit: text('km or mi'),
  work: text('the work type: GET /activities'),
  replaced: { type: 'boolean', description: 'the odometer was replaced at this visit' },
  digits: { type: 'integer', description: "the odometer's number of digits, when it rolls over" },
} as const;

export const CORRECTS = text('the error number (E or A issue) this reading corrects');
export const SENDER = text("the establishment the reading is sent for: a fleet's; default the account's");

export const OBSERVATION_SCHEMA = {
  $id: 'Observation',
  type: 'object',
  required: ['id', 'status', 'sender', 'received', 'processed', 'reading', 'issues', 'correctionOf'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    status: { type: 'string', enum: [...OBSERVATION_STATUSES] },
    sender: { type: 'string' },
    received: { type: 'string' },
    processed: { type: ['string', 'null'] },
    reading: {
      type: 'object',
      description: 'the reading as sent (a correction with the error number it corrects)',
      properties: { ...READING_PROPERTIES, corrects: CORRECTS },
    },
    issues: { type: 'array', items: { $ref: 'Issue#' }, description: 'as a receipt gives them' },
    correctionOf: { type: ['string', 'null'], description: 'the observation this one corrects or confirms' },
  },
} as const;

/** Every shared schema, added to the app once (the OpenAPI document lists them under components.schemas). */
export const SHARED_SCHEMAS = [
  PROBLEM_SCHEMA,
  FILE_SCHEMA,
  ISSUE_SCHEMA,
  RECEIPT_SCHEMA,
  ACTIVITY_SCHEMA,
  LABEL_SCHEMA,
  OBSERVATION_SCHEMA,
];

/** json: a response of `schema` as application/json. */
export function json(description: string, schema: object) {
  return { description, content: { 'application/json': { schema } } };
}

const PROBLEM_TEXTS: Record<number, string> = {
  400: 'invalid input: the fields at fault are in `errors`',
  401: 'no or wrong credentials (HTTP Basic), or a locked login',
  403: "the account's role may not call this route",
  404: 'no such resource, or not one of this account',
  406: 'none of the accepted media types can be given',
  408: 'the body stopped arriving',
  409: 'conflict with the current state',
  413: 'the body is over the size limit',
  415: 'the body is not of a content type this route takes',
  429: "over the account's request rate: see Retry-After",
  500: 'internal error (logged; no details given)',
  503: 'the registry is busy or stopping: see Retry-After',
};

/** problems: the error answers of a route, each a Problem in application/problem+json. */
export function problems(...statuses: number[]) {
  return Object.fromEntries(
    [...statuses, 401, 429, 500].map((s) => [
      s,
      { description: PROBLEM_TEXTS[s], content: { [PROBLEM_TYPE]: { schema: { $ref: 'Problem#' } } } },
    ]),
  );
}
