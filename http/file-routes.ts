/**
 * Batch files over HTTPS (docs/web-services.md): PUT a CSV or XML file, list and look at one's files, and fetch a
 * receipt as CSV, XML or JSON. The same intake as FTPS (size limit, name rules, duplicate check, queue) and the same
 * receipt: the one written for FTPS is sent as it is when its format is asked for, and otherwise rendered from the
 * same rows.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FILE_STATUSES, type Account, type FileRecord } from '../store';
import { filePkOf } from '../model/file-id';
import { uploadNameRefusal } from '../intake/file-names';
import { fileJson } from '../queries/file-json';
import { receiptHeaderOf, receiptIssuesOf } from '../pipeline/write-receipt';
import { csvReceiptLines } from '../receipts/csv-receipt';
import { xmlReceiptChunks } from '../receipts/xml-receipt';
import { inPieces } from '../receipts/receipt';
import { jsonReceiptChunks } from '../receipts/json-receipt';
import { HttpProblem } from './problems';
import { CLIENT_HEADERS_SCHEMA, json, problems } from './schemas';
import { SENDER_ROLES } from './auth';
import { receiveUpload } from './upload';
import type { HttpDeps } from './deps';

/** The content types a batch file may be sent as; its format is recognised from its content either way. */
export const BATCH_CONTENT_TYPES = ['text/csv', 'text/plain', 'application/xml', 'text/xml', 'application/octet-stream'];

const FILE_ID = { type: 'string', pattern: '^F[0-9]{6,}$', description: 'file id, as PUT answered it' } as const;

const ACCEPTED_SCHEMA = {
  type: 'object',
  required: ['fileId', 'statusUrl', 'receiptUrl'],
  properties: { fileId: { type: 'string' }, statusUrl: { type: 'string' }, receiptUrl: { type: 'string' } },
} as const;

/** mayRead: admin reads every file; garage its own; fleet its own and those of the establishments it sends for. */
export function mayRead(account: Account, f: FileRecord): boolean {
  if (account.role === 'admin' || f.account === account.establishment) return true;
  return account.role === 'fleet' && account.senders.includes(f.account);
}

/** fileRoutes registers the file routes (a plugin: its content-type parsers stay its own). */
export async function fileRoutes(app: FastifyInstance, opts: { deps: HttpDeps }): Promise<void> {
  const { deps } = opts;
  // The body of PUT /files is the batch file itself, streamed to disk: never parsed as JSON or text here.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(BATCH_CONTENT_TYPES, (_req, payload, done) => done(null, payload));
  putFile(app, deps);
  listFiles(app, deps);
  oneFile(app, deps);
}

/** PUT /files/{name}: the batch file is the body. */
function putFile(app: FastifyInstance, deps: HttpDeps): void {
  app.put<{ Params: { name: string } }>(
    '/files/:name',
    {
      config: {
        roles: SENDER_ROLES,
        rawBody: { contentTypes: BATCH_CONTENT_TYPES, description: 'the batch file, CSV or XML (docs/formats.md)' },
      },
      schema: {
        summary: 'Send a batch file',
        description: 'The same intake as an FTPS upload: name rules, size limit, duplicate check (F07), queue. The receipt follows.',
        tags: ['files'],
        headers: CLIENT_HEADERS_SCHEMA,
        params: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 255 } } },
        response: { 202: json('taken in and queued', ACCEPTED_SCHEMA), ...problems(400, 403, 408, 413, 415, 503) },
      },
    },
    async (req, reply) => {
      const account = req.account!;
      const name = req.params.name;
      const refusal = uploadNameRefusal(name);
      if (refusal) throw new HttpProblem(400, `Invalid file name: ${refusal}`, { errors: [{ field: 'name', message: refusal }] });
      const length = req.headers['content-length'];
      const f = await receiveUpload(deps, {
        account,
        name,
        body: req.body as Readable,
        declaredBytes: length === undefined ? null : Number(length),
        ip: req.ip,
      });
      const statusUrl = `/api/v1/files/${f.id}`;
      return reply
        .code(202)
        .header('Location', statusUrl)
        .send({ fileId: f.id, statusUrl, receiptUrl: `${statusUrl}/receipt` });
    },
  );
}

/** GET /files: the account's files. */
function listFiles(app: FastifyInstance, deps: HttpDeps): void {
  app.get<{ Querystring: { status?: string; since?: string; limit: number } }>(
    '/files',
    {
      config: { roles: SENDER_ROLES },
      schema: {
        summary: 'List your files',
        description: 'Oldest first. A garage sees its own files, a fleet also those of the establishments it sends for, an admin all.',
        tags: ['files'],
        headers: CLIENT_HEADERS_SCHEMA,
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: [...FILE_STATUSES] },
            since: {
              type: 'string',
              pattern: '^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9:.]+(Z|[+-][0-9]{2}:[0-9]{2})?)?$',
              description: 'received at or after (ISO 8601)',
            },
            limit: { type: 'integer', minimum: 1, maximum: 10000, default: 1000 },
          },
        },
        response: { 200: json('the files', { type: 'array', items: { $ref: 'File#' } }), ...problems(400, 403) },
      },
    },
    async (req) => {
      const account = req.account!;
      const { status, since, limit } = req.query;
      const filter = { status, receivedSince: since, limit };
      const owners = account.role === 'admin' ? [undefined] : [account.establishment, ...(account.role === 'fleet' ? account.senders : [])];
      const lists = await Promise.all(owners.map((owner) => deps.store.files.list({ ...filter, account: owner })));
      return lists
        .flat()
        .sort((a, b) => a.pk - b.pk)
        .slice(0, limit)
        .map(fileJson);
    },
  );
}

/** GET /files/{fileId} and its receipt. */
function oneFile(app: FastifyInstance, deps: HttpDeps): void {
  const route = {
    config: { roles: SENDER_ROLES },
    schema: {
      tags: ['files'],
      headers: CLIENT_HEADERS_SCHEMA,
      params: { type: 'object', required: ['fileId'], properties: { fileId: FILE_ID } },
    },
  };

  app.get<{ Params: { fileId: string } }>(
    '/files/:fileId',
    {
      ...route,
      schema: {
        ...route.schema,
        summary: 'Status and counts of one file',
        response: { 200: json('the file', { $ref: 'File#' }), ...problems(400, 403, 404) },
      },
    },
    async (req) => fileJson(await visibleFile(deps, req.account!, req.params.fileId)),
  );

  app.get<{ Params: { fileId: string } }>(
    '/files/:fileId/receipt',
    {
      ...route,
      schema: {
        ...route.schema,
        summary: "A file's receipt, by Accept: text/csv, application/xml or application/json",
        description: 'Without Accept (or */*): the receipt as written for FTPS. 404 until it is written.',
        response: {
          200: {
            description: 'the receipt (docs/receipts.md)',
            content: {
              'application/json': { schema: { $ref: 'Receipt#' } },
              'text/csv': { schema: { type: 'string' } },
              'application/xml': { schema: { type: 'string' } },
            },
          },
          ...problems(400, 403, 404, 406),
        },
      },
    },
    async (req, reply) => sendReceipt(deps, req, reply, await visibleFile(deps, req.account!, req.params.fileId)),
  );
}

/** visibleFile: the file with this id if the account may read it; 404 otherwise (another's file is not said to exist). */
async function visibleFile(deps: HttpDeps, account: Account, id: string): Promise<FileRecord> {
  const pk = filePkOf(id);
  const f = pk === null ? null : await deps.store.files.get(pk);
  if (!f || !mayRead(account, f)) throw new HttpProblem(404, `No file ${id} of yours`);
  return f;
}

type ReceiptType = 'text/csv' | 'application/xml' | 'application/json';

/** receiptType: what Accept asks for, among what a receipt can be; `written` for no preference; null for none of them. */
export function receiptType(accept: string | undefined, written: 'csv' | 'xml'): ReceiptType | null {
  const asWritten: ReceiptType = written === 'xml' ? 'application/xml' : 'text/csv';
  if (!accept) return asWritten;
  const ranges = accept
    .split(',')
    .map((part) => {
      const [type, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)).find(Boolean);
      return { type: type.trim(), q: q ? Number(q[1]) : 1 };
    })
    .filter((r) => r.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { type } of ranges) {
    if (type === '*/*') return asWritten;
    if (type === 'text/csv' || type === 'application/json') return type;
    if (type === 'application/xml' || type === 'text/xml') return 'application/xml';
    if (type === 'text/*') return 'text/csv';
    if (type === 'application/*') return written === 'xml' ? 'application/xml' : 'application/json';
  }
  return null;
}

async function sendReceipt(deps: HttpDeps, req: FastifyRequest, reply: FastifyReply, f: FileRecord): Promise<unknown> {
  const written = f.receiptPath === null ? null : deps.layout.filesPath(f.receiptPath);
  if (f.status !== 'done' || !written)
    throw new HttpProblem(404, `The receipt of ${f.id} is not written yet (status ${f.status}): ask again later`);
  const type = receiptType(req.headers.accept, written.endsWith('.xml') ? 'xml' : 'csv');
  if (!type) throw new HttpProblem(406, 'A receipt is given as text/csv, application/xml or application/json');
  reply.header('Vary', 'Accept');
  const charset = `${type}; charset=utf-8`;
  if (written.endsWith(type === 'text/csv' ? '.csv' : '.xml')) return reply.type(charset).send(fs.createReadStream(written));
  // Rendered from the store as it is sent, page by page of issues (a receipt may list millions).
  const render = type === 'text/csv' ? csvReceiptLines : type === 'application/xml' ? xmlReceiptChunks : jsonReceiptChunks;
  const chunks = render(receiptHeaderOf(f), receiptIssuesOf(deps.store, f.pk));
  return reply.type(type === 'application/json' ? type : charset).send(Readable.from(inPieces(chunks)));
}
