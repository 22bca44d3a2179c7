import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../../src/lib/errors.js';
import { MAX_POLICY_ATTRIBUTES, MAX_POLICY_LINE } from '../../../src/lib/limits.js';
import { POLICY_ERROR, PolicyRequestReader, serialisePolicyAction, type PolicyRequest } from '../../../src/policy/codec.js';
import { protocolCode } from '../helpers.js';
import { RCPT_ATTRIBUTES, RCPT_REQUEST, asRecord, request } from './helpers.js';

function readAll(text: string | Buffer): PolicyRequest[] {
  const reader = new PolicyRequestReader();
  reader.push(typeof text === 'string' ? Buffer.from(text) : text);
  const out: PolicyRequest[] = [];
  for (let r = reader.next(); r !== null; r = reader.next()) out.push(r);
  return out;
}

const REQ = 'request=smtpd_access_policy\n';

describe('PolicyRequestReader', () => {
  it('reads the RCPT request Postfix 3.7 sends, all 29 attributes', () => {
    const [req, ...rest] = readAll(RCPT_REQUEST);
    expect(rest).toEqual([]);
    expect(req).toEqual(asRecord(RCPT_ATTRIBUTES));
    expect(Object.keys(req!).length).toBe(29);
    expect(Object.isFrozen(req)).toBe(true);
  });
  it('keeps "=" inside values and empty values', () => {
    const [req] = readAll(REQ + 'ccert_subject=CN=client,O=Example\npolicy_context=a=b=\nqueue_id=\n\n');
    expect(req).toEqual({ request: 'smtpd_access_policy', ccert_subject: 'CN=client,O=Example', policy_context: 'a=b=', queue_id: '' });
  });
  it('decodes UTF-8 (SMTPUTF8 addresses) and keeps odd names as plain keys', () => {
    const [req] = readAll(REQ + 'sender=jöe@bücher.example\n__proto__=x\nconstructor=y\n\n');
    expect(req!['sender']).toBe('jöe@bücher.example');
    expect(req!['__proto__']).toBe('x');
    expect(Object.getPrototypeOf(req)).toBeNull();
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
  });
  it('reads several requests from one buffer, and waits for the empty line', () => {
    expect(readAll(request([['request', 'smtpd_access_policy'], ['sender', 'a@b']]) + RCPT_REQUEST).length).toBe(2);
    expect(readAll(RCPT_REQUEST.slice(0, -1))).toEqual([]);
  });
  it(`accepts a line of exactly MAX_POLICY_LINE bytes and ${MAX_POLICY_ATTRIBUTES} attributes`, () => {
    const longLine = 'policy_context=' + 'x'.repeat(MAX_POLICY_LINE - 'policy_context='.length) + '\n';
    expect(readAll(REQ + longLine + '\n')[0]!['policy_context']!.length).toBe(MAX_POLICY_LINE - 'policy_context='.length);
    let many = REQ;
    for (let i = 1; i < MAX_POLICY_ATTRIBUTES; i++) many += `x${i}=${i}\n`;
    expect(Object.keys(readAll(many + '\n')[0]!).length).toBe(MAX_POLICY_ATTRIBUTES);
  });

  const manyAttributes = (() => {
    let s = REQ;
    for (let i = 1; i <= MAX_POLICY_ATTRIBUTES; i++) s += `x${i}=${i}\n`;
    return s + '\n';
  })();
  it.each([
    ['a line over MAX_POLICY_LINE', REQ + 'policy_context=' + 'x'.repeat(MAX_POLICY_LINE) + '\n\n', POLICY_ERROR.LINE_TOO_LONG],
    ['a line over MAX_POLICY_LINE without LF yet', REQ + 'x'.repeat(MAX_POLICY_LINE + 1), POLICY_ERROR.LINE_TOO_LONG],
    ['one attribute more than MAX_POLICY_ATTRIBUTES', manyAttributes, POLICY_ERROR.TOO_MANY_ATTRIBUTES],
    ['a line without "="', REQ + 'sender\n\n', POLICY_ERROR.BAD_LINE],
    ['a line with an empty name', REQ + '=value\n\n', POLICY_ERROR.BAD_LINE],
    ['a line that is only CR', REQ + '\r\n\n', POLICY_ERROR.BAD_LINE],
    ['a NUL byte', REQ + 'sender=a\0b\n\n', POLICY_ERROR.NUL_BYTE],
    ['an attribute twice', REQ + 'sender=a@b\nsender=c@d\n\n', POLICY_ERROR.DUPLICATE_ATTRIBUTE],
    ['the wrong request type', 'request=junk_policy\n\n', POLICY_ERROR.BAD_REQUEST],
    ['a request type with trailing CR', 'request=smtpd_access_policy\r\n\n', POLICY_ERROR.BAD_REQUEST],
    ['no request attribute', 'sender=a@b\n\n', POLICY_ERROR.BAD_REQUEST],
    ['an empty request', '\n', POLICY_ERROR.BAD_REQUEST],
  ])('refuses %s', (_name, input, code) => {
    expect(protocolCode(() => readAll(input))).toBe(code);
  });
});

describe('serialisePolicyAction', () => {
  it.each([
    ['DUNNO', 'action=DUNNO\n\n'],
    ['550 5.7.1 Sender <a@b> not allowed', 'action=550 5.7.1 Sender <a@b> not allowed\n\n'],
    ['PREPEND X-Trx: a=b', 'action=PREPEND X-Trx: a=b\n\n'],
    ['REJECT Nicht erlaubt: ü', 'action=REJECT Nicht erlaubt: ü\n\n'],
  ])('writes %j', (action, wire) => {
    expect(serialisePolicyAction(action)).toBe(wire);
  });
  it('accepts a reply line of exactly MAX_POLICY_LINE bytes', () => {
    const action = 'x'.repeat(MAX_POLICY_LINE - 'action='.length);
    expect(serialisePolicyAction(action).length).toBe(MAX_POLICY_LINE + 2);
  });
  it.each([
    ['empty', ''],
    ['blank', '   '],
    ['LF', 'DUNNO\naction=OK'],
    ['CR', 'DUNNO\r'],
    ['NUL', 'DU\0NNO'],
    ['one byte over MAX_POLICY_LINE', 'x'.repeat(MAX_POLICY_LINE - 'action='.length + 1)],
    ['not a string', 42 as unknown as string],
  ])('refuses %s (InvariantError)', (_name, action) => {
    expect(() => serialisePolicyAction(action)).toThrow(InvariantError);
  });
});
