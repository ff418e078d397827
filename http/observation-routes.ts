/**
 * Readings one at a time over HTTPS (SPEC §11, docs/web-services.md): send an observation, ask for its status
 * (waiting for the final one if asked), correct it, confirm it. The observation desk (intake/observation-desk.ts)
 * decides everything; these routes only translate JSON and headers to its calls, and its view to SPEC §11's shape.
 * Its refusals become problems in problems.ts.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ClientSoftware, ObservationInput } from '../model/observation';
import type { RecordFields } from '../model/file-items';
import { MAX_WAIT_SECONDS, type ObservationView } from '../intake/observation-desk';
import { HttpProblem } from './problems';
import { CLIENT_HEADERS_SCHEMA, CORRECTS, READING_PROPERTIES, SENDER, json, problems } from './schemas';
import { SENDER_ROLES } from './auth';
import type { HttpDeps } from './deps';

/** POST /observations: a reading, or a correction naming its error number. */
const OBSERVATION_INPUT = {
  type: 'object',
  additionalProperties: false,
  required: ['date', 'odometer', 'unit', 'work'],
  properties: { ...READING_PROPERTIES, corrects: CORRECTS, sender: SENDER },
} as const;

/** POST /observations/{id}/correction: the corrected reading; the desk names the error number it corrects. */
const CORRECTION_INPUT = {
  ...OBSERVATION_INPUT,
  properties: { ...READING_PROPERTIES, sender: SENDER },
} as const;

const ACCEPTED_SCHEMA = {
  type: 'object',
  required: ['id', 'status', 'statusUrl'],
  properties: { id: { type: 'string', format: 'uuid' }, status: { type: 'string', enum: ['PENDING'] }, statusUrl: { type: 'string' } },
} as const;

const ID_PARAMS = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', format: 'uuid', description: 'the id POST /observations answered' } },
} as const;

type IdRequest = FastifyRequest<{ Params: { id: string } }>;
type Desk = () => HttpDeps['observations'];

const common = { tags: ['observations'], headers: CLIENT_HEADERS_SCHEMA };
const accepted = { 202: json('kept, PENDING: ask statusUrl for its status', ACCEPTED_SCHEMA) };

export async function observationRoutes(app: FastifyInstance, opts: { deps: HttpDeps }): Promise<void> {
  // The desk is taken at each request: the OpenAPI document is built without a service (http-server.ts).
  const desk: Desk = () => opts.deps.observations;
  sendingRoutes(app, desk);
  statusRoutes(app, desk);
}

/** POST /observations and POST …/{id}/correction: a new observation, 202. */
function sendingRoutes(app: FastifyInstance, desk: Desk): void {
  app.post<{ Body: ObservationInput }>(
    '/observations',
    {
      config: { roles: SENDER_ROLES },
      schema: {
        ...common,
        summary: 'Send one reading',
        description: 'Checked by the same rules as a record of a batch file (docs/observations.md). With `corrects`: a correction.',
        body: OBSERVATION_INPUT,
        response: { ...accepted, ...problems(400, 403, 413, 415) },
      },
    },
    async (req, reply) => {
      const { id } = await desk().submit(req.account!, req.body, clientOf(req));
      return sendAccepted(reply, id);
    },
  );

  app.post<{ Params: { id: string }; Body: Omit<ObservationInput, 'corrects'> }>(
    '/observations/:id/correction',
    {
      config: { roles: SENDER_ROLES },
      schema: {
        ...common,
        summary: 'Correct an observation (once per error number)',
        description: "A new observation correcting this one's E or A issue. 409 when it has none that can be corrected, or it was used.",
        params: ID_PARAMS,
        body: CORRECTION_INPUT,
        response: { ...accepted, ...problems(400, 403, 404, 409, 413, 415) },
      },
    },
    async (req, reply) => {
      const { id } = await desk().correct(req.account!, req.params.id, req.body, clientOf(req));
      return sendAccepted(reply, id);
    },
  );
}

/** GET /observations/{id} and POST …/{id}/confirm: the observation, 200. */
function statusRoutes(app: FastifyInstance, desk: Desk): void {
  app.get<{ Params: { id: string }; Querystring: { wait?: number } }>(
    '/observations/:id',
    {
      config: { roles: SENDER_ROLES },
      schema: {
        ...common,
        summary: "An observation's status and issues",
        params: ID_PARAMS,
        querystring: {
          type: 'object',
          properties: {
            wait: { type: 'integer', minimum: 0, maximum: MAX_WAIT_SECONDS, description: 'seconds to wait for the final status' },
          },
        },
        response: { 200: json('the observation', { $ref: 'Observation#' }), ...problems(400, 403, 404) },
      },
    },
    async (req) => {
      const { account, params, query } = req;
      const view = query.wait ? await desk().waitForFinal(account!, params.id, query.wait) : await desk().get(account!, params.id);
      if (!view) throw new HttpProblem(404, `No observation ${params.id} of yours`);
      return observationJson(view);
    },
  );

  app.post(
    '/observations/:id/confirm',
    {
      config: { roles: SENDER_ROLES },
      schema: {
        ...common,
        summary: 'Confirm a flagged reading as right as sent',
        description:
          `Its anomaly stays on the history, confirmed. Answers 200 once the confirmation is processed; if that takes ` +
          `longer than ${MAX_WAIT_SECONDS} s, 202 with the confirmation's own id and status URL, to be followed like any observation.`,
        params: ID_PARAMS,
        response: {
          200: json('the observation, its anomaly confirmed', { $ref: 'Observation#' }),
          ...accepted,
          ...problems(400, 403, 404, 409),
        },
      },
    },
    async (req: IdRequest, reply) => {
      const outcome = await desk().confirm(req.account!, req.params.id, clientOf(req));
      if ('pending' in outcome) return sendAccepted(reply, outcome.pending);
      return observationJson(outcome.confirmed);
    },
  );
}

/** sendAccepted: 202 with the new observation's id and where to ask for its status. */
function sendAccepted(reply: FastifyReply, id: string): FastifyReply {
  const statusUrl = `/api/v1/observations/${id}`;
  return reply.code(202).header('Location', statusUrl).send({ id, status: 'PENDING', statusUrl });
}

/** clientOf: the DMS headers (the route's schema requires them). */
function clientOf(req: FastifyRequest): ClientSoftware {
  const h = (name: string) => String(req.headers[`client-software-${name}`]);
  return { builder: h('builder'), name: h('name'), version: h('version') };
}

/** observationJson: the desk's view in SPEC §11's shape: the reading as JSON, as it was sent. */
export function observationJson(v: ObservationView) {
  return {
    id: v.id,
    status: v.status,
    sender: v.sender,
    received: v.received,
    processed: v.processed,
    reading: readingJson(v.reading),
    issues: v.issues,
    correctionOf: v.correctionOf,
  };
}

/** readingJson: the record's fields back in the input's shape (numbers as numbers, replaced a boolean, absent left out). */
function readingJson(f: RecordFields): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [key, value] of Object.entries(f) as [keyof RecordFields, string][]) {
    if (value === '') continue;
    if (key === 'odometer' || key === 'digits') out[key] = Number(value);
    else if (key === 'replaced') out[key] = value === 'Y';
    else out[key] = value;
  }
  return out;
}
