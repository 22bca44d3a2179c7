import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../../src/lib/errors.js';
import { MAX_MILTER_REPLY_LINE, MAX_MILTER_REPLY_PAYLOAD } from '../../../src/lib/limits.js';
import {
  buildCustomReply,
  customReplyProblem,
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
  encodeReply,
  encodeReplyCode,
  encodeShutdown,
  encodeSkip,
  encodeTempfail,
  type CustomReply,
  type ReplyPacket,
} from '../../../src/milter/encode.js';

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

describe('encodeReply', () => {
  it.each<[ReplyPacket, string]>([
    [{ kind: 'continue' }, '0000000163'],
    [{ kind: 'accept' }, '0000000161'],
    [{ kind: 'reject' }, '0000000172'],
    [{ kind: 'tempfail' }, '0000000174'],
    [{ kind: 'discard' }, '0000000164'],
    [{ kind: 'custom', code: 550, enhanced: '5.7.1', text: 'No' }, '0000000e7935353020352e372e31204e6f00'],
  ])('%j', (reply, want) => {
    expect(encodeReply(reply).toString('hex')).toBe(want);
  });

  it('refuses a custom reply the wire cannot carry', () => {
    expect(() => encodeReply({ kind: 'custom', code: 250, enhanced: '2.0.0', text: 'ok' })).toThrow(InvariantError);
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
