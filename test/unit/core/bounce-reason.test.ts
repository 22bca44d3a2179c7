/**
 * The bounce reason classifier (src/core/bounce-reason.ts): every receiver reply of
 * test/helpers/bounce-replies.ts gets its documented reason; every reason is reached; the
 * status code decides when the text says nothing; sender-side wording wins over address-level
 * wording in one reply; a class-4 failure is an expiry; only address-level permanent failures
 * list the address.
 */
import { describe, expect, it } from 'vitest';
import {
  ADDRESS_LEVEL_REASONS,
  BOUNCE_REASONS,
  SENDER_SIDE_REASONS,
  classifyBounce,
  isBounceReason,
  type BounceReason,
} from '../../../src/core/bounce-reason.js';
import { RECEIVER_REPLIES } from '../../helpers/bounce-replies.js';

const actionFor = (status: string): string => (status.startsWith('4.') ? 'delayed' : 'failed');

describe('classifyBounce on the receivers’ wording', () => {
  for (const r of RECEIVER_REPLIES) {
    it(`${r.receiver} ${r.id} → ${r.reason}`, () => {
      const c = classifyBounce({ action: actionFor(r.status), status: r.status, diagnostic: r.reply });
      expect(c.reason).toBe(r.reason);
      expect(c.rule).toMatch(/^(?:text|status):/);
    });
  }

  it('the replies cover every reason of the taxonomy', () => {
    const seen = new Set(RECEIVER_REPLIES.map((r) => r.reason));
    expect([...BOUNCE_REASONS].filter((r) => !seen.has(r))).toEqual([]);
  });
});

describe('classifyBounce by status alone', () => {
  const cases: [string, BounceReason][] = [
    ['5.1.1', 'user-unknown'],
    ['5.1.10', 'user-unknown'],
    ['5.1.2', 'host-unknown'],
    ['5.1.6', 'moved'],
    ['5.2.1', 'mailbox-disabled'],
    ['5.2.2', 'mailbox-full'],
    ['5.3.4', 'message-too-big'],
    ['5.7.1', 'policy'],
    ['5.7.26', 'auth-failure'],
    ['5.7.606', 'blocked'],
    ['5.7.509', 'auth-failure'],
    ['5.7.7', 'content-rejected'],
    ['5.6.0', 'content-rejected'],
    ['5.4.4', 'host-unknown'],
    ['5.0.0', 'other'],
  ];
  for (const [status, reason] of cases) {
    it(`${status} → ${reason}`, () => {
      const c = classifyBounce({ action: 'failed', status, diagnostic: null });
      expect(c).toEqual({ reason, permanent: true, listsAddress: ADDRESS_LEVEL_REASONS.has(reason), rule: `status:${status}` });
    });
  }

  it('no status and no text: other, rule none', () => {
    expect(classifyBounce({ action: 'failed', status: null, diagnostic: null })).toEqual({ reason: 'other', permanent: false, listsAddress: false, rule: 'none' });
  });
});

describe('precedence', () => {
  it('a sender-side cause wins over address-level words in the same reply', () => {
    const c = classifyBounce({ action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 <a@example.net>: Recipient address rejected: client 192.0.2.25 blocked using zen.spamhaus.org' });
    expect([c.reason, c.listsAddress]).toEqual(['blocked', false]);
    const d = classifyBounce({ action: 'failed', status: '5.7.1', diagnostic: "550 5.7.1 User unknown or rejected due to example.com's DMARC policy" });
    expect(d.reason).toBe('auth-failure');
  });

  it('a disabled or full mailbox is not an unknown one', () => {
    expect(classifyBounce({ action: 'failed', status: '5.0.0', diagnostic: '550 mailbox unavailable: this mailbox is disabled' }).reason).toBe('mailbox-disabled');
    expect(classifyBounce({ action: 'failed', status: '5.2.2', diagnostic: '552 5.2.2 Mailbox size limit exceeded' }).reason).toBe('mailbox-full');
  });

  it('the sender domain not found is policy, the recipient domain not found is host-unknown', () => {
    expect(classifyBounce({ action: 'failed', status: '5.1.8', diagnostic: '553 5.1.8 <s@x.example>: Sender address rejected: Domain not found' }).reason).toBe('policy');
    expect(classifyBounce({ action: 'failed', status: '5.1.2', diagnostic: '550 5.1.2 <r@y.example>: Recipient address rejected: Domain not found' }).reason).toBe('host-unknown');
  });

  it('Exim retry timeout and Gmail connection failures are expired, never address-level', () => {
    for (const diagnostic of ['retry timeout exceeded', 'The recipient server did not accept our requests to connect. Learn more at https://support.google.com/mail/answer/7720 [mx.example.net. 192.0.2.7: timed out]']) {
      const c = classifyBounce({ action: 'failed', status: '5.0.0', diagnostic });
      expect([c.reason, c.listsAddress]).toEqual(['expired', false]);
    }
  });

  it('a failure with a class-4 status (the MTA gave up) is expired unless the text says more', () => {
    expect(classifyBounce({ action: 'failed', status: '4.4.1', diagnostic: 'connect to mx.example.net[192.0.2.7]:25: Connection refused' })).toEqual({
      reason: 'expired',
      permanent: false,
      listsAddress: false,
      rule: 'text:network+gave-up',
    });
    expect(classifyBounce({ action: 'delayed', status: '4.4.1', diagnostic: 'connect to mx.example.net[192.0.2.7]:25: Connection refused' }).reason).toBe('network');
    expect(classifyBounce({ action: 'failed', status: '4.2.2', diagnostic: '452 4.2.2 Mailbox full' }).reason).toBe('mailbox-full');
  });
});

describe('listing', () => {
  it('only permanent address-level reasons list the address', () => {
    for (const reason of BOUNCE_REASONS) expect(ADDRESS_LEVEL_REASONS.has(reason) && SENDER_SIDE_REASONS.has(reason)).toBe(false);
    expect(classifyBounce({ action: 'failed', status: '5.1.1', diagnostic: null }).listsAddress).toBe(true);
    expect(classifyBounce({ action: 'delayed', status: '5.1.1', diagnostic: null }).listsAddress).toBe(false);
    expect(classifyBounce({ action: 'failed', status: '5.2.2', diagnostic: null }).listsAddress).toBe(false);
    expect(classifyBounce({ action: 'failed', status: '5.7.1', diagnostic: 'blocked using zen.spamhaus.org' }).listsAddress).toBe(false);
  });

  it('isBounceReason accepts exactly the taxonomy', () => {
    for (const reason of BOUNCE_REASONS) expect(isBounceReason(reason)).toBe(true);
    expect(isBounceReason('unknown')).toBe(false);
    expect(isBounceReason('')).toBe(false);
  });
});

describe('sender quotas are not a full mailbox', () => {
  it("Gmail's daily sending quota is rate-limited (sender side), never mailbox-full", () => {
    const c = classifyBounce({ action: 'failed', status: '5.4.5', diagnostic: '550-5.4.5 Daily user sending quota exceeded. Learn more at https://support.google.com/mail/?p=SendingLimits' });
    expect(c.reason).toBe('rate-limited');
    expect(c.listsAddress).toBe(false);
  });
});
