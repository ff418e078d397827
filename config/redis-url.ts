/**
 * The Redis URL forms `--redis-url` / REDIS_URL take (README, "A worker fleet"):
 *
 *   redis://[[user]:password@]host[:port][/db]          one Redis server (rediss:// for TLS)
 *   redis+sentinel://[[user]:password@]h1[:port],h2[:port]/master[/db][?sentinelPassword=…]
 *
 * A Sentinel set names the sentinels (port 26379 when left out) and the master they watch; the password is the
 * Redis servers' (master and replicas), `sentinelPassword` the sentinels' own when they require one.
 */

/** Where the queue's Redis is: a URL ioredis reads as it is, or a Sentinel set. */
export type RedisTarget =
  | { kind: 'server'; url: string }
  | {
      kind: 'sentinel';
      sentinels: { host: string; port: number }[];
      masterName: string;
      db: number;
      username?: string;
      password?: string;
      sentinelPassword?: string;
    };

const SENTINEL_SCHEME = 'redis+sentinel:';
const DEFAULT_SENTINEL_PORT = 26379;
const SENTINEL_QUERY_KEYS = new Set(['sentinelPassword']);

/** A Redis URL that cannot be used; the message never quotes a password. */
export class RedisUrlError extends Error {
  readonly code = 'BAD_REDIS_URL';
  constructor(
    url: string,
    readonly reason: string,
  ) {
    super(`invalid Redis URL ${redactRedisUrl(url)}: ${reason}`);
  }
}

/** parseRedisUrl checks a Redis URL and says what it points at; a RedisUrlError when it is malformed. */
export function parseRedisUrl(url: string): RedisTarget {
  const scheme = /^([a-z+]+:)\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme === SENTINEL_SCHEME) {
    try {
      return parseSentinelUrl(url);
    } catch (err) {
      throw err instanceof URIError ? new RedisUrlError(url, 'a bad %-escape') : err;
    }
  }
  if (scheme !== 'redis:' && scheme !== 'rediss:') {
    throw new RedisUrlError(url, 'expected redis://, rediss:// or redis+sentinel://');
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RedisUrlError(url, 'not a URL');
  }
  if (!parsed.hostname) throw new RedisUrlError(url, 'no host');
  dbOf(url, parsed.pathname.slice(1));
  return { kind: 'server', url };
}

function parseSentinelUrl(url: string): RedisTarget {
  // host1:port,host2:port is not one URL authority: split it off, then let URL read the rest.
  const m = /^redis\+sentinel:\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/i.exec(url);
  if (!m) throw new RedisUrlError(url, 'expected redis+sentinel://[:password@]host:port[,host:port…]/master');
  const [, userInfo, hostList, path = '', query = ''] = m;
  const sentinels = hostList.split(',').map((h) => sentinelAddress(url, h));
  const [masterName = '', dbText = '', ...rest] = path.slice(1).split('/');
  if (!masterName) throw new RedisUrlError(url, 'no master name (…/mymaster)');
  if (rest.length > 0) throw new RedisUrlError(url, 'expected /master or /master/db after the sentinels');
  const params = new URLSearchParams(query);
  for (const key of params.keys()) {
    if (!SENTINEL_QUERY_KEYS.has(key)) throw new RedisUrlError(url, `unknown parameter ${key}`);
  }
  const [username, password] = credentials(userInfo);
  return {
    kind: 'sentinel',
    sentinels,
    masterName: decodeURIComponent(masterName),
    db: dbOf(url, dbText),
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(params.get('sentinelPassword') ? { sentinelPassword: params.get('sentinelPassword') as string } : {}),
  };
}

function sentinelAddress(url: string, hostPort: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/.exec(hostPort);
  if (!m) throw new RedisUrlError(url, `bad sentinel address "${hostPort}" (host:port)`);
  const port = m[2] === undefined ? DEFAULT_SENTINEL_PORT : Number(m[2]);
  if (port < 1 || port > 65535) throw new RedisUrlError(url, `bad sentinel port ${m[2]}`);
  return { host: m[1].replace(/^\[|\]$/g, ''), port };
}

function credentials(userInfo: string | undefined): [string | undefined, string | undefined] {
  if (!userInfo) return [undefined, undefined];
  const colon = userInfo.indexOf(':');
  if (colon < 0) return [undefined, decodeURIComponent(userInfo)]; // redis://secret@host: a password alone
  return [decodeURIComponent(userInfo.slice(0, colon)) || undefined, decodeURIComponent(userInfo.slice(colon + 1)) || undefined];
}

function dbOf(url: string, text: string): number {
  if (text === '') return 0;
  if (!/^\d+$/.test(text)) throw new RedisUrlError(url, `database "${text}" is not a number`);
  return Number(text);
}

/**
 * redactRedisUrl: the URL as logs and the console show it, without its user and password, and with every query
 * value hidden (a misspelt sentinelPassword is a password too).
 */
export function redactRedisUrl(url: string): string {
  return url.replace(/^([\w+.-]+:\/\/)[^@/]*@/, '$1').replace(/([?&][^=&#]*=)[^&#]*/g, '$1***');
}
