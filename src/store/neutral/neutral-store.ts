/**
 * The Store over any backend: the neutral aggregates (accounts, lists, sends, outbox, domain auth, delivery cursors)
 * behind one object, and the store's lifecycle. A backend (backend.ts) plugs in beneath; it
 * sees only validated values and runs only SQL. See store.ts for the layering.
 *
 * Every method returns a promise and never throws synchronously. After close() every method
 * rejects with TransientError (ESTORE_CLOSED), checked here before any validation or backend
 * call; close() is idempotent.
 *
 * Throws: what the aggregates throw (UsageError, TransientError, InvariantError; see each
 * of neutral/*.ts), TransientError once closed.
 */
import { InvariantError, TransientError } from '../../lib/errors.js';
import type { StoreBackend } from '../backend.js';
import type { Store, StoreHealth } from '../store.js';
import { NeutralAccounts } from './accounts.js';
import { NeutralAuthFailures } from './auth-failures.js';
import { NeutralDeliveryCursors } from './delivery-cursors.js';
import { NeutralDomainAuth } from './domain-auth.js';
import { NeutralLists } from './lists.js';
import { NeutralOutbox } from './outbox.js';
import { NeutralRetention } from './retention.js';
import { NeutralSending } from './sending.js';
import { NeutralSends } from './sends.js';

export class NeutralStore implements Store {
  private readonly accounts: NeutralAccounts;
  private readonly lists: NeutralLists;
  private readonly sends: NeutralSends;
  private readonly outbox: NeutralOutbox;
  private readonly domainAuth: NeutralDomainAuth;
  private readonly cursors: NeutralDeliveryCursors;
  private readonly authFailures: NeutralAuthFailures;
  private readonly retention: NeutralRetention;
  private readonly sending: NeutralSending;
  private closed = false;

  constructor(private readonly backend: StoreBackend) {
    this.accounts = new NeutralAccounts(backend.accounts);
    this.lists = new NeutralLists(backend.lists, backend.accounts);
    this.sends = new NeutralSends(backend.sends, backend.accounts);
    this.outbox = new NeutralOutbox(backend.outbox, backend.accounts);
    this.domainAuth = new NeutralDomainAuth(backend.domainAuth, backend.accounts);
    this.cursors = new NeutralDeliveryCursors(backend.cursors);
    this.authFailures = new NeutralAuthFailures(backend.authFailures);
    this.retention = new NeutralRetention(backend.retention, backend.accounts);
    this.sending = new NeutralSending(backend.sending, backend.accounts);
  }

  /** Runs `call` while the store is open; its synchronous throw, too, becomes a rejection. */
  private live<T>(call: () => Promise<T>): Promise<T> {
    try {
      if (this.closed) throw new TransientError('ESTORE_CLOSED', 'the store is closed');
      return call();
    } catch (err: unknown) {
      return Promise.reject(err instanceof Error ? err : new InvariantError(`non-Error thrown: ${String(err)}`));
    }
  }

  health(): Promise<StoreHealth> {
    if (this.closed) return Promise.resolve({ ok: false, reason: 'the store is closed' });
    return this.backend.probe().catch((err: unknown) => ({ ok: false, reason: err instanceof Error ? err.message : String(err) }));
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return this.backend.close();
  }

  // ---- accounts ------------------------------------------------------------------------------
  readonly createSpace: Store['createSpace'] = (input) => this.live(() => this.accounts.createSpace(input));
  readonly getSpace: Store['getSpace'] = (id) => this.live(() => this.accounts.getSpace(id));
  readonly getSpaceByName: Store['getSpaceByName'] = (name) => this.live(() => this.accounts.getSpaceByName(name));
  readonly listSpaces: Store['listSpaces'] = () => this.live(() => this.accounts.listSpaces());
  readonly updateSpace: Store['updateSpace'] = (id, patch) => this.live(() => this.accounts.updateSpace(id, patch));
  readonly addDomain: Store['addDomain'] = (spaceId, domain) => this.live(() => this.accounts.addDomain(spaceId, domain));
  readonly removeDomain: Store['removeDomain'] = (spaceId, domain) => this.live(() => this.accounts.removeDomain(spaceId, domain));
  readonly listDomains: Store['listDomains'] = (spaceId) => this.live(() => this.accounts.listDomains(spaceId));
  readonly createUser: Store['createUser'] = (input) => this.live(() => this.accounts.createUser(input));
  readonly getUserByEmail: Store['getUserByEmail'] = (email) => this.live(() => this.accounts.getUserByEmail(email));
  readonly getAccount: Store['getAccount'] = (email) => this.live(() => this.accounts.getAccount(email));
  readonly setPasswordHash: Store['setPasswordHash'] = (email, hash) => this.live(() => this.accounts.setPasswordHash(email, hash));
  readonly removeUser: Store['removeUser'] = (email) => this.live(() => this.accounts.removeUser(email));
  readonly listUsers: Store['listUsers'] = (spaceId) => this.live(() => this.accounts.listUsers(spaceId));
  readonly setFromFlags: Store['setFromFlags'] = (spaceId, address, flags) =>
    this.live(() => this.accounts.setFromFlags(spaceId, address, flags));
  readonly setFromUnsubscribe: Store['setFromUnsubscribe'] = (spaceId, address, unsubscribe) =>
    this.live(() => this.accounts.setFromUnsubscribe(spaceId, address, unsubscribe));
  readonly getFromDefault: Store['getFromDefault'] = (spaceId, address) => this.live(() => this.accounts.getFromDefault(spaceId, address));
  readonly getFromFlags: Store['getFromFlags'] = (spaceId, address) => this.live(() => this.accounts.getFromFlags(spaceId, address));
  readonly listFromFlags: Store['listFromFlags'] = (spaceId) => this.live(() => this.accounts.listFromFlags(spaceId));

  // ---- lists ---------------------------------------------------------------------------------
  readonly addListEntry: Store['addListEntry'] = (input) => this.live(() => this.lists.addListEntry(input));
  readonly removeListEntry: Store['removeListEntry'] = (spaceId, list, address, by) =>
    this.live(() => this.lists.removeListEntry(spaceId, list, address, by));
  readonly searchListEntries: Store['searchListEntries'] = (page) => this.live(() => this.lists.searchListEntries(page));
  readonly listChanges: Store['listChanges'] = (spaceId, list, before, limit) => this.live(() => this.lists.listChanges(spaceId, list, before, limit));
  readonly listEntries: Store['listEntries'] = (spaceId, list) => this.live(() => this.lists.listEntries(spaceId, list));
  readonly lookupSuppression: Store['lookupSuppression'] = (spaceId, addresses) =>
    this.live(() => this.lists.lookupSuppression(spaceId, addresses));
  readonly noteBounceStreak: Store['noteBounceStreak'] = (input) => this.live(() => this.lists.noteBounceStreak(input));
  readonly clearBounceStreaks: Store['clearBounceStreaks'] = (spaceId, address) => this.live(() => this.lists.clearBounceStreaks(spaceId, address));

  // ---- sends ---------------------------------------------------------------------------------
  readonly recordSend: Store['recordSend'] = (send) => this.live(() => this.sends.recordSend(send));
  readonly getSend: Store['getSend'] = (id, spaceId) => this.live(() => this.sends.getSend(id, spaceId));
  readonly listSends: Store['listSends'] = (filter) => this.live(() => this.sends.listSends(filter));
  // The sends still kept plus the daily aggregates of purged ones (neutral/retention.ts).
  readonly report: Store['report'] = (filter, groupBy) =>
    this.live(async () => this.retention.reportWithDays(filter, groupBy, await this.sends.report(filter, groupBy)));
  readonly updateRecipientStatus: Store['updateRecipientStatus'] = (sendId, address, status, detail, reason) =>
    this.live(() => this.sends.updateRecipientStatus(sendId, address, status, detail, reason ?? null));
  readonly forgetSend: Store['forgetSend'] = (id, spaceId) => this.live(() => this.sends.forgetSend(id, spaceId));
  readonly noteSendInLog: Store['noteSendInLog'] = (sendId, at) => this.live(() => this.sends.noteSendInLog(sendId, at));
  readonly markNotQueued: Store['markNotQueued'] = (check) => this.live(() => this.sends.markNotQueued(check));
  readonly addEvent: Store['addEvent'] = (event) => this.live(() => this.sends.addEvent(event));
  readonly listEvents: Store['listEvents'] = (sendId) => this.live(() => this.sends.listEvents(sendId));
  readonly eventCounts: Store['eventCounts'] = (sendIds) => this.live(() => this.sends.eventCounts(sendIds));

  // ---- outbox --------------------------------------------------------------------------------
  readonly setWebhook: Store['setWebhook'] = (input) => this.live(() => this.outbox.setWebhook(input));
  readonly getWebhook: Store['getWebhook'] = (spaceId) => this.live(() => this.outbox.getWebhook(spaceId));
  readonly removeWebhook: Store['removeWebhook'] = (spaceId) => this.live(() => this.outbox.removeWebhook(spaceId));
  readonly listWebhooks: Store['listWebhooks'] = () => this.live(() => this.outbox.listWebhooks());
  readonly claimWebhookDeliveries: Store['claimWebhookDeliveries'] = (now, limit, leaseMs) =>
    this.live(() => this.outbox.claimWebhookDeliveries(now, limit, leaseMs));
  readonly completeWebhookDelivery: Store['completeWebhookDelivery'] = (id, outcome) =>
    this.live(() => this.outbox.completeWebhookDelivery(id, outcome));
  readonly listWebhookDeliveries: Store['listWebhookDeliveries'] = (filter) => this.live(() => this.outbox.listWebhookDeliveries(filter));
  readonly webhookBacklog: Store['webhookBacklog'] = () => this.live(() => this.outbox.webhookBacklog());

  // ---- domain authentication -----------------------------------------------------------------
  readonly addDkimKey: Store['addDkimKey'] = (key) => this.live(() => this.domainAuth.addDkimKey(key));
  readonly listDkimKeys: Store['listDkimKeys'] = (spaceId, domain) => this.live(() => this.domainAuth.listDkimKeys(spaceId, domain));
  readonly activateDkimKeys: Store['activateDkimKeys'] = (spaceId, domain, ids, now, retireAfter) =>
    this.live(() => this.domainAuth.activateDkimKeys(spaceId, domain, ids, now, retireAfter));
  readonly retireDkimKeys: Store['retireDkimKeys'] = (now) => this.live(() => this.domainAuth.retireDkimKeys(now));
  readonly getDomainAuth: Store['getDomainAuth'] = (spaceId, domain) => this.live(() => this.domainAuth.getDomainAuth(spaceId, domain));
  readonly listDomainAuth: Store['listDomainAuth'] = () => this.live(() => this.domainAuth.listDomainAuth());
  readonly setReturnPath: Store['setReturnPath'] = (spaceId, domain, host) => this.live(() => this.domainAuth.setReturnPath(spaceId, domain, host));
  readonly listReturnPathHosts: Store['listReturnPathHosts'] = () => this.live(() => this.domainAuth.listReturnPathHosts());
  readonly recordDomainCheck: Store['recordDomainCheck'] = (spaceId, domain, check) =>
    this.live(() => this.domainAuth.recordDomainCheck(spaceId, domain, check));

  // ---- delivery cursors ----------------------------------------------------------------------
  readonly getDeliveryCursor: Store['getDeliveryCursor'] = (node, path) => this.live(() => this.cursors.getDeliveryCursor(node, path));
  readonly saveDeliveryCursor: Store['saveDeliveryCursor'] = (cursor) => this.live(() => this.cursors.saveDeliveryCursor(cursor));

  // ---- login failures ------------------------------------------------------------------------
  readonly countAuthFailures: Store['countAuthFailures'] = (keys, since) => this.live(() => this.authFailures.countAuthFailures(keys, since));
  readonly recordAuthFailure: Store['recordAuthFailure'] = (keys, at, expireBefore) =>
    this.live(() => this.authFailures.recordAuthFailure(keys, at, expireBefore));
  readonly clearAuthFailures: Store['clearAuthFailures'] = (key) => this.live(() => this.authFailures.clearAuthFailures(key));

  // ---- retention -----------------------------------------------------------------------------
  readonly purgeSends: Store['purgeSends'] = (request) => this.live(() => this.retention.purgeSends(request));
  readonly countPurgeable: Store['countPurgeable'] = (before, spaceId) => this.live(() => this.retention.countPurgeable(before, spaceId));
  readonly purgeWebhookDeliveries: Store['purgeWebhookDeliveries'] = (before, limit) =>
    this.live(() => this.retention.purgeWebhookDeliveries(before, limit));
  readonly listReportDays: Store['listReportDays'] = (spaceId) => this.live(() => this.retention.listReportDays(spaceId));
  // ---- sending limits and pause --------------------------------------------------------------
  readonly getSendingState: Store['getSendingState'] = (spaceId) => this.live(() => this.sending.getSendingState(spaceId));
  readonly setSendingLimits: Store['setSendingLimits'] = (spaceId, patch) => this.live(() => this.sending.setSendingLimits(spaceId, patch));
  readonly sendingUsage: Store['sendingUsage'] = (spaceId, at) => this.live(() => this.sending.sendingUsage(spaceId, at));
  readonly reserveSending: Store['reserveSending'] = (spaceId, count, at, options) => this.live(() => this.sending.reserveSending(spaceId, count, at, options));
  readonly noteSendingOutcome: Store['noteSendingOutcome'] = (spaceId, kind, at, since) =>
    this.live(() => this.sending.noteSendingOutcome(spaceId, kind, at, since));
  readonly sendingOutcomes: Store['sendingOutcomes'] = (spaceId, since) => this.live(() => this.sending.sendingOutcomes(spaceId, since));
  readonly pauseSpace: Store['pauseSpace'] = (spaceId, input) => this.live(() => this.sending.pauseSpace(spaceId, input));
  readonly resumeSpace: Store['resumeSpace'] = (spaceId, at) => this.live(() => this.sending.resumeSpace(spaceId, at));
}
