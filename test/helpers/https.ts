/** Real HTTPS requests to a service's web services (undici's fetch), trusting its self-signed certificate. */
import { Agent, fetch, type Response } from 'undici';

export const DMS_HEADERS = {
  'client-software-builder': 'Acme Garage Software',
  'client-software-name': 'AcmeDMS',
  'client-software-version': '4.2.1',
};

export interface Api {
  /** request sends `init` to `path` under /api/v1 as `user` (null: no credentials), with the DMS headers unless dms is false. */
  request(
    path: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string | Buffer | AsyncIterable<Uint8Array>; dms?: boolean },
    user?: { name: string; password: string } | null,
  ): Promise<Response>;
  close(): Promise<void>;
}

/** apiOf makes a client of the web services at 127.0.0.1:`port`, trusting `cert` only. */
export function apiOf(port: number, cert: string): Api {
  const dispatcher = new Agent({ connect: { ca: cert, servername: 'localhost' } });
  return {
    request: (path, init = {}, user = null) => {
      const headers: Record<string, string> = { ...(init.dms === false ? {} : DMS_HEADERS), ...init.headers };
      if (user) headers.authorization = 'Basic ' + Buffer.from(`${user.name}:${user.password}`).toString('base64');
      const streamed = init.body !== undefined && typeof init.body !== 'string' && !Buffer.isBuffer(init.body);
      return fetch(`https://127.0.0.1:${port}/api/v1${path}`, {
        method: init.method ?? 'GET',
        headers,
        body: init.body as never,
        dispatcher,
        ...(streamed ? { duplex: 'half' } : {}),
      } as never);
    },
    close: () => dispatcher.close(),
  };
}
