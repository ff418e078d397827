/**
 * Errors as RFC 9457 problem details (`application/problem+json`): one shape for every refusal of the web services,
 * with the field at fault where there is one, and never a stack trace or an internal message: an unexpected error
 * is audited and answered 500 with a fixed text.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { cleanText } from '../model/text';
import { TransferStalledError } from '../intake/upload-stream';
import { ObservationRefused } from '../intake/observation-errors';

export const PROBLEM_TYPE = 'application/problem+json';

export interface FieldError {
  field: string;
  message: string;
}

/** The titles of the statuses the web services answer with (RFC 9110). */
const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  406: 'Not Acceptable',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** A refusal a handler or hook throws: the error handler answers it as a problem. */
export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly options: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
  }
}

/** problemBody: the JSON of a problem. `type` is a URN per status, so that a client can switch on it. */
export function problemBody(status: number, detail: string, errors?: FieldError[]) {
  return {
    type: `urn:odo-inflow:problem:${status}`,
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    ...(errors && errors.length ? { errors } : {}),
  };
}

/** sendProblem answers `problem`, with its headers. */
export function sendProblem(reply: FastifyReply, p: HttpProblem): FastifyReply {
  for (const [k, v] of Object.entries(p.options.headers ?? {})) reply.header(k, v);
  return reply
    .code(p.status)
    .type(PROBLEM_TYPE)
    .send(problemBody(p.status, p.detail, p.options.errors));
}

/** What an ajv error of fastify's validation says, as a field and a message. */
interface ValidationItem {
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** fieldErrors: fastify's validation errors as {field, message}; the field is the parameter, header or JSON path. */
export function fieldErrors(items: ValidationItem[], context: string | undefined): FieldError[] {
  return items.map((v) => {
    const parts = v.instancePath.split('/').filter(Boolean);
    if (typeof v.params.missingProperty === 'string') parts.push(v.params.missingProperty);
    if (typeof v.params.additionalProperty === 'string') parts.push(v.params.additionalProperty);
    const where =
      context === 'querystring' ? 'query parameter' : context === 'params' ? 'path parameter' : context === 'headers' ? 'header' : 'field';
    const allowed = Array.isArray(v.params.allowedValues) ? `: ${v.params.allowedValues.join(', ')}` : '';
    return { field: parts.join('.') || context || 'body', message: `${where} ${cleanText(v.message ?? 'is invalid', 200)}${allowed}` };
  });
}

/**
 * problemOf maps any error to the problem the client sees: an HttpProblem as it is, fastify's own refusals (schema,
 * content type, body size, JSON syntax) to theirs, anything else to 500 (`internal` is true: the caller audits it).
 */
export function problemOf(err: FastifyError | HttpProblem | Error): { problem: HttpProblem; internal: boolean } {
  if (err instanceof HttpProblem) return { problem: err, internal: false };
  const e = err as FastifyError;
  if (err instanceof ObservationRefused) return { problem: observationProblem(err), internal: false };
  if (err instanceof TransferStalledError)
    return { problem: new HttpProblem(408, err.message, { headers: { Connection: 'close' } }), internal: false };
  if (e.validation) {
    const errors = fieldErrors(e.validation as unknown as ValidationItem[], e.validationContext);
    return {
      problem: new HttpProblem(400, `Invalid request: ${errors.map((x) => `${x.field} (${x.message})`).join('; ')}`, { errors }),
      internal: false,
    };
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { problem: new HttpProblem(415, 'Unsupported content type: see the route in /api/v1/openapi.json'), internal: false };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { problem: new HttpProblem(413, 'The request body is too large'), internal: false };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return {
        problem: new HttpProblem(400, 'The JSON body is empty', { errors: [{ field: 'body', message: 'required' }] }),
        internal: false,
      };
  }
  if (e.statusCode === 400 && err instanceof SyntaxError) {
    return {
      problem: new HttpProblem(400, 'The body is not valid JSON', { errors: [{ field: 'body', message: 'not valid JSON' }] }),
      internal: false,
    };
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500 && TITLES[e.statusCode]) {
    return { problem: new HttpProblem(e.statusCode, cleanText(e.message, 200)), internal: false };
  }
  return { problem: new HttpProblem(500, 'Internal error: the request was not carried out; it has been logged'), internal: true };
}

/** The status of each refusal of the observation desk, by its code: a sender not allowed, an unknown observation, the rest conflicts. */
const OBSERVATION_REFUSALS: Record<string, number> = {
  SENDER_NOT_ALLOWED: 403,
  OBSERVATION_NOT_FOUND: 404,
  OBSERVATION_PENDING: 409,
  NOTHING_TO_CORRECT: 409,
  ALREADY_CORRECTED: 409,
  NO_OPEN_ANOMALY: 409,
};

function observationProblem(err: ObservationRefused): HttpProblem {
  const status = OBSERVATION_REFUSALS[err.code] ?? 409;
  const errors = err.code === 'SENDER_NOT_ALLOWED' ? [{ field: 'sender', message: err.message }] : undefined;
  return new HttpProblem(status, cleanText(err.message, 200), { errors });
}

/** The problem JSON Schema, for every route's error answers (and the OpenAPI document). */
export const PROBLEM_SCHEMA = {
  $id: 'Problem',
  type: 'object',
  description: 'RFC 9457 problem details',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['field', 'message'],
        properties: { field: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
} as const;

/** The request's own part of an audited error: never a body. */
export function requestOf(req: FastifyRequest): { method: string; route: string } {
  return { method: req.method, route: req.routeOptions.url ?? req.url.split('?')[0].slice(0, 200) };
}
