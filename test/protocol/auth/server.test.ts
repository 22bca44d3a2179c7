import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuthServer } from '../../../src/auth/server.js';
import type { AuthVerifier, VerifyResult } from '../../../src/auth/session.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { MAX_AUTH_LINE } from '../../../src/lib/limits.js';
import { captureLogger, connectClient, deferred, makeStaleSocket } from '../helpers.js';
import {
  PASSWORD,
  POSTFIX_HELLO,
  fakeVerify,
  plain,
  postfixAuth,
  type VerifyCall,
} from './helpers.js';

const JOE = 'joe@example.com';
/** The server's handshake with its random parts blanked. */
const HANDSHAKE_RE = /^VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t\d+\nCUID\t\d+\nCOOKIE\t[0-9a-f]{32}\nDONE\n/;

let dir: string;
const servers: AuthServer[] = [];

function makeServer(verify: AuthVerifier, extra: { idleTimeoutMs?: number } = {}): { server: AuthServer; records: string[] } {
  const { logger, records } = captureLogger();
  const server = new AuthServer({ verify, logger, ...extra });
  servers.push(server);
  return { server, records };
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trx-auth-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
  await rm(dir, { recursive: true, force: true });
});

describe('AuthServer over TCP', () => {
  it('serves the Postfix handshake and a PLAIN login on 127.0.0.1', async () => {
    const calls: VerifyCall[] = [];
    const { server } = makeServer(fakeVerify(calls));
    const bound = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (bound.kind !== 'tcp') throw new Error('expected tcp');
    expect(bound.port).toBeGreaterThan(0);
    const client = await connectClient(bound);
    client.socket.write(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) }));
    const text = await client.waitFor((t) => t.includes('OK\t1'));
    expect(text).toMatch(HANDSHAKE_RE);
    expect(text.replace(HANDSHAKE_RE, '')).toBe('OK\t1\tuser=joe@example.com\n');
    expect(calls.map((c) => c.meta)).toEqual([{ service: 'smtp', rip: '192.0.2.10', lip: '127.0.0.1', secured: true, mechanism: 'PLAIN' }]);
    client.socket.destroy();
  });

  it('logs through a pino logger at debug level without a password or SASL payload', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const server = new AuthServer({ verify: fakeVerify([]), logger: pino({ level: 'debug' }, sink) });
    servers.push(server);
    const bound = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (bound.kind !== 'tcp') throw new Error('expected tcp');
    const resp = plain('', JOE, PASSWORD);
    const client = await connectClient(bound);
    client.socket.write(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp }) + postfixAuth(2, 'PLAIN', { resp: plain('', JOE, 'wrong') }));
    await client.waitFor((t) => t.includes('FAIL\t2'));
    const log = lines.join('');
    expect(log).toContain('auth: success');
    expect(log).toContain('auth: failed');
    for (const secret of [PASSWORD, resp, 'wrong', plain('', JOE, 'wrong')]) expect(log).not.toContain(secret);
    client.socket.destroy();
  });

  it('gives each connection its own CUID and cookie', async () => {
    const { server } = makeServer(fakeVerify([]));
    const bound = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (bound.kind !== 'tcp') throw new Error('expected tcp');
    const [a, b] = await Promise.all([connectClient(bound), connectClient(bound)]);
    const [ta, tb] = await Promise.all([a.waitFor((t) => t.includes('DONE\n')), b.waitFor((t) => t.includes('DONE\n'))]);
    const ids = (t: string): string => /CUID\t(\d+)\nCOOKIE\t(\w+)/.exec(t)!.slice(1).join(' ');
    expect(ids(ta)).not.toBe(ids(tb));
    a.socket.destroy();
    b.socket.destroy();
  });

  it('drops a connection that sends a line over MAX_AUTH_LINE, without answering, and logs why', async () => {
    const { server, records } = makeServer(fakeVerify([]));
    const bound = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (bound.kind !== 'tcp') throw new Error('expected tcp');
    const client = await connectClient(bound);
    client.socket.write(POSTFIX_HELLO + 'AUTH\t1\tPLAIN\tservice=smtp\tresp=' + 'A'.repeat(MAX_AUTH_LINE));
    const text = await client.closed;
    expect(text.replace(HANDSHAKE_RE, '')).toBe('');
    expect(records.some((r) => r.includes('EAUTH_LINE_TOO_LONG') && r.includes('"level":"warn"'))).toBe(true);
  });

  it('drops a client with the wrong protocol major version', async () => {
    const { server } = makeServer(fakeVerify([]));
    const bound = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (bound.kind !== 'tcp') throw new Error('expected tcp');
    const client = await connectClient(bound);
    client.socket.write('VERSION\t2\t0\nCPID\t1\n' + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) }));
    expect((await client.closed).replace(HANDSHAKE_RE, '')).toBe('');
  });

  it('resets the TCP connection on a temporary failure (after the replies written so far): the next write fails, as Postfix before 3.11 needs to reconnect; closes a unix one', async () => {
    const { server } = makeServer(fakeVerify([]));
    const tcp = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (tcp.kind !== 'tcp') throw new Error('expected tcp');
    // As Postfix's auth client: it reads EOF for the dropped request, and writes its next one on the same connection.
    const socket = net.connect({ port: tcp.port, host: tcp.host, allowHalfOpen: true });
    socket.on('error', () => undefined);
    let received = '';
    socket.on('data', (d: Buffer) => (received += d.toString('utf8')));
    const nextWrite = new Promise<string>((resolve) => {
      socket.on('end', () => socket.write(postfixAuth(2, 'PLAIN', { resp: plain('', JOE, PASSWORD) }), (err) => resolve((err as NodeJS.ErrnoException | null | undefined)?.code ?? 'written')));
    });
    socket.write(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', 'temp@example.com', PASSWORD) }));
    expect(['ECONNRESET', 'EPIPE']).toContain(await nextWrite);
    // The handshake written before the drop arrived in full.
    expect(received).toMatch(HANDSHAKE_RE);
    socket.destroy();

    const path = join(dir, 'auth.sock');
    await server.listen({ kind: 'unix', path });
    const client = await connectClient({ path });
    client.socket.write(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', 'temp@example.com', PASSWORD) }));
    expect((await client.closed).replace(HANDSHAKE_RE, '')).toBe('');
  });

  it('closes an idle connection after idleTimeoutMs', async () => {
    const { server, records } = makeServer(fakeVerify([]), { idleTimeoutMs: 50 });
    const bound = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (bound.kind !== 'tcp') throw new Error('expected tcp');
    const client = await connectClient(bound);
    client.socket.write(POSTFIX_HELLO);
    expect(await client.closed).toMatch(HANDSHAKE_RE);
    expect(records.some((r) => r.includes('idle timeout'))).toBe(true);
  });

  it('refuses a TCP port already in use with a ConfigError', async () => {
    const { server } = makeServer(fakeVerify([]));
    const bound = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (bound.kind !== 'tcp') throw new Error('expected tcp');
    const { server: other } = makeServer(fakeVerify([]));
    await expect(other.listen({ kind: 'tcp', host: '127.0.0.1', port: bound.port })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('AuthServer over a unix socket', () => {
  it('serves PLAIN and sets the default mode 0660', async () => {
    const { server } = makeServer(fakeVerify([]));
    const path = join(dir, 'auth');
    await server.listen({ kind: 'unix', path });
    expect((await stat(path)).mode & 0o777).toBe(0o660);
    const client = await connectClient({ path });
    client.socket.write(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, 'wrong') }));
    const text = await client.waitFor((t) => t.includes('FAIL\t1'));
    expect(text.replace(HANDSHAKE_RE, '')).toBe('FAIL\t1\tuser=joe@example.com\treason=Invalid login or password\n');
    client.socket.destroy();
  });

  it('sets a requested mode', async () => {
    const { server } = makeServer(fakeVerify([]));
    const path = join(dir, 'auth');
    await server.listen({ kind: 'unix', path, mode: 0o600 });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('removes a stale socket file left by a dead process', async () => {
    const path = join(dir, 'auth');
    makeStaleSocket(path);
    expect((await stat(path)).isSocket()).toBe(true);
    const { server } = makeServer(fakeVerify([]));
    await server.listen({ kind: 'unix', path });
    const client = await connectClient({ path });
    expect(await client.waitFor((t) => t.includes('DONE\n'))).toMatch(HANDSHAKE_RE);
    client.socket.destroy();
  });

  it('refuses a socket another server is listening on, and leaves it working', async () => {
    const path = join(dir, 'auth');
    const { server: first } = makeServer(fakeVerify([]));
    await first.listen({ kind: 'unix', path });
    const { server: second } = makeServer(fakeVerify([]));
    await expect(second.listen({ kind: 'unix', path })).rejects.toThrow(/in use/);
    const client = await connectClient({ path });
    expect(await client.waitFor((t) => t.includes('DONE\n'))).toMatch(HANDSHAKE_RE);
    client.socket.destroy();
  });

  it('refuses a path that is not a socket and does not remove it', async () => {
    const path = join(dir, 'auth');
    await writeFile(path, 'keep me');
    const { server } = makeServer(fakeVerify([]));
    await expect(server.listen({ kind: 'unix', path })).rejects.toThrow(/not a socket/);
    expect((await stat(path)).isFile()).toBe(true);
  });

  it('removes its socket file on close()', async () => {
    const path = join(dir, 'auth');
    const { server } = makeServer(fakeVerify([]));
    await server.listen({ kind: 'unix', path });
    await server.close();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('AuthServer.close()', () => {
  it('answers a request whose verify() is running, then closes; new connections are refused', async () => {
    const gate = deferred<VerifyResult>();
    const started = deferred<void>();
    const { server } = makeServer(() => {
      started.resolve();
      return gate.promise;
    });
    const bound = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (bound.kind !== 'tcp') throw new Error('expected tcp');
    const client = await connectClient(bound);
    client.socket.write(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) }));
    await started.promise;
    let closed = false;
    const closing = server.close(60_000).then(() => {
      closed = true;
    });
    await expect(
      new Promise((resolve, reject) => {
        const probe = net.connect(bound.port, bound.host);
        probe.once('connect', () => {
          probe.destroy();
          reject(new Error('connected after close()'));
        });
        probe.once('error', resolve);
      }),
    ).resolves.toMatchObject({ code: 'ECONNREFUSED' });
    expect(closed).toBe(false);
    gate.resolve({ status: 'ok', user: JOE });
    const text = await client.closed;
    expect(text.replace(HANDSHAKE_RE, '')).toBe('OK\t1\tuser=joe@example.com\n');
    await closing;
    expect(server.connectionCount).toBe(0);
  });

  it('drops connections whose work outlives the grace period', async () => {
    const started = deferred<void>();
    const { server, records } = makeServer(() => {
      started.resolve();
      return new Promise<VerifyResult>(() => undefined);
    });
    const bound = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    if (bound.kind !== 'tcp') throw new Error('expected tcp');
    const client = await connectClient(bound);
    client.socket.write(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) }));
    await started.promise;
    await server.close(20);
    expect((await client.closed).replace(HANDSHAKE_RE, '')).toBe('');
    expect(records.some((r) => r.includes('grace period over'))).toBe(true);
  });

  it('is idempotent and refuses listen() afterwards', async () => {
    const { server } = makeServer(fakeVerify([]));
    await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const a = server.close();
    expect(server.close()).toBe(a);
    await a;
    await expect(server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 })).rejects.toBeInstanceOf(ConfigError);
  });
});
