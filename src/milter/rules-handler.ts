/**
 * The trxmail milter handler: the rules of the relay applied to each message Postfix
 * receives (architecture.md "The rules being enforced").
 *
 *  MAIL  no SASL login ({auth_authen})      → 530 5.7.0 Authentication required
 *        login unknown to the store          → 530 5.7.0 (the user was removed)
 *        sender not in the space's domains   → core's 553 5.1.7 / 553 5.7.1 reply
 *  EOM   core verdict on envelope + headers:
 *        reject → core's reply (5xx);
 *        accept → record the send under the queue id (macro `i`), then edits: change the
 *        envelope sender to the bounce address (RET/ENVID kept), delete discarded and
 *        suppressed recipients, header edits (From, To, Cc, Bcc, Sender, X-Mxm-*), and
 *        `continue` — or `discard` when no recipient is left (every one suppressed), so
 *        the client still gets "250 … queued as <id>" and nothing is delivered.
 *  Tracking (flags 1/2, To not suppressed, an HTML part that the rewrite tracked): the body
 *        (spooled: memory, then disk) is rendered twice (accept/render-copies.ts). The To
 *        copy replaces Postfix's body (SMFIR_REPLBODY); when there is a BCC recipient, its
 *        untracked copy is handed to Postfix's re-injection listener with its own bounce
 *        address (`<queue id>_b`) FIRST, the BCC is then deleted from this transaction. If
 *        that hand-over fails, the client gets a 4xx for the whole message and nothing is
 *        recorded. (If the record then fails, the client's retry sends the BCC a second
 *        copy: at least once, never lost.)
 *
 * Nothing lost: the send is recorded before the reply that lets Postfix queue the message,
 * and any doubt (store error, missing queue id, unexpected error) is thrown, which the
 * session turns into 451 4.3.0 — the client retries, nothing was promised.
 *
 * Metrics (src/metrics/metrics.ts): accepted / rejected{stage,reason} / tempfailed (this
 * handler threw) and the end-of-message duration.
 *
 * Throws: TransientError (→ 4xx via the session); nothing else on purpose.
 */
import { checkSender, evaluate } from '../core/evaluate.js';
import { Readable } from 'node:stream';
import { FLAG_CLICK_TRACKING, FLAG_OPEN_TRACKING, type Acceptance, type HeaderEdit, type Rejection } from '../core/types.js';
import { copySendId } from '../bounce/bounce-address.js';
import { Spool } from '../lib/spool.js';
import { reinject, type ReinjectTarget } from '../accept/reinject.js';
import { renderTrackedCopies } from '../accept/render-copies.js';
import type { TrackingLinks } from '../tracking/links.js';
import { TransientError } from '../lib/errors.js';
import type { Account } from '../accept/account.js';
import { loadAccount } from '../accept/account.js';
import type { NewSend, SendRecipient, Store } from '../store/store.js';
import type { MilterEdit, MilterEomResult, MilterHandler, MilterHandlerFactory, MilterMessageContext, MilterReply } from './handler.js';
import { MilterReplies } from './handler.js';
import { milterHeaderEdits } from './header-edits.js';
import { escapeLogValue, errorForLog, type Logger } from '../lib/logger.js';
import { metrics } from '../metrics/metrics.js';

export interface RulesHandlerDeps {
  readonly store: Store;
  /** The bounce address for a send (HMAC-signed, src/bounce/bounce-address.ts). */
  readonly bounceAddress: (spaceId: number, sendId: string) => string;
  readonly logger: Logger;
  readonly clock?: () => Date;
  /** Open/click tracking and the BCC copy; null turns tracking off. */
  readonly tracking: TrackingDeps | null;
}

export interface TrackingDeps {
  readonly links: TrackingLinks;
  /** Postfix's re-injection listener. */
  readonly reinject: ReinjectTarget;
  /** Where spools spill to disk. */
  readonly spoolDir: string;
}

/**
 * Added to every message trxmail accepts: the local part of its bounce address (HMAC-checked),
 * so a complaint (ARF) that returns only the original message still finds the send. Any
 * such header from the client is replaced.
 */
export const REF_HEADER = 'X-Trxmail-Ref';

function refEdit(bounceAddress: string): HeaderEdit {
  return { op: 'set', name: REF_HEADER, value: bounceAddress.slice(0, bounceAddress.lastIndexOf('@')) };
}

export const AUTH_REQUIRED: MilterReply = MilterReplies.custom(530, '5.7.0', 'Authentication required');

/** ESMTP MAIL parameters that survive the sender change (Postfix keeps these two). */
const KEPT_MAIL_ARGS = /^(RET|ENVID)=/i;

function rejectionReply(r: Rejection): MilterReply {
  return MilterReplies.custom(r.code, r.enhanced, r.text);
}

export function createRulesHandler(deps: RulesHandlerDeps): MilterHandlerFactory {
  return () => new RulesHandler(deps);
}

class RulesHandler implements MilterHandler {
  private account: Account | null = null;
  private bodySpool: Spool | null = null;
  /** Spools of the last message, whose body the session may still be sending to Postfix. */
  private leftovers: Array<{ dispose(): Promise<void> }> = [];

  constructor(private readonly deps: RulesHandlerDeps) {}

  async body(chunk: Buffer): Promise<undefined> {
    const tracking = this.deps.tracking;
    if (!tracking) return undefined;
    this.bodySpool ??= new Spool(tracking.spoolDir);
    await this.bodySpool.write(chunk);
    return undefined;
  }

  private async cleanup(): Promise<void> {
    const items = [...this.leftovers, ...(this.bodySpool ? [this.bodySpool] : [])];
    this.leftovers = [];
    this.bodySpool = null;
    await Promise.all(items.map((i) => i.dispose().catch((err: unknown) => this.deps.logger.warn({ err: errorForLog(err) }, 'could not remove a spool file'))));
  }

  async mail(sender: string, _args: readonly string[], macros: { get(name: string): string | undefined }): Promise<MilterReply> {
    this.account = null;
    await this.cleanup();
    const login = macros.get('auth_authen');
    if (login === undefined || login === '') {
      metrics.rejected.inc({ stage: 'mail', reason: 'auth-required' });
      return AUTH_REQUIRED;
    }
    const account = await loadAccount(this.deps.store, login);
    if (!account) {
      this.deps.logger.warn({ login: escapeLogValue(login) }, 'authenticated login is not in the store');
      metrics.rejected.inc({ stage: 'mail', reason: 'auth-required' });
      return AUTH_REQUIRED;
    }
    const refused = checkSender(account.facts, sender);
    if (refused) {
      this.deps.logger.info(
        { login: escapeLogValue(login), sender: escapeLogValue(sender), reason: refused.reason },
        'sender refused',
      );
      metrics.rejected.inc({ stage: 'mail', reason: refused.reason });
      return rejectionReply(refused);
    }
    this.account = account;
    return MilterReplies.continue;
  }

  async eom(ctx: MilterMessageContext): Promise<MilterEomResult> {
    const started = process.hrtime.bigint();
    try {
      const { eom, reason } = await this.decideEom(ctx);
      if (reason === null) metrics.accepted.inc();
      else metrics.rejected.inc({ stage: 'eom', reason });
      return eom;
    } catch (err: unknown) {
      metrics.tempfailed.inc();
      throw err;
    } finally {
      metrics.eomLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  /** eom's work; `reason` names the rejection for the metrics, null when accepted. */
  private async decideEom(ctx: MilterMessageContext): Promise<{ eom: MilterEomResult; reason: string | null }> {
    const { store, logger } = this.deps;
    const account = this.account;
    if (!account || ctx.authUser === null) return { eom: { edits: [], reply: AUTH_REQUIRED }, reason: 'auth-required' };
    const queueId = ctx.queueId;
    if (queueId === null || queueId === '') throw new TransientError('ENOQUEUEID', 'no queue id (macro i) at end of message');
    const mailFrom = ctx.sender.address;
    const rcptTo = ctx.recipients.map((r) => r.address);
    const [fromAddressFlags, suppression] = await Promise.all([
      store.getFromFlags(account.space.id, mailFrom),
      store.lookupSuppression(account.space.id, rcptTo),
    ]);
    const verdict = evaluate({
      space: account.facts,
      user: account.user.email,
      mailFrom,
      rcptTo,
      headers: ctx.headers,
      fromAddressFlags,
      suppression,
      bounceAddress: this.deps.bounceAddress(account.space.id, queueId),
    });
    if (verdict.kind === 'reject') {
      logger.info({ queueId, login: escapeLogValue(account.user.email), reason: verdict.reason }, 'message refused');
      return { eom: { edits: [], reply: rejectionReply(verdict) }, reason: verdict.reason };
    }
    const nothingLeft = verdict.deliverTo.length === 0;
    const tracked = nothingLeft ? null : await this.track(ctx, account, queueId, verdict);
    await this.record(account, queueId, mailFrom, verdict, tracked?.bccCopyQueueId ?? null);
    const remove = [...verdict.removeRecipients, ...(tracked?.bccCopyQueueId ? [verdict.bcc ?? ''] : [])];
    const edits: MilterEdit[] = [
      {
        kind: 'chgfrom',
        address: `<${verdict.envelopeSender}>`,
        args: ctx.sender.args.filter((a) => KEPT_MAIL_ARGS.test(a)),
      },
      ...uniqueSpellings(
        ctx.recipients.map((r) => r.address),
        remove,
      ).map((address): MilterEdit => ({ kind: 'delrcpt', address: `<${address}>` })),
      ...milterHeaderEdits(ctx.headers, [...verdict.headerEdits, ...(tracked?.toHeaderEdits ?? []), refEdit(verdict.envelopeSender)]),
      ...(tracked?.toBody ? [{ kind: 'replbody', body: tracked.toBody.read() } as const] : []),
    ];
    logger.info(
      {
        queueId,
        sendId: queueId,
        space: account.space.name,
        to: escapeLogValue(verdict.to),
        bcc: verdict.bcc === null ? null : escapeLogValue(verdict.bcc),
        discarded: verdict.discarded.length,
        suppressed: verdict.recipients.filter((r) => r.suppressed).length,
        flags: verdict.flags,
        tags: verdict.tags.map((t) => escapeLogValue(t, 100)),
        tracked: tracked?.toBody ? { links: tracked.linksRewritten, pixel: tracked.pixelInserted, bccCopy: tracked.bccCopyQueueId } : null,
      },
      nothingLeft ? 'send accepted, every recipient suppressed: nothing delivered' : 'send accepted',
    );
    return { eom: nothingLeft ? { edits: [], reply: MilterReplies.discard } : { edits, reply: MilterReplies.continue }, reason: null };
  }

  async abort(): Promise<void> {
    this.account = null;
    await this.cleanup();
  }

  async close(): Promise<void> {
    await this.cleanup();
  }

  /**
   * Renders the To copy (and the untracked BCC copy, handed to Postfix at once) when
   * tracking applies to this message; null when it does not or the rewrite tracked nothing.
   */
  private async track(
    ctx: MilterMessageContext,
    account: Account,
    queueId: string,
    v: Acceptance,
  ): Promise<{ toBody: Spool | null; toHeaderEdits: readonly HeaderEdit[]; bccCopyQueueId: string | null; linksRewritten: number; pixelInserted: boolean } | null> {
    const tracking = this.deps.tracking;
    const open = (v.flags & FLAG_OPEN_TRACKING) !== 0;
    const click = (v.flags & FLAG_CLICK_TRACKING) !== 0;
    if (!tracking || (!open && !click) || !v.deliverTo.includes(v.to) || !this.bodySpool) return null;
    // Only a text/html or multipart message can hold an HTML part: skip the rendering
    // (two passes through the transform) for everything else, e.g. plain text.
    if (!mayHoldHtml(ctx.headers)) return null;
    const body = this.bodySpool;
    await body.end();
    const wantBccCopy = v.bcc !== null && v.deliverTo.includes(v.bcc);
    const bccBounce = this.deps.bounceAddress(account.space.id, copySendId(queueId));
    const copies = await renderTrackedCopies({
      headers: ctx.headers,
      leadingSpace: ctx.headerLeadingSpace,
      body,
      verdict: v,
      tracking: {
        pixelUrl: open ? tracking.links.pixelUrl(queueId, v.to) : null,
        clickUrl: click ? (url) => tracking.links.clickUrl(queueId, v.to, url) : null,
      },
      wantBccCopy,
      bccHeaderEdits: [refEdit(bccBounce)],
      spoolDir: tracking.spoolDir,
      logger: this.deps.logger,
    });
    this.leftovers.push(copies);
    if (!copies.toBody) return null;
    let bccCopyQueueId: string | null = null;
    if (copies.bccMessage && v.bcc !== null) {
      bccCopyQueueId = await reinject(tracking.reinject, {
        from: bccBounce,
        to: [v.bcc],
        raw: Readable.from(copies.bccMessage.read()),
      });
    }
    return { toBody: copies.toBody, toHeaderEdits: copies.toHeaderEdits, bccCopyQueueId, linksRewritten: copies.linksRewritten, pixelInserted: copies.pixelInserted };
  }

  private async record(account: Account, id: string, mailFrom: string, v: Acceptance, bccCopyQueueId: string | null): Promise<void> {
    const receivedAt = (this.deps.clock ?? (() => new Date()))();
    const recipients: SendRecipient[] = v.recipients.map((r) => ({
      address: r.address,
      role: r.role,
      status: r.role === 'discarded' ? 'discarded' : r.suppressed ? 'suppressed' : 'queued',
      suppressedBy: r.suppressed?.list ?? null,
      detail: r.suppressed
        ? r.suppressed.reason
        : r.role === 'bcc' && bccCopyQueueId !== null
          ? `separate untracked copy, queued as ${bccCopyQueueId}`
          : null,
    }));
    const send: NewSend = {
      id,
      spaceId: account.space.id,
      userId: account.user.id,
      mailFrom,
      envelopeSender: v.envelopeSender,
      from: v.from,
      to: v.to,
      bcc: v.bcc,
      discarded: v.discarded,
      tags: v.tags,
      flags: v.flags,
      flagsSource: v.flagsSource,
      receivedAt,
      recipients,
    };
    try {
      // One atomic write: suppression is on the recipients (status, list, reason), so a
      // failure leaves nothing behind and the client's retry starts clean.
      await this.deps.store.recordSend(send);
    } catch (err: unknown) {
      this.deps.logger.error({ queueId: id, err: errorForLog(err) }, 'could not record the send');
      if (err instanceof TransientError) throw err;
      throw new TransientError('ERECORD', 'could not record the send', { cause: err });
    }
  }
}

/** False when the top-level Content-Type (RFC 2045 default: text/plain) rules out any HTML part. */
function mayHoldHtml(headers: readonly { name: string; value: string }[]): boolean {
  const ct = headers.find((h) => h.name.toLowerCase() === 'content-type');
  if (!ct) return false;
  return /^\s*(multipart\/|text\/html\b)/i.test(ct.value);
}

/** Every RCPT spelling whose address is in `remove` (delrcpt matches the original spelling). */
function uniqueSpellings(rcpts: readonly string[], remove: readonly string[]): string[] {
  const wanted = new Set(remove);
  return [...new Set(rcpts.filter((r) => wanted.has(r)))];
}
