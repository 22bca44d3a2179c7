/**
 * Report field blocks (src/bounce/report-fields.ts) and the RFC 3464 delivery-status reader
 * with its RFC 3463 status helpers (src/bounce/dsn.ts), including MAX_BOUNCE_RECIPIENTS and
 * MAX_BOUNCE_DIAGNOSTIC_LENGTH one step past each.
 */
import { describe, expect, it } from 'vitest';
import type { RecipientAction } from '../../../src/bounce/analysis/analysis-types.js';
import { cleanDiagnostic, kindOf, parseDeliveryStatus, parseStatus, replyStart, statusFromText } from '../../../src/bounce/analysis/dsn.js';
import {
  decodeEmbeddedUnicode,
  oneLine,
  parseFieldBlocks,
  plausibleAddress,
  splitTyped,
  typedAddress,
} from '../../../src/bounce/analysis/report-fields.js';
import { MAX_ADDRESS_LENGTH, MAX_BOUNCE_DIAGNOSTIC_LENGTH, MAX_BOUNCE_RECIPIENTS } from '../../../src/lib/limits.js';

describe('parseFieldBlocks', () => {
  it('splits blocks at empty or blank lines, unfolds, keeps name case and order, skips junk', () => {
    const { blocks, truncated } = parseFieldBlocks(
      'Reporting-MTA: dns; a\r\n \r\nFinal-Recipient: rfc822; x@y\r\nDiagnostic-Code: smtp; 550\r\n  more\r\n\tand more\r\nnot a field\r\nACTION : failed\n\n\n',
      10,
    );
    expect(truncated).toBe(false);
    expect(blocks).toEqual([
      [{ name: 'Reporting-MTA', key: 'reporting-mta', value: 'dns; a' }],
      [
        { name: 'Final-Recipient', key: 'final-recipient', value: 'rfc822; x@y' },
        { name: 'Diagnostic-Code', key: 'diagnostic-code', value: 'smtp; 550  more\tand more' },
        { name: 'ACTION', key: 'action', value: 'failed' },
      ],
    ]);
  });

  it('a continuation line before any field is junk', () => {
    expect(parseFieldBlocks('  orphan\r\nA: 1', 5).blocks).toEqual([[{ name: 'A', key: 'a', value: '1' }]]);
  });

  it('stops after maxBlocks and says whether more fields followed', () => {
    expect(parseFieldBlocks('A: 1\n\nB: 2\n\nC: 3', 2)).toEqual({
      blocks: [[{ name: 'A', key: 'a', value: '1' }], [{ name: 'B', key: 'b', value: '2' }]],
      truncated: true,
    });
    expect(parseFieldBlocks('A: 1\n\nB: 2\n\njunk only', 2).truncated).toBe(false);
    expect(parseFieldBlocks('A: 1\n\nB: 2', 2).truncated).toBe(false);
  });
});

describe('typed values', () => {
  it('splitTyped splits `type; text` case-insensitively and leaves untyped text alone', () => {
    expect(splitTyped('RFC822; a@b')).toEqual({ type: 'rfc822', text: 'a@b' });
    expect(splitTyped('X-Postfix;host not found')).toEqual({ type: 'x-postfix', text: 'host not found' });
    expect(splitTyped('utf-8 ;  ü@b')).toEqual({ type: 'utf-8', text: 'ü@b' });
    expect(splitTyped('a@b')).toEqual({ type: null, text: 'a@b' });
    expect(splitTyped('550 5.1.1 x; y')).toEqual({ type: null, text: '550 5.1.1 x; y' });
  });

  it('typedAddress reads rfc822, utf-8 (with \\x{} escapes), bare and bracketed addresses', () => {
    expect(typedAddress('rfc822; nobody@example.net')).toBe('nobody@example.net');
    expect(typedAddress('rfc822;<nobody@example.net>')).toBe('nobody@example.net');
    expect(typedAddress('utf-8; \\x{FC}ser@example.net')).toBe('üser@example.net');
    expect(typedAddress('utf-8; üser@bücher.example')).toBe('üser@bücher.example');
    expect(typedAddress('nobody@example.net')).toBe('nobody@example.net');
    expect(typedAddress('rfc822; "john doe"@example.net')).toBe('"john doe"@example.net');
  });

  it('typedAddress refuses what is not a usable addr-spec', () => {
    for (const bad of ['rfc822;', 'rfc822; nobody', 'rfc822; @example.net', 'rfc822; a@', 'rfc822; a b@c', 'rfc822; a@b\u0000c', 'rfc822; <a@b', 'x@' + 'a'.repeat(MAX_ADDRESS_LENGTH)]) {
      expect(typedAddress(bad), bad).toBeNull();
    }
    expect(plausibleAddress('a'.repeat(MAX_ADDRESS_LENGTH - 2) + '@b')).not.toBeNull();
    expect(plausibleAddress('a'.repeat(MAX_ADDRESS_LENGTH - 1) + '@b')).toBeNull();
  });

  it('decodeEmbeddedUnicode decodes scalar values and leaves surrogates and out-of-range escapes', () => {
    expect(decodeEmbeddedUnicode('\\x{1F600}\\x{D800}\\x{110000}\\x{}')).toBe('😀\\x{D800}\\x{110000}\\x{}');
  });

  it('oneLine drops control characters, collapses whitespace and never cuts a surrogate pair', () => {
    expect(oneLine(' a\r\n\tb\u0000c\u007f  ', 100)).toBe('a bc');
    expect(oneLine('ab😀', 3)).toBe('ab');
    expect(oneLine('ab😀', 4)).toBe('ab😀');
  });
});

describe('RFC 3463 status', () => {
  it('parseStatus accepts class 2/4/5 codes with a comment after them', () => {
    expect(parseStatus('5.1.1')).toBe('5.1.1');
    expect(parseStatus(' 4.4.7 (delivery time expired)')).toBe('4.4.7');
    expect(parseStatus('5.1.10')).toBe('5.1.10');
    expect(parseStatus('5.01.001')).toBe('5.1.1');
  });

  it('parseStatus refuses anything else', () => {
    for (const bad of ['', '3.1.1', '6.0.0', '5.1', '5.1.1.1', '5.1.1000', 'x5.1.1', '550', 'failed']) expect(parseStatus(bad), bad).toBeNull();
    expect(parseStatus(null)).toBeNull();
  });

  it('statusFromText finds the status a quoted SMTP reply gives', () => {
    const cases: [string, string][] = [
      ['550 5.1.1 <a@b>: Recipient address rejected', '5.1.1'],
      ['550-5.1.1 The email account', '5.1.1'],
      ['#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##', '5.1.1'],
      ['host x said: 451 4.7.1 greylisted', '4.7.1'],
      ['Sorry, no mailbox here by that name. (#5.1.1)', '5.1.1'],
      ['Remote host said: 554 delivery error: dd This user does not exist', '5.0.0'],
      ['host mx [192.0.2.1]: 550 <a@b>... User unknown', '5.0.0'],
      ["Remote Server returned '550 5.1.10 RESOLVER'", '5.1.10'],
      ['550 4.7.1 mismatched classes', '5.0.0'],
      ['452 Mailbox full', '4.0.0'],
    ];
    for (const [t, status] of cases) expect(statusFromText(t), t).toBe(status);
  });

  it('statusFromText does not read numbers that are not replies', () => {
    for (const t of ['size=523 bytes', 'host 192.0.2.250 [192.0.2.250]', 'Mon, 23 Nov 2026 00:55:19', 'id 4jXnHF0Dk8zJJ9X', 'version 5.1.1 of the software', 'code550 5.1.1', 'order 250-001 shipped', 'Unrouteable address', '']) {
      expect(statusFromText(t), t).toBeNull();
    }
  });

  it('replyStart points at the reply code', () => {
    expect(replyStart('SMTP error after RCPT TO:<a@b>: 550 5.1.1 no')).toBe('SMTP error after RCPT TO:<a@b>: '.length);
    expect(replyStart('Remote host said: 554 no such user')).toBe('Remote host said: '.length);
    expect(replyStart('nothing here')).toBe(-1);
  });

  it('kindOf: hard only for failed with a 5.x.x status', () => {
    const table: [RecipientAction, string | null, string][] = [
      ['failed', '5.1.1', 'hard'],
      ['failed', '4.2.2', 'soft'],
      ['failed', null, 'soft'],
      ['failed', '2.0.0', 'soft'],
      ['delayed', '4.4.1', 'soft'],
      ['delayed', '5.1.1', 'soft'],
      ['delivered', '2.0.0', 'success'],
      ['relayed', '2.0.0', 'success'],
      ['expanded', null, 'success'],
    ];
    for (const [action, status, kind] of table) expect(kindOf(action, status), `${action} ${String(status)}`).toBe(kind);
  });
});

describe('cleanDiagnostic', () => {
  it('joins a multi-line reply, dropping the repeated code prefixes', () => {
    expect(cleanDiagnostic('550-5.1.1 The account\n 550-5.1.1 does not exist.\n 550 5.1.1  See https://x gsmtp')).toBe('550 5.1.1 The account does not exist. See https://x gsmtp');
    expect(cleanDiagnostic('421-Too many\n 421-connections\n 421 try later')).toBe('421 Too many connections try later');
  });

  it('leaves other text as one line, and an empty one as null', () => {
    expect(cleanDiagnostic('Host or domain name not found.\n    Name service error')).toBe('Host or domain name not found. Name service error');
    expect(cleanDiagnostic('550 5.1.1 mentions 550 5.1.1 later')).toBe('550 5.1.1 mentions 550 5.1.1 later');
    expect(cleanDiagnostic('552 message of 552 kB too big')).toBe('552 message of 552 kB too big');
    expect(cleanDiagnostic(' \r\n ')).toBeNull();
  });

  it(`cuts at MAX_BOUNCE_DIAGNOSTIC_LENGTH (${MAX_BOUNCE_DIAGNOSTIC_LENGTH})`, () => {
    expect(cleanDiagnostic('x'.repeat(MAX_BOUNCE_DIAGNOSTIC_LENGTH))).toHaveLength(MAX_BOUNCE_DIAGNOSTIC_LENGTH);
    expect(cleanDiagnostic('x'.repeat(MAX_BOUNCE_DIAGNOSTIC_LENGTH + 1))).toHaveLength(MAX_BOUNCE_DIAGNOSTIC_LENGTH);
  });
});

describe('parseDeliveryStatus', () => {
  const block = (fields: readonly string[]): string => fields.join('\r\n');
  const perMessage = block(['Reporting-MTA: dns; mta.example', 'Arrival-Date: Mon, 23 Nov 2026 00:00:00 +0000']);

  it('reads one report per recipient block, case-insensitive names and types', () => {
    const text = [
      perMessage,
      block(['final-recipient: RFC822; a@x.example', 'ORIGINAL-RECIPIENT: rfc822;A@x.example', 'Action: FAILED', 'Status: 5.1.1', 'Remote-MTA: DNS; mx.x.example', 'Diagnostic-Code: SMTP; 550 5.1.1 nope']),
      block(['Final-Recipient: rfc822; b@x.example', 'Action: delayed', 'Status: 4.4.1 (no answer)', 'Will-Retry-Until: Fri, 27 Nov 2026 00:00:00 +0000']),
    ].join('\r\n\r\n');
    expect(parseDeliveryStatus(text)).toEqual({
      recipients: [
        { recipient: 'a@x.example', originalRecipient: 'A@x.example', action: 'failed', status: '5.1.1', kind: 'hard', diagnostic: '550 5.1.1 nope', remoteMta: 'mx.x.example', reason: 'user-unknown', reasonRule: 'status:5.1.1' },
        { recipient: 'b@x.example', originalRecipient: null, action: 'delayed', status: '4.4.1', kind: 'soft', diagnostic: null, remoteMta: null, reason: 'network', reasonRule: 'status:4.4.1' },
      ],
      notes: [],
    });
  });

  it('takes the status from the Diagnostic-Code when Status is missing or bad', () => {
    const r = parseDeliveryStatus(block(['Final-Recipient: rfc822; a@x.example', 'Action: failed', 'Status: 5.1', 'Diagnostic-Code: smtp; 550 5.7.1 blocked']));
    expect(r.recipients[0]).toMatchObject({ status: '5.7.1', kind: 'hard' });
    expect(r.notes).toEqual(['status-from-diagnostic']);
  });

  it('without any status, a failed recipient is soft (no evidence of a 5)', () => {
    const r = parseDeliveryStatus(block(['Final-Recipient: rfc822; a@x.example', 'Action: failed', 'Diagnostic-Code: x-unix; it went wrong']));
    expect(r.recipients[0]).toMatchObject({ action: 'failed', status: null, kind: 'soft' });
    expect(r.notes).toEqual(['no-status']);
  });

  it('derives a missing or unknown Action from the status class', () => {
    const get = (action: string | null, status: string | null): unknown => {
      const fields = ['Final-Recipient: rfc822; a@x.example'];
      if (action !== null) fields.push(`Action: ${action}`);
      if (status !== null) fields.push(`Status: ${status}`);
      const r = parseDeliveryStatus(block(fields));
      return [r.recipients[0]?.action, r.recipients[0]?.kind, r.notes];
    };
    expect(get(null, '5.1.1')).toEqual(['failed', 'hard', []]);
    expect(get('bounced', '4.2.2')).toEqual(['delayed', 'soft', []]);
    expect(get(null, '2.0.0')).toEqual(['delivered', 'success', []]);
    expect(get(null, null)).toEqual(['failed', 'soft', ['no-action', 'no-status']]);
  });

  it('uses Original-Recipient when Final-Recipient is missing or unreadable, and skips a block with neither', () => {
    const text = [
      block(['Original-Recipient: rfc822; o@x.example', 'Action: failed', 'Status: 5.0.0']),
      block(['Final-Recipient: x400; /C=XX/', 'Original-Recipient: rfc822; p@x.example', 'Action: failed', 'Status: 5.0.0']),
      block(['Final-Recipient: rfc822; nobody', 'Action: failed', 'Status: 5.0.0']),
    ].join('\n\n');
    const r = parseDeliveryStatus(text);
    expect(r.recipients.map((x) => x.recipient)).toEqual(['o@x.example', 'p@x.example']);
    expect(r.notes).toEqual(['recipient-unreadable']);
  });

  it('splits a block that holds two recipients (a missing blank line)', () => {
    const r = parseDeliveryStatus(block(['Final-Recipient: rfc822; a@x.example', 'Action: failed', 'Status: 5.1.1', 'Final-Recipient: rfc822; b@x.example', 'Action: delayed', 'Status: 4.0.0']));
    expect(r.recipients.map((x) => [x.recipient, x.kind])).toEqual([
      ['a@x.example', 'hard'],
      ['b@x.example', 'soft'],
    ]);
  });

  it('reads nothing from text without recipient blocks', () => {
    expect(parseDeliveryStatus(perMessage)).toEqual({ recipients: [], notes: [] });
    expect(parseDeliveryStatus('')).toEqual({ recipients: [], notes: [] });
  });

  it(`keeps MAX_BOUNCE_RECIPIENTS (${MAX_BOUNCE_RECIPIENTS}) recipients and notes one more`, () => {
    const make = (n: number): string =>
      [perMessage, ...Array.from({ length: n }, (_, i) => block([`Final-Recipient: rfc822; r${i}@x.example`, 'Action: failed', 'Status: 5.1.1']))].join('\n\n');
    const fits = parseDeliveryStatus(make(MAX_BOUNCE_RECIPIENTS));
    expect(fits.recipients).toHaveLength(MAX_BOUNCE_RECIPIENTS);
    expect(fits.notes).toEqual([]);
    const over = parseDeliveryStatus(make(MAX_BOUNCE_RECIPIENTS + 1));
    expect(over.recipients).toHaveLength(MAX_BOUNCE_RECIPIENTS);
    expect(over.recipients.at(-1)?.recipient).toBe(`r${MAX_BOUNCE_RECIPIENTS - 1}@x.example`);
    expect(over.notes).toEqual(['recipients-truncated']);
    // without a per-message block the cap is the same
    const noPerMessage = parseDeliveryStatus(make(MAX_BOUNCE_RECIPIENTS + 1).slice(perMessage.length + 2));
    expect(noPerMessage.recipients).toHaveLength(MAX_BOUNCE_RECIPIENTS);
    expect(noPerMessage.notes).toEqual(['recipients-truncated']);
  });
});
