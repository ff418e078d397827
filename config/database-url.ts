/**
 * The database URL (`--database-url`, INFLOW_DATABASE_URL): none means SQLite in the data directory; a
 * `postgres://` or `postgresql://` URL means that PostgreSQL database (docs/postgres.md).
 */

/** isPostgresUrl: the URL names a PostgreSQL database. */
export const isPostgresUrl = (url: string): boolean => /^postgres(ql)?:\/\//i.test(url);

/** redactDatabaseUrl: the URL as logs and the console show it: no password (in the authority or the query). */
export function redactDatabaseUrl(url: string): string {
  return url.replace(/^([\w+.-]+:\/\/[^:@/]*):[^@/]*@/, '$1:***@').replace(/([?&]password=)[^&#]*/gi, '$1***');
}
