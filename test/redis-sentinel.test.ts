/**
 * `--redis-url` / REDIS_URL take a Redis Sentinel set (redis+sentinel://…): the URL forms and their errors, and the
 * real service (FTPS front, worker processes, the `replay` CLI) on a private Sentinel set, through a failover.
 */
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { parseRedisUrl, redactRedisUrl } from '../config/redis-url';
import { resolveSettings } from '../config/defaults';
import { startTestService, waitForReceipt, type TestService } from './helpers/service';
import { startSentinelSet, type SentinelSet } from './helpers/sentinel-set';
import { parseReceipt } from './helpers/receipt';
import { csvBatch, vin } from './helpers/batch';
import { BIN, envFor, inflowAsync } from './helpers/ops';

const GARAGE = '2123456692';
const PW = 'sentinel test password';

describe('the redis+sentinel:// URL', () => {
  it('names the sentinels, the master, the database and the passwords', () => {
    expect(parseRedisUrl('redis+sentinel://h1:26379,h2:26380/mymaster')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'h1', port: 26379 },
        { host: 'h2', port: 26380 },
      ],
      masterName: 'mymaster',
      db: 0,
    });
    expect(parseRedisUrl('redis+sentinel://:s%40cret@h1,[::1]:26381/mymaster/2?sentinelPassword=sp')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 'h1', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      masterName: 'mymaster',
      db: 2,
      password: 's@cret',
      sentinelPassword: 'sp',
    });
    expect(parseRedisUrl('redis://:pw@127.0.0.1:6379/1')).toEqual({ kind: 'server', url: 'redis://:pw@127.0.0.1:6379/1' });
  });

  it.each([
    ['redis+sentinel://:secret@h1:26379,h2:26379', 'no master name'],
    ['redis+sentinel://:secret@h1:26379,,h2/mymaster', 'bad sentinel address ""'],
    ['redis+sentinel://:secret@h1:99999/mymaster', 'bad sentinel port 99999'],
    ['redis+sentinel://:secret@h1/mymaster/x', 'database "x" is not a number'],
    ['redis+sentinel://:secret@h1/mymaster?sentinelPasword=secret', 'unknown parameter sentinelPasword'],
    ['http://:secret@h1:6379', 'expected redis://, rediss:// or redis+sentinel://'],
    ['localhost:6379', 'expected redis://, rediss:// or redis+sentinel://'],
  ])('%s is refused: %s, without its password', (url, why) => {
    expect(() => resolveSettings({ redisUrl: url }, {})).toThrow(why);
    expect(() => resolveSettings({ redisUrl: url }, {})).not.toThrow(/secret/);
  });

  it('is shown without passwords', () => {
    expect(redactRedisUrl('redis+sentinel://:secret@h1:26379,h2:26379/mymaster?sentinelPassword=other')).toBe(
      'redis+sentinel://h1:26379,h2:26379/mymaster?sentinelPassword=***',
    );
  });

  it('a malformed one stops a command with one line and exit 1', () => {
    const r = spawnSync(process.execPath, [BIN, 'worker'], {
      env: { ...process.env, REDIS_URL: 'redis+sentinel://:secret@h1:26379/', INFLOW_DATA_DIR: '' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('inflow: invalid setting redisUrl (INFLOW_REDIS_URL): redis+sentinel://h1:26379/: no master name (…/mymaster)\n');
  });
});

describe('the service on a Sentinel set', () => {
  let set: SentinelSet;
  let svc: TestService;

  beforeAll(async () => {
    set = await startSentinelSet();
    svc = await startTestService({ redisUrl: set.url, workers: 1 });
    await svc.addAccount(GARAGE, PW);
  }, 30_000);
  afterAll(async () => {
    await svc?.teardown();
    await set?.stop();
  });

  const upload = async (name: string, base: number) => {
    const client = await svc.connect(GARAGE, PW);
    const records = Array.from({ length: 20 }, (_, i) => ({ vin: vin(base + i), odometer: 1000 + i }));
    await client.uploadFrom(Readable.from([Buffer.from(csvBatch(GARAGE, records, { trailer: true }))]), name);
    const receipt = parseReceipt(await waitForReceipt(client, `${name}.receipt.csv`, 20_000));
    client.close();
    return receipt;
  };

  it('takes a file in, processes it and writes its receipt; `inflow replay` reaches the queue too', async () => {
    expect(await upload('first.csv', 100)).toMatchObject({ status: 'ACCEPTED', records: 20, accepted: 20 });
    const file = (await svc.store.files.list()).find((f) => f.name === 'first.csv')!;
    const r = await inflowAsync(['replay', file.id, '--json'], envFor(svc));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ id: file.id, status: 'done', result: 'ACCEPTED' })]);
  }, 30_000);

  it('after a failover, the next file still gets its receipt', async () => {
    const before = await set.masterPort();
    expect(await set.failover()).not.toBe(before);
    expect(await upload('second.csv', 200)).toMatchObject({ status: 'ACCEPTED', records: 20, accepted: 20 });
  }, 30_000);
});
