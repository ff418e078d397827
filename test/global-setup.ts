import { startPrivateRedis } from './helpers/private-redis';

/** One private redis-server for the whole test run (the machine's own Redis on 6379 is shared: never touched). */
export default async function globalSetup(): Promise<void> {
  const redis = await startPrivateRedis();
  process.env.INFLOW_TEST_REDIS_URL = redis.url;
  (globalThis as any).__inflowRedis = redis;
}
