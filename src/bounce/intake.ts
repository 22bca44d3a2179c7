/**
 * Bounce intake: what trxmail does with one message that arrived for the bounce domain
 * (through the LMTP listener, lmtp.ts, or the `trxmail bounce` pipe(8) command, pipe.ts), and
 * the recording of a recipient's delivery outcome shared with the maillog follower
 * (maillog.ts).
 *
 * BounceIntake.process(raw, envelope):
 *  1. analyse the message (analyse.ts: RFC 3464 DSN, RFC 5965 ARF, heuristics);
 *  2. act ONLY when the HMAC-checked address names a send: the envelope recipient's bounce
 *     address when it verifies, else the X-Trxmail-Ref of the returned original when that
 *     verifies — and the send exists in that space (a forged or unknown address changes
 *     nothing: architecture.md "forged bounces cannot put an address on the Bounce list");
 *  3. bounce, per reported recipient, matched to the send's recipients case-insensitively
 *     (Final-Recipient, else Original-Recipient; a bounce of the BCC copy, send id `<id>_b`,
 *     is the send's BCC recipient whatever address the report names):
 *       hard (5.X.Y, failed) → status 'bounced', event 'bounced', Bounce list entry for the
 *                 space (reason `hard bounce 5.1.1: <diagnostic, cut>`)
 *       soft, Action delayed → status 'deferred', event 'deferred' (no list entry)
 *       soft, Action failed (4.X.Y: the MTA gave up, e.g. Postfix's queue lifetime expired)
 *               → status 'bounced', event 'bounced' with kind 'soft' (no list entry)
 *       success (delivered/relayed/expanded) → status 'delivered', event 'delivered'
 *     complaint (ARF abuse) → Bounce list entry `complaint (<feedback type>)` and event
 *     'complained' for Original-Rcpt-To when it is one of the send's recipients, else the
 *     send's To (the BCC copy's: its BCC); the recipient's status is left alone;
 *     anything else (not a bounce, forged, unknown send) → nothing; logged at info.
 *
 * Status rules (DeliveryRecorder, also used for Postfix's log lines):
 *  - 'bounced' is final: a later delivered/deferred outcome for the same recipient adds its
 *    event but leaves the status (an asynchronous bounce after "status=sent" does turn
 *    'delivered' into 'bounced'). Suppressed and discarded recipients are never changed.
 *  - A bounce is seen twice for Postfix's own bounces: the log line (status=bounced) and the
 *    DSN Postfix then sends to the bounce address. Each source records the status and, for a
 *    hard bounce, the Bounce list entry (both idempotent: the DSN may never come, e.g. with
 *    NOTIFY=NEVER), but a 'bounced' event is added only when the recipient has none on that
 *    send yet (a hard one after a soft one is still added) — so the first source wins and a
 *    bounce is one event. Likewise one 'delivered' event (a success DSN after the log line);
 *    every deferral is an event of its own (one per delivery attempt). Calls for one send are serialised inside a process; the pipe command
 *    (another process) could in theory race the log follower and add a second event.
 *
 * Limits: the message is analysed from its first MAX_BOUNCE_BYTES bytes (the rest of a
 * Spool is not read); stored detail text is cut to MAX_OUTCOME_DETAIL_LENGTH characters.
 *
 * Throws: the store's TransientError propagates (the caller tempfails: LMTP 451, pipe exit 75;
 * Postfix keeps the message and retries). Nothing else about a message is an error: the
 * result says what was done or why nothing was.
 */
import { listKey } from '../core/domain.js';
import type { HmacKey } from '../lib/hmac-keys.js';
import { MAX_BOUNCE_BYTES, MAX_OUTCOME_DETAIL_LENGTH } from '../lib/limits.js';
import { errorForLog, escapeLogValue, type Logger } from '../lib/logger.js';
import type { Spool } from '../lib/spool.js';
import type { RecipientStatus, Send, SendRecipient, Store } from '../store/store.js';
import { analyseMessage, type MessageAnalysis, type RecipientReport } from './analyse.js';

export type Clock = () => Date;

/** The SMTP/LMTP envelope of the message as Postfix handed it over. */
export interface IntakeEnvelope {
  /** MAIL FROM ('' for the null sender) or null when unknown. */
  readonly mailFrom: string | null;
  /** The envelope recipient: the bounce address the message was delivered to. */
  readonly rcptTo: string | null;
}

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
}

export interface IntakeResult {
  /** 'recorded': at least one recipient matched; 'ignored': nothing changed (see reason). */
  readonly outcome: 'recorded' | 'ignored';
  readonly kind: MessageAnalysis['kind'];
  readonly format: MessageAnalysis['format'];
  readonly sendId: string | null;
  readonly spaceId: number | null;
  readonly bccCopy: boolean;
  /** Where the send id came from. */
  readonly via: 'bounce-address' | 'ref' | null;
  readonly actions: readonly IntakeAction[];
  /** Reported recipients that are not the send's (ignored). */
  readonly unmatched: readonly string[];
  /** Why nothing was recorded (machine-readable), null when something was. */
  readonly reason: string | null;
  readonly notes: readonly string[];
}

export type AnalyseFn = (raw: Buffer, opts: { envelopeRecipient?: string | undefined; keys: readonly HmacKey[]; bounceDomain: string }) => MessageAnalysis;

export interface BounceIntakeOptions {
  readonly store: Store;
  readonly keys: readonly HmacKey[];
  readonly bounceDomain: string;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** The analysis (default analyseMessage); tests may pass another. */
  readonly analyse?: AnalyseFn;
  /** Shared with the maillog follower so both serialise per send (default: a new one). */
  readonly recorder?: DeliveryRecorder;
}

/** Cuts untrusted text to one line of at most `max` characters ("..." when cut). */
export function cutText(text: string, max: number = MAX_OUTCOME_DETAIL_LENGTH): string {
  const one = text.replace(/[\x00-\x1f\x7f]+/g, ' ').replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 3)}...` : one;
}

/** The first MAX_BOUNCE_BYTES (+1, so the analysis can tell it was cut) bytes of a spool. */
async function prefixOf(spool: Spool, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of spool.read()) {
    const room = max + 1 - size;
    parts.push(chunk.length > room ? chunk.subarray(0, room) : chunk);
    size += Math.min(chunk.length, room);
    if (size > max) break;
  }
  return Buffer.concat(parts, size);
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
export class DeliveryRecorder {
  readonly #store: Store;
  readonly #busy = new Map<string, Promise<unknown>>();

  constructor(store: Store) {
    this.#store = store;
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
    const fresh = (await store.getSend(o.send.id, o.send.spaceId))?.recipients.find((r) => sameAddress(r.address, rcpt.address)) ?? rcpt;
    let now: IntakeAction['recipientStatus'] = fresh.status;
    const frozen = fresh.status === 'suppressed' || fresh.status === 'discarded' || (fresh.status === 'bounced' && o.result !== 'bounced');
    if (!frozen) {
      await store.updateRecipientStatus(o.send.id, rcpt.address, o.result, detailText);
      now = o.result;
    }
    let eventAdded = true;
    if (o.result === 'bounced' || o.result === 'delivered') {
      // One 'bounced' and one 'delivered' event per recipient and send (a success DSN repeats
      // the log line); a hard bounce after a soft one (expired) is still recorded.
      const prior = (await store.listEvents(o.send.id)).filter((e) => e.type === o.result && sameAddress(e.recipient, rcpt.address));
      eventAdded = !prior.some((e) => o.result === 'delivered' || o.kind !== 'hard' || e.detail['kind'] === 'hard');
    }
    if (eventAdded) {
      await store.addEvent({
        sendId: o.send.id,
        recipient: rcpt.address,
        type: o.result,
        at: o.at,
        detail: { status: o.status, diagnostic, kind: o.kind, source: o.source, ...(o.extra ?? {}) },
      });
    }
    let listed = false;
    if (o.result === 'bounced' && o.kind === 'hard') {
      await store.addListEntry({
        spaceId: o.send.spaceId,
        list: 'bounce',
        address: rcpt.address,
        reason: cutText(`hard bounce ${o.status ?? '5.0.0'}${diagnostic ? `: ${diagnostic}` : ''}`),
        addedAt: o.at,
      });
      listed = true;
    }
    return { address: rcpt.address, event: o.result, kind: o.kind, status: o.status, recipientStatus: now, eventAdded, listed };
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
        addedAt: o.at,
      });
      return { address: o.recipient.address, event: 'complained', kind: 'complaint', status: null, recipientStatus: null, eventAdded: true, listed: true };
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

/**
 * The recipient's new status from a DSN recipient block: the Action says whether the MTA gave
 * up (failed → 'bounced', hard or soft by the status class), will retry (delayed →
 * 'deferred') or delivered (delivered/relayed/expanded → 'delivered').
 */
export function resultOfReport(r: Pick<RecipientReport, 'action' | 'kind'>): Outcome['result'] {
  switch (r.action) {
    case 'failed':
      return r.kind === 'success' ? 'delivered' : 'bounced';
    case 'delayed':
      return 'deferred';
    case 'delivered':
    case 'relayed':
    case 'expanded':
      return 'delivered';
  }
}

export class BounceIntake {
  readonly #store: Store;
  readonly #keys: readonly HmacKey[];
  readonly #bounceDomain: string;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #analyse: AnalyseFn;
  readonly recorder: DeliveryRecorder;

  constructor(opts: BounceIntakeOptions) {
    this.#store = opts.store;
    this.#keys = opts.keys;
    this.#bounceDomain = opts.bounceDomain;
    this.#log = opts.logger;
    this.#clock = opts.clock ?? (() => new Date());
    this.#analyse = opts.analyse ?? analyseMessage;
    this.recorder = opts.recorder ?? new DeliveryRecorder(opts.store);
  }

  async process(raw: Buffer | Spool, envelope: IntakeEnvelope): Promise<IntakeResult> {
    const bytes = Buffer.isBuffer(raw) ? raw : await prefixOf(raw, MAX_BOUNCE_BYTES);
    const rcptTo = envelope.rcptTo ?? undefined;
    let analysis: MessageAnalysis;
    try {
      analysis = this.#analyse(bytes, { envelopeRecipient: rcptTo, keys: this.#keys, bounceDomain: this.#bounceDomain });
    } catch (err: unknown) {
      // The analysis never throws on input; if it does, that is a bug: keep the message out
      // of the way (accepted) but say so loudly.
      this.#log.error({ err: errorForLog(err), rcptTo: logAddr(envelope.rcptTo) }, 'bounce intake: analysis failed; message accepted and ignored');
      return this.#ignored(null, 'analysis-failed', envelope);
    }
    if (analysis.kind === 'other') return this.#ignored(analysis, 'not-a-bounce', envelope);

    const addr = analysis.bounceAddress?.ok ? analysis.bounceAddress : analysis.ref?.ok ? analysis.ref : null;
    if (addr === null || !addr.ok) {
      const bad = analysis.bounceAddress ?? analysis.ref;
      const reason = bad === null ? 'no-bounce-address' : bad.ok ? 'no-bounce-address' : `bounce-address-${bad.reason}`;
      return this.#ignored(analysis, reason, envelope);
    }
    const via = analysis.bounceAddress?.ok ? 'bounce-address' : 'ref';
    const send = await this.#store.getSend(addr.sendId, addr.spaceId);
    if (send === null) return this.#ignored(analysis, 'unknown-send', envelope, addr);

    const at = this.#clock();
    const actions: IntakeAction[] = [];
    const unmatched: string[] = [];
    const base = { ...(addr.bccCopy ? { bccCopy: true } : {}) };
    if (analysis.kind === 'complaint') {
      const c = analysis.complaint;
      const target = addr.bccCopy ? matchRecipient(send, [], true) : (matchRecipient(send, c?.originalRcptTo ?? [], false) ?? matchRecipient(send, [send.to], false));
      if (target === null) unmatched.push(...(c?.originalRcptTo ?? []));
      else actions.push(await this.recorder.complaint({ send, recipient: target, feedbackType: c?.feedbackType ?? 'abuse', userAgent: c?.userAgent ?? null, at, extra: base }));
    } else {
      for (const r of analysis.recipients) {
        const target = matchRecipient(send, [r.recipient, r.originalRecipient], addr.bccCopy);
        if (target === null) {
          unmatched.push(r.recipient);
          continue;
        }
        actions.push(await this.recorder.record(outcomeOf(send, target, r, at, base)));
      }
    }
    const result: IntakeResult = {
      outcome: actions.length > 0 ? 'recorded' : 'ignored',
      kind: analysis.kind,
      format: analysis.format,
      sendId: send.id,
      spaceId: send.spaceId,
      bccCopy: addr.bccCopy,
      via,
      actions,
      unmatched,
      reason: actions.length > 0 ? null : analysis.recipients.length === 0 && analysis.kind === 'bounce' ? 'no-recipients' : 'no-matching-recipient',
      notes: analysis.notes,
    };
    this.#log.info(
      {
        sendId: send.id,
        space: send.spaceId,
        kind: analysis.kind,
        format: analysis.format,
        via,
        bccCopy: addr.bccCopy,
        actions: actions.map((a) => ({ rcpt: escapeLogValue(a.address), event: a.event, status: a.status, listed: a.listed })),
        unmatched: unmatched.slice(0, 5).map((u) => escapeLogValue(u)),
        ...(result.reason ? { reason: result.reason } : {}),
      },
      result.outcome === 'recorded' ? 'bounce intake: recorded' : 'bounce intake: ignored',
    );
    return result;
  }

  #ignored(analysis: MessageAnalysis | null, reason: string, envelope: IntakeEnvelope, addr?: { spaceId: number; sendId: string; bccCopy: boolean }): IntakeResult {
    this.#log.info(
      {
        reason,
        kind: analysis?.kind ?? null,
        format: analysis?.format ?? null,
        notes: (analysis?.notes ?? []).slice(0, 10).map((n) => escapeLogValue(n)),
        mailFrom: logAddr(envelope.mailFrom),
        rcptTo: logAddr(envelope.rcptTo),
        ...(addr ? { sendId: escapeLogValue(addr.sendId), space: addr.spaceId } : {}),
      },
      'bounce intake: ignored',
    );
    return {
      outcome: 'ignored',
      kind: analysis?.kind ?? 'other',
      format: analysis?.format ?? null,
      sendId: addr?.sendId ?? null,
      spaceId: addr?.spaceId ?? null,
      bccCopy: addr?.bccCopy ?? false,
      via: null,
      actions: [],
      unmatched: [],
      reason,
      notes: analysis?.notes ?? [],
    };
  }
}

function outcomeOf(send: Send, recipient: SendRecipient, r: RecipientReport, at: Date, extra: Readonly<Record<string, unknown>>): Outcome {
  return {
    send,
    recipient,
    result: resultOfReport(r),
    kind: r.kind,
    status: r.status,
    diagnostic: r.diagnostic,
    source: 'dsn',
    at,
    extra: { action: r.action, ...(r.remoteMta ? { remoteMta: cutText(r.remoteMta, 100) } : {}), ...extra },
  };
}

function logAddr(a: string | null): string | null {
  return a === null ? null : escapeLogValue(a);
}

/** One line saying what the intake did (the pipe command prints it; Postfix logs it). */
export function summariseIntake(r: IntakeResult): string {
  if (r.outcome === 'ignored') {
    const what = r.sendId !== null ? ` (send ${r.sendId}, space ${r.spaceId ?? '?'})` : '';
    return cutText(`ignored ${r.kind}: ${r.reason ?? 'nothing to do'}${what}`, 200);
  }
  const parts = r.actions.map((a) => `${a.address} ${a.event}${a.status ? ` ${a.status}` : ''}${a.listed ? ' listed' : ''}`);
  const more = r.unmatched.length > 0 ? `; ${r.unmatched.length} unmatched` : '';
  return cutText(`recorded ${r.kind} for send ${r.sendId ?? '?'}${r.bccCopy ? ' (BCC copy)' : ''}: ${parts.join(', ')}${more}`, 200);
}
