/**
 * The sends aggregate above the backends (SendStore): checks a send's invariants (a non-empty
 * id, flags 0..15, exactly one To recipient, role 'discarded' if and only if status
 * 'discarded'), keys addresses, turns filters into backend queries, and makes the webhook
 * fan-out decision — which events queue a delivery (every type but 'accepted'; one
 * 'suppressed' event and delivery per suppressed recipient of a recorded send) — that the
 * backend writes in the same transaction when the space has a webhook. Search terms (recipient,
 * Message-ID, status, reason, the search box's text) are checked and keyed here too. The
 * backend (backend.ts) only runs SQL.
 * recordSend goes through a group commit (group-commit.ts): the sends recorded in one
 * event-loop turn are written in one transaction; each call resolves only once its own send is
 * committed, and a failed transaction fails every send in it.
 *
 * Limits: filters take at most MAX_TAGS tags, eventCounts at most MAX_EVENT_COUNT_SENDS ids.
 *
 * Throws: UsageError (unknown space or send, duplicate send id, a user not of the space,
 * broken recipients, invalid flags, date, limit, offset or detail), TransientError and
 * InvariantError from the backend.
 */
import { BOUNCE_REASONS, SENDER_SIDE_REASONS, type BounceReason } from '../../core/bounce-reason.js';
import { MAX_RECIPIENTS } from '../../core/limits.js';
import { normalizeMessageId } from '../../core/message-id.js';
import { bucketStartMs, USAGE_RETENTION_MS } from '../../core/sending-limits.js';
import { UsageError } from '../../lib/errors.js';
import { MAX_ADDRESS_LENGTH, MAX_EVENT_COUNT_SENDS, MAX_GROUP_COMMIT_SENDS, MAX_MESSAGE_ID_LENGTH, MAX_NOT_QUEUED_BATCH, MAX_OUTCOME_DETAIL_LENGTH, MAX_TAGS } from '../../lib/limits.js';
import { looseAddressKey } from '../address-key.js';
import type {
  AccountBackend,
  DeliveryRecord,
  EventRecord,
  InsertSendResult,
  ReportQuery,
  SendBackend,
  SendInsert,
  SendPage,
  SendQuery,
  SendRecord,
  SendSearch,
  SentCount,
} from '../backend.js';
import type { SendWebhookEventType } from '../outbox-store.js';
import type {
  EventCounts,
  EventType,
  NewSend,
  NewSendEvent,
  NotQueuedCheck,
  RecipientStatus,
  ReportFilter,
  ReportGroupBy,
  ReportRow,
  Send,
  SendEvent,
  SendFilter,
  SendStatus,
  SendStore,
} from '../send-store.js';
import { requireSpace } from './accounts.js';
import { checkBounceReason, checkCount, checkFlags, checkNodeName, quote, toMs } from './checks.js';
import { GroupCommit } from './group-commit.js';
import { merged } from '../../lib/merged.js';

/** The webhook event an event of this type queues, or null: every type but 'accepted'. */
export function webhookEventOf(type: EventType): SendWebhookEventType | null {
  return type === 'accepted' ? null : type;
}

/** The filter fields sends and reports share, in backend terms (UsageError: invalid date, too many tags). */
export function sendQuery(filter: { spaceId?: number; from?: string; since?: Date; until?: Date; tags?: readonly string[] }): SendQuery {
  const fromKey = filter.from === undefined ? null : looseAddressKey(filter.from);
  const sinceMs = filter.since === undefined ? null : toMs(filter.since, 'since');
  const untilMs = filter.until === undefined ? null : toMs(filter.until, 'until');
  const tags = [...new Set(filter.tags ?? [])];
  if (tags.length > MAX_TAGS) throw new UsageError(`at most ${MAX_TAGS} tags per filter`);
  return { spaceId: filter.spaceId ?? null, fromKey, sinceMs, untilMs, tags };
}

/** The sender-side reasons, in taxonomy order: what the report counts as `blocked`. */
export const BLOCKED_REASONS: readonly string[] = BOUNCE_REASONS.filter((r) => SENDER_SIDE_REASONS.has(r));

export function reportQuery(filter: ReportFilter): ReportQuery {
  return merged(sendQuery(filter), { spaceId: filter.spaceId, blockedReasons: BLOCKED_REASONS });
}

export function sendPage(filter: SendFilter): SendPage {
  const query = sendQuery(filter);
  const before = filter.before === undefined ? null : { receivedAtMs: toMs(filter.before.receivedAt, 'cursor time'), id: filter.before.id };
  const limit = filter.limit === undefined ? null : checkCount(filter.limit, 'limit');
  const offset = filter.offset === undefined ? 0 : checkCount(filter.offset, 'offset');
  return merged(query, { before, limit, offset, search: sendSearch(filter) });
}

const SEND_STATUSES: ReadonlySet<string> = new Set<SendStatus>(['queued', 'suppressed', 'delivered', 'deferred', 'bounced']);

/** A search term: not empty, at most MAX_MESSAGE_ID_LENGTH characters (an address is shorter), one line. */
function searchTerm(value: string, what: string): string {
  const t = value.trim();
  if (t === '') throw new UsageError(`${what} must not be empty`);
  if ([...t].length > MAX_MESSAGE_ID_LENGTH) throw new UsageError(`${what} is longer than ${MAX_MESSAGE_ID_LENGTH} characters`);
  if (/[\u0000-\u001f\u007f]/.test(t)) throw new UsageError(`${what} contains control characters`);
  return t;
}

/** The search terms of a filter, checked and keyed (UsageError naming the bad one). */
export function sendSearch(filter: SendFilter): SendSearch {
  let recipientKey: string | null = null;
  if (filter.recipient !== undefined) {
    const r = searchTerm(filter.recipient, 'recipient');
    if (r.length > MAX_ADDRESS_LENGTH) throw new UsageError(`recipient is longer than ${MAX_ADDRESS_LENGTH} characters`);
    recipientKey = looseAddressKey(r);
  }
  let messageId: string | null = null;
  if (filter.messageId !== undefined) {
    messageId = normalizeMessageId(searchTerm(filter.messageId, 'message id'));
    if (messageId === null) throw new UsageError(`message id must be an id like <abc@host.example> (at most ${MAX_MESSAGE_ID_LENGTH} characters, no spaces)`);
  }
  if (filter.status !== undefined && !SEND_STATUSES.has(filter.status)) {
    throw new UsageError(`status must be one of ${[...SEND_STATUSES].join(', ')}, got ${quote(String(filter.status))}`);
  }
  const reason = filter.reason === undefined ? null : checkBounceReason(filter.reason, 'reason');
  let text: SendSearch['text'] = null;
  if (filter.text !== undefined) {
    const t = searchTerm(filter.text, 'search text');
    text = { id: t, messageId: normalizeMessageId(t), key: looseAddressKey(t) };
  }
  return { recipientKey, messageId, status: filter.status ?? null, reason, text };
}

/** The send checked and keyed for the backend; UsageError naming what is wrong. */
export function sendRecord(send: NewSend): SendRecord {
  if (typeof send.id !== 'string' || send.id === '') throw new UsageError('send id must not be empty');
  checkFlags(send.flags, 'send flags');
  if (send.node !== undefined) checkNodeName(send.node);
  const receivedAtMs = toMs(send.receivedAt, 'receivedAt');
  const toRecipients = send.recipients.filter((r) => r.role === 'to');
  const to = toRecipients[0];
  if (toRecipients.length !== 1 || to === undefined) {
    throw new UsageError(`send ${quote(send.id)} must have exactly one recipient with role "to", has ${toRecipients.length}`);
  }
  for (const r of send.recipients) {
    if ((r.role === 'discarded') !== (r.status === 'discarded')) {
      throw new UsageError(`send ${quote(send.id)}: recipient ${quote(r.address)} has role ${r.role} but status ${r.status}`);
    }
  }
  if (send.messageId !== undefined && normalizeMessageId(send.messageId) !== send.messageId) {
    throw new UsageError(`send ${quote(send.id)}: message id ${quote(send.messageId.slice(0, 100))} is not a normalised Message-ID`);
  }
  const recipientKeys = send.recipients.map((r) => looseAddressKey(r.address));
  // A suppressed recipient is an event of the send's timeline, like a delivery or a bounce.
  const events: EventRecord[] = [];
  send.recipients.forEach((r, i) => {
    if (r.status !== 'suppressed') return;
    const detailJson = JSON.stringify({ list: r.suppressedBy, reason: r.detail });
    events.push({ sendId: send.id, recipient: r.address, recipientKey: recipientKeys[i] ?? looseAddressKey(r.address), type: 'suppressed', atMs: receivedAtMs, detailJson });
  });
  return {
    send,
    receivedAtMs,
    fromKey: looseAddressKey(send.from),
    recipientKeys,
    status: to.status as SendStatus, // not 'discarded': checked above
    events,
  };
}

/** JSON text of an event detail; UsageError unless it serialises to a JSON object. */
function detailJson(detail: Readonly<Record<string, unknown>>): string {
  let json: unknown;
  try {
    json = JSON.stringify(detail);
  } catch (err: unknown) {
    throw new UsageError('event detail is not JSON-serialisable', { cause: err });
  }
  if (typeof json !== 'string' || !json.startsWith('{')) throw new UsageError('event detail must be a JSON object');
  return json;
}

/** The send's count for the backend: its recipients in the bucket of its receipt (UsageError: not 0..MAX_RECIPIENTS). */
function sentCountOf(count: number | undefined, receivedAtMs: number): SentCount | null {
  if (count === undefined || count === 0) return null;
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_RECIPIENTS) throw new UsageError(`sent count must be 0..${MAX_RECIPIENTS}, got ${String(count)}`);
  return { count, bucketMs: bucketStartMs(receivedAtMs), expireBeforeMs: receivedAtMs - USAGE_RETENTION_MS };
}

export class NeutralSends implements SendStore {
  /** recordSend's group commit: the sends recorded in one event-loop turn share one transaction. */
  private readonly recording: GroupCommit<SendInsert, InsertSendResult>;

  constructor(
    private readonly backend: SendBackend,
    private readonly accounts: AccountBackend,
  ) {
    this.recording = new GroupCommit((sends) => backend.insertSends(sends), MAX_GROUP_COMMIT_SENDS);
  }

  async recordSend(send: NewSend): Promise<void> {
    const record = sendRecord(send);
    const queuedAtMs = Date.now();
    const deliveries: DeliveryRecord[] = record.events.map((e) => ({
      type: 'suppressed',
      sendId: e.sendId,
      recipient: e.recipient,
      atMs: e.atMs,
      detailJson: e.detailJson,
      queuedAtMs,
    }));
    const result = await this.recording.submit({ record, deliveries, sentCount: sentCountOf(send.sentCount, record.receivedAtMs) });
    switch (result) {
      case 'recorded':
        return;
      case 'unknown-space':
        throw new UsageError(`unknown space id ${String(send.spaceId)}`);
      case 'foreign-user':
        throw new UsageError(`user id ${String(send.userId)} is not a user of space ${String(send.spaceId)}`);
      case 'duplicate-id':
        throw new UsageError(`a send with id ${quote(send.id)} is recorded already`);
    }
  }

  getSend(id: string, spaceId: number | null): Promise<Send | null> {
    return this.backend.getSend(id, spaceId);
  }

  async listSends(filter: SendFilter): Promise<Send[]> {
    return await this.backend.listSends(sendPage(filter));
  }

  async report(filter: ReportFilter, groupBy: ReportGroupBy | null): Promise<ReportRow[]> {
    await requireSpace(this.accounts, filter.spaceId);
    return await this.backend.report(reportQuery(filter), groupBy);
  }

  forgetSend(id: string, spaceId: number): Promise<boolean> {
    return this.backend.deleteSend(id, spaceId);
  }

  updateRecipientStatus(sendId: string, address: string, status: RecipientStatus, detail: string | null, reason: BounceReason | null = null): Promise<boolean> {
    const checked = checkBounceReason(reason, 'recipient bounce reason');
    // A reason says why delivery failed: only a failed or delayed status keeps one.
    const kept = status === 'bounced' || status === 'deferred' ? checked : null;
    return this.backend.updateRecipientStatus(sendId, looseAddressKey(address), status, detail, kept);
  }

  async addEvent(event: NewSendEvent): Promise<SendEvent> {
    const atMs = toMs(event.at, 'event time');
    const json = detailJson(event.detail);
    const record = { sendId: event.sendId, recipient: event.recipient, recipientKey: looseAddressKey(event.recipient), type: event.type, atMs, detailJson: json };
    const webhook = webhookEventOf(event.type);
    const delivery = webhook === null ? null : merged(record, { type: webhook, queuedAtMs: Date.now() });
    const id = await this.backend.insertEvent(record, delivery);
    if (id === 'unknown-send') throw new UsageError(`unknown send id ${quote(event.sendId)}`);
    const detail = JSON.parse(json) as Record<string, unknown>;
    return { id, sendId: event.sendId, recipient: event.recipient, type: event.type, at: new Date(atMs), detail };
  }

  noteSendInLog(sendId: string, at: Date): Promise<boolean> {
    return this.backend.setSendInLog(sendId, toMs(at, 'log time'));
  }

  async markNotQueued(check: NotQueuedCheck): Promise<string[]> {
    const sinceMs = toMs(check.receivedSince, 'receivedSince');
    const beforeMs = toMs(check.receivedBefore, 'receivedBefore');
    const atMs = toMs(check.at, 'not-queued time');
    const limit = checkCount(check.limit, 'not-queued limit');
    if (limit < 1 || limit > MAX_NOT_QUEUED_BATCH) throw new UsageError(`not-queued limit must be 1..${MAX_NOT_QUEUED_BATCH}, got ${limit}`);
    const node = checkNodeName(check.node);
    if (beforeMs <= sinceMs) return [];
    return await this.backend.markNotQueued(node, sinceMs, beforeMs, atMs, check.reason.slice(0, MAX_OUTCOME_DETAIL_LENGTH), limit);
  }

  listEvents(sendId: string): Promise<SendEvent[]> {
    return this.backend.listEvents(sendId);
  }

  async eventCounts(sendIds: readonly string[]): Promise<Record<string, EventCounts>> {
    if (sendIds.length > MAX_EVENT_COUNT_SENDS) throw new UsageError(`at most ${MAX_EVENT_COUNT_SENDS} send ids per event count`);
    type Counts = { opened: number; openedMachine: number; clicked: number; clickedMachine: number };
    const counts = new Map<string, Counts>();
    const wanted = [...new Set(sendIds)];
    if (wanted.length > 0) {
      for (const row of await this.backend.countEvents(wanted)) {
        const c = counts.get(row.sendId) ?? { opened: 0, openedMachine: 0, clicked: 0, clickedMachine: 0 };
        if (row.type === 'opened') c[row.machine ? 'openedMachine' : 'opened'] += row.n;
        else c[row.machine ? 'clickedMachine' : 'clicked'] += row.n;
        counts.set(row.sendId, c);
      }
    }
    // Null prototype: a send id such as "__proto__" must be an ordinary key.
    const result = Object.create(null) as Record<string, EventCounts>;
    for (const id of sendIds) {
      const c = counts.get(id) ?? { opened: 0, openedMachine: 0, clicked: 0, clickedMachine: 0 };
      result[id] = merged(c, { uniqueOpened: c.opened > 0 || c.clicked > 0, uniqueClicked: c.clicked > 0 });
    }
    return result;
  }
}
