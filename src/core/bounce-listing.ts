/**
 * Whether one delivery failure puts the recipient's address on the space's Bounce list: the
 * rule the bounce intake and the maillog follower share (through src/delivery/recorder.ts).
 * Pure: no I/O, no clock (the time of the outcome is passed in), never throws.
 *
 * The reason comes from classifyBounce (bounce-reason.ts). Then:
 *  - a permanent failure (5.x.x, the MTA gave up) for an ADDRESS-LEVEL reason (user-unknown,
 *    mailbox-disabled, host-unknown, moved) lists the address at once;
 *  - a SENDER-SIDE reason (blocked IP / blocklist, SPF/DKIM/DMARC, content, policy, rate) never
 *    lists it: it says nothing about the address, and one blocklist entry on the relay's IP
 *    would otherwise empty a customer's list. The send records the reason ("blocked" in reports);
 *  - 'mailbox-full' is soft, but an address that STAYS full lists: at least `count` final
 *    mailbox-full bounces (one per send), the first at least `days` days before the latest,
 *    with no delivery to the address in between (the store keeps that streak);
 *  - everything else (expired, network, message-too-big, other, delays, 4.x.x) never lists.
 */
import { ADDRESS_LEVEL_REASONS, SENDER_SIDE_REASONS, type BounceReason } from './bounce-reason.js';

/** trxmail.yaml `bounces.mailboxFullListAfter`: when a full mailbox counts as abandoned. */
export interface MailboxFullThreshold {
  /** Final mailbox-full bounces in a row (≥ 1). */
  readonly count: number;
  /** Days from the first of them to the latest (≥ 0; 0 = the count alone decides). */
  readonly days: number;
}

/** Three bounces over at least a week: a transactional burst to a full mailbox is not enough. */
export const DEFAULT_MAILBOX_FULL_LIST_AFTER: MailboxFullThreshold = { count: 3, days: 7 };

const DAY_MS = 24 * 60 * 60 * 1000;

/** The mailbox-full bounces of an address with no delivery in between, the latest included. */
export interface BounceStreak {
  readonly count: number;
  readonly firstAt: Date;
}

/** What the recorder knows of one outcome for one recipient. */
export interface ListingFacts {
  /** The recipient's outcome: only 'bounced' (the MTA gave up) can list. */
  readonly result: 'delivered' | 'deferred' | 'bounced';
  /** 'hard' = permanent (5.x.x). */
  readonly kind: 'hard' | 'soft' | 'success';
  /** From classifyBounce; null when unknown (never lists). */
  readonly reason: BounceReason | null;
}

export type ListingVerdict =
  | { readonly list: true; readonly why: 'address-level' | 'mailbox-full-persists' }
  | { readonly list: false; readonly why: 'not-a-failure' | 'sender-side' | 'mailbox-full-below-threshold' | 'not-address-level' };

/** True for a reason on the sending side (counted as "blocked" in reports, never listed). */
export function isSenderSide(reason: BounceReason | null): boolean {
  return reason !== null && SENDER_SIDE_REASONS.has(reason);
}

/** Whether this outcome adds one to the address's mailbox-full streak (a final bounce, mailbox full). */
export function countsAsMailboxFull(f: ListingFacts): boolean {
  return f.result === 'bounced' && f.reason === 'mailbox-full';
}

/** Whether a streak has lasted long enough to list the address. */
export function mailboxFullPersists(streak: BounceStreak, threshold: MailboxFullThreshold, at: Date): boolean {
  return streak.count >= threshold.count && at.getTime() - streak.firstAt.getTime() >= threshold.days * DAY_MS;
}

/**
 * The verdict for one outcome. `streak` is the address's mailbox-full streak including this
 * bounce (null when countsAsMailboxFull is false, or when it is not known, e.g. `bounce parse`).
 */
export function listingVerdict(f: ListingFacts, streak: BounceStreak | null, threshold: MailboxFullThreshold, at: Date): ListingVerdict {
  if (f.result !== 'bounced') return { list: false, why: 'not-a-failure' };
  if (isSenderSide(f.reason)) return { list: false, why: 'sender-side' };
  if (f.reason === 'mailbox-full') {
    return streak !== null && mailboxFullPersists(streak, threshold, at) ? { list: true, why: 'mailbox-full-persists' } : { list: false, why: 'mailbox-full-below-threshold' };
  }
  if (f.kind === 'hard' && f.reason !== null && ADDRESS_LEVEL_REASONS.has(f.reason)) return { list: true, why: 'address-level' };
  return { list: false, why: 'not-address-level' };
}
