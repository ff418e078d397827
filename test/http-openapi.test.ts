/**
 * The OpenAPI document: generated from the routes' JSON Schemas, served at /api/v1/openapi.json without a login, and
 * kept in docs/openapi.json. When the routes change, the kept one is stale: `npm run openapi` writes it again.
 */
import fs from 'node:fs';
import { useTestService } from './helpers/service';
import { apiOf } from './helpers/https';

const svc = useTestService({}, [], '');

interface Operation {
  parameters?: { in: string; name: string; schema: object }[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema?: object }> }>;
  security?: unknown[];
}

async function served(): Promise<{ openapi: string; paths: Record<string, Record<string, Operation>> }> {
  const api = apiOf(svc.httpPort!, svc.tlsCert);
  try {
    const res = await api.request('/openapi.json', { dms: false });
    expect(res.status).toBe(200);
    return (await res.json()) as never;
  } finally {
    await api.close();
  }
}

test('the served document is docs/openapi.json (else run `npm run openapi` and commit it)', async () => {
  const kept = JSON.parse(fs.readFileSync('docs/openapi.json', 'utf8'));
  const doc = await served();
  if (JSON.stringify(doc) !== JSON.stringify(kept)) {
    throw new Error('docs/openapi.json differs from the document the service serves: run `npm run openapi` and commit docs/openapi.json');
  }
});

test('every route has a schema for its input and for each of its answers', async () => {
  const doc = await served();
  expect(doc.openapi).toBe('3.1.0');
  const operations = Object.entries(doc.paths).flatMap(([p, ops]) => Object.entries(ops).map(([m, op]) => ({ route: `${m} ${p}`, op })));
  expect(operations.map((o) => o.route).sort()).toEqual([
    'get /api/v1/activities',
    'get /api/v1/files',
    'get /api/v1/files/{fileId}',
    'get /api/v1/files/{fileId}/receipt',
    'get /api/v1/observations/{id}',
    'get /api/v1/vehicles/{vin}/label',
    'post /api/v1/observations',
    'post /api/v1/observations/{id}/confirm',
    'post /api/v1/observations/{id}/correction',
    'put /api/v1/files/{name}',
  ]);
  for (const { route, op } of operations) {
    const pathParams = (route.match(/\{(\w+)\}/g) ?? []).map((x) => x.slice(1, -1));
    for (const name of pathParams)
      expect(op.parameters).toContainEqual(expect.objectContaining({ in: 'path', name, schema: expect.any(Object) }));
    for (const [status, answer] of Object.entries(op.responses)) {
      const schemas = Object.values(answer.content ?? {}).map((c) => c.schema);
      expect(schemas.length).toBeGreaterThan(0);
      for (const s of schemas) expect(s).toEqual(expect.any(Object));
      if (Number(status) >= 400) expect(Object.keys(answer.content!)).toEqual(['application/problem+json']);
    }
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '429', '500']));
  }
  expect(Object.keys((doc.paths['/api/v1/files/{name}'].put.requestBody as { content: object }).content)).toContain('text/csv');
});
