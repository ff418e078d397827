import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startRedisServer, PrivateRedis } from '../../app/redis-server';

/** startPrivateRedis starts a throwaway redis-server in a temp folder for tests. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-redis-'));
  const r = await startRedisServer({ dir });
  return {
    ...r,
    stop: async () => {
      await r.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
