import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AUTH_ERROR,
  AuthLineReader,
  decodeBase64,
  parseAuthClientLine,
  serialiseAuthServerMessage,
  tabEscape,
  tabUnescape,
  type AuthServerMessage,
} from '../../../src/auth/codec.js';
import { InvariantError, ProtocolError } from '../../../src/lib/errors.js';
import { MAX_AUTH_LINE } from '../../../src/lib/limits.js';
import { protocolCode } from '../helpers.js';
import { b64, plain, postfixAuth } from './helpers.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');
const parse = (s: string) => parseAuthClientLine(bytes(s));

describe('tab-escaping', () => {
  it('escapes the five special bytes as Dovecot does', () => {
    expect(tabEscape('a\tb\nc\rd\x01e\x00f')).toBe('a\x01tb\x01nc\x01rd\x011e\x010f');
    expect(tabEscape('plain@example.com')).toBe('plain@example.com');
  });
  it('unescapes, keeping unknown escapes and a trailing lone 0x01 literally', () => {
    expect(tabUnescape('a\x01tb\x01nc\x01rd\x011e\x010f')).toBe('a\tb\nc\rd\x01e\x00f');
    expect(tabUnescape('x\x01l')).toBe('xl');
    expect(tabUnescape('x\x01')).toBe('x\x01');
  });
  it('round-trips any string and never leaves TAB, CR, LF or NUL on the wire', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const escaped = tabEscape(s);
        expect(escaped).not.toMatch(/[\t\r\n\x00]/);
        expect(tabUnescape(escaped)).toBe(s);
      }),
      { seed: 20240601, numRuns: 500 },
    );
  });
});

describe('decodeBase64', () => {
  it.each([
    ['', ''],
    ['=', ''],
    ['QQ==', 'A'],
    ['QQ', 'A'],
    ['QUI=', 'AB'],
    ['QUI', 'AB'],
    ['QUJD', 'ABC'],
    [b64('\0joe\0pw'), '\0joe\0pw'],
  ])('decodes %j', (input, out) => {
    expect(decodeBase64(input)?.toString('latin1')).toBe(out);
  });
  it.each(['Q', 'QQ=', '=QQ', 'Q Q', 'QQ==QQ==', '%%%%', 'QQ===', 'QUJD\n', 'QUJD\t', '==', 'QU=I'])('refuses %j', (input) => {
    expect(decodeBase64(input)).toBeNull();
  });
});

describe('parseAuthClientLine', () => {
  it('parses the AUTH line exactly as Postfix 3.7 sends it', () => {
    const resp = plain('', 'joe@example.com', 'pw');
    const msg = parse(postfixAuth(1, 'PLAIN', { resp }).slice(0, -1));
    expect(msg).toEqual({
      type: 'AUTH',
      id: 1,
      mechanism: 'PLAIN',
      params: new Map([
        ['service', 'smtp'],
        ['lip', '127.0.0.1'],
        ['rip', '192.0.2.10'],
      ]),
      flags: new Set(['nologin', 'secured']),
      resp,
    });
  });
  it('parses VERSION, CPID, CONT and CANCEL', () => {
    expect(parse('VERSION\t1\t0')).toEqual({ type: 'VERSION', major: 1, minor: 0 });
    expect(parse('VERSION\t1')).toEqual({ type: 'VERSION', major: 1, minor: 0 });
    expect(parse('VERSION\t2\t7')).toEqual({ type: 'VERSION', major: 2, minor: 7 });
    expect(parse('CPID\t4242')).toEqual({ type: 'CPID', pid: 4242 });
    expect(parse('CONT\t7\tQUJD')).toEqual({ type: 'CONT', id: 7, data: 'QUJD' });
    expect(parse('CONT\t7\t')).toEqual({ type: 'CONT', id: 7, data: '' });
    expect(parse('CANCEL\t4294967295')).toEqual({ type: 'CANCEL', id: 4294967295 });
  });
  it('upper-cases the mechanism, unescapes values, treats empty resp= as none, drops a trailing CR', () => {
    const msg = parse('AUTH\t9\tlogin\tservice=sm\x01ttp\tsecured=tls\tresp=\r');
    expect(msg).toMatchObject({ type: 'AUTH', id: 9, mechanism: 'LOGIN', resp: null });
    if (msg.type !== 'AUTH') throw new Error('not AUTH');
    expect(msg.params.get('service')).toBe('sm\ttp');
    expect(msg.params.get('secured')).toBe('tls');
  });
  it.each([
    ['unknown command', 'HELLO\tworld', AUTH_ERROR.UNKNOWN_COMMAND],
    ['lower-case command', 'auth\t1\tPLAIN\tservice=smtp', AUTH_ERROR.UNKNOWN_COMMAND],
    ['empty line', '', AUTH_ERROR.UNKNOWN_COMMAND],
    ['NUL byte', 'AUTH\t1\tPLAIN\tservice=smtp\0', AUTH_ERROR.NUL_BYTE],
    ['VERSION without numbers', 'VERSION', AUTH_ERROR.BAD_VERSION],
    ['VERSION not numeric', 'VERSION\tone\t0', AUTH_ERROR.BAD_VERSION],
    ['VERSION minor not numeric', 'VERSION\t1\tx', AUTH_ERROR.BAD_VERSION],
    ['CPID 0', 'CPID\t0', AUTH_ERROR.BAD_COMMAND],
    ['CPID missing', 'CPID', AUTH_ERROR.BAD_COMMAND],
    ['AUTH without id', 'AUTH', AUTH_ERROR.BAD_COMMAND],
    ['AUTH bad id', 'AUTH\tx\tPLAIN\tservice=smtp', AUTH_ERROR.BAD_COMMAND],
    ['AUTH negative id', 'AUTH\t-1\tPLAIN\tservice=smtp', AUTH_ERROR.BAD_COMMAND],
    ['AUTH id over 32 bits', 'AUTH\t4294967296\tPLAIN\tservice=smtp', AUTH_ERROR.BAD_COMMAND],
    ['AUTH without mechanism', 'AUTH\t1', AUTH_ERROR.BAD_COMMAND],
    ['AUTH empty mechanism', 'AUTH\t1\t\tservice=smtp', AUTH_ERROR.BAD_COMMAND],
    ['AUTH parameter after resp', 'AUTH\t1\tPLAIN\tservice=smtp\tresp=QQ==\tsecured', AUTH_ERROR.BAD_COMMAND],
    ['CONT without data field', 'CONT\t1', AUTH_ERROR.BAD_COMMAND],
    ['CONT bad id', 'CONT\tx\tQQ==', AUTH_ERROR.BAD_COMMAND],
    ['CANCEL bad id', 'CANCEL\t', AUTH_ERROR.BAD_COMMAND],
  ])('refuses %s', (_name, input, code) => {
    expect(protocolCode(() => parse(input))).toBe(code);
  });
  it('never quotes the line (it may hold a password) in the error message', () => {
    const secret = b64('\0joe\0hunter2');
    try {
      parse(`AUTH\t1\tPLAIN\tservice=smtp\tresp=${secret}\tsecured`);
      throw new Error('expected a ProtocolError');
    } catch (err: unknown) {
      expect(err).toBeInstanceOf(ProtocolError);
      expect((err as Error).message).not.toContain(secret);
    }
  });
});

describe('AuthLineReader (MAX_AUTH_LINE)', () => {
  it('accepts a line of exactly MAX_AUTH_LINE bytes', () => {
    const r = new AuthLineReader();
    r.push(bytes('x'.repeat(MAX_AUTH_LINE) + '\n'));
    expect(r.next()?.length).toBe(MAX_AUTH_LINE);
    expect(r.next()).toBeNull();
  });
  it('refuses MAX_AUTH_LINE + 1 bytes when the LF arrives', () => {
    const r = new AuthLineReader();
    r.push(bytes('x'.repeat(MAX_AUTH_LINE + 1) + '\n'));
    expect(protocolCode(() => r.next())).toBe(AUTH_ERROR.LINE_TOO_LONG);
  });
  it('refuses a partial line as soon as it passes the cap, without waiting for the LF', () => {
    const r = new AuthLineReader();
    r.push(bytes('x'.repeat(MAX_AUTH_LINE)));
    expect(r.next()).toBeNull();
    r.push(bytes('x'));
    expect(protocolCode(() => r.next())).toBe(AUTH_ERROR.LINE_TOO_LONG);
  });
  it('hands out earlier lines before refusing a long one', () => {
    const r = new AuthLineReader();
    r.push(bytes('VERSION\t1\t0\n' + 'x'.repeat(MAX_AUTH_LINE + 5)));
    expect(r.next()?.toString()).toBe('VERSION\t1\t0');
    expect(protocolCode(() => r.next())).toBe(AUTH_ERROR.LINE_TOO_LONG);
  });
  it('joins lines split across pushes and copies them', () => {
    const r = new AuthLineReader();
    const chunk = bytes('CPID\t1');
    r.push(chunk);
    chunk.fill(0);
    r.push(bytes('2\nCONT'));
    expect(r.next()?.toString()).toBe('CPID\t12');
    expect(r.next()).toBeNull();
  });
});

describe('serialiseAuthServerMessage', () => {
  it.each<[AuthServerMessage, string]>([
    [{ type: 'VERSION', major: 1, minor: 2 }, 'VERSION\t1\t2\n'],
    [{ type: 'MECH', name: 'PLAIN', flags: ['plaintext'] }, 'MECH\tPLAIN\tplaintext\n'],
    [{ type: 'MECH', name: 'X-TEST', flags: [] }, 'MECH\tX-TEST\n'],
    [{ type: 'SPID', pid: 123 }, 'SPID\t123\n'],
    [{ type: 'CUID', id: 9 }, 'CUID\t9\n'],
    [{ type: 'COOKIE', cookie: 'ffffffffffffffffffffffffffffffff' }, 'COOKIE\tffffffffffffffffffffffffffffffff\n'],
    [{ type: 'DONE' }, 'DONE\n'],
    [{ type: 'OK', id: 4, user: 'joe@example.com' }, 'OK\t4\tuser=joe@example.com\n'],
    [{ type: 'OK', id: 4, user: 'we\tird' }, 'OK\t4\tuser=we\x01tird\n'],
    [{ type: 'CONT', id: 4, data: '' }, 'CONT\t4\t\n'],
    [{ type: 'CONT', id: 4, data: 'VXNlcm5hbWU6' }, 'CONT\t4\tVXNlcm5hbWU6\n'],
    [{ type: 'FAIL', id: 4 }, 'FAIL\t4\n'],
    [{ type: 'FAIL', id: 4, reason: 'bad\tthing' }, 'FAIL\t4\treason=bad\x01tthing\n'],
    [{ type: 'FAIL', id: 4, reason: 'later', code: 'temp_fail', user: 'joe' }, 'FAIL\t4\tuser=joe\tcode=temp_fail\treason=later\n'],
  ])('writes %j', (msg, wire) => {
    expect(serialiseAuthServerMessage(msg)).toBe(wire);
  });
  it.each<[string, AuthServerMessage]>([
    ['OK without user', { type: 'OK', id: 1, user: '' }],
    ['negative id', { type: 'FAIL', id: -1 }],
    ['id over 32 bits', { type: 'OK', id: 2 ** 32, user: 'x' }],
    ['fractional id', { type: 'CONT', id: 1.5, data: '' }],
    ['mechanism with a TAB', { type: 'MECH', name: 'PLAIN\tnologin', flags: [] }],
    ['short cookie', { type: 'COOKIE', cookie: 'abc' }],
    ['CONT data that is not base64', { type: 'CONT', id: 1, data: 'a\tb' }],
  ])('refuses %s (InvariantError)', (_name, msg) => {
    expect(() => serialiseAuthServerMessage(msg)).toThrow(InvariantError);
  });
});
