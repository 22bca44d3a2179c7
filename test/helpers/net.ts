/**
 * Network helpers for tests and benchmarks that start real servers (e2e stack, bench/postfix).
 *
 * freePorts(n): loopback TCP ports that were free a moment ago, chosen all at once (listen on
 * 127.0.0.1:0, read, close) so none is handed out twice. Someone else can still take a port
 * before we bind it; the server that then fails says "address already in use".
 */
import net from 'node:net';

export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const s = net.createServer();
          s.once('error', reject);
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
