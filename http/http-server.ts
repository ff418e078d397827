/**
 * The HTTPS front (docs/web-services.md): a fastify app under /api/v1 with the FTPS certificate, HTTP Basic logins
 * through the same lockout as FTPS, per-account request rate, problem+json errors, an audit event per request, and
 * the OpenAPI document generated from the routes' JSON Schemas.
 *
 * The routes come in plugins, each given the same deps: file-routes.ts, observation-routes.ts, reference-routes.ts.
 * A plugin declares its roles in each route's `config.roles`, and its JSON Schemas; the hooks here do the rest.
 * Another set of routes is one more entry in ROUTE_PLUGINS.
 */
import fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import swagger from '@fastify/swagger';
import { TLS_POLICY } from '../config/tls-policy';
import { HttpProblem, problemOf, requestOf, sendProblem } from './problems';
import { SHARED_SCHEMAS } from './schemas';
import { installAccess } from './auth';
import { installIdleCut } from './idle-cut';
import { fileRoutes } from './file-routes';
import { referenceRoutes } from './reference-routes';
import { observationRoutes } from './observation-routes';
import type { HttpDeps } from './deps';
import type { Settings } from '../config/defaults';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route whose body is taken raw (not JSON): its content types, for the OpenAPI document. */
    rawBody?: { contentTypes: string[]; description: string };
  }
}

export const API_BASE = '/api/v1';

/** The route plugins, all mounted under API_BASE with the same deps. */
const ROUTE_PLUGINS: FastifyPluginAsync<{ deps: HttpDeps }>[] = [fileRoutes, observationRoutes, referenceRoutes];

/** Largest JSON body, bytes: one reading is a few hundred bytes. A batch file is streamed, under maxFileBytes. */
const JSON_BODY_LIMIT = 64 * 1024;

export interface HttpServer {
  port: number;
  /** close stops listening, lets requests in progress finish for up to graceMs, then drops the connections. */
  close(graceMs: number): Promise<void>;
}

/** buildHttpApp makes the app (not listening): `tls` null for plain HTTP, which only the OpenAPI generator uses. */
export async function buildHttpApp(deps: HttpDeps, tls: { cert: string; key: string } | null): Promise<FastifyInstance> {
  const app = fastify({
    ...(tls ? { https: { cert: tls.cert, key: tls.key, ...TLS_POLICY } } : {}),
    logger: false,
    bodyLimit: JSON_BODY_LIMIT,
    exposeHeadRoutes: false,
    return503OnClosing: true,
    // A long upload that moves is never cut; one that stalls is (upload.ts, transferIdleMs).
    requestTimeout: 0,
    // A field a schema does not name is refused (400 naming it), not dropped without a word (fastify's default).
    ajv: { customOptions: { removeAdditional: false } },
  }) as unknown as FastifyInstance;
  for (const s of SHARED_SCHEMAS) app.addSchema(s);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'odo-inflow web services',
        version: '1',
        description: 'Odometer readings and batch files for DMS software, OK labels for ad sites. See docs/web-services.md.',
      },
      servers: [{ url: '/' }],
      components: { securitySchemes: { basic: { type: 'http', scheme: 'basic', description: 'establishment number and password' } } },
      security: [{ basic: [] }],
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => String(json.$id ?? `def-${i}`) },
    transform: ({ schema, url, route }) => {
      const out: Record<string, unknown> = { ...(schema as object) };
      const config = route.config as { roles?: readonly string[]; rawBody?: { contentTypes: string[]; description: string } } | undefined;
      const roles = config?.roles;
      if (!roles) out.security = [];
      else out.description = `${(out.description as string | undefined) ?? ''}${out.description ? '\n\n' : ''}Roles: ${roles.join(', ')}.`;
      if (config?.rawBody)
        out.body = {
          description: config.rawBody.description,
          content: Object.fromEntries(config.rawBody.contentTypes.map((t) => [t, { schema: { type: 'string', format: 'binary' } }])),
        };
      return { schema: out as typeof schema, url };
    },
  });
  installAccess(app, deps);
  installIdleCut(app, deps.settings.transferIdleMs);
  app.setErrorHandler((err, req, reply) => {
    const { problem, internal } = problemOf(err as Error);
    if (internal)
      deps.audit.write('internal_error', { via: 'https', ip: req.ip, ...requestOf(req), code: 500, error: (err as Error).message });
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((req, reply) =>
    sendProblem(reply, new HttpProblem(404, `No route ${req.method} ${req.url.split('?')[0].slice(0, 200)}`)),
  );
  await app.register(
    async (api) => {
      for (const plugin of ROUTE_PLUGINS) await api.register(plugin, { deps });
      api.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    },
    { prefix: API_BASE },
  );
  await app.ready();
  return app;
}

/** startHttpServer listens on settings.httpHost:httpPort (0: a free port) with the service's certificate. */
export async function startHttpServer(deps: HttpDeps, tls: { cert: string; key: string }): Promise<HttpServer> {
  const app = await buildHttpApp(deps, tls);
  await app.listen({ host: deps.settings.httpHost, port: deps.settings.httpPort });
  const address = app.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : deps.settings.httpPort,
    close: async (graceMs) => {
      const closing = app.close();
      const timer = setTimeout(() => app.server.closeAllConnections(), graceMs);
      await closing.finally(() => clearTimeout(timer));
    },
  };
}

/**
 * openApiDocument: the OpenAPI document of the routes (docs/openapi.json, `npm run openapi`), built without a service
 * behind it: building reads only the settings; a request would find no store.
 */
export async function openApiDocument(settings: Settings): Promise<unknown> {
  const offline = new Proxy({ settings } as HttpDeps, {
    get: (target, key) => {
      if (key in target) return target[key as keyof HttpDeps];
      throw new Error(`the OpenAPI document is built without a service: no ${String(key)}`);
    },
  });
  const app = await buildHttpApp(offline, null);
  try {
    return app.swagger();
  } finally {
    await app.close();
  }
}
