/**
 * The trxmail milter handler: translates between the milter session (src/milter/session.ts)
 * and the protocol-neutral accept step (src/accept/accept-message.ts).
 *
 *  MAIL  checkLogin (src/accept/account.ts): a login the store does not know, or a sender
 *        outside the space's domains → core's reply (530 5.7.0, 553 5.1.7, 553 5.7.1).
 *        No SASL login ({auth_authen}) on a submission service (`{daemon_name}` ORIGINATING,
 *        587 and 465 in postfix/master.cf) → 530 5.7.0 Authentication required. Elsewhere (port
 *        25, where other mail servers deliver bounces and complaints to the bounce domains
 *        without AUTH) continue: Postfix's restrictions refuse every other recipient at RCPT
 *        and EOM checks again;
 *  BODY  kept in a spool (memory, then disk): the accept step hashes it for the DKIM signature
 *        and may render the To copy and the BCC copy from it;
 *  EOM   no SASL login: every recipient in a bounce domain (`isBounceDomain`: the bounce
 *        domain or a return-path host) → continue without any edit (Postfix hands the message
 *        to the bounce intake); any other recipient → 530 5.7.0 Authentication required (the
 *        relay stays closed should Postfix's restrictions let one through);
 *        no queue id (macro `i`) → TransientError (451: no id, no promise);
 *        the accept step's outcome →
 *          reject  → core's reply;
 *          discard → SMFIR_DISCARD (the client still gets "250 … queued as <id>");
 *          accept  → change the envelope sender (RET/ENVID kept; not when it would not change),
 *                    delete the recipients the outcome takes out (every RCPT spelling of them),
 *                    header edits as index edits (header-edits.ts), then insert the
 *                    DKIM-Signature fields at the top (after the edits: a deleted client
 *                    DKIM-Signature must not be ours), the To copy's body (SMFIR_REPLBODY) when
 *                    tracking rendered one, then continue.
 *
 * What Postfix sends (negotiate.ts): MAIL (answered: the login check refuses there), RCPT and
 * the header fields (not answered), the body (not answered: `replyLater`, a spool failure is
 * the reply to end-of-message), end-of-message; not C (`needsConnectInfo: false`), HELO, DATA,
 * end-of-headers or unknown commands. The body is always needed: the accept step checks the
 * MIME limits of every message over it, signs its hash and may render copies from it, so
 * SMFIR_SKIP never applies.
 *
 * Spools (the body, the rendered copies) are released at the next MAIL, at abort and at
 * close: the session may still be streaming the replacement body to Postfix after eom().
 *
 * Throws: TransientError (→ 4xx via the session); RejectError from the accept step.
 */
import { checkLogin, type Account } from '../accept/account.js';
import { acceptMessage } from '../accept/accept-message.js';
import type { AcceptPorts } from '../accept/ports.js';
import { normaliseDomain } from '../core/domain.js';
import { rejection } from '../core/replies.js';
import type { Rejection } from '../core/types.js';
import { TransientError } from '../lib/errors.js';
import { errorForLog, escapeLogValue } from '../lib/logger.js';
import type { Spool } from '../lib/spool.js';
import type { SendingState, Store } from '../store/store.js';
import type {
  MilterDeferrableEvent,
  MilterEdit,
  MilterEomResult,
  MilterHandler,
  MilterHandlerFactory,
  MilterMessageContext,
  MilterReply,
} from './handler.js';
import { MilterReplies } from './handler.js';
import { milterHeaderEdits } from './header-edits.js';

export interface RulesHandlerDeps extends AcceptPorts {
  /** The store for the login check at MAIL (the accept step uses `store` too). */
  readonly accounts: Pick<Store, 'getAccount' | 'getSendingState'>;
  /** True for a lower-case A-label domain whose mail goes to the bounce intake (the bounce domain, a return-path host). */
  readonly isBounceDomain: (domain: string) => boolean;
  /** A spool for a message body, bounded by the message size limit (trxmail.yaml messageSizeLimit). */
  readonly newBodySpool: () => Spool;
}

/**
 * `{daemon_name}` of the submission services (master.cf `-o milter_macro_daemon_name=ORIGINATING`,
 * the usual mark of "mail from our own users"): a client without a login is refused at MAIL.
 */
export const SUBMISSION_DAEMON_NAME = 'ORIGINATING';

/** ESMTP MAIL parameters that survive the sender change (Postfix keeps these two). */
const KEPT_MAIL_ARGS = /^(RET|ENVID)=/i;

function rejectionReply(r: Rejection): MilterReply {
  return MilterReplies.custom(r.code, r.enhanced, r.text);
}

export function createRulesHandler(deps: RulesHandlerDeps): MilterHandlerFactory {
  return () => new RulesHandler(deps);
}

class RulesHandler implements MilterHandler {
  /** body() only spools: a spool failure can wait for end-of-message (NR_BODY). */
  readonly replyLater: readonly MilterDeferrableEvent[] = ['body'];
  /** eom() does not read the connect information: Postfix need not send C (NOCONNECT). */
  readonly needsConnectInfo = false;
  /** The login checked at MAIL: its account, and the space's sending state read with it (the accept step need not read it again). */
  private login: { readonly account: Account; readonly sending: SendingState } | null = null;
  /** MAIL came without a SASL login: only mail for the bounce domains may pass (see eom). */
  private unauthenticated = false;
  private bodySpool: Spool | null = null;
  /** What the last message left to release, once the session has sent its body on. */
  private leftovers: Array<() => Promise<void>> = [];

  constructor(private readonly deps: RulesHandlerDeps) {}

  async body(chunk: Buffer): Promise<undefined> {
    if (this.unauthenticated) return undefined; // passed on unchanged or refused: nothing to keep
    this.bodySpool ??= this.deps.newBodySpool();
    // The session hands each chunk over (a private buffer): kept without a copy.
    await this.bodySpool.write(chunk, true);
    return undefined;
  }

  private async cleanup(): Promise<void> {
    const body = this.bodySpool;
    const items = [...this.leftovers, ...(body ? [() => body.dispose()] : [])];
    this.leftovers = [];
    this.bodySpool = null;
    await Promise.all(items.map((release) => release().catch((err: unknown) => this.deps.logger.warn({ err: errorForLog(err) }, 'could not remove a spool file'))));
  }

  async mail(sender: string, _args: readonly string[], macros: { get(name: string): string | undefined }): Promise<MilterReply> {
    this.login = null;
    await this.cleanup();
    const login = macros.get('auth_authen') ?? null;
    this.unauthenticated = login === null || login === '';
    if (this.unauthenticated && macros.get('daemon_name') !== SUBMISSION_DAEMON_NAME) return MilterReplies.continue;
    const checked = await checkLogin(this.deps.accounts, login, sender);
    if (checked.rejection) {
      const r = checked.rejection;
      if (r.reason === 'auth-required' && login !== null && login !== '') {
        this.deps.logger.warn({ login: escapeLogValue(login) }, 'authenticated login is not in the store');
      } else if (r.reason !== 'auth-required') {
        this.deps.logger.info({ login: escapeLogValue(login ?? ''), sender: escapeLogValue(sender), reason: r.reason }, 'sender refused');
      }
      this.deps.metrics.rejected.inc({ stage: 'mail', reason: r.reason });
      return rejectionReply(r);
    }
    this.login = { account: checked.account, sending: checked.sending };
    return MilterReplies.continue;
  }

  async eom(ctx: MilterMessageContext): Promise<MilterEomResult> {
    if (this.unauthenticated || ctx.authUser === null) return this.unauthenticatedEom(ctx);
    const queueId = ctx.queueId;
    if (this.login && ctx.authUser !== null && (queueId === null || queueId === '')) {
      this.deps.metrics.tempfailed.inc();
      throw new TransientError('ENOQUEUEID', 'no queue id (macro i) at end of message');
    }
    await this.bodySpool?.end();
    const outcome = await acceptMessage(
      {
        account: ctx.authUser === null || this.login === null ? null : this.login.account,
        ...(this.login !== null ? { sendingState: this.login.sending } : {}),
        sendId: queueId ?? '',
        mailFrom: ctx.sender.address,
        rcptTo: ctx.recipients.map((r) => r.address),
        headers: ctx.headers,
        headerLeadingSpace: ctx.headerLeadingSpace,
        body: this.bodySpool,
      },
      this.deps,
    );
    switch (outcome.kind) {
      case 'reject':
        return { edits: [], reply: rejectionReply(outcome.rejection) };
      case 'discard':
        return { edits: [], reply: MilterReplies.discard };
      case 'accept': {
        this.leftovers.push(() => outcome.release());
        // No sender change that would write the same sender with the same parameters.
        const sameSender = outcome.envelopeSender === ctx.sender.address && ctx.sender.args.every((a) => KEPT_MAIL_ARGS.test(a));
        const edits: MilterEdit[] = [
          ...(sameSender
            ? []
            : [{ kind: 'chgfrom', address: `<${outcome.envelopeSender}>`, args: ctx.sender.args.filter((a) => KEPT_MAIL_ARGS.test(a)) } as const]),
          ...uniqueSpellings(
            ctx.recipients.map((r) => r.address),
            outcome.removeRecipients,
          ).map((address): MilterEdit => ({ kind: 'delrcpt', address: `<${address}>` })),
          // Header edits before the signatures: Postfix applies edits in order and counts an
          // inserted field in later SMFIR_CHGHEADER indexes, so deleting the client's
          // DKIM-Signature after ours went in would delete ours.
          ...milterHeaderEdits(ctx.headers, outcome.headerEdits, ctx.headerLeadingSpace),
          // DKIM-Signature fields at the very top (index 0, above Postfix's own Received:), last first
          // so that they end in the outcome's order.
          ...outcome.signatures
            .map((f): MilterEdit => ({ kind: 'insheader', index: 0, name: f.name, value: f.value.replace(/^ /, '') }))
            .reverse(),
          ...(outcome.body ? [{ kind: 'replbody', body: outcome.body.read() } as const] : []),
        ];
        return { edits, reply: MilterReplies.continue };
      }
    }
  }

  /** A message without a SASL login: passed on unchanged when it is for the bounce domains only. */
  private unauthenticatedEom(ctx: MilterMessageContext): MilterEomResult {
    const isBounceDomain = this.deps.isBounceDomain;
    const ours = (address: string): boolean => {
      const domain = normaliseDomain(address.slice(address.lastIndexOf('@') + 1));
      return address.includes('@') && domain !== null && isBounceDomain(domain);
    };
    if (ctx.recipients.length > 0 && ctx.recipients.every((r) => ours(r.address))) {
      this.deps.logger.info({ queueId: ctx.queueId ?? '', sender: escapeLogValue(ctx.sender.address) }, 'unauthenticated message for the bounce domains passed on');
      return { edits: [], reply: MilterReplies.continue };
    }
    this.deps.metrics.rejected.inc({ stage: 'eom', reason: 'auth-required' });
    return { edits: [], reply: rejectionReply(rejection('auth-required')) };
  }

  async abort(): Promise<void> {
    this.login = null;
    this.unauthenticated = false;
    await this.cleanup();
  }

  async close(): Promise<void> {
    await this.cleanup();
  }
}

/** Every RCPT spelling whose address is in `remove` (delrcpt matches the original spelling). */
function uniqueSpellings(rcpts: readonly string[], remove: readonly string[]): string[] {
  const wanted = new Set(remove);
  return [...new Set(rcpts.filter((r) => wanted.has(r)))];
}
