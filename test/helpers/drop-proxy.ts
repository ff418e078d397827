/**
 * A TCP proxy in front of an FTPS server that can cut a data connection mid-transfer, for testing what a client does
 * with a dropped connection. It listens on another loopback address (127.0.0.2 by default) on the server's control
 * port and every passive port, and forwards each to the same port on the server's address. The server must announce
 * the proxy's address in PASV replies (settings.pasvUrl); EPSV needs nothing, the client reuses the control host.
 * It sees only TLS records: it counts bytes, it cannot read them.
 */
import net from 'node:net';

export interface DropProxy {
  host: string;
  /** Data connections opened so far, and how many were cut. */
  stats: { dataConnections: number; dropped: number };
  close(): Promise<void>;
}

export async function startDropProxy(o: {
  serverHost: string;
  controlPort: number;
  pasvMin: number;
  pasvMax: number;
  host?: string;
  /** Cut the first `count` data connections that carry more than `afterBytes` from the client. */
  drop: { afterBytes: number; count: number };
}): Promise<DropProxy> {
  const host = o.host ?? '127.0.0.2';
  const stats = { dataConnections: 0, dropped: 0 };
  const sockets = new Set<net.Socket>();
  const servers: net.Server[] = [];

  const listen = (port: number, data: boolean) =>
    new Promise<void>((resolve, reject) => {
      // Half-open allowed: each direction ends on its own, so nothing buffered is lost when one side finishes first.
      const server = net.createServer({ allowHalfOpen: true }, (client) => {
        const upstream = net.connect({ port, host: o.serverHost, allowHalfOpen: true });
        sockets.add(client).add(upstream);
        if (data) stats.dataConnections++;
        let sent = 0;
        let cut = false;
        client.on('data', (chunk: Buffer) => {
          if (cut) return;
          sent += chunk.length;
          if (data && stats.dropped < o.drop.count && sent > o.drop.afterBytes) {
            cut = true;
            stats.dropped++;
            client.resetAndDestroy();
            upstream.resetAndDestroy();
            return;
          }
          if (!upstream.write(chunk)) client.pause();
        });
        upstream.on('drain', () => client.resume());
        upstream.on('data', (chunk: Buffer) => {
          if (!client.write(chunk)) upstream.pause();
        });
        client.on('drain', () => upstream.resume());
        client.on('end', () => upstream.end());
        upstream.on('end', () => client.end());
        const fail = () => {
          client.destroy();
          upstream.destroy();
        };
        client.on('error', fail).on('close', () => sockets.delete(client));
        upstream.on('error', fail).on('close', () => sockets.delete(upstream));
      });
      server.once('error', reject);
      server.listen(port, host, () => resolve());
      servers.push(server);
    });

  await listen(o.controlPort, false);
  for (let p = o.pasvMin; p <= o.pasvMax; p++) await listen(p, true);
  return {
    host,
    stats,
    close: async () => {
      for (const s of sockets) s.destroy();
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    },
  };
}
