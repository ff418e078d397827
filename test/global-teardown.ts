import { dropRunDatabases } from './helpers/postgres';

/** Stops the run's private redis-server and drops any PostgreSQL test database of the run a test file left behind. */
export default async function globalTeardown(): Promise<void> {
  const redis = (globalThis as any).__inflowRedis;
  if (redis) await redis.stop();
  const run = process.env.INFLOW_TEST_RUN;
  if (run) {
    const left = await dropRunDatabases(run).catch((err: Error) => [`(could not look: ${err.message})`]);
    if (left.length) process.stderr.write(`globalTeardown: dropped leftover test databases ${left.join(', ')}\n`);
  }
}
