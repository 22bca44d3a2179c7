/**
 * Round trips and writes on the milter socket (issue 15 item 1): which events the MTA is
 * asked to send and to wait for, and that a reply's frames leave in one socket write.
 */
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Endpoint } from '../../../src/lib/endpoint.js';
import { RejectError } from '../../../src/lib/errors.js';
import { MAX_MILTER_REPLY_PAYLOAD, MILTER_WRITE_BATCH_BYTES } from '../../../src/lib/limits.js';
import { decodeCommand, MilterFrameDecoder } from '../../../src/milter/decode.js';
import type { MilterEdit, MilterHandler } from '../../../src/milter/handler.js';
import { MilterReplies } from '../../../src/milter/handler.js';
import { createRulesHandler, type RulesHandlerDeps } from '../../../src/milter/rules-handler.js';
import { MilterServer } from '../../../src/milter/server.js';
import { MilterSession } from '../../../src/milter/session.js';
import { mta, parseResponses, recorder, show, showAll } from './helpers.js';

const QID = '4jXQZB3dVKzJ9Ft';

/* SMFIP_* bits, spelled out here rather than imported, so a wrong constant cannot cancel out. */
const NOCONNECT = 0x1;
const NOHELO = 0x2;
const NOEOH = 0x40;
const NR_HDR = 0x80;
const NOUNKNOWN = 0x100;
const NODATA = 0x200;
const NR_CONN = 0x1000;
const NR_RCPT = 0x8000;
const NR_BODY = 0x80000;
const HDR_LEADSPC = 0x100000;
/** What the rules handler needs from Postfix 3.7: MAIL answered; RCPT, headers, body sent unanswered; end-of-message. */
const RULES_BITS = HDR_LEADSPC | NOCONNECT | NOHELO | NODATA | NOEOH | NOUNKNOWN | NR_RCPT | NR_HDR | NR_BODY;

/** Codec + session over the given chunks; the responses as shown. */
async function run(handler: MilterHandler, chunks: readonly Buffer[]): Promise<string[]> {
  const session = new MilterSession(handler);
  const decoder = new MilterFrameDecoder();
  const out: Buffer[] = [];
  try {
    for (const c of chunks) for (const f of decoder.push(c)) await session.handle(decodeCommand(f), (b) => void out.push(b));
  } finally {
    await session.close();
  }
  return showAll(Buffer.concat(out));
}

/** What Postfix 3.7 sends under RULES_BITS for one message: a D before every event, skipped events included. */
const leanMessage = (body: Buffer[]): Buffer[] => [
  mta.O(6, 0x1ff, 0x1fffff),
  mta.D('C', ['j', 'mx.example']),
  mta.D('H'),
  mta.D('M', ['{auth_authen}', 'alice@customer.example']),
  mta.M('<news@customer.example>', 'SIZE=512'),
  mta.D('R', ['{rcpt_addr}', 'bob@example.net']),
  mta.R('<bob@example.net>'),
  mta.D('T', ['i', QID]),
  mta.D('L', ['i', QID]),
  mta.L('From', ' news@customer.example'),
  mta.D('L', ['i', QID]),
  mta.L('Subject', ' Hi'),
  mta.D('N', ['i', QID]),
  ...body.flatMap((b) => [mta.D('B', ['i', QID]), mta.B(b)]),
  mta.D('E', ['i', QID]),
  mta.E(),
  mta.A(),
  mta.Q(),
];

describe('negotiation: only the events the handler needs, answered only where it must', () => {
  it('the rules handler: no C/HELO/DATA/EOH/unknown; RCPT, headers and body not waited for', async () => {
    // Negotiation reads only the handler's methods and flags, never its ports.
    const handler = createRulesHandler({} as RulesHandlerDeps)({ id: 1, transport: 'tcp', remote: '127.0.0.1:1' });
    const session = new MilterSession(handler);
    const out: Buffer[] = [];
    await session.handle({ type: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff }, (b) => void out.push(b));
    expect(showAll(Buffer.concat(out))).toEqual([`O:6,15f,${RULES_BITS.toString(16)},5=i {auth_authen} {auth_type}`]);
    expect(session.negotiated.protocol & NR_CONN).toBe(0);
    await session.close();
  });

  it('replyLater + needsConnectInfo: false: one reply at MAIL and one at end-of-message, split at every offset', async () => {
    const make = (): ReturnType<typeof recorder> => {
      const r = recorder({
        omit: ['connect', 'helo', 'rcpt', 'data', 'header', 'eoh', 'unknown'],
        eom: () => ({ edits: [{ kind: 'addheader', name: 'X-Id', value: QID }], reply: MilterReplies.continue }),
      });
      Object.assign(r.handler, { replyLater: ['body'], needsConnectInfo: false });
      return r;
    };
    const bytes = Buffer.concat(leanMessage([Buffer.from('Hello\r\n')]));
    const ref = make();
    const want = await run(ref.handler, [bytes]);
    expect(want).toEqual([`O:6,15f,${RULES_BITS.toString(16)},5=i {auth_authen} {auth_type}`, 'c', `h:X-Id| ${QID}`, 'c']);
    expect(ref.calls.map((c) => c.split(' ')[0])).toEqual(['mail', 'body', 'eom', 'close']);
    expect(ref.calls).toContain('body "Hello\\r\\n"');
    for (let cut = 1; cut < bytes.length; cut++) {
      const r = make();
      expect(await run(r.handler, [bytes.subarray(0, cut), bytes.subarray(cut)]), `cut at ${cut}`).toEqual(want);
      expect(r.calls, `cut at ${cut}`).toEqual(ref.calls);
    }
  });

  it('a body refused while the MTA is not waiting (NR_BODY) is refused at end-of-message; later chunks are not handed over', async () => {
    const r = recorder({ omit: ['connect', 'helo', 'rcpt', 'data', 'header', 'eoh', 'unknown'] });
    const calls = r.calls;
    Object.assign(r.handler, {
      replyLater: ['body'],
      needsConnectInfo: false,
      body: (chunk: Buffer) => {
        calls.push(`body ${chunk.length}`);
        throw new RejectError('ESPOOL_FULL', { code: 552, enhanced: '5.3.4', text: 'Message too big' });
      },
    });
    const out = await run(r.handler, leanMessage([Buffer.alloc(100, 0x61), Buffer.alloc(50, 0x62)]));
    expect(out).toEqual([`O:6,15f,${RULES_BITS.toString(16)},5=i {auth_authen} {auth_type}`, 'c', 'y:552 5.3.4 Message too big']);
    expect(r.calls.map((c) => c.split(' ')[0] + (c.startsWith('body') ? ` ${c.split(' ')[1]}` : ''))).toEqual(['mail', 'body 100', 'abort', 'close']);
  });

  it('an older MTA (v2) is not asked for bits it did not offer', async () => {
    const handler = createRulesHandler({} as RulesHandlerDeps)({ id: 1, transport: 'tcp', remote: '127.0.0.1:1' });
    expect(await run(handler, [mta.O(2, 0x3f, 0x7f)])).toEqual([`O:2,1f,${((NOCONNECT | NOHELO | NOEOH) & 0x7f).toString(16)}`]);
  });
});

/* ------------------------------------------------------------------------------------ */

const servers: MilterServer[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** The MTA side: sends test-built frames, reads whole responses. */
async function connect(ep: Endpoint): Promise<{ socket: net.Socket; read(n: number): Promise<string[]>; frames(n: number): Promise<Buffer[]> }> {
  if (ep.kind !== 'tcp') throw new Error('TCP endpoint expected');
  const socket = net.connect(ep.port, ep.host);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  let buf = Buffer.alloc(0);
  let wake: (() => void) | null = null;
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    wake?.();
  });
  const frames = async (n: number): Promise<Buffer[]> => {
    const got: Buffer[] = [];
    for (;;) {
      while (got.length < n && buf.length >= 5 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const len = buf.readUInt32BE(0);
        got.push(buf.subarray(0, 4 + len));
        buf = buf.subarray(4 + len);
      }
      if (got.length === n) return got;
      if (socket.destroyed) throw new Error(`closed after ${got.length} of ${n} responses`);
      await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
    }
  };
  return { socket, frames, read: async (n) => (await frames(n)).map((f) => show(parseResponses(f)[0]!)) };
}

describe('one socket write per reply', () => {
  const edits = (body: Buffer | null): MilterEdit[] => [
    { kind: 'chgfrom', address: '<bounce+abc@bounce.example>', args: ['ENVID=x1'] },
    { kind: 'insheader', index: 0, name: 'DKIM-Signature', value: 'v=1; a=rsa-sha256; d=customer.example; b=abc' },
    { kind: 'delrcpt', address: '<bob@example.net>' },
    { kind: 'chgheader', name: 'Subject', index: 1, value: 'Hello' },
    { kind: 'addheader', name: 'X-Trxmail-Ref', value: 'ref1' },
    ...(body ? [{ kind: 'replbody', body: [body] } as const] : []),
  ];

  async function endOfMessage(body: Buffer | null): Promise<{ shown: string[]; writes: number; bytes: number }> {
    const handler = (): MilterHandler => ({
      replyLater: ['body'],
      needsConnectInfo: false,
      mail: () => MilterReplies.continue,
      body: () => undefined,
      eom: () => ({ edits: edits(body), reply: MilterReplies.continue }),
    });
    const server = new MilterServer({ handler });
    servers.push(server);
    const mtaSide = await connect(await server.listen('inet:127.0.0.1:0'));
    const all = leanMessage([Buffer.from('Hello\r\n')]);
    const eIndex = all.findIndex((f) => f[4] === 0x45); // 'E'
    mtaSide.socket.write(Buffer.concat(all.slice(0, eIndex)));
    expect(await mtaSide.read(2)).toEqual([`O:6,15f,${RULES_BITS.toString(16)},5=i {auth_authen} {auth_type}`, 'c']);
    // Count the server's writes from here on (the MTA's own socket is left out).
    const write = vi.spyOn(net.Socket.prototype, 'write');
    mtaSide.socket.write(all[eIndex]!);
    const n = 5 + (body ? Math.ceil(body.length / MAX_MILTER_REPLY_PAYLOAD) : 0) + 1;
    const frames = await mtaSide.frames(n);
    const writes = write.mock.contexts.filter((s) => s !== mtaSide.socket).length;
    write.mockRestore();
    mtaSide.socket.destroy();
    return { shown: frames.map((f) => show(parseResponses(f)[0]!)), writes, bytes: frames.reduce((s, f) => s + f.length, 0) };
  }

  it('the edits and the final reply of end-of-message', async () => {
    const r = await endOfMessage(null);
    expect(r.shown).toEqual([
      'e:<bounce+abc@bounce.example>|ENVID=x1',
      'i:0|DKIM-Signature| v=1; a=rsa-sha256; d=customer.example; b=abc',
      '-:<bob@example.net>',
      'm:1|Subject| Hello',
      'h:X-Trxmail-Ref| ref1',
      'c',
    ]);
    expect(r.writes).toBe(1);
  });

  it('with a small replacement body', async () => {
    const r = await endOfMessage(Buffer.alloc(5000, 0x61));
    expect(r.shown.slice(-2)).toEqual(['b:5000', 'c']);
    expect(r.writes).toBe(1);
  });

  it('a large replacement body goes in pieces of about MILTER_WRITE_BATCH_BYTES, not one write per frame', async () => {
    const size = 5 * MAX_MILTER_REPLY_PAYLOAD + 1000;
    const r = await endOfMessage(Buffer.alloc(size, 0x62));
    expect(r.shown.filter((s) => s.startsWith('b:'))).toHaveLength(6);
    expect(r.shown.at(-1)).toBe('c');
    // 12 frames; at least MILTER_WRITE_BATCH_BYTES in every write but the last.
    expect(r.writes).toBeLessThanOrEqual(Math.floor(r.bytes / MILTER_WRITE_BATCH_BYTES) + 1);
    expect(r.writes).toBeLessThan(r.shown.length);
  });
});
