/**
 * Loopback ports for bench/postfix: chosen free at start (listen on port 0, read, close), all
 * at once so none is handed out twice. A port can still be taken by someone else before we
 * bind it; Postfix then fails to start with "address already in use", which is reported.
 */
import net from 'node:net';

export async function freeLoopbackPorts(n: number): Promise<number[]> {
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
