/**
 * The sends aggregate above the backends (SendStore): checks a send's invariants (a non-empty
 * id, flags 0..15, exactly one To recipient, role 'discarded' if and only if status
 * 'discarded'), keys addresses, turns filters into backend queries, and makes the webhook
 * fan-out decision — which events queue a delivery (every type but 'accepted'; one
 * 'suppressed' per suppressed recipient of a recorded send) — that the backend writes in the
 * same transaction when the space has a webhook. The backend (backend.ts) only runs SQL.
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
import { UsageError } from '../../lib/errors.js';
import { MAX_EVENT_COUNT_SENDS, MAX_GROUP_COMMIT_SENDS, MAX_NOT_QUEUED_BATCH, MAX_OUTCOME_DETAIL_LENGTH, MAX_TAGS } from '../../lib/limits.js';
import { looseAddressKey } from '../address-key.js';
import type { AccountBackend, DeliveryRecord, InsertSendResult, ReportQuery, SendBackend, SendInsert, SendPage, SendQuery, SendRecord } from '../backend.js';
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
const BLOCKED_REASONS: readonly string[] = BOUNCE_REASONS.filter((r) => SENDER_SIDE_REASONS.has(r));

export function reportQuery(filter: ReportFilter): ReportQuery {
  return { ...sendQuery(filter), spaceId: filter.spaceId, blockedReasons: BLOCKED_REASONS };
}

export function sendPage(filter: SendFilter): SendPage {
  const query = sendQuery(filter);
  const before = filter.before === undefined ? null : { receivedAtMs: toMs(filter.before.receivedAt, 'cursor time'), id: filter.before.id };
  const limit = filter.limit === undefined ? null : checkCount(filter.limit, 'limit');
  const offset = filter.offset === undefined ? 0 : checkCount(filter.offset, 'offset');
  return { ...query, before, limit, offset };
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
  return {
    send,
    receivedAtMs,
    fromKey: looseAddressKey(send.from),
    recipientKeys: send.recipients.map((r) => looseAddressKey(r.address)),
    status: to.status as SendStatus, // not 'discarded': checked above
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
    const deliveries: DeliveryRecord[] = send.recipients
      .filter((r) => r.status === 'suppressed')
      .map((r) => ({
        type: 'suppressed',
        sendId: send.id,
        recipient: r.address,
        atMs: record.receivedAtMs,
        detailJson: JSON.stringify({ list: r.suppressedBy, reason: r.detail }),
        queuedAtMs,
      }));
    const result = await this.recording.submit({ record, deliveries });
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
    const delivery = webhook === null ? null : { ...record, type: webhook, queuedAtMs: Date.now() };
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
      result[id] = { ...c, uniqueOpened: c.opened > 0 || c.clicked > 0, uniqueClicked: c.clicked > 0 };
    }
    return result;
  }
}
