import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../../src/lib/errors.js';
import { MAX_MILTER_FRAME } from '../../../src/lib/limits.js';
import { decodeCommand, decodeText, MilterFrameDecoder, type MilterCommand } from '../../../src/milter/decode.js';
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
