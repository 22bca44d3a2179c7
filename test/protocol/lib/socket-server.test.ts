/**
 * SocketServer with stream handlers (the milter's kind): the handler pulls the peer's bytes
 * at its own pace, writes with backpressure, ends or drops the connection by how run()
 * settles; the idle timeout counts only while it waits for input; a graceful close ends the
 * input once the handler is at rest. Line handlers (auth, policy) are covered by their
 * servers' tests.
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Endpoint } from '../../../src/lib/endpoint.js';
import { ProtocolError } from '../../../src/lib/errors.js';
import { SocketServer, type ConnectionContext, type StreamConnectionHandler } from '../../../src/lib/socket-server.js';
import { captureLogger, connectClient, deferred } from '../helpers.js';

const servers: SocketServer[] = [];
afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
});

async function start(
  make: (ctx: ConnectionContext) => StreamConnectionHandler,
  idleTimeoutMs = 0,
): Promise<{ server: SocketServer; port: number; records: string[] }> {
  const { logger, records } = captureLogger();
  const server = new SocketServer({ name: 'test', idleTimeoutMs, maxConnections: 1000, logger, createHandler: make });
  servers.push(server);
  const ep = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  if (ep.kind !== 'tcp') throw new Error('expected tcp');
  return { server, port: ep.port, records };
}

/** A stream handler from a run() function; at rest unless told otherwise. */
function stream(run: (input: AsyncIterable<Buffer>) => Promise<void>, atRest: () => boolean = () => true): StreamConnectionHandler {
  return { run, atRest };
}

describe('SocketServer with a stream handler', () => {
  it('hands the handler its listener endpoint and the peer bytes; write() answers', async () => {
    const endpoints: Endpoint[] = [];
    const { port } = await start((ctx) => {
      endpoints.push(ctx.endpoint);
      return stream(async (input) => {
        for await (const chunk of input) {
          await ctx.write(Buffer.from(chunk.toString('latin1').toUpperCase(), 'latin1'));
          if (chunk.includes('.')) return;
        }
      });
    });
    const c = await connectClient({ host: '127.0.0.1', port });
    c.socket.write('abc');
    await c.waitFor((t) => t === 'ABC');
    c.socket.write('de.');
    expect(await c.closed).toBe('ABCDE.');
    expect(endpoints).toEqual([{ kind: 'tcp', host: '127.0.0.1', port }]);
  });

  it('flushes everything written before ending the connection when run() resolves', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 0x61);
    const { port } = await start((ctx) =>
      stream(async () => {
        await ctx.write(big);
        await ctx.write(Buffer.from('!'));
      }),
    );
    const c = await connectClient({ host: '127.0.0.1', port });
    const text = await c.closed;
    expect(text.length).toBe(big.length + 1);
    expect(text.endsWith('a!')).toBe(true);
  });

  it('after run() resolves, reads nothing more and drops a peer that does not take our last bytes within the close grace', async () => {
    const { logger } = captureLogger();
    const server = new SocketServer({
      name: 'test',
      idleTimeoutMs: 0,
      closeGraceMs: 100,
      maxConnections: 10,
      logger,
      createHandler: (ctx) =>
        stream(async (input) => {
          for await (const chunk of input) {
            // The last reply is larger than the socket buffers; not awaited, as a reply
            // that fit under the high-water mark would not be.
            void Promise.resolve(ctx.write(Buffer.alloc(64 * 1024 * 1024 + chunk.length, 0x61))).catch(() => undefined);
            return;
          }
        }),
    });
    servers.push(server);
    const ep = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (ep.kind !== 'tcp') throw new Error('expected tcp');
    // A half-open peer that never reads and keeps sending.
    const peer = net.connect({ port: ep.port, host: ep.host, allowHalfOpen: true });
    peer.on('error', () => undefined);
    await new Promise((resolve) => peer.once('connect', resolve));
    peer.pause();
    peer.write('q');
    peer.write(Buffer.alloc(4096, 0x7a));
    await expect.poll(() => server.connectionCount, { timeout: 5_000 }).toBe(0);
    peer.destroy();
  });

  it('closes connections over maxConnections at once; one warning per interval with the count refused', async () => {
    const { logger, records } = captureLogger();
    let now = 1_000_000;
    const server = new SocketServer({
      name: 'test',
      idleTimeoutMs: 0,
      maxConnections: 1,
      logger,
      now: () => now,
      createHandler: () => stream(async (input) => {
        for await (const chunk of input) if (chunk.includes('.')) return;
      }),
    });
    servers.push(server);
    const ep = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (ep.kind !== 'tcp') throw new Error('expected tcp');
    const target = { host: '127.0.0.1', port: ep.port };
    const first = await connectClient(target);
    await expect.poll(() => server.connectionCount).toBe(1);
    const burst = await Promise.all([connectClient(target), connectClient(target), connectClient(target)]);
    await Promise.all(burst.map((c) => c.closed));
    const capLines = (): { refused: number }[] =>
      records.map((r) => JSON.parse(r) as { msg: string; refused: number }).filter((r) => r.msg === 'test: connection cap reached; closing new connections at once');
    expect(capLines()).toHaveLength(1);
    now += 59_999;
    await (await connectClient(target)).closed;
    expect(capLines()).toHaveLength(1);
    now += 1;
    await (await connectClient(target)).closed;
    expect(capLines().map((l) => l.refused)).toEqual([1, 4]);
    expect(server.connectionCount).toBe(1);
    first.socket.write('.');
    await first.closed;
    await expect.poll(() => server.connectionCount).toBe(0);
    const again = await connectClient(target);
    await expect.poll(() => server.connectionCount).toBe(1);
    again.socket.destroy();
  });

  it('drops the connection when run() rejects, with a warning for a ProtocolError', async () => {
    const { port, records } = await start(() =>
      stream(async (input) => {
        for await (const chunk of input) throw new ProtocolError('ETEST_BAD', `bad byte ${chunk[0]}`);
      }),
    );
    const c = await connectClient({ host: '127.0.0.1', port });
    c.socket.write('x');
    await c.closed;
    expect(records.some((r) => r.includes('ETEST_BAD') && r.includes('"level":"warn"'))).toBe(true);
  });

  it('counts the idle timeout only while the handler waits for input', async () => {
    const got = deferred();
    const gate = deferred();
    const { server, port, records } = await start(
      () =>
        stream(async (input) => {
          for await (const _chunk of input) {
            got.resolve();
            await gate.promise;
          }
        }),
      1000,
    );
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const c = await connectClient({ host: '127.0.0.1', port });
    c.socket.write('x');
    await got.promise;
    vi.advanceTimersByTime(10_000); // busy on a request: no idle timer runs
    expect(vi.getTimerCount()).toBe(0);
    expect(server.connectionCount).toBe(1);
    gate.resolve();
    while (vi.getTimerCount() === 0) await new Promise((resolve) => setImmediate(resolve));
    vi.advanceTimersByTime(999);
    await new Promise((resolve) => setImmediate(resolve));
    expect(records.some((r) => r.includes('idle timeout'))).toBe(false);
    vi.advanceTimersByTime(1);
    await c.closed;
    expect(records.some((r) => r.includes('idle timeout'))).toBe(true);
  });

  it('close() keeps reading until the handler is at rest, then ends its input', async () => {
    let busy = false;
    const seen: string[] = [];
    const { server, port } = await start(() =>
      stream(
        async (input) => {
          for await (const chunk of input) {
            const text = chunk.toString('latin1');
            seen.push(text);
            busy = !text.includes('end');
          }
          seen.push('input ended');
        },
        () => !busy,
      ),
    );
    const c = await connectClient({ host: '127.0.0.1', port });
    c.socket.write('begin');
    await vi.waitFor(() => expect(seen).toEqual(['begin']));
    let closed = false;
    const closing = server.close(60_000).then(() => {
      closed = true;
    });
    await expect(new Promise<boolean>((resolve) => net.connect(port, '127.0.0.1').once('error', () => resolve(true)))).resolves.toBe(true);
    expect(closed).toBe(false);
    c.socket.write('end');
    await c.closed;
    await closing;
    expect(seen).toEqual(['begin', 'end', 'input ended']);
  });

  it('close() ends a connection at rest at once', async () => {
    const { server, port } = await start(() =>
      stream(async (input) => {
        for await (const _chunk of input) {
          // at rest between chunks
        }
      }),
    );
    const c = await connectClient({ host: '127.0.0.1', port });
    await vi.waitFor(() => expect(server.connectionCount).toBe(1));
    await server.close(60_000);
    await c.closed;
    expect(server.connectionCount).toBe(0);
  });
});
