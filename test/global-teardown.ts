/** Stops the run's private redis-server. */
export default async function globalTeardown(): Promise<void> {
  const redis = (globalThis as any).__inflowRedis;
  if (redis) await redis.stop();
}
