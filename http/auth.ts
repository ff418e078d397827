/**
 * Who may call what (docs/web-services.md): HTTP Basic with the account's establishment number and password, decided
 * by the same login code and the same lockout counters as FTPS (intake/login.ts; a login that succeeded is not checked
 * again for a while, verified-logins.ts); then the route's roles, the DMS
 * headers where the route wants them, and the account's request rate. Every request is audited once it is answered,
 * with the account, the route, the status and the DMS headers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Account, Role } from '../store';
import { ROLES } from '../store';
import { authenticate, auditedUsername, refuseWhileLocked, LoginRefusedError } from '../intake/login';
import { cleanText } from '../model/text';
import { HttpProblem } from './problems';
import { CLIENT_HEADERS } from './schemas';
import type { HttpDeps } from './deps';
import { RateLimit } from './rate-limit';
import { VerifiedLogins } from './verified-logins';

declare module 'fastify' {
  interface FastifyRequest {
    /** The logged-in account; null on a public route. */
    account: Account | null;
  }
  interface FastifyContextConfig {
    /** The roles that may call the route; none: public (no login). */
    roles?: readonly Role[];
  }
}

/** The roles that send readings and files: garage and fleet for their own, admin for all. */
export const SENDER_ROLES: readonly Role[] = ['garage', 'fleet', 'admin'];

const CHALLENGE = { 'WWW-Authenticate': 'Basic realm="odo-inflow", charset="UTF-8"' };

/** basicCredentials reads an `Authorization: Basic` header; null when there is none or it is malformed. */
export function basicCredentials(header: string | undefined): { username: string; password: string } | null {
  const m = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? '');
  if (!m) return null;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? null : { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** installAccess adds the hooks: log in, check the role and rate on every route that has roles; audit every request. */
export function installAccess(app: FastifyInstance, deps: HttpDeps): void {
  const limit = new RateLimit(deps.settings.httpRequestsPerMinute);
  const verified = new VerifiedLogins();
  app.decorateRequest('account', null);
  app.addHook('onRequest', async (req, reply) => {
    const roles = req.routeOptions.config?.roles;
    if (!roles) return;
    const account = await logIn(deps, verified, req);
    req.account = account;
    if (!roles.includes(account.role))
      throw new HttpProblem(403, `A ${account.role} account may not call ${req.method} ${req.routeOptions.url}`);
    const wait = limit.take(account.establishment);
    if (wait > 0) {
      reply.header('Retry-After', String(wait));
      throw new HttpProblem(429, `More than ${deps.settings.httpRequestsPerMinute} requests in a minute: try again in ${wait} s`);
    }
  });
  app.addHook('onResponse', async (req, reply) => auditRequest(deps, req, reply));
}

/** logIn decides the request's credentials as FTPS decides a login: 401 with the refusal's text, 503 when the store is busy. */
async function logIn(deps: HttpDeps, verified: VerifiedLogins, req: FastifyRequest): Promise<Account> {
  const creds = basicCredentials(req.headers.authorization);
  if (!creds) throw new HttpProblem(401, 'Log in with HTTP Basic: your establishment number and password', { headers: CHALLENGE });
  const { store, guard, checks, audit } = deps;
  try {
    const known = await store.accounts.byEstablishment(creds.username);
    if (known && verified.verifies(creds.username, creds.password, known)) {
      refuseWhileLocked({ guard, audit }, { username: creds.username, ip: req.ip });
      return known;
    }
    const account = await authenticate({ store, guard, checks, audit }, { ...creds, ip: req.ip, secure: true, roles: ROLES });
    verified.remember(creds.username, creds.password, account);
    return account;
  } catch (err) {
    if (err instanceof LoginRefusedError) throw new HttpProblem(401, err.message, { headers: CHALLENGE });
    if ((err as { transient?: boolean }).transient)
      throw new HttpProblem(503, 'The registry is busy: try again later', { headers: { 'Retry-After': '5' } });
    throw err;
  }
}

/** auditRequest writes one `http_request` event per answered request. */
function auditRequest(deps: HttpDeps, req: FastifyRequest, reply: FastifyReply): void {
  const creds = req.account ? null : basicCredentials(req.headers.authorization);
  const dms = Object.fromEntries(
    CLIENT_HEADERS.map((h) => {
      const v = req.headers[h];
      return [h.slice(16), typeof v === 'string' ? cleanText(v, 100) : null];
    }),
  );
  deps.audit.write('http_request', {
    account: req.account?.establishment ?? (creds ? auditedUsername(creds.username).username : null),
    ip: req.ip,
    method: req.method,
    route: req.routeOptions.url ?? null,
    path: cleanText(req.url.split('?')[0], 200),
    status: reply.statusCode,
    client: dms,
  });
}
