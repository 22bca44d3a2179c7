import { describe, expect, it } from 'vitest';
import { InvariantError, ProtocolError } from '../../../src/lib/errors.js';
import { MAX_MILTER_FRAME, MAX_MILTER_REPLY_LINE, MAX_MILTER_REPLY_PAYLOAD } from '../../../src/lib/limits.js';
import {
  buildCustomReply,
  customReplyProblem,
  decodeCommand,
  decodeText,
  encodeAccept,
  encodeAddHeader,
  encodeAddRcpt,
  encodeAddRcptPar,
  encodeChangeFrom,
  encodeChangeHeader,
  encodeContinue,
  encodeDeleteRcpt,
  encodeDiscard,
  encodeInsertHeader,
  encodeOptneg,
  encodeProgress,
  encodeQuarantine,
  encodeReject,
  encodeReplaceBody,
  encodeReplaceBodyPackets,
  encodeReplyCode,
  encodeShutdown,
  encodeSkip,
  encodeTempfail,
  MilterFrameDecoder,
  type CustomReply,
  type MilterCommand,
} from '../../../src/milter/codec.js';
import { frame, mta, u16, u32, z } from './helpers.js';

function decodeAll(bytes: Buffer): MilterCommand[] {
  return new MilterFrameDecoder().push(bytes).map(decodeCommand);
}

function expectProtocolError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err: unknown) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  expect((caught as ProtocolError).code).toBe(code);
}

describe('MilterFrameDecoder', () => {
  const stream = Buffer.concat([mta.O(), mta.D('C', ['j', 'mx.example']), mta.C('client.example', '4', 2525, '192.0.2.1'), mta.B('x'.repeat(300))]);

  const flat = (frames: { command: number; payload: Buffer }[]): string[] =>
    frames.map((f) => `${String.fromCharCode(f.command)}:${f.payload.toString('hex')}`);

  it('returns whole frames whatever the chunking', () => {
    const whole = flat(new MilterFrameDecoder().push(stream));
    expect(whole.map((f) => f[0])).toEqual(['O', 'D', 'C', 'B']);
    for (let cut = 0; cut <= stream.length; cut++) {
      const d = new MilterFrameDecoder();
      const got = flat([...d.push(stream.subarray(0, cut)), ...d.push(stream.subarray(cut))]);
      expect(got).toEqual(whole);
      expect(d.pendingBytes).toBe(0);
    }
    const d = new MilterFrameDecoder();
    const bytewise = [];
    for (let i = 0; i < stream.length; i++) bytewise.push(...d.push(stream.subarray(i, i + 1)));
    expect(flat(bytewise)).toEqual(whole);
  });

  it('keeps a partial frame until the rest arrives', () => {
    const d = new MilterFrameDecoder();
    expect(d.push(stream.subarray(0, 7))).toEqual([]);
    expect(d.pendingBytes).toBe(7);
  });

  it('copies payloads so later chunks cannot change them', () => {
    const bytes = Buffer.from(mta.B('abc'));
    const [f] = new MilterFrameDecoder().push(bytes);
    bytes.fill(0);
    expect(f!.payload.toString()).toBe('abc');
    // Also the partial frame it holds between pushes.
    const d = new MilterFrameDecoder();
    const head = Buffer.from(mta.B('xyz').subarray(0, 7));
    expect(d.push(head)).toEqual([]);
    head.fill(0);
    expect(d.push(Buffer.from('z'))[0]!.payload.toString()).toBe('xyz');
  });

  it('refuses length 0', () => {
    expectProtocolError(() => new MilterFrameDecoder().push(Buffer.from('00000000', 'hex')), 'EMILTER_FRAME');
  });

  it('accepts a frame of exactly MAX_MILTER_FRAME and refuses one byte more', () => {
    const body = Buffer.alloc(MAX_MILTER_FRAME - 1, 0x61);
    const frames = new MilterFrameDecoder().push(frame('B', body));
    expect(frames[0]!.payload.length).toBe(MAX_MILTER_FRAME - 1);
    // Refused as soon as the length is in, before the payload arrives.
    expectProtocolError(() => new MilterFrameDecoder().push(u32(MAX_MILTER_FRAME + 1)), 'EMILTER_FRAME');
  });

  it('stays failed after an error', () => {
    const d = new MilterFrameDecoder();
    expectProtocolError(() => d.push(u32(0)), 'EMILTER_FRAME');
    expectProtocolError(() => d.push(mta.A()), 'EMILTER_FRAME');
  });
});

describe('decodeCommand', () => {
  it('decodes every MTA command', () => {
    const cmds = decodeAll(
      Buffer.concat([
        mta.O(6, 0x1ff, 0x1fffff),
        mta.D('M', ['{auth_authen}', 'alice'], ['i', '']),
        mta.D('L'),
        mta.C('client.example', '4', 2525, '192.0.2.1'),
        mta.C('[2001:db8::1]', '6', 40000, '2001:db8::1'),
        mta.C('localhost', 'L', 0, '/var/run/sock'),
        mta.C('unknown', 'U', 0, ''),
        mta.H('helo.example'),
        mta.M('<a@b.example>', 'SIZE=100', 'BODY=8BITMIME'),
        mta.R('<c@d.example>'),
        mta.T(),
        mta.L('Subject', ' hi\n there'),
        mta.N(),
        mta.B('line\r\n'),
        mta.E(),
        mta.A(),
        mta.Q(),
        mta.U('XFOO bar'),
      ]),
    );
    expect(cmds).toEqual([
      { type: 'optneg', version: 6, actions: 0x1ff, protocol: 0x1fffff },
      { type: 'macro', stage: 0x4d, macros: [['{auth_authen}', 'alice'], ['i', '']] },
      { type: 'macro', stage: 0x4c, macros: [] },
      { type: 'connect', hostname: 'client.example', family: 'inet4', port: 2525, address: '192.0.2.1' },
      { type: 'connect', hostname: '[2001:db8::1]', family: 'inet6', port: 40000, address: '2001:db8::1' },
      { type: 'connect', hostname: 'localhost', family: 'unix', port: 0, address: '/var/run/sock' },
      { type: 'connect', hostname: 'unknown', family: 'unknown', port: null, address: null },
      { type: 'helo', name: 'helo.example' },
      { type: 'mail', sender: '<a@b.example>', args: ['SIZE=100', 'BODY=8BITMIME'] },
      { type: 'rcpt', recipient: '<c@d.example>', args: [] },
      { type: 'data' },
      { type: 'header', name: 'Subject', value: ' hi\n there' },
      { type: 'eoh' },
      { type: 'body', chunk: Buffer.from('line\r\n') },
      { type: 'eom', chunk: Buffer.alloc(0) },
      { type: 'abort' },
      { type: 'quit' },
      { type: 'unknown', line: 'XFOO bar' },
    ]);
  });

  it('decodes UTF-8 and falls back to Latin-1', () => {
    expect(decodeText(Buffer.from('Grüße', 'utf8'))).toBe('Grüße');
    expect(decodeText(Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65]))).toBe('Grüße');
    const [h] = decodeAll(mta.L('Subject', ' Grüße'));
    expect(h).toEqual({ type: 'header', name: 'Subject', value: ' Grüße' });
  });

  const malformed: [string, Buffer, string][] = [
    ['unknown command Z', frame('Z'), 'EMILTER_COMMAND'],
    ['K (quit, new connection) is not supported', frame('K'), 'EMILTER_COMMAND'],
    ['lower-case response letter from the MTA', frame('c'), 'EMILTER_COMMAND'],
    ['O truncated', frame('O', u32(6), u32(0x1ff)), 'EMILTER_PAYLOAD'],
    ['D without a stage', frame('D'), 'EMILTER_PAYLOAD'],
    ['D with an unknown stage', frame('D', Buffer.from('Z'), z('i'), z('1')), 'EMILTER_PAYLOAD'],
    ['D with a name but no value', frame('D', Buffer.from('M'), z('i')), 'EMILTER_PAYLOAD'],
    ['D value missing its NUL', frame('D', Buffer.from('M'), z('i'), Buffer.from('1')), 'EMILTER_PAYLOAD'],
    ['C truncated after the family', frame('C', z('host'), Buffer.from('4'), Buffer.from([0x09])), 'EMILTER_PAYLOAD'],
    ['C without a family', frame('C', z('host')), 'EMILTER_PAYLOAD'],
    ['C with a bad family byte', frame('C', z('host'), Buffer.from('X'), u16(25), z('1.2.3.4')), 'EMILTER_PAYLOAD'],
    ['C address missing its NUL', frame('C', z('host'), Buffer.from('4'), u16(25), Buffer.from('1.2.3.4')), 'EMILTER_PAYLOAD'],
    ['C with left-over bytes', frame('C', z('host'), Buffer.from('4'), u16(25), z('1.2.3.4'), Buffer.from('x')), 'EMILTER_PAYLOAD'],
    ['C hostname missing its NUL', frame('C', Buffer.from('host')), 'EMILTER_PAYLOAD'],
    ['H missing its NUL', frame('H', Buffer.from('helo.example')), 'EMILTER_PAYLOAD'],
    ['H with two strings', frame('H', z('a'), z('b')), 'EMILTER_PAYLOAD'],
    ['M empty', frame('M'), 'EMILTER_PAYLOAD'],
    ['M argument missing its NUL', frame('M', z('<a@b>'), Buffer.from('SIZE=1')), 'EMILTER_PAYLOAD'],
    ['R missing its NUL', frame('R', Buffer.from('<a@b>')), 'EMILTER_PAYLOAD'],
    ['T with a payload', frame('T', Buffer.from('x')), 'EMILTER_PAYLOAD'],
    ['L with a name only', frame('L', z('Subject')), 'EMILTER_PAYLOAD'],
    ['L with an empty name', frame('L', z(''), z('x')), 'EMILTER_PAYLOAD'],
    ['L with left-over bytes', frame('L', z('Subject'), z('x'), z('y')), 'EMILTER_PAYLOAD'],
    ['N with a payload', frame('N', Buffer.from([0])), 'EMILTER_PAYLOAD'],
    ['A with a payload', frame('A', Buffer.from('x')), 'EMILTER_PAYLOAD'],
    ['Q with a payload', frame('Q', Buffer.from('x')), 'EMILTER_PAYLOAD'],
    ['U missing its NUL', frame('U', Buffer.from('XFOO')), 'EMILTER_PAYLOAD'],
  ];
  it.each(malformed)('refuses %s', (_what, bytes, code) => {
    expectProtocolError(() => decodeAll(bytes), code);
  });
});

describe('encoders', () => {
  const hex = (b: Buffer): string => b.toString('hex');
  it.each([
    ['c', encodeContinue(), '0000000163'],
    ['a', encodeAccept(), '0000000161'],
    ['r', encodeReject(), '0000000172'],
    ['t', encodeTempfail(), '0000000174'],
    ['d', encodeDiscard(), '0000000164'],
    ['4', encodeShutdown(), '0000000134'],
    ['p', encodeProgress(), '0000000170'],
    ['s', encodeSkip(), '0000000173'],
    ['y', encodeReplyCode('550 5.7.1 No'), '0000000e7935353020352e372e31204e6f00'],
    ['q', encodeQuarantine('spam'), '00000006717370616d00'],
    ['h', encodeAddHeader('X-A', 'b'), '0000000768582d41006200'],
    ['i', encodeInsertHeader(0, 'X', 'y'), '00000009690000000058007900'],
    ['m', encodeChangeHeader(2, 'Subject', ''), '0000000e6d000000025375626a6563740000'],
    ['e', encodeChangeFrom('<a@b>'), '00000007653c6140623e00'],
    ['e with args', encodeChangeFrom('<a@b>', 'ENVID=x'), '0000000f653c6140623e00454e5649443d7800'],
    ['+', encodeAddRcpt('<c@d>'), '000000072b3c6340643e00'],
    ['2', encodeAddRcptPar('<c@d>', 'NOTIFY=NEVER'), '00000014323c6340643e004e4f544946593d4e4556455200'],
    ['-', encodeDeleteRcpt('<c@d>'), '000000072d3c6340643e00'],
    ['b', encodeReplaceBody(Buffer.from('hi\r\n')), '000000056268690d0a'],
    [
      'O with a macro list',
      encodeOptneg({ version: 6, actions: 0x15f, protocol: 0x100100, macroLists: [[5, 'i {auth_authen}']] }),
      '000000214f000000060000015f001001000000000569207b617574685f61757468656e7d00',
    ],
  ])('%s', (_name, got, want) => {
    expect(hex(got)).toBe(want);
  });

  it('splits a body replacement into packets of at most MAX_MILTER_REPLY_PAYLOAD bytes', () => {
    const body = Buffer.alloc(2 * MAX_MILTER_REPLY_PAYLOAD + 10, 0x41);
    const packets = [...encodeReplaceBodyPackets(body)];
    expect(packets.map((p) => p.readUInt32BE(0) - 1)).toEqual([MAX_MILTER_REPLY_PAYLOAD, MAX_MILTER_REPLY_PAYLOAD, 10]);
    expect(packets.every((p) => p[4] === 0x62)).toBe(true);
    expect(Buffer.concat(packets.map((p) => p.subarray(5))).equals(body)).toBe(true);
  });

  it('accepts a payload of MAX_MILTER_REPLY_PAYLOAD bytes and refuses one byte more', () => {
    expect(encodeReplaceBody(Buffer.alloc(MAX_MILTER_REPLY_PAYLOAD)).length).toBe(5 + MAX_MILTER_REPLY_PAYLOAD);
    expect(() => encodeReplaceBody(Buffer.alloc(MAX_MILTER_REPLY_PAYLOAD + 1))).toThrow(InvariantError);
    expect(() => encodeAddHeader('X', 'v'.repeat(MAX_MILTER_REPLY_PAYLOAD))).toThrow(InvariantError);
  });

  it.each([
    ['an empty body packet', (): Buffer => encodeReplaceBody(Buffer.alloc(0))],
    ['a NUL inside a string', (): Buffer => encodeAddHeader('X', 'a\0b')],
    ['a negative index', (): Buffer => encodeChangeHeader(-1, 'X', 'y')],
    ['a fractional index', (): Buffer => encodeInsertHeader(1.5, 'X', 'y')],
    ['an index above uint32', (): Buffer => encodeInsertHeader(2 ** 32, 'X', 'y')],
  ])('refuses %s', (_what, fn) => {
    expect(fn).toThrow(InvariantError);
  });
});

describe('custom replies', () => {
  it.each<[CustomReply, string]>([
    [{ code: 550, enhanced: '5.7.1', text: 'Sender domain not allowed' }, '550 5.7.1 Sender domain not allowed'],
    [{ code: 451, enhanced: '4.3.0', text: 'Try again' }, '451 4.3.0 Try again'],
    [{ code: 421, enhanced: '4.7.0', text: 'Going away' }, '421 4.7.0 Going away'],
    [{ code: 552, enhanced: '5.3.4', text: '100% full' }, '552 5.3.4 100%% full'],
    [{ code: 550, enhanced: '5.1.1', text: '' }, '550 5.1.1'],
    [{ code: 550, enhanced: '5.7.1', text: ['First line', 'Second line', 'Last'] }, '550-5.7.1 First line\r\n550-5.7.1 Second line\r\n550 5.7.1 Last'],
    [{ code: 554, enhanced: '5.123.999', text: 'x' }, '554 5.123.999 x'],
  ])('builds %j', (reply, want) => {
    expect(customReplyProblem(reply)).toBeNull();
    expect(buildCustomReply(reply)).toBe(want);
  });

  it('accepts a line of MAX_MILTER_REPLY_LINE octets and refuses one more', () => {
    const room = MAX_MILTER_REPLY_LINE - '550 5.7.1 '.length;
    expect(customReplyProblem({ code: 550, enhanced: '5.7.1', text: 'x'.repeat(room) })).toBeNull();
    expect(customReplyProblem({ code: 550, enhanced: '5.7.1', text: 'x'.repeat(room + 1) })).toMatch(/exceeds/);
  });

  it.each<[string, CustomReply]>([
    ['a 2xx code', { code: 250, enhanced: '2.0.0', text: 'ok' }],
    ['a 3xx code', { code: 354, enhanced: '3.0.0', text: 'go' }],
    ['a 6xx code', { code: 600, enhanced: '5.0.0', text: 'x' }],
    ['a fractional code', { code: 550.5, enhanced: '5.0.0', text: 'x' }],
    ['a class mismatch', { code: 550, enhanced: '4.7.1', text: 'x' }],
    ['a short enhanced code', { code: 550, enhanced: '5.7', text: 'x' }],
    ['an enhanced code with a leading zero', { code: 550, enhanced: '5.01.1', text: 'x' }],
    ['an enhanced code with 4 digits', { code: 550, enhanced: '5.1000.1', text: 'x' }],
    ['a non-numeric enhanced code', { code: 550, enhanced: 'x.y.z', text: 'x' }],
    ['an empty enhanced code', { code: 550, enhanced: '', text: 'x' }],
    ['CR in text', { code: 550, enhanced: '5.7.1', text: 'a\rb' }],
    ['LF in text', { code: 550, enhanced: '5.7.1', text: 'a\nb' }],
    ['CRLF in text', { code: 550, enhanced: '5.7.1', text: 'a\r\n550 5.7.1 b' }],
    ['NUL in text', { code: 550, enhanced: '5.7.1', text: 'a\0b' }],
    ['a tab in text', { code: 550, enhanced: '5.7.1', text: 'a\tb' }],
    ['non-ASCII text', { code: 550, enhanced: '5.7.1', text: 'Grüße' }],
    ['LF in a later line', { code: 550, enhanced: '5.7.1', text: ['ok', 'a\nb'] }],
    ['no lines', { code: 550, enhanced: '5.7.1', text: [] }],
  ])('refuses %s', (_what, reply) => {
    expect(customReplyProblem(reply)).not.toBeNull();
    expect(() => buildCustomReply(reply)).toThrow(InvariantError);
  });
});
