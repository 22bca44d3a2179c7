/**
 * The sends aggregate of the Store: every recorded send with its recipients and tags, the
 * recipients' delivery status, the send's events (opens, clicks, bounces...), their counts,
 * and the aggregate report.
 *
 * Recording a send or an event may also queue webhook deliveries (outbox-store.ts) in the
 * same transaction: that fan-out is decided above the backends (neutral/sends.ts).
 *
 * Limits: listSends and report take at most MAX_TAGS tags, eventCounts at most
 * MAX_EVENT_COUNT_SENDS ids.
 *
 * Throws: UsageError for operator mistakes (unknown space or send, duplicate send id, a user
 * not of the space, broken recipient roles, invalid flags, date, limit or detail),
 * TransientError when the backend is unavailable.
 */
import type { BounceReason } from '../core/bounce-reason.js';
import type { FlagSource, SuppressionList } from '../core/types.js';

export type RecipientStatus = 'queued' | 'suppressed' | 'delivered' | 'deferred' | 'bounced';
export type SendStatus = RecipientStatus;

export interface SendRecipient {
  readonly address: string;
  readonly role: 'to' | 'bcc' | 'discarded';
  readonly status: RecipientStatus | 'discarded';
  /** Which list suppressed it, or null. */
  readonly suppressedBy: SuppressionList | null;
  readonly detail: string | null;
  /**
   * Why its last delivery attempt failed (core/bounce-reason.ts): set with a 'bounced' or
   * 'deferred' status, cleared by 'delivered'. A send read back has it only when set (absent,
   * never null); it is ignored in a NewSend.
   */
  readonly reason?: BounceReason;
}

export interface NewSend {
  /** The id the client saw in the 250 reply (Postfix queue id with the milter). */
  readonly id: string;
  readonly spaceId: number;
  readonly userId: number;
  /** MAIL FROM as given by the client. */
  readonly mailFrom: string;
  /** Envelope sender used for delivery (bounce address). */
  readonly envelopeSender: string;
  /** Address in the From header after the rewrite. */
  readonly from: string;
  readonly to: string;
  readonly bcc: string | null;
  readonly discarded: readonly string[];
  readonly tags: readonly string[];
  readonly flags: number;
  readonly flagsSource: FlagSource;
  readonly receivedAt: Date;
  readonly recipients: readonly SendRecipient[];
  /**
   * The node (config `node.name`) that accepted the message and whose Postfix queued it;
   * absent for sends recorded before nodes were named. Only that node's maillog follower
   * decides the send was never queued (markNotQueued).
   */
  readonly node?: string;
  /**
   * The message's Message-ID (core/message-id.ts: between the brackets, unfolded), searched
   * with SendFilter.messageId; absent when the message had none (or an invalid one).
   */
  readonly messageId?: string;
  /**
   * Recipients to add to the space's sending count in the send's own transaction, when the
   * reservation left the count to the send (SendingReservation `uncounted`); absent or 0: none.
   */
  readonly sentCount?: number;
}

export interface Send extends NewSend {
  /** Status of the To recipient, which is what the send's status means in reports. */
  readonly status: SendStatus;
  /**
   * Present when the send was recorded but Postfix never queued its message (its queue id
   * never appeared in Postfix's log: refused after the milter link dropped at end of
   * message): when that was decided and why. Such a send is left out of report counts.
   */
  readonly notQueued?: { readonly at: Date; readonly reason: string };
  /**
   * Present once the qmgr `from=` line of its message (HMAC-checked bounce address) was read
   * from Postfix's log (noteSendInLog): when that line was logged.
   */
  readonly loggedAt?: Date;
}

/** What markNotQueued looks at: sends received in [receivedSince, receivedBefore) never seen in the log. */
export interface NotQueuedCheck {
  /** Only sends accepted by this node (or recorded before nodes were named). */
  readonly node: string;
  readonly receivedSince: Date;
  readonly receivedBefore: Date;
  /** When the decision is made (stored with it). */
  readonly at: Date;
  /** Shown to `sends show` / API consumers; cut at MAX_OUTCOME_DETAIL_LENGTH. */
  readonly reason: string;
  /** 1..MAX_NOT_QUEUED_BATCH. */
  readonly limit: number;
}

export type EventType =
  | 'accepted'
  | 'suppressed'
  | 'delivered'
  | 'deferred'
  | 'bounced'
  | 'opened'
  | 'clicked'
  | 'complained'
  /** The recipient used the send's one-click unsubscribe URL (http/unsubscribe.ts). */
  | 'unsubscribed';

export interface NewSendEvent {
  readonly sendId: string;
  readonly recipient: string;
  readonly type: EventType;
  readonly at: Date;
  /** Free-form JSON-able detail (status code, user agent, URL...). */
  readonly detail: Readonly<Record<string, unknown>>;
}

export interface SendEvent extends NewSendEvent {
  readonly id: number;
}

/**
 * Open and click counts of one send (Store.eventCounts). An event is machine traffic when its
 * detail has `machine: true` (the HTTP service sets it for link scanners, image proxies...);
 * every other 'opened'/'clicked' event counts as a person's.
 */
export interface EventCounts {
  /** 'opened' events of people. */
  readonly opened: number;
  /** 'opened' events marked machine traffic. */
  readonly openedMachine: number;
  /** 'clicked' events of people. */
  readonly clicked: number;
  /** 'clicked' events marked machine traffic. */
  readonly clickedMachine: number;
  /**
   * A person opened the message: a person's open or a person's click (a click proves the
   * message was opened even when its images, and so the pixel, were blocked). Summed over
   * sends, this is the unique-open count of a report.
   */
  readonly uniqueOpened: boolean;
  /** A person clicked at least once (summed over sends: unique clicks). */
  readonly uniqueClicked: boolean;
}

export interface SendFilter {
  readonly spaceId?: number;
  /** Every tag must be on the send (exact, case-sensitive; at most MAX_TAGS; [] = no filter). */
  readonly tags?: readonly string[];
  /** From address (compared case-insensitively). */
  readonly from?: string;
  /** receivedAt >= since */
  readonly since?: Date;
  /** receivedAt < until */
  readonly until?: Date;
  /** Most sends returned; no limit when absent. */
  readonly limit?: number;
  readonly offset?: number;
  /**
   * Keyset cursor: only sends after this one in the newest-first order (received earlier, or
   * at the same millisecond and recorded earlier). A send id not in the filtered space only
   * positions by time. Paging with it neither skips nor repeats sends when new ones arrive.
   */
  readonly before?: { readonly receivedAt: Date; readonly id: string };
  /** Search: sends with a recipient (To, BCC or discarded) of this address (matched like list keys). */
  readonly recipient?: string;
  /** Search: the send's Message-ID (brackets optional, compared exactly; core/message-id.ts). */
  readonly messageId?: string;
  /** Search: the send's status (its To recipient's). */
  readonly status?: SendStatus;
  /** Search: the To recipient's bounce reason (BOUNCE_REASONS). */
  readonly reason?: BounceReason;
  /**
   * Search box: sends whose id (from the 250 reply) is this text, whose Message-ID is it, or
   * one of whose recipients has this address — any of the three.
   */
  readonly text?: string;
}

/**
 * Filter of an aggregate report (Store.report). Same semantics as SendFilter: receivedAt in
 * [since, until), From compared case-insensitively (IDN-aware), every tag must be on the send.
 */
export interface ReportFilter {
  readonly spaceId: number;
  readonly since?: Date;
  readonly until?: Date;
  readonly from?: string;
  /** At most MAX_TAGS; [] = no filter. */
  readonly tags?: readonly string[];
}

/** How report rows are grouped; null = the total row only. */
export type ReportGroupBy = 'day' | 'from' | 'tag' | 'reason' | 'domain';

/**
 * The numbers of one report row. Every number counts SENDS (about the To recipient) except
 * the *Total and *Machine numbers, which count events. src/reports/report.ts defines each.
 */
export interface ReportCounts {
  readonly sends: number;
  readonly delivered: number;
  readonly deferred: number;
  readonly bouncedHard: number;
  readonly bouncedSoft: number;
  readonly blocked: number;
  readonly suppressedBounce: number;
  readonly suppressedUnsubscribe: number;
  readonly openedUnique: number;
  readonly openedTotal: number;
  readonly openedMachine: number;
  readonly clickedUnique: number;
  readonly clickedTotal: number;
  readonly clickedMachine: number;
  readonly complained: number;
}

export interface ReportRow extends ReportCounts {
  /** 'total' for the last row (every matching send once), else the grouping. */
  readonly group: ReportGroupBy | 'total';
  /**
   * Day: YYYY-MM-DD (UTC, of the send's receivedAt). From: the From address's key (domain
   * normalised, local part lower-cased). Tag: the tag; null for sends without tags. Reason: the
   * To's bounce reason; null when it has none. Domain: the To's domain (normalised). Total: null.
   */
  readonly key: string | null;
}

export interface SendStore {
  /**
   * Records a send, its tags and recipients atomically. UsageError on a duplicate id (in any
   * space), an unknown space, a user not of that space, or recipients that are not exactly one
   * with role 'to' (role 'discarded' if and only if status 'discarded'). Each suppressed
   * recipient gets a 'suppressed' event (detail { list, reason }, at receivedAt) and queues a
   * 'suppressed' webhook delivery in the same transaction when the space has a webhook.
   */
  recordSend(send: NewSend): Promise<void>;
  /** spaceId null = any space (operator CLI); otherwise only that space's send. */
  getSend(id: string, spaceId: number | null): Promise<Send | null>;
  /** Newest first. */
  listSends(filter: SendFilter): Promise<Send[]>;
  /**
   * Aggregate report of one space (definitions: src/reports/report.ts): the group rows in key
   * order (day and from ascending; tags ascending, untagged last), then the total row. Groups
   * without sends are not listed; the total row is always there. UsageError for an unknown
   * space, an invalid date or more than MAX_TAGS tags.
   */
  report(filter: ReportFilter, groupBy: ReportGroupBy | null): Promise<ReportRow[]>;
  /**
   * Sets status and detail of the send's recipients with this address (matched like list
   * keys: domain IDN-aware, case-insensitive); discarded recipients are never changed. When
   * the To recipient changes, the send's status follows. `reason` (default null) is the bounce
   * reason of a 'bounced' or 'deferred' status; it is stored as null for any other status.
   * UsageError for a reason not in BOUNCE_REASONS. False when nothing matched.
   */
  updateRecipientStatus(sendId: string, address: string, status: RecipientStatus, detail: string | null, reason?: BounceReason | null): Promise<boolean>;
  /**
   * Removes a send that was recorded but never promised to the client (its hand-over to
   * Postfix failed and the client was told to try again): the send, its tags, recipients,
   * events and its webhook deliveries not yet sent, in one transaction. False when the space
   * has no such send.
   */
  forgetSend(id: string, spaceId: number): Promise<boolean>;

  /**
   * UsageError when the send is unknown. Any type but 'accepted' also queues a webhook
   * delivery, in the same transaction, when the send's space has a webhook.
   */
  /**
   * Notes that the send's message appeared in Postfix's log (its qmgr `from=` line); the first
   * time is kept. True when it was newly noted; false when noted already or no such send.
   */
  noteSendInLog(sendId: string, at: Date): Promise<boolean>;
  /**
   * Marks not-queued (Send.notQueued) the sends received in [receivedSince, receivedBefore)
   * whose message was never noted in the log, not marked yet and still 'queued', oldest
   * first, at most `limit`; returns their ids. UsageError for invalid dates or limit.
   */
  markNotQueued(check: NotQueuedCheck): Promise<string[]>;

  addEvent(event: NewSendEvent): Promise<SendEvent>;
  /** Oldest first (by `at`, then insertion); empty for an unknown send. */
  listEvents(sendId: string): Promise<SendEvent[]>;
  /**
   * Open/click counts of many sends in one round trip (at most MAX_EVENT_COUNT_SENDS ids, else
   * UsageError); keys are the ids exactly as passed, every one present (all zero for a send
   * without such events or an unknown id).
   */
  eventCounts(sendIds: readonly string[]): Promise<Record<string, EventCounts>>;
}
