/**
 * The backend seam of the Store: what a database backend (sqlite/, postgres/)
 * implements beneath the neutral layer (neutral/). A backend writes only SQL:
 *  - every value it is given is validated and normalised already (names, domains, address
 *    keys, flags 0..15, dates as finite milliseconds since the epoch, counts, JSON text);
 *  - it makes no decision of its own: the neutral layer says which webhook deliveries to
 *    queue, which error to give and with what message; a backend reports what it found
 *    ('duplicate', 'unknown-space', ...) as a result value, never as a UsageError;
 *  - each method is atomic (one transaction when it reads then writes, or writes several
 *    rows). The neutral layer never spans a transaction over several calls, so a checked fact
 *    that must still hold at commit (the space of a send, the user of that space, whether the
 *    space has a webhook) is checked by the backend inside its transaction.
 *
 * Times come in as milliseconds (`…Ms`) and go out as Date objects in the records of
 * store.ts. Orders are part of the contract and written on each method.
 *
 * Throws: TransientError when the database is unavailable (busy, I/O, closed), ConfigError
 * only from opening, InvariantError for anything else the database refuses (a bug: the
 * neutral layer passes only values the schema accepts).
 */
import type { SuppressionList } from '../core/types.js';
import type { UnsubscribeDefault } from '../core/unsubscribe.js';
import type { FromDefault, Space, User, UserAccount } from './account-store.js';
import type { DeliveryCursor } from './delivery-cursor-store.js';
import type { DkimKey, DomainAuth, DomainCheckStatus, NewDkimKey } from './domain-auth-store.js';
import type { ListChange, ListEntry, ListSource } from './list-store.js';
import type { StoreHealth } from './store.js';
import type { LimitWindow, OutcomeCounts } from '../core/sending-limits.js';
import type { SendingState } from './sending-store.js';
import type {
  DueWebhookDelivery,
  Webhook,
  WebhookBacklog,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEventType,
} from './outbox-store.js';
import type { RetentionBackend } from './retention-backend.js';
import type { EventType, NewSend, RecipientStatus, ReportGroupBy, ReportRow, Send, SendEvent, SendStatus } from './send-store.js';

export interface StoreBackend {
  readonly accounts: AccountBackend;
  readonly lists: ListBackend;
  readonly sends: SendBackend;
  readonly outbox: OutboxBackend;
  readonly domainAuth: DomainAuthBackend;
  readonly cursors: CursorBackend;
  readonly authFailures: AuthFailureBackend;
  readonly retention: RetentionBackend;
  readonly sending: SendingBackend;
  /** Store.health: whether a write could start now, without waiting or retrying; never rejects. */
  probe(): Promise<StoreHealth>;
  /** Releases the database; called once. */
  close(): Promise<void>;
}

// ---- accounts ------------------------------------------------------------------------------

export interface NewSpaceRecord {
  readonly name: string;
  readonly defaultFlags: number | null;
  readonly allowSubdomains: boolean;
  readonly allowUnsigned: boolean;
  readonly unsubscribe: UnsubscribeDefault | null;
  readonly createdAtMs: number;
}

export interface SpacePatch {
  readonly defaultFlags?: number | null;
  readonly allowSubdomains?: boolean;
  readonly allowUnsigned?: boolean;
  readonly unsubscribe?: UnsubscribeDefault | null;
}

export interface NewUserRecord {
  readonly spaceId: number;
  /** As given (trimmed); displayed. */
  readonly email: string;
  /** Strict address key (address-key.ts): unique across spaces. */
  readonly emailKey: string;
  readonly passwordHash: string;
  readonly createdAtMs: number;
}

export interface AccountBackend {
  spaceExists(id: number): Promise<boolean>;
  /** 'duplicate' when the name is taken, compared case-insensitively. */
  insertSpace(space: NewSpaceRecord): Promise<Space | 'duplicate'>;
  getSpace(id: number): Promise<Space | null>;
  /** Compared case-insensitively. */
  getSpaceByName(name: string): Promise<Space | null>;
  /** By id. */
  listSpaces(): Promise<Space[]>;
  /** Sets the fields present in `patch` (read and write in one transaction); null for an unknown space. */
  updateSpace(id: number, patch: SpacePatch): Promise<Space | null>;

  /** Idempotent. */
  addDomain(spaceId: number, domain: string): Promise<void>;
  removeDomain(spaceId: number, domain: string): Promise<boolean>;
  /** Sorted. */
  listDomains(spaceId: number): Promise<string[]>;

  /** 'duplicate' when the key is taken (in any space). */
  insertUser(user: NewUserRecord): Promise<User | 'duplicate'>;
  getUserByKey(emailKey: string): Promise<User | null>;
  /** The user of this key with its space and the space's domains (sorted), in one read. */
  getAccountByKey(emailKey: string): Promise<UserAccount | null>;
  setPasswordHash(emailKey: string, passwordHash: string): Promise<boolean>;
  removeUser(emailKey: string): Promise<boolean>;
  /** By key; spaceId null = every space. */
  listUsers(spaceId: number | null): Promise<User[]>;

  /**
   * Sets one default of the address (inserts or updates; address shown as given last); null
   * clears it, and a row left with neither default is deleted.
   */
  setFromFlags(spaceId: number, addressKey: string, address: string, flags: number | null): Promise<void>;
  setFromUnsubscribe(spaceId: number, addressKey: string, address: string, unsubscribe: UnsubscribeDefault | null): Promise<void>;
  getFromDefault(spaceId: number, addressKey: string): Promise<FromDefault | null>;
  /** By key. */
  listFromFlags(spaceId: number): Promise<FromDefault[]>;
}

// ---- lists ---------------------------------------------------------------------------------

export interface ListEntryRecord {
  readonly spaceId: number;
  readonly list: SuppressionList;
  readonly addressKey: string;
  /** As given (trimmed); kept from the first add. */
  readonly address: string;
  readonly reason: string;
  /** A BOUNCE_REASONS value (checked above), or null. */
  readonly bounceReason: string | null;
  /** At most MAX_BOUNCE_RULE_LENGTH characters, or null. */
  readonly rule: string | null;
  /** A LIST_SOURCES value (checked above). */
  readonly source: ListSource;
  readonly addedAtMs: number;
}

/** A list change row to write with the entry's change. */
export interface ListChangeRecord {
  readonly source: ListSource;
  readonly reason: string;
  readonly atMs: number;
}

export interface ListHit {
  readonly addressKey: string;
  readonly list: SuppressionList;
  readonly reason: string;
}

export interface ListBackend {
  /**
   * Inserts, or (unless ifAbsent) updates reason, bounceReason, rule, source and time of the
   * entry with that key; in the same transaction, when the key was not on the list, writes an
   * 'added' list_changes row (source and reason of the entry, at addedAtMs). True when inserted.
   */
  upsertListEntry(entry: ListEntryRecord, ifAbsent: boolean): Promise<boolean>;
  /** Deletes; when a row was deleted, writes a 'removed' list_changes row with its address in the same transaction. */
  removeListEntry(spaceId: number, list: SuppressionList, addressKey: string, change: ListChangeRecord): Promise<boolean>;
  /** Entries with key > afterKey (when given) whose key contains `contains` (when given), by key, at most `limit`. */
  searchListEntries(q: { spaceId: number; list: SuppressionList; contains: string | null; afterKey: string | null; limit: number }): Promise<ListEntry[]>;
  /** Changes with id < beforeId (when given), newest first, at most `limit`. */
  listChanges(spaceId: number, list: SuppressionList, beforeId: number | null, limit: number): Promise<ListChange[]>;
  /** By key. */
  listEntries(spaceId: number, list: SuppressionList): Promise<ListEntry[]>;
  /** The entries of both lists whose key is one of `addressKeys` (distinct, at most MAX_RECIPIENTS), any order. */
  findEntries(spaceId: number, addressKeys: readonly string[]): Promise<ListHit[]>;
  /**
   * Bounce streaks (added with migration 6; core/bounce-listing.ts says what they decide). In
   * one transaction: the row (spaceId, addressKey, reason) gets count + 1 and lastAt = atMs, or
   * is created with count 1 and firstAt = lastAt = atMs; returns the row afterwards. The space
   * exists; reason is a BOUNCE_REASONS value.
   */
  bumpBounceStreak(spaceId: number, addressKey: string, reason: string, atMs: number): Promise<{ count: number; firstAtMs: number; lastAtMs: number }>;
  /** Deletes every streak row of the address in the space (any reason). */
  deleteBounceStreaks(spaceId: number, addressKey: string): Promise<void>;
}

// ---- sends ---------------------------------------------------------------------------------

/** A webhook delivery to queue, in the same transaction, if the space has a webhook then. */
export interface DeliveryRecord {
  readonly type: WebhookEventType;
  readonly sendId: string;
  readonly recipient: string;
  readonly atMs: number;
  /** A JSON object. */
  readonly detailJson: string;
  readonly queuedAtMs: number;
}

export interface SendRecord {
  /** Validated: non-empty id, flags in range, one To, discarded role if and only if discarded status. */
  readonly send: NewSend;
  readonly receivedAtMs: number;
  /** Loose key of send.from. */
  readonly fromKey: string;
  /** Loose key of each recipient, in the order of send.recipients. */
  readonly recipientKeys: readonly string[];
  /** The To recipient's status. */
  readonly status: SendStatus;
  /** Events written with the send (one 'suppressed' per suppressed recipient). */
  readonly events: readonly EventRecord[];
}

/** Recipients added to a space's sending count (space_usage) with a send, as SendingBackend.addSent takes them. */
export interface SentCount {
  readonly count: number;
  readonly bucketMs: number;
  /** Buckets of the space older than this are dropped. */
  readonly expireBeforeMs: number;
}

/** One send for insertSends: the checked record, the webhook deliveries it queues and the recipients it counts. */
export interface SendInsert {
  readonly record: SendRecord;
  readonly deliveries: readonly DeliveryRecord[];
  /** Added to the space's sending count in the send's own transaction, when it is recorded; null: none. */
  readonly sentCount: SentCount | null;
}

/** What insertSends found for one send; only 'recorded' wrote anything. */
export type InsertSendResult = 'recorded' | 'unknown-space' | 'foreign-user' | 'duplicate-id';

export interface EventRecord {
  readonly sendId: string;
  readonly recipient: string;
  /** Loose key of recipient (the report matches bounce and complaint events to the To by it). */
  readonly recipientKey: string;
  readonly type: EventType;
  readonly atMs: number;
  /** A JSON object. */
  readonly detailJson: string;
}

/** A send filter in backend terms; nulls mean "no condition". */
export interface SendQuery {
  readonly spaceId: number | null;
  /** Loose key of the From address. */
  readonly fromKey: string | null;
  /** receivedAt >= sinceMs */
  readonly sinceMs: number | null;
  /** receivedAt < untilMs */
  readonly untilMs: number | null;
  /** Distinct, at most MAX_TAGS; every one must be on the send. */
  readonly tags: readonly string[];
}

export interface SendPage extends SendQuery {
  /** null = no limit. */
  readonly limit: number | null;
  readonly offset: number;
  /** Only sends after this one, newest first (see SendFilter.before). */
  readonly before: { readonly receivedAtMs: number; readonly id: string } | null;
  /** Search terms (SendFilter), checked and keyed; null = no condition. */
  readonly search: SendSearch;
}

/** The search conditions of a page of sends; every non-null one must hold. */
export interface SendSearch {
  /** A recipient (any role) has this loose key. */
  readonly recipientKey: string | null;
  /** sends.message_id equals it (normalised). */
  readonly messageId: string | null;
  /** sends.status equals it. */
  readonly status: string | null;
  /** The To recipient's reason equals it. */
  readonly reason: string | null;
  /** The send id is `id`, OR its Message-ID is `messageId` (when not null), OR a recipient has the loose key `key`. */
  readonly text: { readonly id: string; readonly messageId: string | null; readonly key: string } | null;
}

export interface ReportQuery extends SendQuery {
  readonly spaceId: number;
  /**
   * The bounce reasons counted as `blocked` (SENDER_SIDE_REASONS, decided in the neutral
   * layer): a send is blocked when its To recipient's status is 'bounced' and its reason is
   * one of these.
   */
  readonly blockedReasons: readonly string[];
}

export interface EventCountRow {
  readonly sendId: string;
  readonly type: 'opened' | 'clicked';
  /** detail.machine is JSON true. */
  readonly machine: boolean;
  readonly n: number;
}

export interface SendBackend {
  /**
   * Writes several sends in ONE transaction (the neutral layer's group commit): for each, checks
   * that the space exists and the user is of it, then writes the send, its distinct tags, its
   * recipients and — when the space has a webhook — the deliveries. Resolves with one result
   * per send, in order ('duplicate-id' etc. write nothing for that send and do not fail the
   * others); rejects, having committed nothing, when the transaction fails.
   */
  insertSends(sends: readonly SendInsert[]): Promise<InsertSendResult[]>;
  /** spaceId null = any space. */
  getSend(id: string, spaceId: number | null): Promise<Send | null>;
  /** Newest first (receivedAt, then recording order), recipients in their order. */
  listSends(page: SendPage): Promise<Send[]>;
  /**
   * Rows as SendStore.report describes them; the space exists. Groupings 'reason' (the To
   * recipient's bounce reason, null when it has none) and 'domain' (the To's key after its
   * last '@') were added with migration 6, as was the `blocked` number (ReportQuery).
   */
  report(query: ReportQuery, groupBy: ReportGroupBy | null): Promise<ReportRow[]>;
  /**
   * Recipients of the send with this loose key, not discarded: status, detail and bounce reason
   * (a BOUNCE_REASONS value or null, written as given) set; the send's status follows its To.
   * One transaction.
   */
  updateRecipientStatus(sendId: string, addressKey: string, status: RecipientStatus, detail: string | null, reason: string | null): Promise<boolean>;
  /** Deletes the send of that space with its tags, recipients, events and pending webhook deliveries; one transaction. */
  deleteSend(id: string, spaceId: number): Promise<boolean>;
  /** The new event's id, or 'unknown-send' (nothing written); the delivery only when the space has a webhook. */
  insertEvent(event: EventRecord, delivery: DeliveryRecord | null): Promise<number | 'unknown-send'>;
  /** Sets the log time of the send unless set; true when it was set now. */
  setSendInLog(sendId: string, atMs: number): Promise<boolean>;
  /** In one transaction: selects (node = `node` or no node, received_at in [sinceMs, beforeMs), never in the log, not marked, status 'queued'; oldest first, at most limit) and marks; the ids. */
  markNotQueued(node: string, sinceMs: number, beforeMs: number, atMs: number, reason: string, limit: number): Promise<string[]>;
  /** By `at`, then insertion. */
  listEvents(sendId: string): Promise<SendEvent[]>;
  /** Counts of 'opened' and 'clicked' events of these sends (distinct, non-empty), by send, type and machine. */
  countEvents(sendIds: readonly string[]): Promise<EventCountRow[]>;
}

// ---- outbox --------------------------------------------------------------------------------

export interface WebhookRecord {
  readonly spaceId: number;
  readonly url: string;
  readonly secret: string;
  readonly createdAtMs: number;
}

/** The end of one delivery attempt (each adds one to attempts; only pending deliveries change). */
export type AttemptRecord =
  | { readonly kind: 'delivered'; readonly atMs: number }
  | { readonly kind: 'retry'; readonly error: string; readonly retryAtMs: number }
  | { readonly kind: 'expired'; readonly error: string; readonly atMs: number };

export interface DeliveryQuery {
  readonly spaceId: number | null;
  readonly status: WebhookDeliveryStatus | null;
  /** null = no limit. */
  readonly limit: number | null;
}

export interface OutboxBackend {
  /** Inserts or replaces the space's webhook. */
  upsertWebhook(webhook: WebhookRecord): Promise<void>;
  getWebhook(spaceId: number): Promise<Webhook | null>;
  /** By space id. */
  listWebhooks(): Promise<Webhook[]>;
  /** Deletes it and expires its pending deliveries (last error `reason`, done at `atMs`) in one transaction; false when there was none. */
  deleteWebhook(spaceId: number, reason: string, atMs: number): Promise<boolean>;
  /** Up to `limit` (1..MAX_WEBHOOK_BATCH) pending deliveries due at nowMs, oldest due first, leased until leaseUntilMs in the same transaction. */
  claimDeliveries(nowMs: number, limit: number, leaseUntilMs: number): Promise<DueWebhookDelivery[]>;
  /** False when the delivery is not pending. */
  finishAttempt(id: number, attempt: AttemptRecord): Promise<boolean>;
  /** Newest first. */
  listDeliveries(query: DeliveryQuery): Promise<WebhookDelivery[]>;
  backlog(): Promise<WebhookBacklog>;
}

// ---- domain authentication -------------------------------------------------------------------

/** A NewDkimKey as the backend takes it: domain normalised, selector lower-cased, time in ms. */
export interface DkimKeyRecord extends Omit<NewDkimKey, 'createdAt'> {
  readonly createdAtMs: number;
}

export interface DomainAuthBackend {
  /** Whether `domain` is one of the space's sender domains. */
  domainExists(spaceId: number, domain: string): Promise<boolean>;
  /** 'duplicate' when the selector is taken for that domain (in any space). */
  insertDkimKey(key: DkimKeyRecord): Promise<DkimKey | 'duplicate'>;
  /** Oldest first (by id). */
  listDkimKeys(spaceId: number, domain: string): Promise<DkimKey[]>;
  /**
   * In one transaction: the keys `ids` (which must be the domain's and pending, else
   * 'not-pending' and nothing changes) become active at `nowMs`; the domain's other active keys
   * become retiring until `retireAfterMs`. Returns the domain's keys afterwards.
   */
  activateDkimKeys(spaceId: number, domain: string, ids: readonly number[], nowMs: number, retireAfterMs: number): Promise<DkimKey[] | 'not-pending'>;
  /** Retiring keys with retire_after <= nowMs become retired; how many. */
  retireDkimKeys(nowMs: number): Promise<number>;
  /** Null when the domain is not the space's. */
  getDomainAuth(spaceId: number, domain: string): Promise<DomainAuth | null>;
  /** By space id, then domain. */
  listDomainAuth(): Promise<DomainAuth[]>;
  /** 'taken' when another row uses the host already; null when the domain is not the space's. */
  setReturnPath(spaceId: number, domain: string, host: string | null): Promise<DomainAuth | 'taken' | null>;
  /** Sorted. */
  listReturnPathHosts(): Promise<string[]>;
  /**
   * In one transaction: reads the status before, stores the check, and queues (when the space
   * has a webhook) the delivery `deliveryFor(previous)` returns, if any — the neutral layer
   * decides, the backend only writes. The status before; null when the domain is not the
   * space's (nothing written, `deliveryFor` not called).
   */
  recordDomainCheck(
    spaceId: number,
    domain: string,
    status: Exclude<DomainCheckStatus, 'unchecked'>,
    atMs: number,
    detailJson: string,
    deliveryFor: (previous: DomainCheckStatus) => DeliveryRecord | null,
  ): Promise<DomainCheckStatus | null>;
}

// ---- delivery cursors ----------------------------------------------------------------------

export interface CursorRecord {
  readonly node: string;
  readonly path: string;
  /** Decimal digits. */
  readonly dev: string;
  /** Decimal digits. */
  readonly ino: string;
  readonly offset: number;
  readonly followingSinceMs: number;
  readonly savedAtMs: number;
}

// ---- login failures ------------------------------------------------------------------------

export interface AuthFailureBackend {
  /** Failures at or after sinceMs for each of the (distinct, checked) keys; keys without any may be absent. */
  countFailures(keys: readonly string[], sinceMs: number): Promise<Record<string, number>>;
  /** One transaction: deletes failures before expireBeforeMs (any key), inserts one row per key at atMs. */
  recordFailure(keys: readonly string[], atMs: number, expireBeforeMs: number): Promise<void>;
  /** Deletes the failures of the key. */
  clearFailures(key: string): Promise<void>;
}

export interface CursorBackend {
  /** The row of (node, path); node '' is the row saved before nodes were named. */
  getCursor(node: string, path: string): Promise<DeliveryCursor | null>;
  /** Inserts or replaces the row of (`cursor.node`, `cursor.path`). */
  upsertCursor(cursor: CursorRecord): Promise<void>;
}

// ---- sending limits and pause (added with SQLite migration 8, PostgreSQL migration 3) ---------

export interface PauseRecord {
  readonly reason: string;
  readonly auto: boolean;
}

export interface SendingBackend {
  /** The space's row as a state; no row: no limits, not paused, never resumed. */
  getState(spaceId: number): Promise<SendingState>;
  /** Inserts or updates the limits present in `patch`; the state afterwards. */
  setLimits(spaceId: number, patch: Partial<Record<LimitWindow, number | null>>): Promise<SendingState>;
  /** For each start in `sinceMs`: the sums of the space's buckets at or after it. */
  sums(spaceId: number, sinceMs: readonly number[]): Promise<OutcomeCounts[]>;
  /**
   * One transaction, serialised per space (PostgreSQL locks the space's row): reads the state
   * and the `sent` sums since each of `sinceMs`, calls `admit(state, sent)`, and when it says
   * yes adds `count` to `sent` of the bucket `bucketMs` (count > 0) and deletes the space's
   * buckets before `expireBeforeMs`.
   */
  reserve(
    spaceId: number,
    count: number,
    bucketMs: number,
    sinceMs: readonly number[],
    expireBeforeMs: number,
    admit: (state: SendingState, sent: readonly number[]) => boolean,
  ): Promise<{ readonly state: SendingState; readonly sent: readonly number[]; readonly admitted: boolean }>;
  /**
   * Adds `count` (> 0) to `sent` of the bucket `bucketMs` and deletes the space's buckets
   * before `expireBeforeMs`, without locking the space or reading anything (PostgreSQL: one
   * statement): for a space with no limits and no pause, where there is nothing to decide and
   * concurrent messages must not queue behind each other.
   */
  addSent(spaceId: number, count: number, bucketMs: number, expireBeforeMs: number): Promise<void>;
  /** One transaction: adds one to `column` of the bucket, deletes buckets before expireBeforeMs, returns the sums since sinceMs. */
  bumpOutcome(spaceId: number, column: 'hard_bounced' | 'complained', bucketMs: number, sinceMs: number, expireBeforeMs: number): Promise<OutcomeCounts>;
  /**
   * One transaction: pause (record) when not paused, or resume (null: paused_at cleared,
   * resumed_at = atMs) when paused; when that changed anything, queues `delivery` if the space
   * has a webhook. Whether it changed.
   */
  setPause(spaceId: number, pause: PauseRecord | null, atMs: number, delivery: DeliveryRecord): Promise<boolean>;
}
