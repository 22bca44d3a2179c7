/**
 * Recording of delivery outcomes shared by the two sources of delivery status: the bounce
 * intake (DSNs and complaints that came back to the bounce domain, src/bounce/intake.ts) and
 * the maillog follower (Postfix's own log, maillog-follower.ts).
 *
 * Status rules: a suppressed or discarded recipient never changes; a bounced one changes only
 * on another bounce; one 'bounced' and one 'delivered' event per recipient and send (a success
 * DSN repeats the log line), except that a hard bounce after a soft one is still recorded.
 *
 * Reasons and the Bounce list: every failed or delayed outcome carries its bounce reason
 * (core/bounce-reason.ts), stored on the recipient (cleared by a delivery) and in the event's
 * detail (`reason`, `rule`). Whether the address goes on the space's Bounce list is
 * core/bounce-listing.ts's listingVerdict: an address-level permanent failure lists it; a
 * sender-side one (blocks, SPF/DKIM/DMARC, content, policy, rate) never does; a final
 * mailbox-full bounce adds one to the address's streak in the store (counted once per send and
 * recipient: only with the first 'bounced' event) and lists it once the streak reaches the
 * configured threshold (bounces.mailboxFullListAfter); a delivery to the address ends its
 * streak. A complaint always lists the address.
 *
 * Calls for one send run one after another (one DeliveryRecorder per process, shared).
 * Throws what the store throws (TransientError when it is unavailable).
 */
import type { BounceReason } from '../core/bounce-reason.js';
import {
  countsAsMailboxFull,
  DEFAULT_MAILBOX_FULL_LIST_AFTER,
  listingVerdict,
  type BounceStreak,
  type ListingVerdict,
  type MailboxFullThreshold,
} from '../core/bounce-listing.js';
import { listKey } from '../core/domain.js';
import { MAX_ADDRESS_LENGTH, MAX_OUTCOME_DETAIL_LENGTH } from '../lib/limits.js';
import type { RecipientStatus, Send, SendRecipient, Store } from '../store/store.js';
import type { AutoPause } from './auto-pause.js';

export type Clock = () => Date;


/** What was done for one recipient (or for the complaint). */
export interface IntakeAction {
  /** The send's recipient, as recorded with the send. */
  readonly address: string;
  readonly event: 'bounced' | 'deferred' | 'delivered' | 'complained';
  /** 'hard' | 'soft' | 'success' for bounces; 'complaint' for ARF. */
  readonly kind: 'hard' | 'soft' | 'success' | 'complaint';
  /** RFC 3463 status, or null. */
  readonly status: string | null;
  /** The status the recipient has now (null for a complaint: left alone). */
  readonly recipientStatus: RecipientStatus | 'suppressed' | 'discarded' | null;
  /** An event was added (false: the same hard bounce was recorded already). */
  readonly eventAdded: boolean;
  /** The address is (now) on the space's Bounce list because of this message. */
  readonly listed: boolean;
  /** The bounce reason of the outcome (null for a delivery or a complaint). */
  readonly reason: BounceReason | null;
  /** Why the address was or was not listed (core/bounce-listing.ts); 'complaint' for a complaint. */
  readonly listing: ListingVerdict['why'] | 'complaint';
}

/** Cuts untrusted text to one line of at most `max` characters ("..." when cut). */
export function cutText(text: string, max: number = MAX_OUTCOME_DETAIL_LENGTH): string {
  const one = text.replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 3)}...` : one;
}

/** One delivery outcome for one recipient of a send, from a DSN or a log line. */
export interface Outcome {
  readonly send: Send;
  /** The send's recipient (as recorded). */
  readonly recipient: SendRecipient;
  readonly result: 'delivered' | 'deferred' | 'bounced';
  /** Hard bounces go on the Bounce list; 'soft' bounced = given up after retries (expired). */
  readonly kind: 'hard' | 'soft' | 'success';
  readonly status: string | null;
  readonly diagnostic: string | null;
  /** Why it failed (classifyBounce); null for a delivery. */
  readonly reason: BounceReason | null;
  /** The classifier's rule that decided the reason, or null. */
  readonly reasonRule: string | null;
  readonly source: 'dsn' | 'maillog';
  readonly at: Date;
  /** Added to the event detail (queue id, relay, remote MTA...). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/**
 * Records delivery outcomes and complaints with the status rules above. One instance per
 * process (share it between the intake and the maillog follower): calls for the same send
 * run one after another.
 */
export interface DeliveryRecorderOptions {
  /** trxmail.yaml `bounces.mailboxFullListAfter` (default DEFAULT_MAILBOX_FULL_LIST_AFTER). */
  readonly mailboxFullListAfter?: MailboxFullThreshold;
  /**
   * Counts hard bounces (those that list the address, once per send and recipient) and
   * complaints for the space's automatic pause (auto-pause.ts); absent: not counted.
   */
  readonly autoPause?: AutoPause;
}

export class DeliveryRecorder {
  readonly #store: Store;
  readonly #busy = new Map<string, Promise<unknown>>();
  readonly #mailboxFull: MailboxFullThreshold;
  readonly #autoPause: AutoPause | null;

  constructor(store: Store, opts: DeliveryRecorderOptions = {}) {
    this.#store = store;
    this.#mailboxFull = opts.mailboxFullListAfter ?? DEFAULT_MAILBOX_FULL_LIST_AFTER;
    this.#autoPause = opts.autoPause ?? null;
  }

  /** Runs `fn` after every earlier call for `sendId` has settled. */
  async #serial<T>(sendId: string, fn: () => Promise<T>): Promise<T> {
    const before = this.#busy.get(sendId) ?? Promise.resolve();
    const run = before.then(fn, fn);
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.#busy.set(sendId, settled);
    try {
      return await run;
    } finally {
      if (this.#busy.get(sendId) === settled) this.#busy.delete(sendId);
    }
  }

  record(o: Outcome): Promise<IntakeAction> {
    return this.#serial(o.send.id, () => this.#record(o));
  }

  async #record(o: Outcome): Promise<IntakeAction> {
    const store = this.#store;
    const rcpt = o.recipient;
    const diagnostic = o.diagnostic === null ? null : cutText(o.diagnostic);
    const detailText = cutText([o.status, diagnostic].filter((s) => s !== null && s !== '').join(' ') || o.result);
    const reason = o.result === 'delivered' ? null : o.reason;
    const rule = reason === null ? null : o.reasonRule;
    const fresh = (await store.getSend(o.send.id, o.send.spaceId))?.recipients.find((r) => sameAddress(r.address, rcpt.address)) ?? rcpt;
    let now: IntakeAction['recipientStatus'] = fresh.status;
    const frozen = fresh.status === 'suppressed' || fresh.status === 'discarded' || (fresh.status === 'bounced' && o.result !== 'bounced');
    if (!frozen) {
      await store.updateRecipientStatus(o.send.id, rcpt.address, o.result, detailText, reason);
      now = o.result;
    }
    let eventAdded = true;
    let firstBounce = false;
    if (o.result === 'bounced' || o.result === 'delivered') {
      // One 'bounced' and one 'delivered' event per recipient and send (a success DSN repeats
      // the log line); a hard bounce after a soft one (expired) is still recorded.
      const prior = (await store.listEvents(o.send.id)).filter((e) => e.type === o.result && sameAddress(e.recipient, rcpt.address));
      eventAdded = !prior.some((e) => o.result === 'delivered' || o.kind !== 'hard' || e.detail['kind'] === 'hard');
      firstBounce = o.result === 'bounced' && prior.length === 0;
    }
    if (eventAdded) {
      await store.addEvent({
        sendId: o.send.id,
        recipient: rcpt.address,
        type: o.result,
        at: o.at,
        detail: { status: o.status, diagnostic, kind: o.kind, reason, rule, source: o.source, ...(o.extra ?? {}) },
      });
    }
    const facts = { result: o.result, kind: o.kind, reason };
    let streak: BounceStreak | null = null;
    // The streaks are keyed like list entries: a recipient Postfix took that is not an address
    // by those rules (rare) has none, and its delivery must not fail for that.
    const keyed = rcpt.address.length <= MAX_ADDRESS_LENGTH && listKey(rcpt.address) !== null;
    if (keyed && o.result === 'delivered') {
      await store.clearBounceStreaks(o.send.spaceId, rcpt.address);
    } else if (keyed && countsAsMailboxFull(facts) && firstBounce) {
      // Once per send and recipient: the log line and the DSN of one bounce are one bounce.
      streak = await store.noteBounceStreak({ spaceId: o.send.spaceId, address: rcpt.address, reason: 'mailbox-full', at: o.at });
    }
    const verdict = listingVerdict(facts, streak, this.#mailboxFull, o.at);
    if (verdict.list) {
      const why = verdict.why === 'mailbox-full-persists' && streak !== null
        ? `mailbox full ${streak.count} times since ${streak.firstAt.toISOString().slice(0, 10)}`
        : 'hard bounce';
      await store.addListEntry({
        spaceId: o.send.spaceId,
        list: 'bounce',
        address: rcpt.address,
        reason: cutText(`${why} ${o.status ?? '5.0.0'}${diagnostic ? `: ${diagnostic}` : ''}`),
        bounceReason: reason,
        rule,
        source: 'bounce',
        addedAt: o.at,
      });
      // A new streak starts should the address come off the list and fill up again.
      if (verdict.why === 'mailbox-full-persists') await store.clearBounceStreaks(o.send.spaceId, rcpt.address);
      // A hard bounce for the automatic pause: once per send and recipient (the log line and
      // the DSN of one bounce add one event between them).
      if (eventAdded && o.result === 'bounced') await this.#autoPause?.note(o.send.spaceId, 'hard-bounce', o.at);
    }
    return { address: rcpt.address, event: o.result, kind: o.kind, status: o.status, recipientStatus: now, eventAdded, listed: verdict.list, reason, listing: verdict.why };
  }

  /** A complaint: Bounce list entry and a 'complained' event; the status is left alone. */
  complaint(o: { send: Send; recipient: SendRecipient; feedbackType: string; userAgent: string | null; at: Date; extra?: Readonly<Record<string, unknown>> }): Promise<IntakeAction> {
    return this.#serial(o.send.id, async () => {
      const feedbackType = cutText(o.feedbackType, 40);
      await this.#store.addEvent({
        sendId: o.send.id,
        recipient: o.recipient.address,
        type: 'complained',
        at: o.at,
        detail: { feedbackType, userAgent: o.userAgent === null ? null : cutText(o.userAgent), source: 'arf', ...(o.extra ?? {}) },
      });
      await this.#store.addListEntry({
        spaceId: o.send.spaceId,
        list: 'bounce',
        address: o.recipient.address,
        reason: `complaint (${feedbackType})`,
        source: 'complaint',
        addedAt: o.at,
      });
      await this.#autoPause?.note(o.send.spaceId, 'complaint', o.at);
      return {
        address: o.recipient.address,
        event: 'complained',
        kind: 'complaint',
        status: null,
        recipientStatus: null,
        eventAdded: true,
        listed: true,
        reason: null,
        listing: 'complaint',
      };
    });
  }
}

/** Same mailbox: domain IDN/case-insensitive, local part case-insensitive (like list keys). */
export function sameAddress(a: string, b: string): boolean {
  const ka = listKey(a);
  return ka !== null ? ka === listKey(b) : a.toLowerCase() === b.toLowerCase();
}

/** Recipients a bounce can be about: the To and the BCC (never a discarded one). */
function deliverable(send: Send): SendRecipient[] {
  return send.recipients.filter((r) => r.role !== 'discarded');
}

/** The send's recipient a report is about, or null. */
export function matchRecipient(send: Send, candidates: readonly (string | null)[], bccCopy: boolean): SendRecipient | null {
  const pool = deliverable(send);
  if (bccCopy) return pool.find((r) => r.role === 'bcc') ?? null;
  for (const c of candidates) {
    if (c === null || c === '') continue;
    const hit = pool.find((r) => sameAddress(r.address, c));
    if (hit) return hit;
  }
  return null;
}

