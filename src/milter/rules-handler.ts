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
 *
 * Nothing lost: the send is recorded before the reply that lets Postfix queue the message,
 * and any doubt (store error, missing queue id, unexpected error) is thrown, which the
 * session turns into 451 4.3.0 — the client retries, nothing was promised.
 *
 * Throws: TransientError (→ 4xx via the session); nothing else on purpose.
 */
import { checkSender, evaluate } from '../core/evaluate.js';
import type { Acceptance, Rejection } from '../core/types.js';
import { TransientError } from '../lib/errors.js';
import type { Account } from '../relay/account.js';
import { loadAccount } from '../relay/account.js';
import type { NewSend, SendRecipient, Store } from '../store/store.js';
import type { MilterEdit, MilterEomResult, MilterHandler, MilterHandlerFactory, MilterMessageContext, MilterReply } from './handler.js';
import { MilterReplies } from './handler.js';
import { milterHeaderEdits } from './header-edits.js';
import { escapeLogValue, errorForLog, type Logger } from '../lib/logger.js';

export interface RulesHandlerDeps {
  readonly store: Store;
  /** The bounce address for a send (HMAC-signed, src/lib/bounce-address.ts). */
  readonly bounceAddress: (spaceId: number, sendId: string) => string;
  readonly logger: Logger;
  readonly clock?: () => Date;
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

  constructor(private readonly deps: RulesHandlerDeps) {}

  async mail(sender: string, _args: readonly string[], macros: { get(name: string): string | undefined }): Promise<MilterReply> {
    this.account = null;
    const login = macros.get('auth_authen');
    if (login === undefined || login === '') return AUTH_REQUIRED;
    const account = await loadAccount(this.deps.store, login);
    if (!account) {
      this.deps.logger.warn({ login: escapeLogValue(login) }, 'authenticated login is not in the store');
      return AUTH_REQUIRED;
    }
    const refused = checkSender(account.facts, sender);
    if (refused) {
      this.deps.logger.info(
        { login: escapeLogValue(login), sender: escapeLogValue(sender), reason: refused.reason },
        'sender refused',
      );
      return rejectionReply(refused);
    }
    this.account = account;
    return MilterReplies.continue;
  }

  async eom(ctx: MilterMessageContext): Promise<MilterEomResult> {
    const { store, logger } = this.deps;
    const account = this.account;
    if (!account || ctx.authUser === null) return { edits: [], reply: AUTH_REQUIRED };
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
      return { edits: [], reply: rejectionReply(verdict) };
    }
    await this.record(account, queueId, mailFrom, verdict);
    const edits: MilterEdit[] = [
      {
        kind: 'chgfrom',
        address: `<${verdict.envelopeSender}>`,
        args: ctx.sender.args.filter((a) => KEPT_MAIL_ARGS.test(a)),
      },
      ...uniqueSpellings(ctx.recipients.map((r) => r.address), verdict.removeRecipients).map(
        (address): MilterEdit => ({ kind: 'delrcpt', address: `<${address}>` }),
      ),
      ...milterHeaderEdits(ctx.headers, verdict.headerEdits),
    ];
    const nothingLeft = verdict.deliverTo.length === 0;
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
      },
      nothingLeft ? 'send accepted, every recipient suppressed: nothing delivered' : 'send accepted',
    );
    return nothingLeft ? { edits: [], reply: MilterReplies.discard } : { edits, reply: MilterReplies.continue };
  }

  abort(): void {
    // The account stays valid for the connection's next MAIL, which reloads it anyway.
    this.account = null;
  }

  private async record(account: Account, id: string, mailFrom: string, v: Acceptance): Promise<void> {
    const receivedAt = (this.deps.clock ?? (() => new Date()))();
    const recipients: SendRecipient[] = v.recipients.map((r) => ({
      address: r.address,
      role: r.role,
      status: r.role === 'discarded' ? 'discarded' : r.suppressed ? 'suppressed' : 'queued',
      suppressedBy: r.suppressed?.list ?? null,
      detail: r.suppressed ? r.suppressed.reason : null,
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

/** Every RCPT spelling whose address is in `remove` (delrcpt matches the original spelling). */
function uniqueSpellings(rcpts: readonly string[], remove: readonly string[]): string[] {
  const wanted = new Set(remove);
  return [...new Set(rcpts.filter((r) => wanted.has(r)))];
}
