/** Starting the real service (FTPS + workers + SQLite) in a temp data dir, against the run's private Redis. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Client } from 'basic-ftp';
import { resolveSettings, type Settings } from '../../config/defaults';
import { startService, type Service } from '../../app/service';
import { hashPassword } from '../../intake/passwords';
import type { Role } from '../../store';
import { waitFor } from './wait';

export interface TestService extends Service {
  dir: string;
  addAccount(establishment: string, password: string, role?: Role, senders?: string[]): Promise<void>;
  /** connect logs a basic-ftp client in over explicit FTPS, trusting the service's certificate. */
  connect(user: string, password: string): Promise<Client>;
  teardown(): Promise<void>;
}

/** A passive range of 40 ports at a random place, so test files running side by side rarely collide. */
function pasvRange(): { pasvMin: number; pasvMax: number } {
  const base = 20000 + crypto.randomInt(0, 800) * 50;
  return { pasvMin: base, pasvMax: base + 39 };
}

export async function startTestService(overrides: Partial<Settings> = {}): Promise<TestService> {
  const redisUrl = process.env.INFLOW_TEST_REDIS_URL;
  if (!redisUrl) throw new Error('INFLOW_TEST_REDIS_URL is not set: the jest globalSetup starts the private Redis');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'inflow-test-'));
  const settings = resolveSettings(
    {
      dataDir: dir,
      redisUrl,
      ftpHost: '127.0.0.1',
      ftpPort: 0,
      httpPort: 0,
      ...pasvRange(),
      queuePrefix: 'test-' + crypto.randomUUID(),
      reconcileSeconds: 2,
      jobBackoffMs: 200,
      ...overrides,
    },
    {},
  );
  const svc = await startService({ settings, demo: false });
  return {
    ...svc,
    dir,
    addAccount: async (establishment, password, role = 'garage', senders = []) => {
      await svc.store.accounts.add({
        establishment,
        name: 'Test ' + establishment,
        role,
        senders,
        passwordHash: await hashPassword(password),
      });
    },
    connect: async (user, password) => {
      const client = new Client(15000);
      await client.access({
        host: '127.0.0.1',
        port: svc.ftpPort,
        user,
        password,
        secure: true,
        secureOptions: { ca: [svc.tlsCert], servername: 'localhost' },
      });
      return client;
    },
    teardown: async () => {
      await svc.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** download reads a remote file into a string. */
export async function download(client: Client, remote: string): Promise<string> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(chunk);
      cb();
    },
  });
  await client.downloadTo(sink, remote);
  return Buffer.concat(chunks).toString('utf8');
}

/** waitForReceipt polls /receipts/ over FTPS until the receipt is there (no event reaches the client), then returns its text. */
export async function waitForReceipt(client: Client, name: string, timeoutMs = 30000): Promise<string> {
  await waitFor(`the receipt ${name}`, async () => (await client.list('/receipts')).some((f) => f.name === name), timeoutMs, 150);
  return download(client, `/receipts/${name}`);
}

/**
 * useTestService starts a test service with `overrides` and garage accounts for `establishments` (all with
 * `password`) before the tests of the enclosing describe (or file) and tears it down after them. What it returns
 * stands for that service from beforeAll on.
 */
export function useTestService(overrides: Partial<Settings>, establishments: string[], password: string): TestService {
  let current: TestService | null = null;
  beforeAll(async () => {
    current = await startTestService(overrides);
    for (const e of establishments) await current.addAccount(e, password);
  });
  afterAll(async () => current?.teardown());
  return new Proxy({} as TestService, {
    get: (_, key) => {
      if (!current) throw new Error('the test service is started in beforeAll: use it inside a test');
      return Reflect.get(current, key);
    },
  });
}
