/**
 * analyseMessage (src/bounce/analyse.ts) beyond the fixtures: bounce address selection, the
 * X-Trxmail-Ref, ARF feedback types, auto-replies against bounce markers, report parts that
 * are missing or unreadable, MAX_BOUNCE_BYTES and MAX_BOUNCE_TEXT_BYTES one step past each,
 * and that no input makes it throw.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyseMessage, type MessageAnalysis } from '../../../src/bounce/analysis/analyse.js';
import { MAX_BOUNCE_BYTES, MAX_BOUNCE_TEXT_BYTES } from '../../../src/lib/limits.js';
import { BOUNCE_DOMAIN, FIXTURE_KEYS, bounceAddressFor, forgedAddressFor, loadFixture } from './fixture-helpers.js';

const SEND = '4jXQZB3dVKzJ9Ft';
const ADDR = bounceAddressFor(1, SEND);
const LOCAL = ADDR.slice(0, ADDR.indexOf('@'));

function analyse(raw: string | Buffer, envelopeRecipient?: string): MessageAnalysis {
  return analyseMessage(typeof raw === 'string' ? Buffer.from(raw.replace(/\r?\n/g, '\r\n'), 'utf8') : raw, { keys: FIXTURE_KEYS, bounceDomain: BOUNCE_DOMAIN, envelopeRecipient });
}

/** A minimal RFC 3464 report around one recipient block. */
function dsn(o: { header?: string; status?: string; part3?: string; statusType?: string; statusCte?: string } = {}): string {
  const statusBody = `Reporting-MTA: dns; mta.example\n\nFinal-Recipient: rfc822; a@x.example\nAction: failed\nStatus: ${o.status ?? '5.1.1'}\n`;
  return `${o.header ?? `To: ${ADDR}`}
From: MAILER-DAEMON@mta.example
Content-Type: multipart/report; report-type=delivery-status; boundary=b

--b
Content-Type: text/plain

failed
--b
Content-Type: ${o.statusType ?? 'message/delivery-status'}${o.statusCte === undefined ? '' : `\nContent-Transfer-Encoding: ${o.statusCte}`}

${o.statusCte === 'base64' ? Buffer.from(statusBody).toString('base64') : statusBody}
--b${o.part3 === undefined ? '' : `\n${o.part3}\n--b`}--
`;
}

describe('bounce address', () => {
  it('the envelope recipient wins over every header, brackets and blanks removed', () => {
    const a = analyse(dsn({ header: `To: ${forgedAddressFor(1, SEND)}` }), ` <${ADDR}> `);
    expect(a.bounceAddress).toEqual({ address: ADDR, ok: true, spaceId: 1, sendId: SEND, bccCopy: false });
  });

  it('a forged envelope recipient is reported as such even when a header holds a good address', () => {
    const forged = forgedAddressFor(1, SEND);
    expect(analyse(dsn(), forged).bounceAddress).toEqual({ address: forged, ok: false, reason: 'bad-check' });
  });

  it('an empty envelope recipient counts as none', () => {
    expect(analyse(dsn(), '').bounceAddress?.ok).toBe(true);
  });

  it('without one: the first header address that verifies, else the first in our domain, else the first', () => {
    const forged = forgedAddressFor(1, SEND);
    const verified = analyse(dsn({ header: `To: other@else.example, ${ADDR}\nDelivered-To: ${forged}` }));
    expect(verified.bounceAddress).toMatchObject({ ok: true, sendId: SEND });
    const inDomain = analyse(dsn({ header: `To: other@else.example\nX-Original-To: ${forged}` }));
    expect(inDomain.bounceAddress).toEqual({ address: forged, ok: false, reason: 'bad-check' });
    const first = analyse(dsn({ header: 'To: Someone <other@else.example>, x@y.example' }));
    expect(first.bounceAddress).toEqual({ address: 'other@else.example', ok: false, reason: 'not-ours' });
  });

  it('splits off the BCC copy suffix', () => {
    const copy = bounceAddressFor(1, `${SEND}_b`);
    expect(analyse(dsn({ header: `To: ${copy}` })).bounceAddress).toEqual({ address: copy, ok: true, spaceId: 1, sendId: SEND, bccCopy: true });
  });

  it('notes when there is no address at all', () => {
    const a = analyse(dsn({ header: 'Subject: x' }));
    expect(a.bounceAddress).toBeNull();
    expect(a.notes).toContain('no-bounce-address');
  });
});

describe('ref (X-Trxmail-Ref)', () => {
  it('is read from part 3 and decoded as <ref>@<bounce domain>', () => {
    const a = analyse(dsn({ part3: `Content-Type: text/rfc822-headers\n\nTo: a@x.example\nX-Trxmail-Ref:  ${LOCAL.toUpperCase()} (comment)\n` }));
    expect(a.ref).toEqual({ address: `${LOCAL.toUpperCase()}@${BOUNCE_DOMAIN}`, ok: true, spaceId: 1, sendId: SEND, bccCopy: false });
    expect(a.notes).toEqual([]);
  });

  it('a full address in the ref is decoded as written after <ref>@ (and so fails)', () => {
    const a = analyse(dsn({ part3: `Content-Type: message/rfc822\n\nX-Trxmail-Ref: <${ADDR}>\n\nbody` }));
    expect(a.ref).toMatchObject({ ok: false });
  });

  it('notes no-original without part 3, no-ref when part 3 lacks the header', () => {
    expect(analyse(dsn()).notes).toEqual(['no-original']);
    expect(analyse(dsn({ part3: 'Content-Type: message/rfc822\n\nSubject: x\n\nbody' })).notes).toEqual(['no-ref']);
  });

  it('a report part inside the returned original is not read (a bounce of a bounce)', () => {
    const inner = dsn({ header: 'To: someone@else.example' }).replace(/boundary=b/, 'boundary=inner').replace(/--b/g, '--inner');
    const outer = `To: ${ADDR}\nFrom: MAILER-DAEMON@x.example\nContent-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: text/plain\n\nhello\n--o\nContent-Type: message/rfc822\n\n${inner}\n--o--\n`;
    const a = analyse(outer);
    expect(a.format).not.toBe('dsn');
    expect(a.recipients).toEqual([]);
  });
});

describe('DSN edge cases', () => {
  it('reads a base64 delivery-status part and a global one', () => {
    expect(analyse(dsn({ statusCte: 'base64' })).recipients[0]).toMatchObject({ recipient: 'a@x.example', kind: 'hard' });
    expect(analyse(dsn({ statusType: 'message/global-delivery-status' })).recipients[0]).toMatchObject({ kind: 'hard' });
  });

  it('a multipart/report delivery-status without its status part falls back to the text (no-delivery-status)', () => {
    const raw = `To: ${ADDR}\nFrom: MAILER-DAEMON@x.example\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: text/plain\n\n<a@x.example>: host mx said: 550 5.1.1 unknown\n--b--\n`;
    const a = analyse(raw);
    expect(a).toMatchObject({ kind: 'bounce', format: 'heuristic' });
    expect(a.recipients.map((r) => [r.recipient, r.status])).toEqual([['a@x.example', '5.1.1']]);
    expect(a.notes).toContain('no-delivery-status');
  });

  it('a status part without readable recipients: the text is tried, else a bounce without recipients', () => {
    const empty = analyse(dsn().replace('Final-Recipient: rfc822; a@x.example', 'Final-Recipient: rfc822; nobody'));
    expect(empty).toMatchObject({ kind: 'bounce', format: 'dsn', recipients: [] });
    expect(empty.notes).toEqual(['recipient-unreadable', 'dsn-unreadable', 'no-recipients', 'no-original']);
  });
});

describe('ARF', () => {
  const arf = (type: string | null, extra = ''): string => `To: fbl@${BOUNCE_DOMAIN}
Content-Type: multipart/report; report-type=feedback-report; boundary=f

--f
Content-Type: text/plain

report
--f
Content-Type: message/feedback-report

${type === null ? '' : `Feedback-Type: ${type}\n`}User-Agent: Test/1.0
Version: 1
${extra}
--f
Content-Type: message/rfc822

To: "R" <r@x.example>, redacted@x.example
X-Trxmail-Ref: ${LOCAL}

body
--f--
`;

  it('abuse and fraud are complaints; every other feedback type is ignored', () => {
    for (const t of ['abuse', 'Fraud', 'ABUSE (user clicked)']) expect(analyse(arf(t)).kind, t).toBe('complaint');
    for (const t of ['not-spam', 'virus', 'auth-failure', 'other', 'opt-out', 'dmarc']) {
      const a = analyse(arf(t));
      expect(a.kind, t).toBe('other');
      expect(a.format).toBe('arf');
      expect(a.complaint).toBeNull();
      expect(a.notes).toEqual(['feedback-ignored', `feedback-type:${t}`]);
      expect(a.ref?.ok).toBe(true);
    }
  });

  it('without Feedback-Type it is not a complaint', () => {
    const a = analyse(arf(null));
    expect(a).toMatchObject({ kind: 'other', format: 'arf', complaint: null });
    expect(a.notes).toEqual(['no-feedback-type']);
  });

  it('Original-Rcpt-To (repeatable, bracketed, typed) wins; redacted ones are dropped; duplicates once', () => {
    const a = analyse(arf('abuse', 'Original-Rcpt-To: <one@x.example>\nOriginal-Rcpt-To: rfc822; two@x.example\nOriginal-Rcpt-To: ONE@x.example\nOriginal-Rcpt-To: xxxxxx@x.example\nOriginal-Mail-From: <>'));
    expect(a.complaint).toEqual({ feedbackType: 'abuse', userAgent: 'Test/1.0', originalRcptTo: ['ONE@x.example', 'two@x.example'], originalMailFrom: null, arrivalDate: null });
    expect(a.notes).toEqual([]);
  });

  it('without Original-Rcpt-To the To of the returned original is used, redacted addresses left out', () => {
    const a = analyse(arf('abuse'));
    expect(a.complaint?.originalRcptTo).toEqual(['r@x.example']);
    expect(a.notes).toEqual(['rcpt-from-original-to']);
  });
});

describe('auto-replies and non-bounces', () => {
  const msg = (headers: string, body: string): string => `To: ${ADDR}\n${headers}\n\n${body}\n`;

  it('an auto-reply is other even when its text quotes an SMTP error', () => {
    for (const h of ['Auto-Submitted: auto-replied', 'X-Autoreply: yes', 'Precedence: auto_reply', 'Subject: Out of office']) {
      const a = analyse(msg(`From: jane@x.example\n${h}`, 'I am away. PS: your last mail got 550 5.1.1 <a@x.example> from my old box'));
      expect(a.kind, h).toBe('other');
      expect(a.notes).toEqual(['auto-reply']);
      expect(a.bounceAddress?.ok).toBe(true);
    }
  });

  it('a bounce marked Auto-Submitted: auto-replied (Exim, Postfix) is still a bounce', () => {
    const a = analyse(msg('From: Mail Delivery System <Mailer-Daemon@x.example>\nAuto-Submitted: auto-replied', '550 5.1.1 <a@x.example>: unknown'));
    expect(a.kind).toBe('bounce');
  });

  it('text that quotes an SMTP error is not a bounce without a bounce marker', () => {
    const a = analyse(msg('From: jane@x.example\nSubject: re: hello', 'my server said 550 5.1.1 <a@x.example> yesterday'));
    expect(a).toMatchObject({ kind: 'other', format: null, recipients: [] });
    expect(a.notes).toEqual(['not-a-bounce']);
  });

  it('a message with a bounce marker but no readable recipient is a bounce without recipients', () => {
    const a = analyse(msg('From: MAILER-DAEMON@x.example\nSubject: Undeliverable: hello', 'Delivery has failed to these recipients or groups:\n\nSomeone\nThe address could not be found.'));
    expect(a).toMatchObject({ kind: 'bounce', format: null, recipients: [] });
    expect(a.notes).toEqual(['no-recipients', 'no-original']);
  });

  it('an empty message is other', () => {
    expect(analyse(Buffer.alloc(0))).toEqual({ kind: 'other', format: null, bounceAddress: null, ref: null, recipients: [], complaint: null, notes: ['no-bounce-address', 'not-a-bounce'] });
  });
});

describe('size limits', () => {
  it(`analyses the first MAX_BOUNCE_BYTES (${MAX_BOUNCE_BYTES}) bytes and notes one byte more`, () => {
    const head = Buffer.from(dsn({ part3: `Content-Type: message/rfc822\n\nX-Trxmail-Ref: ${LOCAL}\n\n` }).replace(/--b--\n$/, '').replace(/\r?\n/g, '\r\n'));
    const exact = Buffer.concat([head, Buffer.alloc(MAX_BOUNCE_BYTES - head.length, 0x61)]);
    expect(exact.length).toBe(MAX_BOUNCE_BYTES);
    const a = analyse(exact);
    expect(a.notes).not.toContain('truncated');
    expect(a.recipients).toHaveLength(1);
    expect(a.ref?.ok).toBe(true);
    const over = analyse(Buffer.concat([exact, Buffer.from('b')]));
    expect(over.notes).toContain('truncated');
    expect(over.recipients).toEqual(a.recipients);
  });

  it(`the text heuristics read MAX_BOUNCE_TEXT_BYTES (${MAX_BOUNCE_TEXT_BYTES}) of a part`, () => {
    const pad = (n: number): string => 'x'.repeat(n - 1) + '\n';
    const header = `To: ${ADDR}\nFrom: MAILER-DAEMON@x.example\n\n`;
    const line = '<a@x.example>: 550 5.1.1';
    const inside = analyse(Buffer.from(header + pad(MAX_BOUNCE_TEXT_BYTES - line.length) + line));
    expect(inside.recipients.map((r) => r.recipient)).toEqual(['a@x.example']);
    const outside = analyse(Buffer.from(header + pad(MAX_BOUNCE_TEXT_BYTES - line.length + 1) + line));
    expect(outside.recipients).toEqual([]);
    expect(outside.notes).toContain('no-recipients');
  });
});

describe('never throws', () => {
  it('on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.option(fc.string({ maxLength: 300 }), { nil: undefined }), (bytes, rcpt) => {
        const a = analyseMessage(Buffer.from(bytes), { keys: FIXTURE_KEYS, bounceDomain: BOUNCE_DOMAIN, envelopeRecipient: rcpt });
        expect(['bounce', 'complaint', 'other']).toContain(a.kind);
      }),
      { numRuns: 300, seed: 42 },
    );
  });

  it('on fixtures with random bytes overwritten', () => {
    const base = loadFixture('o365-ndr-dsn.eml');
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 })), { maxLength: 40 }), (edits) => {
        const copy = Buffer.from(base);
        for (const [at, value] of edits) copy[at] = value;
        const a = analyseMessage(copy, { keys: FIXTURE_KEYS, bounceDomain: BOUNCE_DOMAIN });
        expect(a.recipients.length).toBeLessThanOrEqual(100);
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('with a bad bounce domain or no keys', () => {
    for (const opts of [
      { keys: FIXTURE_KEYS, bounceDomain: '' },
      { keys: FIXTURE_KEYS, bounceDomain: 'not a domain' },
      { keys: [], bounceDomain: BOUNCE_DOMAIN },
    ]) {
      const a = analyseMessage(loadFixture('postfix-hard-550.eml'), opts);
      expect(a.kind).toBe('bounce');
      expect(a.bounceAddress?.ok).toBe(false);
    }
  });
});
