/**
 * core/bounce-listing.ts: which outcomes put an address on the Bounce list. Every reason of the
 * taxonomy is checked, so a reason added later must be placed on one side deliberately.
 */
import { describe, expect, it } from 'vitest';
import { ADDRESS_LEVEL_REASONS, BOUNCE_REASONS, SENDER_SIDE_REASONS, type BounceReason } from '../../../src/core/bounce-reason.js';
import {
  countsAsMailboxFull,
  DEFAULT_MAILBOX_FULL_LIST_AFTER,
  isSenderSide,
  listingVerdict,
  mailboxFullPersists,
  type ListingFacts,
} from '../../../src/core/bounce-listing.js';

const AT = new Date('2026-11-23T10:00:00.000Z');
const DAY = 24 * 60 * 60 * 1000;
const daysAgo = (n: number): Date => new Date(AT.getTime() - n * DAY);
const hard = (reason: BounceReason | null): ListingFacts => ({ result: 'bounced', kind: 'hard', reason });

describe('listingVerdict', () => {
  it('a permanent failure lists the address exactly for the address-level reasons', () => {
    const listedBy = BOUNCE_REASONS.filter((r) => listingVerdict(hard(r), null, DEFAULT_MAILBOX_FULL_LIST_AFTER, AT).list);
    expect(listedBy).toEqual(['user-unknown', 'mailbox-disabled', 'host-unknown', 'moved']);
    expect(new Set(listedBy)).toEqual(ADDRESS_LEVEL_REASONS);
  });

  it('never lists for a sender-side reason, whatever the streak', () => {
    for (const r of SENDER_SIDE_REASONS) {
      expect(listingVerdict(hard(r), { count: 100, firstAt: daysAgo(365) }, DEFAULT_MAILBOX_FULL_LIST_AFTER, AT)).toEqual({ list: false, why: 'sender-side' });
      expect(isSenderSide(r)).toBe(true);
    }
    expect(isSenderSide('user-unknown')).toBe(false);
    expect(isSenderSide(null)).toBe(false);
  });

  it('never lists a soft failure, a delay, a delivery, or an unknown reason', () => {
    expect(listingVerdict({ result: 'bounced', kind: 'soft', reason: 'user-unknown' }, null, DEFAULT_MAILBOX_FULL_LIST_AFTER, AT).list).toBe(false);
    expect(listingVerdict({ result: 'deferred', kind: 'soft', reason: 'user-unknown' }, null, DEFAULT_MAILBOX_FULL_LIST_AFTER, AT)).toEqual({ list: false, why: 'not-a-failure' });
    expect(listingVerdict({ result: 'delivered', kind: 'success', reason: null }, null, DEFAULT_MAILBOX_FULL_LIST_AFTER, AT).list).toBe(false);
    expect(listingVerdict(hard(null), null, DEFAULT_MAILBOX_FULL_LIST_AFTER, AT)).toEqual({ list: false, why: 'not-address-level' });
    for (const r of ['expired', 'network', 'message-too-big', 'other'] as const) {
      expect(listingVerdict(hard(r), null, DEFAULT_MAILBOX_FULL_LIST_AFTER, AT)).toEqual({ list: false, why: 'not-address-level' });
    }
  });

  it('mailbox full lists only when the streak reaches the count AND spans the days (hard or soft)', () => {
    const t = { count: 3, days: 7 };
    const v = (count: number, firstAt: Date, kind: 'hard' | 'soft' = 'hard') =>
      listingVerdict({ result: 'bounced', kind, reason: 'mailbox-full' }, { count, firstAt }, t, AT);
    expect(v(2, daysAgo(30))).toEqual({ list: false, why: 'mailbox-full-below-threshold' });
    expect(v(3, new Date(daysAgo(7).getTime() + 1))).toEqual({ list: false, why: 'mailbox-full-below-threshold' });
    expect(v(3, daysAgo(7))).toEqual({ list: true, why: 'mailbox-full-persists' });
    expect(v(4, daysAgo(8), 'soft')).toEqual({ list: true, why: 'mailbox-full-persists' });
    expect(listingVerdict(hard('mailbox-full'), null, t, AT)).toEqual({ list: false, why: 'mailbox-full-below-threshold' });
  });

  it('days 0: the count alone decides', () => {
    expect(mailboxFullPersists({ count: 2, firstAt: AT }, { count: 2, days: 0 }, AT)).toBe(true);
    expect(mailboxFullPersists({ count: 1, firstAt: daysAgo(100) }, { count: 2, days: 0 }, AT)).toBe(false);
  });

  it('only a final mailbox-full bounce adds to the streak', () => {
    expect(countsAsMailboxFull({ result: 'bounced', kind: 'soft', reason: 'mailbox-full' })).toBe(true);
    expect(countsAsMailboxFull({ result: 'deferred', kind: 'soft', reason: 'mailbox-full' })).toBe(false);
    expect(countsAsMailboxFull(hard('user-unknown'))).toBe(false);
  });

  it('documents its default: 3 bounces over 7 days', () => {
    expect(DEFAULT_MAILBOX_FULL_LIST_AFTER).toEqual({ count: 3, days: 7 });
  });
});
