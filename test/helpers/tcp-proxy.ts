/**
 * A loopback TCP proxy to a server, for fault tests: `freeze()` stops forwarding in both
 * directions (a server that stopped answering mid-query, connections still open), `down()`
 * closes the listener and every connection (a server that went away), `up()` listens again
 * on the same port (the server is back).
 */
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  freeze(): void;
  down(): Promise<void>;
  up(): Promise<void>;
}

export async function startTcpProxy(targetHost: string, targetPort: number): Promise<TcpProxy> {
  const sockets = new Set<net.Socket>();
  let frozen = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (b) => {
      if (!frozen) upstream.write(b);
    });
    upstream.on('data', (b) => {
      if (!frozen) client.write(b);
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen(0);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const port = address.port;
  return {
    port,
    freeze: () => {
      frozen = true;
    },
    down: async () => {
      frozen = false;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
    up: () => listen(port),
  };
}
