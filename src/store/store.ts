/**
 * The Store: everything trxmail keeps, as one interface made of five aggregates —
 *   AccountStore (account-store.ts)  spaces, sender domains, users, from-address defaults;
 *   ListStore    (list-store.ts)     Bounce and Unsubscribe lists, suppression lookup;
 *   SendStore    (send-store.ts)     sends, recipient status, events, event counts, reports;
 *   OutboxStore  (outbox-store.ts)   webhooks and webhook deliveries;
 *   DomainAuthStore (domain-auth-store.ts) DKIM keys, return-path hosts, DNS checks per domain;
 *   DeliveryCursorStore (delivery-cursor-store.ts) where the maillog follower stopped reading (per node);
 *   AuthFailureStore (auth-failure-store.ts) failed logins by throttle key, shared by the nodes;
 *   RetentionStore (retention-store.ts) purging old sends into daily report aggregates.
 *   SendingStore (sending-store.ts) sending limits, usage and pause per space, shared by the nodes.
 * Callers import every type from here.
 *
 * Layering:
 *   Store (this interface)
 *     └─ neutral/ — NeutralStore: validation, normalisation (domains, address keys), the
 *        role/status invariants, the webhook fan-out decision, the closed state. Backend-neutral.
 *          └─ backend.ts — StoreBackend: narrow methods that take already-validated values and
 *             only run SQL, each one atomic (one transaction when it writes several rows).
 *               └─ sqlite/ (embedded default); postgres/ (several nodes on one database).
 * Every backend must pass the contract suite in test/store/contract/.
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
 *    except getSend (null) and listSends (empty). InvariantError means a bug (a value the
 *    types forbid, a database that refused an operation it should not have).
 *  - Space names are unique case-insensitively; a name is 1..MAX_SPACE_NAME_LENGTH
 *    characters, without control characters or surrounding spaces.
 */
import type { AccountStore } from './account-store.js';
import type { AuthFailureStore } from './auth-failure-store.js';
import type { DeliveryCursorStore } from './delivery-cursor-store.js';
import type { DomainAuthStore } from './domain-auth-store.js';
import type { ListStore } from './list-store.js';
import type { OutboxStore } from './outbox-store.js';
import type { RetentionStore } from './retention-store.js';
import type { SendStore } from './send-store.js';
import type { SendingStore } from './sending-store.js';

export type { AccountStore, FromDefault, Space, User, UserAccount } from './account-store.js';
export type { AuthFailureStore } from './auth-failure-store.js';
export type { LimitWindow, OutcomeCounts, ReserveOptions, SendingLimits, SendingReservation, SendingState, SendingStore, SendingUsage, SpacePause } from './sending-store.js';
export type { DeliveryCursor, DeliveryCursorStore } from './delivery-cursor-store.js';
export type {
  DkimAlgorithm,
  DkimKey,
  DkimKeyState,
  DomainAuth,
  DomainAuthStore,
  DomainCheckProblem,
  DomainCheckResult,
  DomainCheckStatus,
  NewDkimKey,
} from './domain-auth-store.js';
export { DKIM_ALGORITHMS, DKIM_KEY_STATES } from './domain-auth-store.js';
export type { BounceStreakState, ListChange, ListEntry, ListEntryPage, ListRemoval, ListSource, ListStore, NewListEntry } from './list-store.js';
export { LIST_SOURCES } from './list-store.js';
export type {
  EventCounts,
  EventType,
  NewSend,
  NewSendEvent,
  NotQueuedCheck,
  RecipientStatus,
  ReportCounts,
  ReportFilter,
  ReportGroupBy,
  ReportRow,
  Send,
  SendEvent,
  SendFilter,
  SendRecipient,
  SendStatus,
  SendStore,
} from './send-store.js';
export { WEBHOOK_EVENT_TYPES } from './outbox-store.js';
export type {
  DueWebhookDelivery,
  OutboxStore,
  SendWebhookEventType,
  Webhook,
  WebhookBacklog,
  WebhookDelivery,
  WebhookDeliveryStatus,
  WebhookEventType,
  WebhookOutcome,
} from './outbox-store.js';

/** What Store.health found: whether the store can take a write now, and why not. */
export type StoreHealth = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export type { PurgeableCount, PurgeSendsRequest, PurgeSendsResult, RetentionStore } from './retention-store.js';

export interface Store extends AccountStore, ListStore, SendStore, OutboxStore, DomainAuthStore, DeliveryCursorStore, AuthFailureStore, RetentionStore, SendingStore {
  /**
   * Whether the store can take a write now (for /health), found without waiting for a lock
   * or retrying: resolves quickly whatever the state of the database; never rejects.
   */
  health(): Promise<StoreHealth>;
  /** Idempotent; afterwards every method rejects with TransientError (ESTORE_CLOSED). */
  close(): Promise<void>;
}
