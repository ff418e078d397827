import { buildDist } from './helpers/build';
import { startPrivateRedis } from './helpers/private-redis';
import crypto from 'node:crypto';

/**
 * Before any test: dist/ is built from the current sources (CLI processes and the reader thread run dist/; a failed
 * build fails the run), then one private redis-server for the whole run starts (the machine's own Redis on 6379 is
 * shared: never touched). The run gets a name: its PostgreSQL test databases carry it (test/helpers/postgres.ts).
 */
export default async function globalSetup(): Promise<void> {
  const build = buildDist();
  process.stderr.write(`\nglobalSetup: dist/ built from the current sources in ${(build.ms / 1000).toFixed(1)} s\n`);
  const redis = await startPrivateRedis();
  process.env.INFLOW_TEST_REDIS_URL = redis.url;
  // Every `inflow serve` a test spawns takes a free HTTPS port, not 8443: tests run side by side.
  process.env.INFLOW_HTTP_PORT = '0';
  process.env.INFLOW_TEST_RUN = crypto.randomBytes(4).toString('hex');
  (globalThis as any).__inflowRedis = redis;
}
