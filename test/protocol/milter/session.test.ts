import { describe, expect, it } from 'vitest';
import { InvariantError, ProtocolError, RejectError, TransientError } from '../../../src/lib/errors.js';
import {
  MAX_HEADER_BLOCK_BYTES,
  MAX_MILTER_FRAME,
  MAX_MILTER_HEADER_LINE,
  MAX_MILTER_REPLY_PAYLOAD,
  MAX_RECIPIENTS,
} from '../../../src/lib/limits.js';
import { decodeCommand, MilterFrameDecoder } from '../../../src/milter/decode.js';
import {
  SMFIF_ADDHDRS,
  SMFIF_ADDRCPT,
  SMFIF_CHGBODY,
  SMFIF_CHGFROM,
  SMFIF_CHGHDRS,
  SMFIF_DELRCPT,
  SMFIM_ENVRCPT,
  SMFIM_EOM,
} from '../../../src/milter/constants.js';
import type { MilterEdit, MilterHandler, MilterReply } from '../../../src/milter/handler.js';
import { MilterReplies } from '../../../src/milter/handler.js';
import { MilterMacros } from '../../../src/milter/macros.js';
import { MILTER_TRANSITIONS, MilterSession, type MilterSessionOptions } from '../../../src/milter/session.js';
import { deferred } from '../helpers.js';
import { frame, mta, parseResponses, recorder, showAll, spyLogger, u16, u32, z } from './helpers.js';

/** Feeds chunks through codec + session; returns the responses (shown) and whether Q closed it. */
async function run(
  handler: MilterHandler,
  chunks: readonly Buffer[],
  opts: MilterSessionOptions = {},
): Promise<{ out: string[]; closed: boolean; session: MilterSession }> {
  const session = new MilterSession(handler, opts);
  const decoder = new MilterFrameDecoder();
  const out: Buffer[] = [];
  let closed = false;
  try {
    for (const c of chunks) {
      for (const f of decoder.push(c)) {
        if ((await session.handle(decodeCommand(f), (b) => void out.push(b))) === 'close') closed = true;
      }
    }
  } finally {
    await session.close();
  }
  return { out: showAll(Buffer.concat(out)), closed, session };
}

/** The same transcript cut in two at every offset, and fed byte by byte. */
async function everySplit(bytes: Buffer, make: () => { handler: MilterHandler; calls: string[] }, opts: MilterSessionOptions = {}) {
  const ref = make();
  const want = await run(ref.handler, [bytes], opts);
  for (let cut = 1; cut < bytes.length; cut++) {
    const r = make();
    const got = await run(r.handler, [bytes.subarray(0, cut), bytes.subarray(cut)], opts);
    expect(got.out, `cut at ${cut}`).toEqual(want.out);
    expect(r.calls, `cut at ${cut}`).toEqual(ref.calls);
  }
  const r = make();
  const chunks = [...bytes].map((b) => Buffer.from([b]));
  const got = await run(r.handler, chunks, opts);
  expect(got.out).toEqual(want.out);
  expect(r.calls).toEqual(ref.calls);
  return { ...want, calls: ref.calls };
}

const QID = '4jXQZB3dVKzJ9Ft';

/** A realistic Postfix 3.7 conversation for one authenticated message with three recipients. */
const postfixMessage = Buffer.concat([
  mta.O(6, 0x1ff, 0x1fffff),
  mta.D('C', ['j', 'mx.example'], ['{daemon_name}', 'ORIGINATING'], ['_', 'client.example [192.0.2.10]']),
  mta.C('client.example', '4', 51234, '192.0.2.10'),
  mta.D('H', ['{tls_version}', 'TLSv1.3']),
  mta.H('app.customer.example'),
  mta.D('M', ['{auth_type}', 'PLAIN'], ['{auth_authen}', 'alice@customer.example'], ['{mail_addr}', 'news@customer.example']),
  mta.M('<news@customer.example>', 'SIZE=512', 'BODY=8BITMIME'),
  mta.D('R', ['{rcpt_addr}', 'bob@example.net']),
  mta.R('<bob@example.net>'),
  mta.D('R', ['i', QID], ['{rcpt_addr}', 'carol@example.org']),
  mta.R('<carol@example.org>', 'NOTIFY=NEVER'),
  mta.D('R', ['i', QID], ['{rcpt_addr}', 'dave@example.com']),
  mta.R('<dave@example.com>'),
  mta.D('T', ['i', QID]),
  mta.T(),
  mta.D('L', ['i', QID]),
  mta.L('From', ' News <news@customer.example>'),
  mta.D('L', ['i', QID]),
  mta.L('To', ' bob@example.net'),
  mta.D('L', ['i', QID]),
  mta.L('Subject', ' Hello\n\tworld'),
  mta.D('L', ['i', QID]),
  mta.L('X-Mxm-Flags', ' 3'),
  mta.D('N', ['i', QID]),
  mta.N(),
  mta.D('B', ['i', QID]),
  mta.B('Hello Bob,\r\n\r\nBye.\r\n'),
  mta.D('E', ['i', QID], ['{auth_authen}', 'alice@customer.example'], ['{auth_type}', 'PLAIN']),
  mta.E(),
  mta.A(),
  mta.Q(),
]);

const eomEdits = (): MilterEdit[] => [
  { kind: 'chgfrom', address: '<bounce+abc@bounce.example>', args: ['ENVID=x1'] },
  { kind: 'delrcpt', address: '<dave@example.com>' },
  { kind: 'chgheader', name: 'X-Mxm-Flags', index: 1, value: '' },
  { kind: 'chgheader', name: 'Subject', index: 1, value: 'Hello\r\n world' },
  { kind: 'addheader', name: 'X-Trx-Id', value: QID },
  { kind: 'insheader', index: 0, name: 'X-Top', value: 'top' },
  { kind: 'replbody', body: [Buffer.from('Hello Bob,\r\n'), Buffer.from('Tracked.\r\n')] },
];

describe('transcripts', () => {
  it('a full Postfix conversation with edits at end-of-message, split at every offset', async () => {
    const res = await everySplit(postfixMessage, () => recorder({ eom: () => ({ edits: eomEdits(), reply: MilterReplies.continue }) }));
    expect(res.closed).toBe(true);
    expect(res.out).toEqual([
      'O:6,15f,100000,5=i {auth_authen} {auth_type}',
      'c', // C
      'c', // H
      'c', // M
      'c',
      'c',
      'c', // R x3
      'c', // T
      'c',
      'c',
      'c',
      'c', // L x4
      'c', // N
      'c', // B
      'e:<bounce+abc@bounce.example>|ENVID=x1',
      '-:<dave@example.com>',
      'm:1|X-Mxm-Flags|',
      'm:1|Subject| Hello\n world',
      `h:X-Trx-Id| ${QID}`,
      'i:0|X-Top| top',
      'b:22',
      'c',
    ]);
    const conn = '"j":"mx.example","daemon_name":"ORIGINATING","_":"client.example [192.0.2.10]"';
    const helo = `${conn},"tls_version":"TLSv1.3"`;
    const mail = `${helo},"auth_type":"PLAIN","auth_authen":"alice@customer.example","mail_addr":"news@customer.example"`;
    expect(res.calls).toEqual([
      `connect client.example inet4 51234 192.0.2.10 {${conn}}`,
      `helo app.customer.example {${helo}}`,
      `mail news@customer.example [SIZE=512,BODY=8BITMIME] {${mail}}`,
      `rcpt bob@example.net [] {${mail},"rcpt_addr":"bob@example.net"}`,
      `rcpt carol@example.org [NOTIFY=NEVER] {${mail},"i":"${QID}","rcpt_addr":"carol@example.org"}`,
      `rcpt dave@example.com [] {${mail},"i":"${QID}","rcpt_addr":"dave@example.com"}`,
      `data {${mail},"i":"${QID}","rcpt_addr":"dave@example.com"}`,
      'header From=" News <news@customer.example>"',
      'header To=" bob@example.net"',
      'header Subject=" Hello\\r\\n\\tworld"',
      'header X-Mxm-Flags=" 3"',
      `eoh {${mail},"i":"${QID}","rcpt_addr":"dave@example.com"}`,
      'body "Hello Bob,\\r\\n\\r\\nBye.\\r\\n"',
      `eom q=${QID} auth=alice@customer.example from=news@customer.example to=bob@example.net,carol@example.org,dave@example.com headers=4`,
      'close',
    ]);
  });

  it('hands eom() the whole message context', async () => {
    const r = recorder();
    await run(r.handler, [postfixMessage]);
    const ctx = r.contexts[0]!;
    expect(ctx.connect).toEqual({ hostname: 'client.example', family: 'inet4', port: 51234, address: '192.0.2.10' });
    expect(ctx.helo).toBe('app.customer.example');
    expect(ctx.sender).toEqual({ raw: '<news@customer.example>', address: 'news@customer.example', args: ['SIZE=512', 'BODY=8BITMIME'] });
    expect(ctx.recipients.map((x) => [x.raw, x.args])).toEqual([
      ['<bob@example.net>', []],
      ['<carol@example.org>', ['NOTIFY=NEVER']],
      ['<dave@example.com>', []],
    ]);
    expect(ctx.headers).toEqual([
      { name: 'From', value: ' News <news@customer.example>' },
      { name: 'To', value: ' bob@example.net' },
      { name: 'Subject', value: ' Hello\r\n\tworld' },
      { name: 'X-Mxm-Flags', value: ' 3' },
    ]);
    expect(ctx.queueId).toBe(QID);
    expect(ctx.authUser).toBe('alice@customer.example');
    expect(ctx.macros.get('{auth_type}')).toBe('PLAIN');
    expect(ctx.macros.get('i')).toBe(ctx.macros.get('{i}'));
    expect(ctx.actions).toBe(SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_CHGFROM | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGBODY | 0x100);
    expect(ctx.headerLeadingSpace).toBe(true);
  });

  /** What Postfix sends to a filter that only wants end-of-message: D before every event, few events. */
  const lean = Buffer.concat([
    mta.O(6, 0x1ff, 0x1fffff),
    mta.D('C', ['j', 'mx.example']),
    mta.C('[192.0.2.10]', '4', 1025, '192.0.2.10'),
    mta.D('H'),
    mta.D('M', ['{auth_authen}', 'alice@customer.example']),
    mta.M('<news@customer.example>'),
    mta.D('R', ['{rcpt_addr}', 'bob@example.net']),
    mta.R('<bob@example.net>'),
    mta.D('R', ['i', QID], ['{rcpt_addr}', 'carol@example.org']),
    mta.R('<carol@example.org>'),
    mta.D('T', ['i', QID]),
    mta.D('L', ['i', QID]),
    mta.L('From', ' news@customer.example'),
    mta.D('L', ['i', QID]),
    mta.L('Subject', ' Hi'),
    mta.D('N', ['i', QID]),
    mta.D('B', ['i', QID]),
    mta.D('E', ['i', QID]),
    mta.E(),
    mta.A(),
  ]);

  it('a handler with only eom() costs one reply per message (NO*/NR_* bits), split at every offset', async () => {
    const make = (): ReturnType<typeof recorder> =>
      recorder({
        omit: ['connect', 'helo', 'mail', 'rcpt', 'data', 'header', 'eoh', 'body', 'unknown'],
        eom: () => ({ edits: [{ kind: 'addheader', name: 'X-Id', value: QID }], reply: MilterReplies.continue }),
      });
    const res = await everySplit(lean, make);
    // NOHELO|NOBODY|NOEOH|NR_HDR|NOUNKNOWN|NODATA|NR_CONN|NR_MAIL|NR_RCPT|HDR_LEADSPC
    expect(res.out).toEqual(['O:6,15f,10d3d2,5=i {auth_authen} {auth_type}', `h:X-Id| ${QID}`, 'c']);
    expect(res.calls).toEqual([
      `eom q=${QID} auth=alice@customer.example from=news@customer.example to=bob@example.net,carol@example.org headers=2`,
      'close',
    ]);
  });

  const twoMessages = Buffer.concat([
    mta.O(),
    mta.C('client.example', '4', 2000, '192.0.2.10'),
    mta.H('client.example'),
    mta.D('M', ['{auth_authen}', 'mallory@customer.example']),
    mta.M('<ceo@other.example>'),
    mta.A(),
    mta.D('M', ['{auth_authen}', 'alice@customer.example']),
    mta.M('<news@customer.example>'),
    mta.R('<bob@example.net>'),
    mta.T(),
    mta.L('Subject', ' x'),
    mta.N(),
    mta.B('x\r\n'),
    mta.D('E', ['i', QID]),
    mta.E(),
    mta.A(),
    mta.Q(),
  ]);

  it('a rejection at MAIL, then RSET and a second message on the same connection, split at every offset', async () => {
    const make = (): ReturnType<typeof recorder> => {
      const r = recorder();
      const mail = r.handler.mail!.bind(r.handler);
      r.handler.mail = (sender, args, macros) => {
        void mail(sender, args, macros);
        return sender === 'ceo@other.example' ? MilterReplies.custom(550, '5.7.1', 'Sender domain not allowed') : undefined;
      };
      return r;
    };
    const res = await everySplit(twoMessages, make);
    expect(res.out).toEqual([
      'O:6,15f,100000,5=i {auth_authen} {auth_type}',
      'c',
      'c',
      'y:550 5.7.1 Sender domain not allowed',
      'c', // M
      'c', // R
      'c', // T
      'c', // L
      'c', // N
      'c', // B
      'c', // E
    ]);
    expect(res.calls.map((c) => c.split(' ')[0])).toEqual(['connect', 'helo', 'mail', 'abort', 'mail', 'rcpt', 'data', 'header', 'eoh', 'body', 'eom', 'close']);
    // The second message does not see the first one's login.
    expect(res.calls[10]).toContain('auth=alice@customer.example');
  });
});

describe('malformed and out-of-order input', () => {
  const start = [mta.O(), mta.C('h', '4', 25, '192.0.2.1')];
  const inMessage = [...start, mta.M('<a@b.example>'), mta.R('<c@d.example>'), mta.T()];
  const cases: [string, Buffer[], string][] = [
    ['length 0', [...start, u32(0), Buffer.from('A')], 'EMILTER_FRAME'],
    ['length over the cap', [...start, u32(MAX_MILTER_FRAME + 1)], 'EMILTER_FRAME'],
    ['unknown command', [...start, frame('Z')], 'EMILTER_COMMAND'],
    ['missing NUL', [...start, frame('H', Buffer.from('helo'))], 'EMILTER_PAYLOAD'],
    ['truncated C packet', [mta.O(), frame('C', z('h'), Buffer.from('4'), Buffer.from([0]))], 'EMILTER_PAYLOAD'],
    ['bad family byte', [mta.O(), frame('C', z('h'), Buffer.from('7'), u16(25), z('192.0.2.1'))], 'EMILTER_PAYLOAD'],
    ['O with version 1', [mta.O(1, 0x1ff, 0x7f)], 'EMILTER_VERSION'],
    ['O with version 0', [mta.O(0)], 'EMILTER_VERSION'],
    ['B before M', [...start, mta.B('x')], 'EMILTER_STATE'],
    ['R before M', [...start, mta.R('<c@d.example>')], 'EMILTER_STATE'],
    ['T before M', [...start, mta.T()], 'EMILTER_STATE'],
    ['E before M', [...start, mta.H('x'), mta.E()], 'EMILTER_STATE'],
    ['C before O', [mta.C('h', '4', 25, '192.0.2.1')], 'EMILTER_STATE'],
    ['D before O', [mta.D('C', ['j', 'x'])], 'EMILTER_STATE'],
    ['A before O', [mta.A()], 'EMILTER_STATE'],
    ['O twice', [mta.O(), mta.O()], 'EMILTER_STATE'],
    ['C twice', [...start, mta.C('h', '4', 25, '192.0.2.1')], 'EMILTER_STATE'],
    ['L after E', [...inMessage, mta.E(), mta.L('X', ' y')], 'EMILTER_STATE'],
    ['N after B', [...inMessage, mta.L('X', ' y'), mta.N(), mta.B('x'), mta.N()], 'EMILTER_STATE'],
    ['L after N', [...inMessage, mta.N(), mta.L('X', ' y')], 'EMILTER_STATE'],
    ['HELO during the body', [...inMessage, mta.B('x'), mta.H('x')], 'EMILTER_STATE'],
    ['C after Q', [...start, mta.Q(), mta.C('h', '4', 25, '192.0.2.1')], 'EMILTER_STATE'],
  ];

  const midMessage = new Set(['N after B', 'L after N', 'HELO during the body']);
  it.each(cases)('refuses %s with ProtocolError', async (_what, chunks, code) => {
    const r = recorder();
    const err: unknown = await run(r.handler, chunks).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProtocolError);
    expect((err as ProtocolError).code).toBe(code);
    // Cleanly: the handler still gets its abort (when a message was open) and close.
    expect(r.calls.at(-1)).toBe('close');
    expect(r.calls.includes('abort')).toBe(midMessage.has(_what));
  });

  it('refuses every later command once it has failed', async () => {
    const s = new MilterSession(recorder().handler);
    await expect(s.handle({ type: 'abort' }, () => undefined)).rejects.toBeInstanceOf(ProtocolError);
    await expect(s.handle({ type: 'optneg', version: 6, actions: 0, protocol: 0 }, () => undefined)).rejects.toBeInstanceOf(ProtocolError);
  });

  it('refuses a second command while one is in flight', async () => {
    const gate = deferred<MilterReply | undefined>();
    const r = recorder();
    r.handler.connect = () => gate.promise;
    const s = new MilterSession(r.handler);
    await s.handle({ type: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff }, () => undefined);
    const first = s.handle({ type: 'connect', hostname: 'h', family: 'unknown', port: null, address: null }, () => undefined);
    await expect(s.handle({ type: 'helo', name: 'x' }, () => undefined)).rejects.toBeInstanceOf(InvariantError);
    gate.resolve(undefined);
    await expect(first).resolves.toBe('continue');
  });

  it('has a table entry for every command type', () => {
    expect(Object.keys(MILTER_TRANSITIONS).sort()).toEqual(
      ['abort', 'body', 'connect', 'data', 'eoh', 'eom', 'header', 'helo', 'macro', 'mail', 'optneg', 'quit', 'rcpt', 'unknown'],
    );
  });
});

describe('negotiation', () => {
  it.each([
    ['Postfix 2.6+ (v6)', mta.O(6, 0x1ff, 0x1fffff), 'O:6,15f,100000,5=i {auth_authen} {auth_type}'],
    ['a future version', mta.O(7, 0x1ff, 0x3fffff), 'O:6,15f,100000,5=i {auth_authen} {auth_type}'],
    // v2: no SETSYMLIST, no CHGFROM, no HDR_LEADSPC, no NR_* bits to ask for.
    ['Postfix before 2.6 (v2)', mta.O(2, 0x3f, 0x7f), 'O:2,1f,0'],
    ['v4', mta.O(4, 0x3f, 0x37f), 'O:4,1f,0'],
  ])('%s', async (_what, optneg, want) => {
    const res = await run(recorder().handler, [optneg]);
    expect(res.out).toEqual([want]);
  });

  it('asks only for configured actions the MTA offers, and the configured macro lists', async () => {
    const res = await run(recorder().handler, [mta.O(6, 0x1ff, 0x1fffff)], {
      actions: SMFIF_ADDHDRS | SMFIF_DELRCPT | 0x100,
      macroLists: { [SMFIM_EOM]: ['i', '{auth_authen}'], [SMFIM_ENVRCPT]: ['{rcpt_addr}'] },
    });
    expect(res.out).toEqual(['O:6,109,100000,3={rcpt_addr},5=i {auth_authen}']);
  });

  it('sends no macro lists when SETSYMLIST is not asked for', async () => {
    const res = await run(recorder().handler, [mta.O()], { actions: SMFIF_ADDHDRS });
    expect(res.out).toEqual(['O:6,1,100000']);
  });

  it.each([
    ['actions out of range', { actions: 0x200 }],
    ['a macro stage out of range', { macroLists: { 7: ['i'] } }],
    ['a macro name with a space', { macroLists: { 5: ['i j'] } }],
    ['an empty macro name', { macroLists: { 5: [''] } }],
  ])('refuses %s at construction', (_what, opts) => {
    expect(() => new MilterSession(recorder().handler, opts as MilterSessionOptions)).toThrow(/milter/);
  });

  it('under v2, answers every header itself (no NR_HDR to ask for)', async () => {
    const r = recorder({ omit: ['header', 'connect', 'mail', 'rcpt'] });
    const res = await run(r.handler, [
      mta.O(2, 0x3f, 0x7f),
      mta.C('h', '4', 25, '192.0.2.1'),
      mta.M('<a@b.example>'),
      mta.R('<c@d.example>'),
      mta.L('Subject', 'no leading space'),
      mta.E(),
    ]);
    expect(res.out).toEqual(['O:2,1f,0', 'c', 'c', 'c', 'c', 'c']);
    expect(r.contexts[0]!.headerLeadingSpace).toBe(false);
    expect(r.contexts[0]!.headers).toEqual([{ name: 'Subject', value: 'no leading space' }]);
  });
});

/** Everything up to (not including) E for a message from a@b.example to c@d.example. */
const upToE = [
  mta.O(),
  mta.C('h', '4', 25, '192.0.2.1'),
  mta.D('M', ['{auth_authen}', 'u@customer.example']),
  mta.M('<a@b.example>'),
  mta.R('<c@d.example>'),
  mta.T(),
  mta.L('Subject', ' x'),
  mta.N(),
  mta.B('body\r\n'),
  mta.D('E', ['i', QID]),
];

describe('replies and handler failures', () => {
  it('turns a handler exception into 451 4.3.0 and logs it', async () => {
    const log = spyLogger();
    const r = recorder();
    r.handler.rcpt = () => {
      throw new Error('store down');
    };
    const res = await run(r.handler, [...upToE.slice(0, 5), mta.R('<e@f.example>')], { logger: log });
    expect(res.out.slice(3)).toEqual([
      'y:451 4.3.0 Temporary local problem, please try again later',
      'y:451 4.3.0 Temporary local problem, please try again later',
    ]);
    expect(log.error).toHaveBeenCalled();
    expect(JSON.stringify(log.error.mock.calls[0])).toContain('store down');
  });

  it('gives a RejectError its own reply, a TransientError the tempfail', async () => {
    const r = recorder();
    r.handler.mail = (sender) => {
      if (sender === 'a@b.example') throw new RejectError('x', { code: 550, enhanced: '5.7.1', text: 'Not allowed' });
      throw new TransientError('EDB', 'db');
    };
    const res = await run(r.handler, [mta.O(), mta.C('h', '4', 25, '192.0.2.1'), mta.M('<a@b.example>'), mta.A(), mta.M('<x@y.example>')]);
    expect(res.out.slice(2)).toEqual(['y:550 5.7.1 Not allowed', 'y:451 4.3.0 Temporary local problem, please try again later']);
  });

  it('turns a rejected promise and an invalid reply into 451', async () => {
    const r = recorder();
    r.handler.helo = () => Promise.reject(new Error('boom'));
    r.handler.connect = () => ({ kind: 'custom', code: 550, enhanced: '5.7.1', text: 'bad\r\ntext' });
    r.handler.unknown = () => ({ kind: 'nonsense' }) as unknown as MilterReply;
    const res = await run(r.handler, [mta.O(), mta.C('h', '4', 25, '192.0.2.1'), mta.H('x'), mta.U('XFOO')]);
    expect(res.out.slice(1)).toEqual(Array(3).fill('y:451 4.3.0 Temporary local problem, please try again later'));
  });

  it.each<[string, MilterReply, string]>([
    ['continue', MilterReplies.continue, 'c'],
    ['accept', MilterReplies.accept, 'a'],
    ['reject', MilterReplies.reject, 'r'],
    ['tempfail', MilterReplies.tempfail, 't'],
    ['discard', MilterReplies.discard, 'd'],
    ['custom', MilterReplies.custom(554, '5.7.1', ['Line one', 'Line two']), 'y:554-5.7.1 Line one\r\n554 5.7.1 Line two'],
  ])('encodes a %s reply', async (_what, reply, want) => {
    const res = await run(recorder({ replies: { mail: reply } }).handler, [mta.O(), mta.C('h', '4', 25, '192.0.2.1'), mta.M('<a@b.example>')]);
    expect(res.out.at(-1)).toBe(want);
  });

  it('handles eom() that throws or returns garbage', async () => {
    for (const eom of [
      (): never => {
        throw new Error('x');
      },
      () => undefined as unknown as { edits: MilterEdit[]; reply: MilterReply },
      () => ({ reply: MilterReplies.continue }) as unknown as { edits: MilterEdit[]; reply: MilterReply },
    ]) {
      const r = recorder({ eom });
      const res = await run(r.handler, [...upToE, mta.E()]);
      expect(res.out.at(-1)).toBe('y:451 4.3.0 Temporary local problem, please try again later');
    }
  });

  it('sends no edits when eom() refuses the message', async () => {
    const r = recorder({ eom: () => ({ edits: eomEdits(), reply: MilterReplies.custom(550, '5.7.1', 'No') }) });
    const res = await run(r.handler, [...upToE, mta.E()]);
    expect(res.out.slice(-2)).toEqual(['c', 'y:550 5.7.1 No']);
  });

  it('a refused RCPT is not a recipient; a refused DATA lets RCPT and DATA come again', async () => {
    const r = recorder();
    let datas = 0;
    r.handler.rcpt = (rcpt) => (rcpt === 'bad@d.example' ? MilterReplies.reject : undefined);
    r.handler.data = () => (++datas === 1 ? MilterReplies.tempfail : undefined);
    const res = await run(r.handler, [
      mta.O(),
      mta.C('h', '4', 25, '192.0.2.1'),
      mta.M('<a@b.example>'),
      mta.R('<bad@d.example>'),
      mta.R('<c@d.example>'),
      mta.T(),
      mta.R('<e@f.example>'),
      mta.T(),
      mta.E(),
    ]);
    expect(res.out.slice(2)).toEqual(['c', 'r', 'c', 't', 'c', 'c', 'c']);
    expect(r.contexts[0]!.recipients.map((x) => x.address)).toEqual(['c@d.example', 'e@f.example']);
  });

  it('after accept or a refusal during content, only A, MAIL, HELO, U or Q may follow', async () => {
    const r = recorder({ replies: { header: MilterReplies.accept } });
    const res = await run(r.handler, [...upToE.slice(0, 7), mta.A(), mta.M('<a@b.example>'), mta.H('again'), mta.Q()]);
    expect(res.out.slice(-3)).toEqual(['a', 'c', 'c']);
    expect(r.calls.filter((c) => c === 'abort').length).toBe(2); // A, then HELO inside the second message
    await expect(run(recorder({ replies: { header: MilterReplies.reject } }).handler, [...upToE.slice(0, 7), mta.N()])).rejects.toThrow(
      ProtocolError,
    );
  });

  it('a HELO inside a message aborts it (Postfix sends A only afterwards)', async () => {
    const r = recorder();
    const res = await run(r.handler, [
      mta.O(),
      mta.C('h', '4', 25, '192.0.2.1'),
      mta.D('M', ['{auth_authen}', 'alice']),
      mta.M('<a@b.example>'),
      mta.R('<c@d.example>'),
      mta.D('H', ['{tls_version}', 'TLSv1.3']),
      mta.H('again'),
      mta.A(),
      mta.M('<x@b.example>'),
    ]);
    expect(res.out).toHaveLength(6);
    expect(r.calls.map((c) => c.split(' ')[0])).toEqual(['connect', 'mail', 'rcpt', 'abort', 'helo', 'mail', 'abort', 'close']);
    expect(r.calls[4]).toContain('"tls_version":"TLSv1.3"');
    expect(r.calls[5]).not.toContain('alice');
  });

  it('an A outside a message is ignored; an A inside calls abort() once', async () => {
    const r = recorder();
    await run(r.handler, [mta.O(), mta.A(), mta.C('h', '4', 25, '192.0.2.1'), mta.A(), mta.M('<a@b.example>'), mta.A(), mta.A()]);
    expect(r.calls.map((c) => c.split(' ')[0])).toEqual(['connect', 'mail', 'abort', 'close']);
  });

  it('a connection ending mid-message aborts it, then closes', async () => {
    const r = recorder();
    await run(r.handler, upToE);
    expect(r.calls.slice(-2)).toEqual(['abort', 'close']);
  });
});

describe('macros', () => {
  it('treats x and {x} alike and keeps {auth_authen} from MAIL to end-of-message', async () => {
    const r = recorder();
    await run(r.handler, [
      mta.O(),
      mta.D('C', ['{j}', 'mx.example']),
      mta.C('h', '4', 25, '192.0.2.1'),
      mta.D('M', ['{auth_authen}', 'alice']),
      mta.M('<a@b.example>'),
      mta.D('R', ['{i}', QID]),
      mta.R('<c@d.example>'),
      mta.D('E'),
      mta.E(),
    ]);
    const ctx = r.contexts[0]!;
    expect(ctx.macros.get('j')).toBe('mx.example');
    expect(ctx.macros.get('{j}')).toBe('mx.example');
    expect(ctx.authUser).toBe('alice');
    expect(ctx.queueId).toBe(QID);
  });

  it('a later D for the same stage replaces the earlier one', async () => {
    const r = recorder();
    await run(r.handler, [mta.O(), mta.C('h', '4', 25, '1.2.3.4'), mta.M('<a@b>'), mta.D('R', ['x', '1'], ['y', '2']), mta.R('<c@d>'), mta.D('R', ['x', '3']), mta.R('<e@f>')]);
    expect(r.calls[2]).toContain('{"x":"1","y":"2"}');
    expect(r.calls[3]).toContain('{"x":"3"}');
  });

  it('MilterMacros normalises names', () => {
    const m = new MilterMacros([
      ['{a}', '1'],
      ['a', '2'],
      ['{}', '3'],
    ]);
    expect(m.get('a')).toBe('2');
    expect(m.get('{a}')).toBe('2');
    expect(m.size).toBe(2);
    expect(m.has('{}')).toBe(true);
    expect(m.toObject()).toEqual({ a: '2', '{}': '3' });
  });
});

describe('end-of-message edits', () => {
  const runEdits = async (edits: MilterEdit[], opts: MilterSessionOptions = {}): Promise<string[]> => {
    const r = recorder({ eom: () => ({ edits, reply: MilterReplies.accept }) });
    const res = await run(r.handler, [...upToE, mta.E()], opts);
    return res.out.slice(8);
  };
  const TEMPFAIL = 'y:451 4.3.0 Temporary local problem, please try again later';

  it('encodes every edit kind', async () => {
    expect(
      await runEdits(
        [
          { kind: 'addrcpt', address: '<new@x.example>' },
          { kind: 'addheader', name: 'X-Empty', value: '' },
          { kind: 'addheader', name: 'X-Tab', value: '\tkept' },
          { kind: 'chgheader', name: 'Subject', index: 2, value: 'a\n b' },
        ],
        { actions: 0x1ff },
      ),
    ).toEqual(['+:<new@x.example>', 'h:X-Empty|', 'h:X-Tab|\tkept', 'm:2|Subject| a\n b', 'a']);
    expect(await runEdits([{ kind: 'addrcpt', address: '<new@x.example>', args: ['NOTIFY=NEVER', 'ORCPT=rfc822;a@b'] }], { actions: 0x1ff })).toEqual([
      '2:<new@x.example>|NOTIFY=NEVER ORCPT=rfc822;a@b',
      'a',
    ]);
  });

  it.each<[string, MilterEdit[], MilterSessionOptions]>([
    ['chgfrom without CHGFROM', [{ kind: 'chgfrom', address: '<a@b>' }], { actions: SMFIF_ADDHDRS }],
    ['addheader without ADDHDRS', [{ kind: 'addheader', name: 'X', value: 'y' }], { actions: SMFIF_CHGHDRS }],
    ['insheader without ADDHDRS', [{ kind: 'insheader', index: 0, name: 'X', value: 'y' }], { actions: SMFIF_CHGHDRS }],
    ['chgheader without CHGHDRS', [{ kind: 'chgheader', name: 'X', index: 1, value: 'y' }], { actions: SMFIF_ADDHDRS }],
    ['addrcpt with args without ADDRCPT_PAR', [{ kind: 'addrcpt', address: '<a@b>', args: ['NOTIFY=NEVER'] }], {}],
    ['delrcpt without DELRCPT', [{ kind: 'delrcpt', address: '<a@b>' }], { actions: SMFIF_ADDRCPT }],
    ['replbody without CHGBODY', [{ kind: 'replbody', body: [Buffer.from('x')] }], { actions: SMFIF_ADDHDRS }],
    ['two replbody', [{ kind: 'replbody', body: [] }, { kind: 'replbody', body: [] }], {}],
    ['a header name with a colon', [{ kind: 'addheader', name: 'X:Y', value: 'z' }], {}],
    ['an empty header name', [{ kind: 'addheader', name: '', value: 'z' }], {}],
    ['a header name with a space', [{ kind: 'addheader', name: 'X Y', value: 'z' }], {}],
    ['a value with a bare line break', [{ kind: 'addheader', name: 'X', value: 'a\nb' }], {}],
    ['a value with CR', [{ kind: 'addheader', name: 'X', value: 'a\rb' }], {}],
    ['a value with NUL', [{ kind: 'addheader', name: 'X', value: 'a\0b' }], {}],
    ['a value ending in a line break', [{ kind: 'addheader', name: 'X', value: 'a\r\n' }], {}],
    ['a header line one octet too long', [{ kind: 'addheader', name: 'X', value: 'v'.repeat(MAX_MILTER_HEADER_LINE - 2) }], {}],
    ['a folded line one octet too long', [{ kind: 'addheader', name: 'X', value: `a\r\n ${'v'.repeat(MAX_MILTER_HEADER_LINE)}` }], {}],
    ['chgheader index 0', [{ kind: 'chgheader', name: 'X', index: 0, value: 'y' }], {}],
    ['insheader index -1', [{ kind: 'insheader', index: -1, name: 'X', value: 'y' }], {}],
    ['an address with CRLF', [{ kind: 'delrcpt', address: '<a@b>\r\nRCPT TO:<x@y>' }], {}],
    ['an ESMTP argument with a space', [{ kind: 'chgfrom', address: '<a@b>', args: ['A=1 B=2'] }], {}],
    ['an unknown edit', [{ kind: 'quarantine' } as unknown as MilterEdit], {}],
  ])('refuses %s with 451 and sends no edit', async (_what, edits, opts) => {
    expect(await runEdits([{ kind: 'addheader', name: 'X-First', value: 'ok' }, ...edits], opts)).toEqual([TEMPFAIL]);
  });

  it(`accepts a header line of exactly MAX_MILTER_HEADER_LINE octets`, async () => {
    const value = 'v'.repeat(MAX_MILTER_HEADER_LINE - 3);
    expect(await runEdits([{ kind: 'addheader', name: 'X', value }])).toEqual([`h:X| ${value}`, 'a']);
  });

  it('streams a large replacement body in packets of MAX_MILTER_REPLY_PAYLOAD bytes', async () => {
    async function* gen(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 10; i++) yield await Promise.resolve(Buffer.alloc(15000, 0x41 + i));
    }
    const r = recorder({ eom: () => ({ edits: [{ kind: 'replbody', body: gen() }], reply: MilterReplies.continue }) });
    const session = new MilterSession(r.handler);
    const dec = new MilterFrameDecoder();
    const out: Buffer[] = [];
    for (const f of dec.push(Buffer.concat([...upToE, mta.E()]))) await session.handle(decodeCommand(f), (b) => void out.push(b));
    const resp = showAll(Buffer.concat(out)).slice(8);
    expect(resp).toEqual([`b:${MAX_MILTER_REPLY_PAYLOAD}`, `b:${MAX_MILTER_REPLY_PAYLOAD}`, `b:${150000 - 2 * MAX_MILTER_REPLY_PAYLOAD}`, 'c']);
    // Frames, not writes: the session joins a reply's frames into few writes.
    const body = Buffer.concat(parseResponses(Buffer.concat(out)).slice(8, 11).map((r) => r.payload));
    expect(body.length).toBe(150000);
    expect(body[14999]).toBe(0x41);
    expect(body[15000]).toBe(0x42);
    expect(body[149999]).toBe(0x4a);
  });

  it('waits for the sink before pulling more body (backpressure)', async () => {
    let pulled = 0;
    function* gen(): Generator<Uint8Array> {
      for (let i = 0; i < 5; i++) {
        pulled++;
        yield Buffer.alloc(MAX_MILTER_REPLY_PAYLOAD, 0x61);
      }
    }
    const r = recorder({ eom: () => ({ edits: [{ kind: 'replbody', body: gen() }], reply: MilterReplies.continue }) });
    const session = new MilterSession(r.handler);
    const frames = new MilterFrameDecoder().push(Buffer.concat([...upToE, mta.E()])).map(decodeCommand);
    for (const c of frames.slice(0, -1)) await session.handle(c, () => undefined);
    const gates: { resolve: () => void }[] = [];
    const written: string[] = [];
    const done = session.handle(frames.at(-1)!, (b) => {
      written.push(String.fromCharCode(b[4]!));
      const d = deferred();
      gates.push(d);
      return d.promise;
    });
    while (gates.length < 1) await new Promise((res) => setImmediate(res));
    expect(pulled).toBe(1);
    gates[0]!.resolve();
    while (gates.length < 2) await new Promise((res) => setImmediate(res));
    expect(pulled).toBe(2);
    for (let i = 1; i < 6; i++) {
      while (gates.length <= i) await new Promise((res) => setImmediate(res));
      gates[i]!.resolve();
    }
    await done;
    expect(written).toEqual(['b', 'b', 'b', 'b', 'b', 'c']);
  });

  it('replaces the body with an empty line when the replacement is empty (Postfix refuses an empty b)', async () => {
    const out = await runEdits([{ kind: 'replbody', body: [] }]);
    expect(out).toEqual(['b:2', 'a']);
  });

  it('a body source that fails midway ends with a tempfail', async () => {
    async function* gen(): AsyncGenerator<Uint8Array> {
      yield await Promise.resolve(Buffer.alloc(MAX_MILTER_REPLY_PAYLOAD + 1, 0x61));
      throw new Error('disk gone');
    }
    expect(await runEdits([{ kind: 'replbody', body: gen() }])).toEqual([`b:${MAX_MILTER_REPLY_PAYLOAD}`, TEMPFAIL]);
  });
});

describe('limits', () => {
  it(`refuses the message once collected headers pass MAX_HEADER_BLOCK_BYTES (552 5.3.4)`, async () => {
    const big = 'v'.repeat(60000);
    const n = Math.ceil(MAX_HEADER_BLOCK_BYTES / 60000) + 1;
    const headers = Array.from({ length: n }, () => mta.L('X-Big', big));
    // With NR_HDR (no header() method) the refusal waits for end-of-message.
    const r1 = recorder({ omit: ['header', 'eoh', 'body', 'data'] });
    const res1 = await run(r1.handler, [mta.O(), mta.C('h', '4', 25, '1.2.3.4'), mta.M('<a@b>'), mta.R('<c@d>'), ...headers, mta.E()]);
    expect(res1.out.at(-1)).toBe('y:552 5.3.4 Message header too large');
    expect(r1.contexts).toHaveLength(0);
    expect(r1.calls.slice(-2)).toEqual(['abort', 'close']);
    // With header() the header that crosses the limit gets it, then Postfix sends no more content.
    const fit = Math.floor(MAX_HEADER_BLOCK_BYTES / (60000 + 'X-Big'.length + 3));
    const r2 = recorder();
    const res2 = await run(r2.handler, [mta.O(), mta.C('h', '4', 25, '1.2.3.4'), mta.M('<a@b>'), mta.R('<c@d>'), ...headers.slice(0, fit + 1), mta.A()]);
    expect(res2.out.slice(4)).toEqual([...Array<string>(fit).fill('c'), 'y:552 5.3.4 Message header too large']);
    expect(r2.calls.filter((c) => c.startsWith('header'))).toHaveLength(fit);
    expect(r2.calls.slice(-2)).toEqual(['abort', 'close']);
  });

  it('collects headers up to exactly MAX_HEADER_BLOCK_BYTES', async () => {
    const value = 'v'.repeat(MAX_HEADER_BLOCK_BYTES - 'X'.length - 3);
    const r = recorder();
    const res = await run(r.handler, [mta.O(), mta.C('h', '4', 25, '1.2.3.4'), mta.M('<a@b>'), mta.R('<c@d>'), mta.L('X', value), mta.E()]);
    expect(res.out.slice(-2)).toEqual(['c', 'c']);
    expect(r.contexts[0]!.headers[0]!.value.length).toBe(value.length);
  });

  it(`answers RCPT number MAX_RECIPIENTS + 1 with 452 4.5.3`, async () => {
    const rcpts = Array.from({ length: MAX_RECIPIENTS + 1 }, (_, i) => mta.R(`<r${i}@d.example>`));
    const r = recorder();
    const res = await run(r.handler, [mta.O(), mta.C('h', '4', 25, '1.2.3.4'), mta.M('<a@b>'), ...rcpts, mta.E()]);
    expect(res.out.at(-2)).toBe('y:452 4.5.3 Too many recipients');
    expect(res.out.filter((x) => x === 'c')).toHaveLength(2 + MAX_RECIPIENTS + 1);
    expect(r.contexts[0]!.recipients).toHaveLength(MAX_RECIPIENTS);
  });

  it('logs one warning per transaction for the recipients over the cap, however many', async () => {
    const log = spyLogger();
    const over = (n: number): Buffer[] => Array.from({ length: MAX_RECIPIENTS + n }, (_, i) => mta.R(`<r${i}@d.example>`));
    const r = recorder();
    const res = await run(
      r.handler,
      [mta.O(), mta.C('h', '4', 25, '1.2.3.4'), mta.M('<a@b>'), ...over(500), mta.A(), mta.M('<a@b>'), ...over(3), mta.E()],
      { logger: log },
    );
    expect(res.out.filter((x) => x === 'y:452 4.5.3 Too many recipients')).toHaveLength(503);
    // Two transactions over the cap: two lines, nothing at error level.
    const lines = [...log.warn.mock.calls, ...log.info.mock.calls, ...log.error.mock.calls];
    expect(lines.map((c) => c[1])).toEqual([
      'milter: too many recipients; refusing the rest of this message',
      'milter: too many recipients; refusing the rest of this message',
    ]);
    expect(log.error).not.toHaveBeenCalled();
  });

  it("logs a refusal of the client's message (552 from the accept step) as a warning without a stack", async () => {
    const log = spyLogger();
    const r = recorder();
    r.handler.eom = () => {
      throw new RejectError('EMAXLEN', { code: 552, enhanced: '5.3.4', text: 'Message has too many MIME parts' });
    };
    const res = await run(r.handler, [...upToE, mta.E()], { logger: log });
    expect(res.out.at(-1)).toBe('y:552 5.3.4 Message has too many MIME parts');
    expect(log.error).not.toHaveBeenCalled();
    expect(log.warn).toHaveBeenCalledTimes(1);
    expect(JSON.stringify(log.warn.mock.calls[0])).toContain('EMAXLEN');
    expect(JSON.stringify(log.warn.mock.calls[0])).not.toContain('stack');
  });

  it('without rcpt() (NR_RCPT), too many recipients refuses the message at end-of-message', async () => {
    const rcpts = Array.from({ length: MAX_RECIPIENTS + 1 }, (_, i) => mta.R(`<r${i}@d.example>`));
    const r = recorder({ omit: ['rcpt'] });
    const res = await run(r.handler, [mta.O(), mta.C('h', '4', 25, '1.2.3.4'), mta.M('<a@b>'), ...rcpts, mta.E()]);
    expect(res.out).toEqual(['O:6,15f,108000,5=i {auth_authen} {auth_type}', 'c', 'c', 'y:552 5.5.3 Too many recipients']);
  });
});
