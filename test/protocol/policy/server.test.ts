import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAX_POLICY_LINE } from '../../../src/lib/limits.js';
import type { PolicyRequest } from '../../../src/policy/codec.js';
import { PolicyServer } from '../../../src/policy/server.js';
import type { PolicyDecider } from '../../../src/policy/session.js';
import { captureLogger, connectClient, deferred, makeStaleSocket } from '../helpers.js';
import { RCPT_ATTRIBUTES, RCPT_REQUEST, asRecord, reply, request, withValues } from './helpers.js';

let dir: string;
const servers: PolicyServer[] = [];

function makeServer(decide: PolicyDecider, idleTimeoutMs?: number): { server: PolicyServer; records: string[] } {
  const { logger, records } = captureLogger();
  const server = new PolicyServer({ decide, logger, ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}) });
  servers.push(server);
  return { server, records };
}

async function tcp(server: PolicyServer): Promise<{ host: string; port: number }> {
  const bound = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  if (bound.kind !== 'tcp') throw new Error('expected tcp');
  return bound;
}

const dunno: PolicyDecider = () => Promise.resolve('DUNNO');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'trx-policy-'));
});
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
  await rm(dir, { recursive: true, force: true });
});

describe('PolicyServer over TCP', () => {
  it('answers a full RCPT request, then a second one on the same connection', async () => {
    const seen: PolicyRequest[] = [];
    const { server } = makeServer((req) => {
      seen.push(req);
      return Promise.resolve(seen.length === 1 ? 'DUNNO' : 'REJECT Sender not allowed');
    });
    const client = await connectClient(await tcp(server));
    client.socket.write(RCPT_REQUEST);
    expect(await client.waitFor((t) => t.endsWith('\n\n'))).toBe(reply('DUNNO'));
    client.socket.write(request(withValues({ recipient: 'carol@example.net' })));
    expect(await client.waitFor((t) => t.length > reply('DUNNO').length && t.endsWith('\n\n'))).toBe(
      reply('DUNNO') + reply('REJECT Sender not allowed'),
    );
    expect({ ...seen[0] }).toEqual(asRecord(RCPT_ATTRIBUTES));
    expect(seen[1]!['recipient']).toBe('carol@example.net');
    expect(server.connectionCount).toBe(1);
    client.socket.destroy();
  });

  it.each([
    ['an over-long line', 'request=smtpd_access_policy\nsender=' + 'a'.repeat(MAX_POLICY_LINE) + '\n\n', 'EPOLICY_LINE_TOO_LONG'],
    ['a line without "="', 'request=smtpd_access_policy\nsender\n\n', 'EPOLICY_BAD_LINE'],
    ['the wrong request type', 'request=junk\n\n', 'EPOLICY_BAD_REQUEST'],
  ])('drops a connection that sends %s, without replying, and logs the code', async (_name, input, code) => {
    const { server, records } = makeServer(dunno);
    const client = await connectClient(await tcp(server));
    client.socket.write(input);
    expect(await client.closed).toBe('');
    expect(records.some((r) => r.includes(code) && r.includes('"level":"warn"'))).toBe(true);
  });

  it('drops the connection without replying when decide() fails', async () => {
    const { server, records } = makeServer(() => Promise.reject(new Error('store down')));
    const client = await connectClient(await tcp(server));
    client.socket.write(RCPT_REQUEST);
    expect(await client.closed).toBe('');
    expect(records.some((r) => r.includes('store down') && r.includes('"level":"error"'))).toBe(true);
  });

  it('closes an idle connection after idleTimeoutMs', async () => {
    const { server, records } = makeServer(dunno, 50);
    const client = await connectClient(await tcp(server));
    client.socket.write(RCPT_REQUEST);
    expect(await client.closed).toBe(reply('DUNNO'));
    expect(records.some((r) => r.includes('idle timeout'))).toBe(true);
  });
});

describe('PolicyServer over a unix socket', () => {
  it('replaces a stale socket, sets the mode and answers', async () => {
    const path = join(dir, 'policy');
    makeStaleSocket(path);
    const { server } = makeServer(dunno);
    await server.listen({ kind: 'unix', path, mode: 0o666 });
    expect((await stat(path)).mode & 0o777).toBe(0o666);
    const client = await connectClient({ path });
    client.socket.write(RCPT_REQUEST);
    expect(await client.waitFor((t) => t.endsWith('\n\n'))).toBe(reply('DUNNO'));
    client.socket.destroy();
    await server.close();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('PolicyServer.close()', () => {
  it('answers a request being decided, then closes the connection', async () => {
    const gate = deferred<string>();
    const started = deferred<void>();
    const { server } = makeServer(() => {
      started.resolve();
      return gate.promise;
    });
    const client = await connectClient(await tcp(server));
    client.socket.write(RCPT_REQUEST);
    await started.promise;
    const closing = server.close(60_000);
    gate.resolve('OK');
    expect(await client.closed).toBe(reply('OK'));
    await closing;
    expect(server.connectionCount).toBe(0);
  });
});
