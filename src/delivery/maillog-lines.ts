/**
 * What the maillog follower (maillog-follower.ts) does with each line of Postfix's log: it
 * remembers trxmail's queue ids (a qmgr `from=` line whose sender is an HMAC-checked bounce
 * address; the send is noted as seen in the log, so it is never taken for a phantom) and
 * records each delivery line's outcome for the send's recipient (recorder.ts); `expired`
 * turns the recipients still deferred into soft bounces.
 *
 * Limits: MAX_MAILLOG_QUEUE_IDS remembered queue ids (LRU by `from=` line; a queue id is
 * forgotten at `removed`); a delivery line for a forgotten id is matched through the store.
 * Throws: the store's TransientError (the follower retries the line).
 */
import { LRUCache } from 'lru-cache';
import { decodeBounceAddress, sendOfBounceId, type BounceDomains } from '../bounce/bounce-address.js';
import type { HmacKey } from '../lib/hmac-keys.js';
import { MAX_MAILLOG_QUEUE_IDS } from '../lib/limits.js';
import { escapeLogValue, type Logger } from '../lib/logger.js';
import type { Send, SendRecipient, Store } from '../store/store.js';
import { parseMaillogLine, type MaillogRecord } from './maillog-line.js';
import { classifyBounce } from '../core/bounce-reason.js';
import { matchRecipient, sameAddress, type Clock, type DeliveryRecorder, type IntakeAction } from './recorder.js';

/** What the follower remembers of a trxmail queue id. */
interface QueuedSend {
  readonly spaceId: number;
  readonly sendId: string;
  readonly bccCopy: boolean;
  /** Recipients (the send's spelling) whose last attempt was deferred. */
  readonly deferred: Set<string>;
}

/** Emitted ('processed') after each complete line was handled. */
export interface ProcessedLine {
  readonly line: string;
  readonly record: MaillogRecord | null;
  /** What was recorded (empty when the line was not about a trxmail send's recipient). */
  readonly actions: readonly IntakeAction[];
  /** Why nothing was recorded for a delivery line, e.g. 'unknown-queue-id'. */
  readonly ignored: string | null;
}

export interface MaillogLinesOptions {
  readonly store: Store;
  readonly keys: readonly HmacKey[];
  readonly bounceDomain: string | BounceDomains;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly recorder: DeliveryRecorder;
  /** Default MAX_MAILLOG_QUEUE_IDS. */
  readonly maxQueueIds?: number;
}

export class MaillogLines {
  readonly #o: MaillogLinesOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #recorder: DeliveryRecorder;
  /** Ordered by `from=` line only: lookups peek, so they do not keep a queue id alive. */
  readonly #queue: LRUCache<string, QueuedSend>;

  constructor(opts: MaillogLinesOptions) {
    this.#o = opts;
    this.#log = opts.logger;
    this.#clock = opts.clock;
    this.#recorder = opts.recorder;
    this.#queue = new LRUCache({ max: opts.maxQueueIds ?? MAX_MAILLOG_QUEUE_IDS });
  }

  /** Queue ids currently remembered. */
  get rememberedQueueIds(): number {
    return this.#queue.size;
  }

  /** Handles one log line. Throws the store's TransientError. */
  async handle(line: string): Promise<ProcessedLine> {
    const record = parseMaillogLine(line);
    const none = (ignored: string | null): ProcessedLine => ({ line, record, actions: [], ignored });
    if (record === null) return none(null);
    switch (record.kind) {
      case 'removed':
        this.#queue.delete(record.queueId);
        return none(null);
      case 'from': {
        const decoded = decodeBounceAddress(record.sender, this.#o.keys, this.#o.bounceDomain);
        if (!decoded.ok) return none(record.sender === '' ? 'null-sender' : `sender-${decoded.reason}`);
        const { sendId, bccCopy } = sendOfBounceId(decoded.sendId);
        const known = this.#queue.peek(record.queueId);
        // The send's message is in Postfix's queue: never a phantom (once per queue id and run).
        if (!known && !bccCopy) await this.#o.store.noteSendInLog(sendId, record.time ?? this.#clock());
        this.#queue.set(record.queueId, { spaceId: decoded.spaceId, sendId, bccCopy, deferred: known?.deferred ?? new Set() });
        return none(null);
      }
      case 'expired':
        return this.#expired(line, record);
      case 'delivery':
        return this.#delivery(line, record);
    }
  }

  async #sendOf(queueId: string): Promise<{ q: QueuedSend; send: Send } | string> {
    const q = this.#queue.peek(queueId);
    if (!q) {
      // Its from= line may have been read before a restart: a send with this id whose from=
      // line was read (and its bounce address checked) then is the main message.
      const logged = await this.#o.store.getSend(queueId, null);
      if (logged?.loggedAt === undefined) return 'unknown-queue-id';
      const known: QueuedSend = { spaceId: logged.spaceId, sendId: logged.id, bccCopy: false, deferred: new Set() };
      this.#queue.set(queueId, known);
      return { q: known, send: logged };
    }
    const send = await this.#o.store.getSend(q.sendId, q.spaceId);
    if (send === null) return 'unknown-send';
    return { q, send };
  }

  async #delivery(line: string, r: Extract<MaillogRecord, { kind: 'delivery' }>): Promise<ProcessedLine> {
    const found = await this.#sendOf(r.queueId);
    if (typeof found === 'string') return { line, record: r, actions: [], ignored: found };
    const { q, send } = found;
    const target = matchRecipient(send, [r.to, r.origTo], false);
    if (target === null || (q.bccCopy && target.role !== 'bcc')) {
      this.#log.info({ queueId: r.queueId, sendId: send.id, to: escapeLogValue(r.to) }, 'maillog: delivery line for an address that is not the send\'s; ignored');
      return { line, record: r, actions: [], ignored: 'unknown-recipient' };
    }
    const hard = r.status === 'bounced' && (r.dsn === null || r.dsn.startsWith('5.'));
    const outcome = r.status === 'sent' ? 'delivered' : r.status;
    if (r.status === 'deferred') q.deferred.add(target.address);
    else q.deferred.delete(target.address);
    // The same classifier as the DSN's (core/bounce-reason.ts): the log line's text is the
    // receiver's reply, so both sources give a bounce the same reason.
    const c = r.status === 'sent' ? null : classifyBounce({ action: r.status === 'bounced' ? 'failed' : 'delayed', status: r.dsn, diagnostic: r.text });
    const action = await this.#recorder.record({
      send,
      recipient: target,
      result: outcome,
      kind: r.status === 'sent' ? 'success' : hard ? 'hard' : 'soft',
      status: r.dsn,
      diagnostic: r.text,
      reason: c?.reason ?? null,
      reasonRule: c === null ? null : `maillog:${c.rule}`,
      source: 'maillog',
      at: r.time ?? this.#clock(),
      extra: { queueId: r.queueId, ...(r.relay !== null ? { relay: r.relay } : {}), ...(q.bccCopy ? { bccCopy: true } : {}) },
    });
    return { line, record: r, actions: [action], ignored: null };
  }

  async #expired(line: string, r: Extract<MaillogRecord, { kind: 'expired' }>): Promise<ProcessedLine> {
    const found = await this.#sendOf(r.queueId);
    if (typeof found === 'string') return { line, record: r, actions: [], ignored: found };
    const { q, send } = found;
    const actions: IntakeAction[] = [];
    const targets: SendRecipient[] = send.recipients.filter((rc) => [...q.deferred].some((d) => sameAddress(d, rc.address)));
    for (const target of targets) {
      actions.push(
        await this.#recorder.record({
          send,
          recipient: target,
          result: 'bounced',
          kind: 'soft',
          status: null,
          diagnostic: 'expired: still deferred at the end of the queue lifetime, returned to sender',
          reason: 'expired',
          reasonRule: 'maillog:status=expired',
          source: 'maillog',
          at: r.time ?? this.#clock(),
          extra: { queueId: r.queueId, expired: true, ...(q.bccCopy ? { bccCopy: true } : {}) },
        }),
      );
    }
    q.deferred.clear();
    return { line, record: r, actions, ignored: actions.length === 0 ? 'nothing-deferred' : null };
  }
}
