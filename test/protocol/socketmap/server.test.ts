import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, TransientError } from '../../../src/lib/errors.js';
import { MAX_SOCKETMAP_REQUEST } from '../../../src/lib/limits.js';
import { SocketmapServer } from '../../../src/socketmap/server.js';
import type { SocketmapLookup } from '../../../src/socketmap/session.js';
import { captureLogger, connectClient, deferred, makeStaleSocket } from '../helpers.js';
import { notFound, ok, request, temp } from './helpers.js';

let dir: string;
const servers: SocketmapServer[] = [];

function makeServer(lookup: SocketmapLookup, idleTimeoutMs?: number): { server: SocketmapServer; records: string[] } {
  const { logger, records } = captureLogger();
  const server = new SocketmapServer({ lookup, logger, ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}) });
  servers.push(server);
  return { server, records };
}

async function tcp(server: SocketmapServer): Promise<{ host: string; port: number }> {
  const bound = await server.listen('inet:127.0.0.1:0');
  if (bound.kind !== 'tcp') throw new Error('expected tcp');
  return bound;
}

const known: SocketmapLookup = (map, key) => Promise.resolve(map === 'relay' && key === 'bounces.shop.example' ? 'bounces.shop.example' : null);

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trx-socketmap-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
  await rm(dir, { recursive: true, force: true });
});

describe('SocketmapServer over TCP', () => {
  it('listens on "inet:host:port" and answers many requests on one connection', async () => {
    const { server } = makeServer(known);
    const client = await connectClient(await tcp(server));
    client.socket.write(request('relay', 'bounces.shop.example'));
    expect(await client.waitFor((t) => t.endsWith(','))).toBe(ok('bounces.shop.example'));
    client.socket.write(request('relay', 'other.example'));
    const both = ok('bounces.shop.example') + notFound();
    expect(await client.waitFor((t) => t === both)).toBe(both);
    client.socket.write(request('transport', '*'));
    expect(await client.waitFor((t) => t.length > both.length && t.endsWith(','))).toBe(both + notFound());
    expect(server.connectionCount).toBe(1);
    client.socket.destroy();
  });

  it('answers TEMP when the lookup cannot tell, and keeps the connection', async () => {
    const { server } = makeServer(() => Promise.reject(new TransientError('ESTORE_IO', 'store down')));
    const client = await connectClient(await tcp(server));
    client.socket.write(request('relay', 'bounces.shop.example'));
    expect(await client.waitFor((t) => t.endsWith(','))).toBe(temp('store down'));
    client.socket.write(request('relay', 'bounces.shop.example'));
    expect(await client.waitFor((t) => t.length > temp('store down').length)).toBe(temp('store down') + temp('store down'));
    client.socket.destroy();
  });

  it.each([
    ['bad length digits', '8x:relay vm,', 'ESOCKETMAP_BAD_LENGTH'],
    ['a missing comma', '8:relay vm;', 'ESOCKETMAP_MISSING_COMMA'],
    ['an over-cap length', `${MAX_SOCKETMAP_REQUEST + 1}:`, 'ESOCKETMAP_TOO_LONG'],
    ['an empty map name', '3: vm,', 'ESOCKETMAP_EMPTY_MAP_NAME'],
  ])('drops a connection that sends %s, without replying, and logs the code', async (_name, input, code) => {
    const { server, records } = makeServer(known);
    const client = await connectClient(await tcp(server));
    client.socket.write(input);
    expect(await client.closed).toBe('');
    expect(records.some((r) => r.includes(code) && r.includes('"level":"warn"'))).toBe(true);
  });

  it('closes an idle connection after idleTimeoutMs', async () => {
    const { server, records } = makeServer(known, 50);
    const client = await connectClient(await tcp(server));
    client.socket.write(request('relay', 'other.example'));
    expect(await client.closed).toBe(notFound());
    expect(records.some((r) => r.includes('idle timeout'))).toBe(true);
  });

  it.each([['tcp:127.0.0.1:8895'], ['inet:127.0.0.1'], ['127.0.0.1:8895']])('refuses the endpoint %j (ConfigError)', async (spec) => {
    const { server } = makeServer(known);
    await expect(server.listen(spec)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('SocketmapServer over a unix socket', () => {
  it('listens on "unix:/path", replaces a stale socket, sets the mode and answers', async () => {
    const path = join(dir, 'socketmap');
    makeStaleSocket(path);
    const { server } = makeServer(known);
    await server.listen({ kind: 'unix', path, mode: 0o666 });
    expect((await stat(path)).mode & 0o777).toBe(0o666);
    const client = await connectClient({ path });
    client.socket.write(request('relay', 'bounces.shop.example'));
    expect(await client.waitFor((t) => t.endsWith(','))).toBe(ok('bounces.shop.example'));
    client.socket.destroy();
    await server.close();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
  it('takes the unix endpoint as a string too', async () => {
    const path = join(dir, 'sm2');
    const { server } = makeServer(known);
    expect(await server.listen(`unix:${path}`)).toEqual({ kind: 'unix', path });
    const client = await connectClient({ path });
    client.socket.write(request('relay', 'x.example'));
    expect(await client.waitFor((t) => t.endsWith(','))).toBe(notFound());
    client.socket.destroy();
  });
});

describe('SocketmapServer.close()', () => {
  it('answers a lookup in flight, then closes the connection', async () => {
    const gate = deferred<string | null>();
    const started = deferred<void>();
    const { server } = makeServer(() => {
      started.resolve();
      return gate.promise;
    });
    const client = await connectClient(await tcp(server));
    client.socket.write(request('relay', 'bounces.shop.example'));
    await started.promise;
    const closing = server.close(60_000);
    gate.resolve('bounces.shop.example');
    expect(await client.closed).toBe(ok('bounces.shop.example'));
    await closing;
    expect(server.connectionCount).toBe(0);
  });
});
