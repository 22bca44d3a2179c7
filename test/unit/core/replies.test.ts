import { describe, expect, it } from 'vitest';
import { REPLIES, rejection, rejectErrorFor, safeEcho } from '../../../src/core/replies.js';
import type { RejectReason } from '../../../src/core/types.js';
import { RejectError } from '../../../src/lib/errors.js';
import { MAX_ECHO_LENGTH } from '../../../src/lib/limits.js';

describe('safeEcho', () => {
  it('keeps printable ASCII', () => {
    expect(safeEcho('a@b.com <x> "y"')).toBe('a@b.com <x> "y"');
  });
  it('replaces everything else with ?', () => {
    expect(safeEcho('a\r\nb\0c\td\x7fü😀')).toBe('a??b?c?d???');
  });
  it('cuts at MAX_ECHO_LENGTH code points and marks the cut', () => {
    expect(safeEcho('x'.repeat(MAX_ECHO_LENGTH))).toBe('x'.repeat(MAX_ECHO_LENGTH));
    expect(safeEcho('x'.repeat(MAX_ECHO_LENGTH + 1))).toBe('x'.repeat(MAX_ECHO_LENGTH) + '...');
  });
});

describe('REPLIES table', () => {
  const expected: [RejectReason, number, string][] = [
    ['auth-required', 530, '5.7.0'],
    ['starttls-required', 530, '5.7.0'],
    ['null-sender', 553, '5.1.7'],
    ['sender-syntax', 553, '5.1.7'],
    ['sender-domain-not-allowed', 553, '5.7.1'],
    ['invalid-flags', 554, '5.6.0'],
    ['invalid-unsubscribe', 554, '5.6.0'],
    ['too-many-tags', 554, '5.6.0'],
    ['tag-too-long', 554, '5.6.0'],
    ['tag-control-character', 554, '5.6.0'],
    ['no-recipients', 554, '5.5.1'],
    ['too-many-recipients', 554, '5.5.3'],
    ['no-to', 554, '5.6.0'],
    ['to-not-in-rcpt', 554, '5.7.1'],
    ['sending-limit', 451, '4.7.0'],
    ['space-paused', 451, '4.7.1'],
  ];
  it('covers every reason with the agreed codes', () => {
    expect(Object.keys(REPLIES).sort()).toEqual(expected.map((e) => e[0]).sort());
    for (const [reason, code, enhanced] of expected) {
      expect(REPLIES[reason]).toMatchObject({ code, enhanced });
      // class digit of the enhanced code matches the reply code
      expect(enhanced[0]).toBe(String(code)[0]);
    }
  });

  it('gives the exact texts', () => {
    expect(rejection('auth-required').text).toBe('Authentication required');
    expect(rejection('starttls-required').text).toBe('Must issue a STARTTLS command first');
    expect(rejection('null-sender').text).toBe(
      'Null sender not allowed: MAIL FROM must be an address in one of your sender domains',
    );
    expect(rejection('sender-syntax', 'a b').text).toBe('Sender address <a b> is not a valid address');
    expect(rejection('sender-domain-not-allowed', 'evil.test').text).toBe(
      'Sender domain <evil.test> is not allowed for this account',
    );
    expect(rejection('invalid-flags', 'abc').text).toBe(
      'X-Mxm-Flags value "abc" is invalid: expected an integer from 0 to 15',
    );
    expect(rejection('too-many-tags', 21).text).toBe('X-Mxm-Tag: too many tags (21, at most 20)');
    expect(rejection('tag-too-long').text).toBe('X-Mxm-Tag: a tag is longer than 100 characters');
    expect(rejection('tag-control-character', 0x0a).text).toBe('X-Mxm-Tag: a tag contains a control character or line break (U+000A)');
    expect(rejection('tag-control-character', 0x2028).text).toBe('X-Mxm-Tag: a tag contains a control character or line break (U+2028)');
    expect(rejection('no-to').text).toBe('Message must have a To: header with one recipient address');
    expect(rejection('to-not-in-rcpt', 'x@y.z').text).toBe('To: address <x@y.z> is not one of the RCPT TO recipients');
    expect(rejection('too-many-recipients', 1001, 1000).text).toBe('Too many recipients (1001, at most 1000)');
    expect(rejection('sending-limit', 100, 'minute').text).toBe('Sending limit of 100 messages per minute reached for this space; try again later');
    expect(rejection('space-paused', 'a\r\nb').text).toBe('Sending paused for this space: a??b; contact your administrator');
  });

  it('every text is one line of printable ASCII, whatever the client sent', () => {
    const hostile = 'evil\r\n250 OK\0ü' + 'x'.repeat(500);
    const all = [
      rejection('null-sender'),
      rejection('sender-syntax', hostile),
      rejection('sender-domain-not-allowed', hostile),
      rejection('invalid-flags', hostile),
      rejection('too-many-tags', 99),
      rejection('tag-too-long'),
      rejection('tag-control-character', 0x10ffff),
      rejection('no-recipients'),
      rejection('too-many-recipients', 5000, 1000),
      rejection('no-to'),
      rejection('to-not-in-rcpt', hostile),
    ];
    for (const r of all) {
      expect(r.text).toMatch(/^[\x20-\x7e]+$/);
      expect(r.text.length).toBeLessThan(200);
    }
  });

  it('rejectErrorFor carries the reply and the reason as code', () => {
    const err = rejectErrorFor(rejection('no-to'));
    expect(err).toBeInstanceOf(RejectError);
    expect(err.code).toBe('no-to');
    expect(err.reply).toEqual({ code: 554, enhanced: '5.6.0', text: 'Message must have a To: header with one recipient address' });
  });
});
