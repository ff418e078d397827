/**
 * The bench's PostgreSQL databases, through the psql command-line tool: a database of its own per run (and per
 * saved state), created from nothing or copied from another (`CREATE DATABASE … TEMPLATE …`, which needs no other
 * session on the copied database: the bench stops its stack first), dropped at the end.
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';

/** The server the bench uses when --database-url is not given (trust auth, as on this kind of machine). */
export const DEFAULT_PG_SERVER = 'postgres://postgres@127.0.0.1:5432/postgres';

export class PgAdminError extends Error {}

/** withDatabase: the same server URL with another database name. */
export function withDatabase(serverUrl: string, name: string): string {
  const u = new URL(serverUrl);
  u.pathname = '/' + name;
  return u.toString();
}

/** redact: the URL without its password, for messages. */
export function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}

/** A database name of this run: inflow_bench_<pid>_<random>[_<suffix>] (lower case: no quoting surprises). */
export function benchDatabaseName(suffix = ''): string {
  return `inflow_bench_${process.pid}_${crypto.randomBytes(3).toString('hex')}${suffix ? '_' + suffix : ''}`;
}

/** psql runs SQL on `url` and returns its unaligned output; fails with psql's message. */
export function psql(url: string, sql: string, extra: string[] = []): string {
  const r = spawnSync('psql', [url, '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', ...extra, '-c', sql], {
    encoding: 'utf8',
    maxBuffer: 16 * 2 ** 20,
  });
  if (r.status !== 0) throw new PgAdminError(`psql on ${redact(url)}: ${(r.stderr || String(r.error)).trim().slice(0, 2000)}`);
  return r.stdout;
}

/** checkServer fails with a readable message when psql is missing or the server does not answer. */
export function checkServer(serverUrl: string): string {
  if (spawnSync('psql', ['--version']).status !== 0)
    throw new PgAdminError('the psql command-line tool is missing (Debian: apt-get install -y postgresql-client)');
  return psql(serverUrl, 'SHOW server_version').trim();
}

/** createDatabase makes an empty database, or a copy of `template` (which must have no session open). */
export function createDatabase(serverUrl: string, name: string, template?: string): void {
  // A session that just closed may still be leaving: copying retries for a few seconds.
  for (let attempt = 0; ; attempt++) {
    try {
      psql(serverUrl, `CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
      return;
    } catch (err) {
      if (!template || attempt >= 20 || !/being accessed by other users/.test((err as Error).message)) throw err;
      spawnSync('sleep', ['0.5']);
    }
  }
}

/** dropDatabase drops `name` if it exists, closing any session still on it. */
export function dropDatabase(serverUrl: string, name: string): void {
  psql(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}
