/**
 * The Store interface: everything trxmail keeps. One interface, several backends (SQLite now,
 * PostgreSQL later); every backend must pass test/store/contract.ts.
 *
 * Conventions:
 *  - All methods are async (a network database is coming), even where SQLite is synchronous.
 *  - Domains are stored normalised: lower-case A-label, no trailing dot (core/domain.ts).
 *  - List entries and from-address defaults are keyed by the address with its domain
 *    normalised and the local part lower-cased (suppression matches case-insensitively).
 *  - User e-mails are unique across all spaces (they are SMTP logins), compared case-insensitively.
 *  - Times are Date objects; the store keeps millisecond precision in UTC.
 *  - Methods throw UsageError for operator mistakes (unknown space, duplicate name, invalid
 *    domain/address/flags/date) and TransientError when the backend is unavailable (busy,
 *    I/O failure, closed). Methods taking a spaceId refuse an unknown one with UsageError,
 *    except getSend (null) and listSends (empty).
 *  - Space names are unique case-insensitively; a name is 1..MAX_SPACE_NAME_LENGTH
 *    characters, without control characters or surrounding spaces.
 */
import type { FlagSource, SuppressionAnswer, SuppressionList } from '../core/types.js';

export interface Space {
  readonly id: number;
  readonly name: string;
  /** Space default X-Mxm-Flags, or null (built-in default applies). */
  readonly defaultFlags: number | null;
  /** Allow subdomains of the allowed sender domains. */
  readonly allowSubdomains: boolean;
  readonly createdAt: Date;
}

export interface User {
  readonly id: number;
  readonly spaceId: number;
  readonly email: string;
  /** Encoded scrypt hash (src/lib/password.ts); never a plaintext password. */
  readonly passwordHash: string;
  readonly createdAt: Date;
}

export interface FromDefault {
  readonly spaceId: number;
  readonly address: string;
  readonly flags: number;
}

export interface ListEntry {
  readonly spaceId: number;
  readonly list: SuppressionList;
  readonly address: string;
  readonly reason: string;
  readonly addedAt: Date;
}

export type RecipientStatus = 'queued' | 'suppressed' | 'delivered' | 'deferred' | 'bounced';
export type SendStatus = RecipientStatus;

export interface SendRecipient {
  readonly address: string;
  readonly role: 'to' | 'bcc' | 'discarded';
  readonly status: RecipientStatus | 'discarded';
  /** Which list suppressed it, or null. */
  readonly suppressedBy: SuppressionList | null;
  readonly detail: string | null;
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
}

export interface Send extends NewSend {
  /** Status of the To recipient, which is what the send's status means in reports. */
  readonly status: SendStatus;
}

export type EventType =
  | 'accepted'
  | 'suppressed'
  | 'delivered'
  | 'deferred'
  | 'bounced'
  | 'opened'
  | 'clicked'
  | 'complained';

export interface NewSendEvent {
  readonly sendId: string;
  readonly recipient: string;
  readonly type: EventType;
  readonly at: Date;
  /** Free-form JSON-able detail (status code, user agent, URL...). */
  readonly detail: Readonly<Record<string, unknown>>;
}

/** Event types pushed to a space's webhook (every type but 'accepted'). */
export type WebhookEventType = Exclude<EventType, 'accepted'>;
export const WEBHOOK_EVENT_TYPES: readonly WebhookEventType[] = [
  'delivered',
  'bounced',
  'deferred',
  'opened',
  'clicked',
  'complained',
  'suppressed',
];

/**
 * A space's webhook endpoint. The secret is stored as given (not hashed): every request is
 * signed with it (HMAC-SHA256), so the store must be able to give it back. It is shown to
 * the operator once, at `webhook set`, and never logged.
 */
export interface Webhook {
  readonly spaceId: number;
  /** https://, or http:// to a loopback host (src/webhooks/url.ts), normalised. */
  readonly url: string;
  readonly secret: string;
  readonly createdAt: Date;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'expired';

/**
 * One event waiting for (or done with) its POST to the space's webhook: the outbox row.
 * Written in the same transaction as the event (addEvent; recordSend for suppressed
 * recipients), only when the space has a webhook at that moment.
 */
export interface WebhookDelivery {
  /** Outbox row id: the `id` of the JSON body, the same on every retry (receivers dedupe on it). */
  readonly id: number;
  readonly spaceId: number;
  readonly spaceName: string;
  readonly type: WebhookEventType;
  readonly sendId: string;
  readonly recipient: string;
  readonly at: Date;
  readonly detail: Readonly<Record<string, unknown>>;
  readonly status: WebhookDeliveryStatus;
  /** Finished attempts (successful or not). */
  readonly attempts: number;
  readonly createdAt: Date;
  /** When the dispatcher may try next (pending), while claimed: the end of the lease. */
  readonly nextAttemptAt: Date;
  readonly lastError: string | null;
  /** When it was delivered or expired. */
  readonly doneAt: Date | null;
}

/** A claimed delivery with what the dispatcher needs to send it. */
export interface DueWebhookDelivery extends WebhookDelivery {
  readonly url: string;
  readonly secret: string;
}

export type WebhookOutcome =
  | { readonly delivered: true; readonly at: Date }
  /** retryAt null: give up (status 'expired'). */
  | { readonly delivered: false; readonly at: Date; readonly error: string; readonly retryAt: Date | null };

export interface WebhookBacklog {
  readonly pending: number;
  readonly expired: number;
  /** createdAt of the oldest pending delivery. */
  readonly oldestPendingAt: Date | null;
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
export type ReportGroupBy = 'day' | 'from' | 'tag';

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
   * normalised, local part lower-cased). Tag: the tag; null for sends without tags. Total: null.
   */
  readonly key: string | null;
}

export interface Store {
  close(): Promise<void>;

  createSpace(input: { name: string; defaultFlags?: number | null; allowSubdomains?: boolean }): Promise<Space>;
  getSpace(id: number): Promise<Space | null>;
  getSpaceByName(name: string): Promise<Space | null>;
  listSpaces(): Promise<Space[]>;
  updateSpace(id: number, patch: { defaultFlags?: number | null; allowSubdomains?: boolean }): Promise<Space>;

  /** Adds a normalised domain; adding one that is there already is not an error. */
  addDomain(spaceId: number, domain: string): Promise<void>;
  /** Returns false when the domain was not there. */
  removeDomain(spaceId: number, domain: string): Promise<boolean>;
  /** Sorted. */
  listDomains(spaceId: number): Promise<string[]>;

  /** Throws UsageError when the e-mail is taken (in any space). */
  createUser(input: { spaceId: number; email: string; passwordHash: string }): Promise<User>;
  getUserByEmail(email: string): Promise<User | null>;
  /** Returns false when there is no such user. */
  setPasswordHash(email: string, passwordHash: string): Promise<boolean>;
  removeUser(email: string): Promise<boolean>;
  /** Ordered by e-mail (lower-cased). */
  listUsers(spaceId?: number): Promise<User[]>;

  /** flags null removes the default. UsageError when the address is not an address. */
  setFromFlags(spaceId: number, address: string, flags: number | null): Promise<void>;
  /** Null when there is no default (or `address` is not an address). */
  getFromFlags(spaceId: number, address: string): Promise<number | null>;
  listFromFlags(spaceId: number): Promise<FromDefault[]>;

  /**
   * Adding an address that is on the list already updates reason and time. UsageError when
   * the address is not an address.
   */
  addListEntry(input: { spaceId: number; list: SuppressionList; address: string; reason: string; addedAt: Date }): Promise<void>;
  removeListEntry(spaceId: number, list: SuppressionList, address: string): Promise<boolean>;
  /** Ordered by address (lower-cased); `address` is shown as first added. */
  listEntries(spaceId: number, list: SuppressionList): Promise<ListEntry[]>;
  /**
   * Both lists for many addresses (at most MAX_RECIPIENTS) in one round trip; keys are the
   * addresses exactly as passed, every one of them present ({} when on no list, or when the
   * string is not an address).
   */
  lookupSuppression(spaceId: number, addresses: readonly string[]): Promise<Record<string, SuppressionAnswer>>;

  /**
   * Records a send, its tags and recipients atomically. UsageError on a duplicate id (in any
   * space), an unknown space, a user not of that space, or recipients that are not exactly one
   * with role 'to' (role 'discarded' if and only if status 'discarded'). Each suppressed
   * recipient queues a 'suppressed' webhook delivery (detail { list, reason }) in the same
   * transaction when the space has a webhook.
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
   * the To recipient changes, the send's status follows. False when nothing matched.
   */
  updateRecipientStatus(sendId: string, address: string, status: RecipientStatus, detail: string | null): Promise<boolean>;

  /**
   * UsageError when the send is unknown. Any type but 'accepted' also queues a webhook
   * delivery, in the same transaction, when the send's space has a webhook.
   */
  addEvent(event: NewSendEvent): Promise<SendEvent>;
  /** Oldest first (by `at`, then insertion); empty for an unknown send. */
  listEvents(sendId: string): Promise<SendEvent[]>;
  /**
   * Open/click counts of many sends in one round trip (at most MAX_EVENT_COUNT_SENDS ids, else
   * UsageError); keys are the ids exactly as passed, every one present (all zero for a send
   * without such events or an unknown id).
   */
  eventCounts(sendIds: readonly string[]): Promise<Record<string, EventCounts>>;

  /**
   * Sets (or replaces) the space's webhook. UsageError for an unknown space, a URL that is
   * not https (or http to loopback), or an empty secret.
   */
  setWebhook(input: { spaceId: number; url: string; secret: string }): Promise<Webhook>;
  getWebhook(spaceId: number): Promise<Webhook | null>;
  /** False when the space had none. Its pending deliveries expire ("webhook removed"). */
  removeWebhook(spaceId: number): Promise<boolean>;
  /** Ordered by space id. */
  listWebhooks(): Promise<Webhook[]>;
  /**
   * Claims up to `limit` (at most MAX_WEBHOOK_BATCH) pending deliveries due at `now`, oldest
   * due first, and moves their nextAttemptAt to now + leaseMs in the same transaction, so
   * another dispatcher (or this one's next pass) does not take them while they are in flight;
   * a crash mid-request leaves them to be retried when the lease ends.
   */
  claimWebhookDeliveries(now: Date, limit: number, leaseMs: number): Promise<DueWebhookDelivery[]>;
  /** Records an attempt's outcome (attempts + 1). False when the delivery is not pending. */
  completeWebhookDelivery(id: number, outcome: WebhookOutcome): Promise<boolean>;
  /** Newest first; `limit` default no limit. */
  listWebhookDeliveries(filter: { spaceId?: number; status?: WebhookDeliveryStatus; limit?: number }): Promise<WebhookDelivery[]>;
  webhookBacklog(): Promise<WebhookBacklog>;
}
