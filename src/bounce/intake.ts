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
 *     nothing: docs/architecture.md "forged bounces cannot put an address on the Bounce list");
 *  3. bounce, per reported recipient, matched to the send's recipients case-insensitively
 *     (Final-Recipient, else Original-Recipient; a bounce of the BCC copy, send id `<id>_b`,
 *     is the send's BCC recipient whatever address the report names). Each failed or delayed
 *     recipient carries its bounce reason (the analysis: classifyBounce, core/bounce-reason.ts),
 *     stored on the recipient and in the event's detail with the rule that decided it:
 *       hard (5.X.Y, failed) → status 'bounced', event 'bounced' (kind 'hard');
 *       soft, Action delayed → status 'deferred', event 'deferred';
 *       soft, Action failed (4.X.Y: the MTA gave up, e.g. Postfix's queue lifetime expired)
 *               → status 'bounced', event 'bounced' with kind 'soft';
 *       success (delivered/relayed/expanded) → status 'delivered', event 'delivered' (reason
 *               cleared, the address's mailbox-full streak ended).
 *     The address goes on the space's Bounce list ONLY for an address-level permanent reason
 *     (user-unknown, mailbox-disabled, host-unknown, moved: `hard bounce user-unknown 5.1.1:
 *     <diagnostic, cut>`), or for 'mailbox-full' once it persists past
 *     bounces.mailboxFullListAfter (core/bounce-listing.ts). Sender-side reasons (blocked,
 *     auth-failure, content-rejected, policy, rate-limited) are recorded on the send (status
 *     'bounced' with that reason: "blocked" in reports) and never list the address;
 *     complaint (ARF abuse) → Bounce list entry `complaint (<feedback type>)` and event
 *     'complained' for Original-Rcpt-To when it is one of the send's recipients, else the
 *     send's To (the BCC copy's: its BCC); the recipient's status is left alone;
 *     anything else (not a bounce, forged, unknown send) → nothing; logged at info.
 *  0. before all that: an envelope recipient that is a send's signed unsubscribe address
 *     (unsubscribe-address.ts, the mailto: of List-Unsubscribe) is an unsubscribe of the send's
 *     To recipient (unsubscribe-intake.ts); the message is not analysed. One that does not
 *     verify is treated like any unknown local part: analysed as above.
 *
 * Status rules (DeliveryRecorder in src/delivery/recorder.ts, shared with the maillog follower):
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
import type { HmacKey } from '../lib/hmac-keys.js';
import type { BounceDomains } from './bounce-address.js';
import { MAX_BOUNCE_BYTES } from '../lib/limits.js';
import { errorForLog, escapeLogValue, type Logger } from '../lib/logger.js';
import type { Spool } from '../lib/spool.js';
import type { Send, SendRecipient, Store } from '../store/store.js';
import { decodeUnsubscribeAddress } from './unsubscribe-address.js';
import { unsubscribeByMail } from './unsubscribe-intake.js';
import { analyseMessage, type MessageAnalysis, type RecipientReport } from './analysis/analyse.js';
import { DeliveryRecorder, cutText, matchRecipient, type Clock, type DeliveryRecorderOptions, type IntakeAction, type Outcome } from '../delivery/recorder.js';

/** The SMTP/LMTP envelope of the message as Postfix handed it over. */
export interface IntakeEnvelope {
  /** MAIL FROM ('' for the null sender) or null when unknown. */
  readonly mailFrom: string | null;
  /** The envelope recipient: the bounce address the message was delivered to. */
  readonly rcptTo: string | null;
}

export interface IntakeResult {
  /** 'recorded': at least one recipient matched, or an unsubscribe held; 'ignored': nothing changed (see reason). */
  readonly outcome: 'recorded' | 'ignored';
  /** 'unsubscribe': a mail to a send's unsubscribe address (not analysed). */
  readonly kind: MessageAnalysis['kind'] | 'unsubscribe';
  readonly format: MessageAnalysis['format'];
  readonly sendId: string | null;
  readonly spaceId: number | null;
  readonly bccCopy: boolean;
  /** Where the send id came from. */
  readonly via: 'bounce-address' | 'ref' | 'unsubscribe-address' | null;
  /** For kind 'unsubscribe': whether this mail put the To recipient on the Unsubscribe list or it was there already. */
  readonly unsubscribe?: 'unsubscribed' | 'already-unsubscribed';
  readonly actions: readonly IntakeAction[];
  /** Reported recipients that are not the send's (ignored). */
  readonly unmatched: readonly string[];
  /** Why nothing was recorded (machine-readable), null when something was. */
  readonly reason: string | null;
  readonly notes: readonly string[];
}

export type AnalyseFn = (raw: Buffer, opts: { envelopeRecipient?: string | undefined; keys: readonly HmacKey[]; bounceDomain: string | BounceDomains }) => MessageAnalysis;

export interface BounceIntakeOptions {
  readonly store: Store;
  readonly keys: readonly HmacKey[];
  readonly bounceDomain: string | BounceDomains;
  readonly logger: Logger;
  readonly clock?: Clock;
  /** The analysis (default analyseMessage); tests may pass another. */
  readonly analyse?: AnalyseFn;
  /** Shared with the maillog follower so both serialise per send (default: a new one with `recorderOptions`). */
  readonly recorder?: DeliveryRecorder;
  /** For the default recorder: bounces.mailboxFullListAfter. */
  readonly recorderOptions?: DeliveryRecorderOptions;
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
  readonly #bounceDomain: string | BounceDomains;
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
    this.recorder = opts.recorder ?? new DeliveryRecorder(opts.store, opts.recorderOptions);
  }

  async process(raw: Buffer | Spool, envelope: IntakeEnvelope): Promise<IntakeResult> {
    // A send's signed unsubscribe address: an unsubscribe, never a bounce. A forged or edited
    // one goes on like any other unknown local part of the bounce domain.
    const unsub = decodeUnsubscribeAddress(envelope.rcptTo, this.#keys, this.#bounceDomain);
    if (unsub.ok) return this.#unsubscribe(unsub);
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
        actions: actions.map((a) => ({ rcpt: escapeLogValue(a.address), event: a.event, status: a.status, reason: a.reason, listed: a.listed, listing: a.listing })),
        unmatched: unmatched.slice(0, 5).map((u) => escapeLogValue(u)),
        ...(result.reason ? { reason: result.reason } : {}),
      },
      result.outcome === 'recorded' ? 'bounce intake: recorded' : 'bounce intake: ignored',
    );
    return result;
  }

  async #unsubscribe(ref: { spaceId: number; sendId: string }): Promise<IntakeResult> {
    const r = await unsubscribeByMail({ store: this.#store, logger: this.#log, at: this.#clock() }, ref);
    const held = r.outcome !== 'ignored';
    return {
      outcome: held ? 'recorded' : 'ignored',
      kind: 'unsubscribe',
      format: null,
      sendId: ref.sendId,
      spaceId: ref.spaceId,
      bccCopy: false,
      via: 'unsubscribe-address',
      ...(held ? { unsubscribe: r.outcome } : {}),
      actions: [],
      unmatched: [],
      reason: held ? null : r.reason,
      notes: [],
    };
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
    reason: r.reason,
    reasonRule: r.reasonRule,
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
  if (r.kind === 'unsubscribe' && r.outcome === 'recorded') {
    const what = r.unsubscribe === 'unsubscribed' ? 'unsubscribed the To recipient' : 'the To recipient was unsubscribed already';
    return `recorded unsubscribe for send ${r.sendId ?? '?'}: ${what}`;
  }
  if (r.outcome === 'ignored') {
    const what = r.sendId !== null ? ` (send ${r.sendId}, space ${r.spaceId ?? '?'})` : '';
    return cutText(`ignored ${r.kind}: ${r.reason ?? 'nothing to do'}${what}`, 200);
  }
  const parts = r.actions.map((a) => `${a.address} ${a.event}${a.status ? ` ${a.status}` : ''}${a.reason ? ` ${a.reason}` : ''}${a.listed ? ' listed' : ''}`);
  const more = r.unmatched.length > 0 ? `; ${r.unmatched.length} unmatched` : '';
  return cutText(`recorded ${r.kind} for send ${r.sendId ?? '?'}${r.bccCopy ? ' (BCC copy)' : ''}: ${parts.join(', ')}${more}`, 200);
}
