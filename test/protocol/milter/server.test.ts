import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/lib/errors.js';
import { MAX_MILTER_REPLY_PAYLOAD } from '../../../src/lib/limits.js';
import type { MilterHandler, MilterHandlerFactory, MilterPeerInfo } from '../../../src/milter/handler.js';
import { MilterReplies } from '../../../src/milter/handler.js';
import type { Logger } from '../../../src/lib/logger.js';
import type { Endpoint } from '../../../src/lib/endpoint.js';
import { MilterServer } from '../../../src/milter/server.js';
import { deferred } from '../helpers.js';
import { frame, mta, parseResponses, recorder, show, spyLogger } from './helpers.js';

/** The MTA side of a milter connection, speaking through test-built frames. */
class MtaClient {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    void this.closed.then(() => this.waiter?.());
  }

  static connect(ep: Endpoint): Promise<MtaClient> {
    return new Promise((resolve, reject) => {
      const s = ep.kind === 'unix' ? net.connect(ep.path) : net.connect(ep.port, ep.host);
      s.once('connect', () => resolve(new MtaClient(s)));
      s.once('error', reject);
    });
  }

  send(...frames: Buffer[]): void {
    this.socket.write(Buffer.concat(frames));
  }

  /** Waits for n whole responses and returns them shown. */
  async read(n: number): Promise<string[]> {
    const got: string[] = [];
    for (;;) {
      while (got.length < n && this.buf.length >= 5 && this.buf.length >= 4 + this.buf.readUInt32BE(0)) {
        const len = this.buf.readUInt32BE(0);
        got.push(show(parseResponses(this.buf.subarray(0, 4 + len))[0]!));
        this.buf = this.buf.subarray(4 + len);
      }
      if (got.length === n) return got;
      if (this.socket.destroyed || this.socket.readableEnded) throw new Error(`connection closed after ${got.length} of ${n} responses`);
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
      this.waiter = null;
    }
  }

  get pendingBytes(): number {
    return this.buf.length;
  }
}

const servers: MilterServer[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function start(
  handler: MilterHandlerFactory,
  opts: Partial<ConstructorParameters<typeof MilterServer>[0]> = {},
  endpoint = 'inet:127.0.0.1:0',
): Promise<{ server: MilterServer; ep: Endpoint }> {
  const server = new MilterServer({ handler, ...opts });
  servers.push(server);
  const ep = await server.listen(endpoint);
  return { server, ep };
}

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'trx-milter-'));
  dirs.push(d);
  return d;
}

const QID = '4jXQZB3dVKzJ9Ft';
const connectHelo = [mta.O(), mta.D('C', ['j', 'mx.example']), mta.C('client.example', '4', 40000, '192.0.2.10'), mta.H('client.example')];
const message = (from: string, to: string): Buffer[] => [
  mta.D('M', ['{auth_authen}', 'alice@customer.example']),
  mta.M(`<${from}>`),
  mta.R(`<${to}>`),
  mta.T(),
  mta.L('From', ` ${from}`),
  mta.L('Subject', ' Hi'),
  mta.N(),
  mta.B('Hello\r\n'),
  mta.D('E', ['i', QID]),
  mta.E(),
];
/** Replies before end-of-message: O, C, H, then M R T L L N B. */
const HEAD = ['O:6,15f,100000,5=i {auth_authen} {auth_type}', 'c', 'c'];
const MSG = ['c', 'c', 'c', 'c', 'c', 'c', 'c'];
const TEMPFAIL = 'y:451 4.3.0 Temporary local problem, please try again later';

describe('logging helpers', () => {
  it('logs through a pino logger: one JSON line per event, with level, message and fields', async () => {
    const lines: string[] = [];
    let seen: ((line: string) => void) | null = null;
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter((l) => l !== '')) {
          lines.push(line);
          seen?.(line);
        }
        done();
      },
    });
    const logged = (msg: string): Promise<void> =>
      lines.some((l) => l.includes(`"msg":"${msg}"`))
        ? Promise.resolve()
        : new Promise((resolve) => {
            seen = (line) => {
              if (line.includes(`"msg":"${msg}"`)) resolve();
            };
          });
    const logger: Logger = pino({ level: 'debug', base: { component: 'milter-test' } }, destination);
    const { server, ep } = await start(() => recorder().handler, { logger });
    const mtaSide = await MtaClient.connect(ep);
    const local = `${mtaSide.socket.localAddress ?? ''}:${mtaSide.socket.localPort ?? ''}`;
    mtaSide.socket.end();
    await logged('milter: connection closed');
    await server.close();

    // pino's record: numeric level (20 debug, 30 info), msg, time, the base fields, then ours.
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const find = (msg: string): Record<string, unknown> | undefined => records.find((r) => r.msg === msg);
    expect(records[0]).toMatchObject({ level: 30, msg: 'milter: listening', component: 'milter-test', endpoint: `inet:127.0.0.1:${ep.kind === 'tcp' ? ep.port : -1}` });
    const opened = find('milter: connection accepted');
    expect(opened).toMatchObject({ level: 20, component: 'milter-test', peer: local });
    expect(typeof opened?.conn).toBe('number');
    expect(find('milter: connection closed')).toMatchObject({ level: 20, conn: opened?.conn });
    expect(records.at(-1)).toMatchObject({ level: 30, msg: 'milter: closed', component: 'milter-test' });
    for (const r of records) expect(typeof r.time).toBe('number');
  });

  it('a pino logger at level info writes no debug lines', async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const { server, ep } = await start(() => recorder().handler, { logger: pino({ level: 'info' }, destination) });
    const mtaSide = await MtaClient.connect(ep);
    mtaSide.socket.end();
    await mtaSide.closed;
    await server.close();
    expect(lines.map((l) => (JSON.parse(l) as { msg: string }).msg)).toEqual(['milter: listening', 'milter: closed']);
  });
});

describe('MilterServer over TCP', () => {
  it('runs a full transaction with edits at end-of-message', async () => {
    const peers: MilterPeerInfo[] = [];
    const r = recorder({
      eom: (ctx) => ({
        edits: [
          { kind: 'chgfrom', address: '<bounce@bounce.example>' },
          { kind: 'delrcpt', address: '<bob@example.net>' },
          { kind: 'addrcpt', address: '<carol@example.org>' },
          { kind: 'chgheader', name: 'Subject', index: 1, value: 'Changed' },
          { kind: 'addheader', name: 'X-Queue', value: ctx.queueId ?? '' },
          { kind: 'replbody', body: [Buffer.from('New body\r\n')] },
        ],
        reply: MilterReplies.continue,
      }),
    });
    const { ep } = await start((peer) => {
      peers.push(peer);
      return r.handler;
    });
    const c = await MtaClient.connect(ep);
    c.send(...connectHelo, ...message('news@customer.example', 'bob@example.net'));
    expect(await c.read(HEAD.length + MSG.length + 7)).toEqual([
      ...HEAD,
      ...MSG,
      'e:<bounce@bounce.example>',
      '-:<bob@example.net>',
      '+:<carol@example.org>',
      'm:1|Subject| Changed',
      `h:X-Queue| ${QID}`,
      'b:10',
      'c',
    ]);
    c.send(mta.A(), mta.Q());
    await c.closed;
    expect(peers[0]).toMatchObject({ id: 1, transport: 'tcp' });
    expect(peers[0]!.remote).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(r.calls.find((x) => x.startsWith('eom'))).toContain(`eom q=${QID} auth=alice@customer.example`);
    await expect.poll(() => r.calls.at(-1)).toBe('close');
  });

  it('takes an abort mid-message, then a second message on the same connection', async () => {
    const r = recorder();
    const { ep } = await start(() => r.handler);
    const c = await MtaClient.connect(ep);
    c.send(...connectHelo, mta.M('<a@b.example>'), mta.R('<c@d.example>'), mta.A());
    expect(await c.read(5)).toEqual([...HEAD, 'c', 'c']);
    c.send(...message('second@customer.example', 'x@y.example'));
    expect(await c.read(MSG.length + 1)).toEqual([...MSG, 'c']);
    expect(r.calls.map((x) => x.split(' ')[0])).toEqual(['connect', 'helo', 'mail', 'rcpt', 'abort', 'mail', 'rcpt', 'data', 'header', 'header', 'eoh', 'body', 'eom']);
    expect(r.calls.at(-1)).toContain('from=second@customer.example');
  });

  it('answers a handler exception with a tempfail and keeps serving', async () => {
    const log = spyLogger();
    const r = recorder({
      eom: () => {
        throw new Error('store unavailable');
      },
    });
    const { ep } = await start(() => r.handler, { logger: log });
    const c = await MtaClient.connect(ep);
    c.send(...connectHelo, ...message('a@customer.example', 'b@example.net'));
    expect((await c.read(HEAD.length + MSG.length + 1)).at(-1)).toBe(TEMPFAIL);
    c.send(mta.A(), ...message('a@customer.example', 'b@example.net'));
    expect((await c.read(MSG.length + 1)).at(-1)).toBe(TEMPFAIL);
    expect(log.error).toHaveBeenCalledTimes(2);
  });

  it('handles pipelined commands strictly one at a time', async () => {
    let active = 0;
    let maxActive = 0;
    const order: string[] = [];
    const slow = async (name: string): Promise<undefined> => {
      active++;
      maxActive = Math.max(maxActive, active);
      order.push(name);
      await new Promise((res) => setImmediate(res));
      active--;
      return undefined;
    };
    const handler: MilterHandler = {
      connect: () => slow('connect'),
      helo: () => slow('helo'),
      mail: () => slow('mail'),
      rcpt: () => slow('rcpt'),
      data: () => slow('data'),
      header: () => slow('header'),
      eoh: () => slow('eoh'),
      body: () => slow('body'),
      eom: async () => {
        await slow('eom');
        return { edits: [], reply: MilterReplies.continue };
      },
    };
    const { ep } = await start(() => handler);
    const c = await MtaClient.connect(ep);
    c.send(...connectHelo, ...message('a@b.example', 'c@d.example'), mta.A(), ...message('a@b.example', 'e@f.example'));
    await c.read(HEAD.length + 2 * (MSG.length + 1));
    expect(maxActive).toBe(1);
    expect(order.join(' ')).toBe(
      'connect helo mail rcpt data header header eoh body eom mail rcpt data header header eoh body eom',
    );
  });

  it('drops the connection on a protocol error and logs it escaped', async () => {
    const log = spyLogger();
    const r = recorder();
    const { ep } = await start(() => r.handler, { logger: log });
    const c = await MtaClient.connect(ep);
    c.send(mta.O(), mta.C('h', '4', 25, '192.0.2.1'), mta.M('<a@b>'), mta.L('X', ' y'), frame('\n'));
    await c.closed;
    expect(log.warn).toHaveBeenCalledTimes(1);
    const line = JSON.stringify(log.warn.mock.calls[0]);
    expect(line).toContain('EMILTER_COMMAND');
    expect(line).toContain('0x0a');
    await expect.poll(() => r.calls.slice(-2)).toEqual(['abort', 'close']);
  });

  it('closes the connection after Q whatever the MTA sends next', async () => {
    const r = recorder();
    const { server, ep } = await start(() => r.handler);
    if (ep.kind !== 'tcp') throw new Error('expected tcp');
    // A half-open peer: it never closes its side, so only our close ends the connection.
    const s = net.connect({ port: ep.port, host: ep.host, allowHalfOpen: true });
    await new Promise((resolve) => s.once('connect', resolve));
    s.on('data', () => undefined);
    s.on('error', () => undefined);
    const ended = new Promise<void>((resolve) => s.once('end', () => resolve()));
    s.write(Buffer.concat([mta.O(), mta.Q(), Buffer.from('\0\0\0\x05Xgarbage after quit')]));
    await ended;
    await expect.poll(() => server.connectionCount).toBe(0);
    expect(r.calls).toEqual(['close']);
    s.destroy();
  });

  it('closes connections over maxConnections at once and logs the cap once for a burst', async () => {
    const log = spyLogger();
    const { server, ep } = await start(() => recorder().handler, { maxConnections: 2, logger: log });
    const kept = [await MtaClient.connect(ep), await MtaClient.connect(ep)];
    for (const c of kept) {
      c.send(mta.O());
      expect(await c.read(1)).toEqual([HEAD[0]]);
    }
    const over = await Promise.all(Array.from({ length: 5 }, () => MtaClient.connect(ep)));
    await Promise.all(over.map((c) => c.closed));
    const capLines = log.warn.mock.calls.filter((call) => call[1] === 'milter: connection cap reached; closing new connections at once');
    expect(capLines).toHaveLength(1);
    expect(server.connectionCount).toBe(2);
    // The connections under the cap still work; one closing makes room for a new one.
    kept[0]!.send(mta.Q());
    await kept[0]!.closed;
    await expect.poll(() => server.connectionCount).toBe(1);
    const next = await MtaClient.connect(ep);
    next.send(mta.O());
    expect(await next.read(1)).toEqual([HEAD[0]]);
    kept[1]!.send(mta.C('h', '4', 25, '192.0.2.1'));
    expect(await kept[1]!.read(1)).toEqual(['c']);
  });

  it('closes a connection that stays idle past idleTimeoutMs', async () => {
    const log = spyLogger();
    const r = recorder();
    const { server, ep } = await start(() => r.handler, { idleTimeoutMs: 50, logger: log });
    const c = await MtaClient.connect(ep);
    c.send(mta.O());
    expect(await c.read(1)).toEqual([HEAD[0]]);
    await c.closed;
    expect(log.info.mock.calls.some((call) => call[1] === 'milter: idle timeout; closing connection')).toBe(true);
    await expect.poll(() => server.connectionCount).toBe(0);
    expect(r.calls).toEqual(['close']);
  });

  it('streams a large body replacement to a slow reader', async () => {
    const size = 8 * 1024 * 1024 + 123;
    let produced = 0;
    function* body(): Generator<Buffer> {
      const piece = Buffer.alloc(100_000, 0x42);
      while (produced < size) {
        const n = Math.min(piece.length, size - produced);
        produced += n;
        yield piece.subarray(0, n);
      }
    }
    const r = recorder({ eom: () => ({ edits: [{ kind: 'replbody', body: body() }], reply: MilterReplies.continue }) });
    const { ep } = await start(() => r.handler);
    const c = await MtaClient.connect(ep);
    c.socket.pause();
    c.send(...connectHelo, ...message('a@b.example', 'c@d.example'));
    await expect.poll(() => produced).toBeGreaterThan(3 * MAX_MILTER_REPLY_PAYLOAD);
    c.socket.resume();
    const packets = Math.ceil(size / MAX_MILTER_REPLY_PAYLOAD);
    const out = await c.read(HEAD.length + MSG.length + packets + 1);
    const bodies = out.slice(HEAD.length + MSG.length, -1);
    expect(bodies).toHaveLength(packets);
    expect(bodies.reduce((n, b) => n + Number(b.slice(2)), 0)).toBe(size);
    expect(out.at(-1)).toBe('c');
  });
});

describe('MilterServer.close()', () => {
  it('waits for an in-flight transaction, refuses new connections, then ends', async () => {
    const entered = deferred();
    const release = deferred();
    const r = recorder({
      eom: async () => {
        entered.resolve();
        await release.promise;
        return { edits: [{ kind: 'addheader', name: 'X-Done', value: 'yes' }], reply: MilterReplies.continue };
      },
    });
    const { server, ep } = await start(() => r.handler);
    const idle = await MtaClient.connect(ep);
    idle.send(...connectHelo);
    await idle.read(HEAD.length);
    const busy = await MtaClient.connect(ep);
    busy.send(...connectHelo, ...message('a@b.example', 'c@d.example'));
    await entered.promise;

    let closed = false;
    const closing = server.close().then(() => {
      closed = true;
    });
    await idle.closed; // between messages: ended at once
    await expect(MtaClient.connect(ep)).rejects.toThrow();
    expect(closed).toBe(false);

    release.resolve();
    const out = await busy.read(HEAD.length + MSG.length + 2);
    expect(out.slice(-2)).toEqual(['h:X-Done| yes', 'c']);
    await busy.closed;
    await closing;
    expect(closed).toBe(true);
    expect(server.connectionCount).toBe(0);
  });

  it('drops connections still busy at the deadline', async () => {
    const entered = deferred();
    const r = recorder({
      eom: async () => {
        entered.resolve();
        return new Promise(() => undefined);
      },
    });
    const log = spyLogger();
    const { server, ep } = await start(() => r.handler, { closeDeadlineMs: 50, logger: log });
    const c = await MtaClient.connect(ep);
    c.send(...connectHelo, ...message('a@b.example', 'c@d.example'));
    await entered.promise;
    await server.close();
    await c.closed;
    expect(log.warn.mock.calls.some((call) => String(call[1]).includes('deadline'))).toBe(true);
  });
});

describe('MilterServer over a unix socket', () => {
  it('removes a stale socket, sets the mode, serves, and removes the socket on close', async () => {
    const path = join(tmp(), 'milter.sock');
    // A process that dies without cleaning up leaves a socket file nobody listens on.
    const child = spawnSync(
      process.execPath,
      ['-e', "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", path],
      { timeout: 10_000 },
    );
    expect(child.signal).toBe('SIGKILL');
    expect(statSync(path).isSocket()).toBe(true);

    const r = recorder({ eom: () => ({ edits: [{ kind: 'delrcpt', address: '<c@d.example>' }], reply: MilterReplies.accept }) });
    const { server, ep } = await start(() => r.handler, { socketMode: 0o600 }, `unix:${path}`);
    expect(ep).toEqual({ kind: 'unix', path });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const c = await MtaClient.connect(ep);
    c.send(...connectHelo, ...message('a@b.example', 'c@d.example'));
    expect((await c.read(HEAD.length + MSG.length + 2)).slice(-2)).toEqual(['-:<c@d.example>', 'a']);
    c.send(mta.A(), mta.Q());
    await c.closed;
    await server.close();
    expect(existsSync(path)).toBe(false);
  });

  it('uses mode 0660 by default', async () => {
    const path = join(tmp(), 'm.sock');
    await start(() => recorder().handler, {}, `unix:${path}`);
    expect(statSync(path).mode & 0o777).toBe(0o660);
  });

  it('refuses a path that is not a socket, or a socket in use', async () => {
    const dir = tmp();
    const file = join(dir, 'file');
    writeFileSync(file, 'keep me');
    await expect(start(() => recorder().handler, {}, `unix:${file}`)).rejects.toThrow(ConfigError);
    expect(existsSync(file)).toBe(true);

    const live = join(dir, 'live.sock');
    await start(() => recorder().handler, {}, `unix:${live}`);
    await expect(start(() => recorder().handler, {}, `unix:${live}`)).rejects.toThrow(/in use/);
  });

  it('refuses a TCP port in use with a ConfigError', async () => {
    const { ep } = await start(() => recorder().handler);
    if (ep.kind !== 'tcp') throw new Error('expected tcp');
    await expect(start(() => recorder().handler, {}, `inet:127.0.0.1:${ep.port}`)).rejects.toThrow(ConfigError);
  });
});
