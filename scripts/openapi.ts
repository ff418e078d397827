/**
 * `npm run openapi`: writes docs/openapi.json, the OpenAPI document generated from the web services' routes (the
 * service serves the same at /api/v1/openapi.json; test/http-openapi.test.ts fails when the two differ).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULTS } from '../config/defaults';
import { openApiDocument } from '../http/http-server';

/** openApiText: the document as docs/openapi.json holds it. */
export async function openApiText(): Promise<string> {
  return JSON.stringify(await openApiDocument({ ...DEFAULTS }), null, 2) + '\n';
}

if (require.main === module) {
  const target = path.join(__dirname, '..', '..', 'docs', 'openapi.json'); // from dist/scripts/
  openApiText().then(
    (text) => {
      fs.writeFileSync(target, text);
      process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
    },
    (err: Error) => {
      process.stderr.write(`openapi: ${err.message}\n`);
      process.exit(1);
    },
  );
}
