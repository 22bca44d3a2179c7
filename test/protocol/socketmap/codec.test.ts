import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../../src/lib/errors.js';
import { MAX_SOCKETMAP_REPLY, MAX_SOCKETMAP_REQUEST } from '../../../src/lib/limits.js';
import { SOCKETMAP_ERROR, SocketmapRequestReader, encodeSocketmapReply, type SocketmapReply, type SocketmapRequest } from '../../../src/socketmap/codec.js';
import { protocolCode } from '../helpers.js';
import { POSTFIX_37_REQUESTS, netstring, notFound, ok, request, temp } from './helpers.js';

/** Every request in `chunks`, fed one push() each; the ProtocolError code, if any, ends the run. */
function readChunks(chunks: readonly Buffer[]): { requests: SocketmapRequest[]; error: string | null } {
  const reader = new SocketmapRequestReader();
  const requests: SocketmapRequest[] = [];
  try {
    for (const chunk of chunks) {
      reader.push(chunk);
      for (let r = reader.next(); r !== null; r = reader.next()) requests.push(r);
    }
  } catch (err: unknown) {
    return { requests, error: protocolCode(() => {
      throw err;
    }) };
  }
  return { requests, error: null };
}

function readAll(text: string | Buffer): SocketmapRequest[] {
  const { requests, error } = readChunks([typeof text === 'string' ? Buffer.from(text) : text]);
  if (error !== null) throw new Error(`unexpected ${error}`);
  return requests;
}

/** Same outcome whole, split in two at every offset, and byte by byte. */
function expectSplitInvariant(text: string): { requests: SocketmapRequest[]; error: string | null } {
  const bytes = Buffer.from(text);
  const whole = readChunks([bytes]);
  for (let k = 0; k <= bytes.length; k++) {
    expect({ k, ...readChunks([bytes.subarray(0, k), bytes.subarray(k)]) }).toEqual({ k, ...whole });
  }
  expect(readChunks([...bytes].map((b) => Buffer.from([b])))).toEqual(whole);
  return whole;
}

const asRequests = (pairs: readonly (readonly [string, string])[]): SocketmapRequest[] => pairs.map(([map, key]) => ({ map, key }));

describe('SocketmapRequestReader', () => {
  it('reads what Postfix 3.7 sends on one connection, split at every byte offset', () => {
    const text = POSTFIX_37_REQUESTS.map(([m, k]) => request(m, k)).join('');
    expect(text.startsWith('11:transport *,11:transport *,8:relay vm,')).toBe(true);
    const { requests, error } = expectSplitInvariant(text);
    expect(error).toBeNull();
    expect(requests).toEqual(asRequests(POSTFIX_37_REQUESTS));
  });
  it('takes the map name up to the first space; the key keeps further spaces', () => {
    expect(readAll('28:transport "a b"@shop.example,')).toEqual([{ map: 'transport', key: '"a b"@shop.example' }]);
    expect(readAll('11:relay  x y ,')).toEqual([{ map: 'relay', key: ' x y ' }]);
  });
  it('accepts an empty key (the lookup decides)', () => {
    expect(readAll('6:relay ,')).toEqual([{ map: 'relay', key: '' }]);
  });
  it('counts bytes, not characters, and decodes UTF-8 (U-labels arrive as typed)', () => {
    const { requests } = expectSplitInvariant('21:relay bücher.example,');
    expect(requests).toEqual([{ map: 'relay', key: 'bücher.example' }]);
  });
  it('decodes invalid UTF-8 as U+FFFD', () => {
    const bytes = Buffer.concat([Buffer.from('7:relay '), Buffer.from([0xff]), Buffer.from(',')]);
    expect(readAll(bytes)).toEqual([{ map: 'relay', key: '\ufffd' }]);
  });
  it('waits for the closing comma, and for the rest of a length', () => {
    expect(readAll('8:relay vm')).toEqual([]);
    expect(readAll('1')).toEqual([]);
    expect(readAll('')).toEqual([]);
  });
  it(`accepts a request of exactly MAX_SOCKETMAP_REQUEST (${MAX_SOCKETMAP_REQUEST}) bytes`, () => {
    const key = 'k'.repeat(MAX_SOCKETMAP_REQUEST - 'transport '.length);
    const text = request('transport', key);
    expect(text.startsWith(`${MAX_SOCKETMAP_REQUEST}:`)).toBe(true);
    expect(readAll(text)).toEqual([{ map: 'transport', key }]);
  });

  it.each([
    ['a letter in the length', '1x:relay vm,', SOCKETMAP_ERROR.BAD_LENGTH],
    ['a sign in front of the length', '+8:relay vm,', SOCKETMAP_ERROR.BAD_LENGTH],
    ['a negative length', '-8:relay vm,', SOCKETMAP_ERROR.BAD_LENGTH],
    ['a blank before the length', ' 8:relay vm,', SOCKETMAP_ERROR.BAD_LENGTH],
    ['a blank between length and colon', '8 :relay vm,', SOCKETMAP_ERROR.BAD_LENGTH],
    ['a CR LF between requests', '8:relay vm,\r\n8:relay vm,', SOCKETMAP_ERROR.BAD_LENGTH],
    ['no length at all', ':relay vm,', SOCKETMAP_ERROR.BAD_LENGTH],
    ['a leading zero', '08:relay vm,', SOCKETMAP_ERROR.BAD_LENGTH],
    ['a zero length written "00"', '00:,', SOCKETMAP_ERROR.BAD_LENGTH],
    ['a hexadecimal length', '0x8:relay vm,', SOCKETMAP_ERROR.BAD_LENGTH],
    ['one byte over MAX_SOCKETMAP_REQUEST', request('transport', 'k'.repeat(MAX_SOCKETMAP_REQUEST - 'transport '.length + 1)), SOCKETMAP_ERROR.TOO_LONG],
    ['an over-cap length with nothing after it yet', `${MAX_SOCKETMAP_REQUEST + 1}`, SOCKETMAP_ERROR.TOO_LONG],
    ['a huge length', '99999999999999999999999:', SOCKETMAP_ERROR.TOO_LONG],
    ['a payload longer than its length (no comma where it belongs)', '7:relay vm,', SOCKETMAP_ERROR.MISSING_COMMA],
    ['a payload shorter than its length', '9:relay vm,8:relay vm,', SOCKETMAP_ERROR.MISSING_COMMA],
    ['a semicolon for the comma', '8:relay vm;', SOCKETMAP_ERROR.MISSING_COMMA],
    ['a line feed for the comma', '8:relay vm\n', SOCKETMAP_ERROR.MISSING_COMMA],
    ['a NUL in the key', '9:relay v\0m,', SOCKETMAP_ERROR.NUL_BYTE],
    ['a NUL in the map name', '9:re\0lay vm,', SOCKETMAP_ERROR.NUL_BYTE],
    ['a payload without a space', '7:relayvm,', SOCKETMAP_ERROR.BAD_REQUEST],
    ['an empty payload', '0:,', SOCKETMAP_ERROR.BAD_REQUEST],
    ['an empty map name', '3: vm,', SOCKETMAP_ERROR.EMPTY_MAP_NAME],
    ['only a space', '1: ,', SOCKETMAP_ERROR.EMPTY_MAP_NAME],
  ])('refuses %s, at every split', (_name, input, code) => {
    expect(expectSplitInvariant(input).error).toBe(code);
  });
  it('hands out the good requests before the bad one', () => {
    const { requests, error } = expectSplitInvariant(request('relay', 'a.example') + request('relay', 'b.example') + '3: vm,');
    expect(requests).toEqual([{ map: 'relay', key: 'a.example' }, { map: 'relay', key: 'b.example' }]);
    expect(error).toBe(SOCKETMAP_ERROR.EMPTY_MAP_NAME);
  });
});

describe('encodeSocketmapReply', () => {
  it.each<[string, SocketmapReply, string]>([
    ['OK', { status: 'OK', value: 'lmtp:inet:127.0.0.1:8894' }, ok('lmtp:inet:127.0.0.1:8894')],
    ['OK with spaces in the value', { status: 'OK', value: 'error:5.1.1 no such user' }, ok('error:5.1.1 no such user')],
    ['OK with UTF-8 (byte length)', { status: 'OK', value: 'bücher.example' }, '18:OK bücher.example,'],
    ['NOTFOUND (with the space socketmap_table(5) shows)', { status: 'NOTFOUND' }, '9:NOTFOUND ,'],
    ['TEMP', { status: 'TEMP', reason: 'store down' }, temp('store down')],
    ['TEMP without a reason', { status: 'TEMP', reason: '' }, '5:TEMP ,'],
    ['TIMEOUT', { status: 'TIMEOUT', reason: 'slow' }, netstring('TIMEOUT slow')],
    ['PERM', { status: 'PERM', reason: 'no such map' }, netstring('PERM no such map')],
  ])('writes %s', (_name, reply, wire) => {
    expect(encodeSocketmapReply(reply)).toBe(wire);
  });
  it('writes NOTFOUND as the helper does', () => {
    expect(encodeSocketmapReply({ status: 'NOTFOUND' })).toBe(notFound());
  });
  it(`accepts a reply of exactly MAX_SOCKETMAP_REPLY (${MAX_SOCKETMAP_REPLY}) bytes`, () => {
    const value = 'v'.repeat(MAX_SOCKETMAP_REPLY - 'OK '.length);
    expect(encodeSocketmapReply({ status: 'OK', value })).toBe(`${MAX_SOCKETMAP_REPLY}:OK ${value},`);
  });
  it.each<[string, SocketmapReply]>([
    ['an OK with an empty value', { status: 'OK', value: '' }],
    ['an OK with no value', { status: 'OK' } as unknown as SocketmapReply],
    ['an OK with a number', { status: 'OK', value: 42 } as unknown as SocketmapReply],
    ['a NUL in the value', { status: 'OK', value: 'a\0b' }],
    ['a NUL in the reason', { status: 'TEMP', reason: 'a\0b' }],
    ['a TEMP without a reason string', { status: 'TEMP' } as unknown as SocketmapReply],
    ['an unknown status', { status: 'MAYBE' } as unknown as SocketmapReply],
    ['one byte over MAX_SOCKETMAP_REPLY', { status: 'OK', value: 'v'.repeat(MAX_SOCKETMAP_REPLY - 'OK '.length + 1) }],
    ['one byte over MAX_SOCKETMAP_REPLY in UTF-8', { status: 'TEMP', reason: 'ü'.repeat((MAX_SOCKETMAP_REPLY - 'TEMP '.length + 1) / 2) }],
  ])('refuses %s (InvariantError)', (_name, reply) => {
    expect(() => encodeSocketmapReply(reply)).toThrow(InvariantError);
  });
});
