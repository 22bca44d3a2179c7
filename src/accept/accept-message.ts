/**
 * The accept step: one message at the end of its transmission, whatever protocol brought it
 * (the milter today; a content filter later). Facts in, outcome out; the adapter translates
 * the outcome to its wire format (src/milter/rules-handler.ts → milter edits).
 *
 *   1. no account (no SASL login, or one the store no longer knows) → reject auth-required;
 *   2. core's verdict (src/core/evaluate.ts) on the envelope and headers, with the
 *      per-From-address flags and the suppression answers from the store → reject: core's reply;
 *   2b. the space's sending limits and pause (core/sending-limits.ts): the recipients the
 *      message will be delivered to are counted in the store in the same transaction that
 *      checks them (reserveSending), so a burst spread over several nodes cannot pass a limit
 *      → reject: core's `sending-limit` (451 4.7.0) or `space-paused` (451 4.7.1). A message
 *      that fails after this (store, re-injection) stays counted: the overshoot is bounded
 *      by the failures, never in the client's favour. A space without limits and pause (its
 *      state as checkLogin read it at MAIL, AcceptFacts.sendingState) has nothing to check:
 *      its recipients are counted with the send's record, in that one transaction (step 5);
 *   3. accept, nobody left to deliver to (every recipient suppressed): the send is recorded and
 *      the outcome is `discard` — the client still gets 250 and the id, nothing is delivered;
 *   4. accept with tracking (core's TrackingPlan; tracking configured; the body kept): the To
 *      copy is rendered with the pixel/links (render-copies.ts); when the plan wants an
 *      untracked BCC copy it is rendered too (and DKIM-signed as a whole message);
 *   5. the send is recorded (one atomic store write) BEFORE the outcome is returned: nothing is
 *      promised to the client that is not in the store; then the BCC copy is handed to Postfix
 *      (the Reinject port) with its own bounce address (`<send id>_b`), and the BCC recipient
 *      is taken out of this transaction. A store failure before the hand-over is a 4xx that
 *      leaves no copy behind, so a client's retries never give the BCC recipient a second
 *      copy; a failed hand-over forgets the send and is a 4xx; after the hand-over only the
 *      note of the copy's queue id may fail, which is logged and the send stays accepted;
 *   6. DKIM (src/dkim/): with the sender domain's active keys (DomainSetup), the To copy's
 *      signatures are computed over its final header fields (every edit applied) and final body
 *      and returned for the adapter to put on top; the BCC copy is signed as a whole message
 *      before it is handed over. Bounce addresses of both copies are in the domain's
 *      return-path host when it has one. A sender domain without an active key: TransientError
 *      (451) unless the space allows unsigned mail (Space.allowUnsigned).
 *
 * One-click unsubscribe (core's oneClickUnsubscribe, README "One-click unsubscribe"): the To
 * copy gets List-Unsubscribe (the signed URL, tracking.unsubscribeUrl, then the mailto: of the
 * send's signed unsubscribe address, tracking.unsubscribeAddress) and
 * List-Unsubscribe-Post: List-Unsubscribe=One-Click, replacing the client's own fields of
 * those names; both are signed by DKIM with the rest. The BCC recipient must not get the To
 * recipient's link: when it receives the message, its copy is rendered and handed over
 * separately even without tracking. Without tracking ports (no http.baseUrl) the fields are
 * not added and a warning is logged.
 *
 * Every accepted message gets REF_HEADER (the local part of its bounce address, HMAC-checked)
 * so a complaint that returns only the original message still finds the send.
 *
 * Spools: the body spool is the caller's. Rendered copies are disposed here on every path but
 * `accept`, where the outcome's `release()` disposes them once the adapter has sent the body.
 *
 * Metrics (ports.metrics): accepted / rejected{stage=eom,reason} / tempfailed (this step threw)
 * and the duration.
 *
 * MIME limits (MAX_MIME_NODES, MAX_HEADER_BLOCK_BYTES) hold for every message with a body:
 * the tracking rewrite enforces them as it reads; when it does not run (tracking off, nobody
 * to deliver to) one counting pass does (src/transform/mime-limits.ts), before the record —
 * skipped for a message too small to break them (mime-limits-bound.ts).
 *
 * Throws: TransientError (store, re-injection, spool I/O: a 4xx), RejectError from the
 * transform (552 5.3.4 past a MIME limit); nothing else on purpose.
 */
import { Readable } from 'node:stream';
import { evaluate, senderDomainOf } from '../core/evaluate.js';
import { rejection } from '../core/replies.js';
import { messageIdOf } from '../core/message-id.js';
import { sendingRejection } from '../core/sending-limits.js';
import { LIST_UNSUBSCRIBE_POST_VALUE, listUnsubscribeValue, unsubscribeDefaultValue } from '../core/unsubscribe.js';
import type { Acceptance, HeaderEdit, HeaderField, Rejection } from '../core/types.js';
import { copySendId } from '../bounce/bounce-address.js';
import { unsubscribeMailto } from '../bounce/unsubscribe-address.js';
import { createBodyHasher, signatureFields, signMessage, type SigningKey } from '../dkim/signer.js';
import { applyEditsToFields } from '../mail/header-block.js';
import { checkMimeLimits } from '../transform/mime-limits.js';
import { InvariantError, TransientError } from '../lib/errors.js';
import { errorForLog, escapeLogValue } from '../lib/logger.js';
import type { Spool } from '../lib/spool.js';
import type { NewSend, SendingState, SendRecipient } from '../store/store.js';
import type { Account } from './account.js';
import type { AcceptPorts, DomainSetup } from './ports.js';
import { withinMimeLimitsBound } from './mime-limits-bound.js';
import { renderCopies, type RenderedCopies } from './render-copies.js';

/**
 * Added to every message trxmail accepts: the local part of its bounce address, so a
 * complaint (ARF) that returns only the original message still finds the send. Any such
 * header from the client is replaced.
 */
export const REF_HEADER = 'X-Trxmail-Ref';

export interface AcceptFacts {
  /** The account behind the SASL login (account.ts checkLogin), or null when there is none. */
  readonly account: Account | null;
  /**
   * The space's sending state checkLogin read for this message (at MAIL), when the adapter
   * has it: a space without limits and pause is admitted without reading it again.
   */
  readonly sendingState?: SendingState;
  /** The id the client sees in the 250 reply; with the milter, Postfix's queue id. */
  readonly sendId: string;
  /** MAIL FROM without angle brackets. */
  readonly mailFrom: string;
  /** RCPT TO addresses in order, as the client gave them, without angle brackets. */
  readonly rcptTo: readonly string[];
  /** Top-level header fields as received (values keep their leading space when headerLeadingSpace). */
  readonly headers: readonly HeaderField[];
  readonly headerLeadingSpace: boolean;
  /** The body as received (after the blank line), ended; null when not kept (no tracking then). */
  readonly body: Spool | null;
}

export type AcceptOutcome =
  | { readonly kind: 'reject'; readonly rejection: Rejection }
  /** Accepted and recorded, but every recipient is suppressed: deliver nothing. */
  | { readonly kind: 'discard'; readonly sendId: string }
  | {
      readonly kind: 'accept';
      readonly sendId: string;
      /** The new envelope sender (the send's bounce address). */
      readonly envelopeSender: string;
      /** RCPT TO addresses (as given) to take out of this transaction. */
      readonly removeRecipients: readonly string[];
      /** Edits of the top-level header block, in order (HeaderEdit semantics, core/types.ts). */
      readonly headerEdits: readonly HeaderEdit[];
      /** The To copy's body, replacing the received one; null to keep the body. */
      readonly body: Spool | null;
      /**
       * DKIM-Signature fields (name and the value after the colon) to put above every other
       * header of the To copy, in this order: they sign it after every edit above.
       */
      readonly signatures: readonly HeaderField[];
      /** Disposes the rendered copies; call once the body was sent on. */
      release(): Promise<void>;
    };

/** What the tracking rendering produced for the To copy, and where its BCC copy went. */
interface Tracked {
  readonly copies: RenderedCopies;
  bccCopyQueueId: string | null;
}

/** The rendered copies, with what the BCC copy's hand-over needs. */
interface Rendered {
  readonly copies: RenderedCopies;
  /** The BCC copy's bounce address (`<send id>_b`). */
  readonly bccBounce: string;
  /** Its DKIM-Signature fields (signed as a whole message). */
  readonly bccSignatures: readonly HeaderField[];
}

/** The BCC recipient's detail while its copy is being handed over. */
const BCC_PENDING = 'separate untracked copy, being handed to Postfix';

/** A sender that core will refuse has no domain setup. */
const NO_SETUP: DomainSetup = { returnPath: null, signingKeys: [] };

/** The send's messageId field: the client's Message-ID when it has a valid one (searches find the send by it). */
function withMessageId(headers: readonly HeaderField[]): { messageId?: string } {
  const id = messageIdOf(headers);
  return id === null ? {} : { messageId: id };
}

function refEdit(bounceAddress: string): HeaderEdit {
  return { op: 'set', name: REF_HEADER, value: bounceAddress.slice(0, bounceAddress.lastIndexOf('@')) };
}

export async function acceptMessage(facts: AcceptFacts, ports: AcceptPorts): Promise<AcceptOutcome> {
  const started = process.hrtime.bigint();
  try {
    const outcome = await decide(facts, ports);
    if (outcome.kind === 'reject') ports.metrics.rejected.inc({ stage: 'eom', reason: outcome.rejection.reason });
    else ports.metrics.accepted.inc();
    return outcome;
  } catch (err: unknown) {
    ports.metrics.tempfailed.inc();
    throw err;
  } finally {
    ports.metrics.eomLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
  }
}

async function decide(facts: AcceptFacts, ports: AcceptPorts): Promise<AcceptOutcome> {
  const { store, logger } = ports;
  const { account, sendId } = facts;
  if (!account) return { kind: 'reject', rejection: rejection('auth-required') };
  const senderDomain = senderDomainOf(account.facts, facts.mailFrom);
  const [fromDefault, suppression, setup] = await Promise.all([
    store.getFromDefault(account.space.id, facts.mailFrom),
    store.lookupSuppression(account.space.id, facts.rcptTo),
    senderDomain === null ? NO_SETUP : ports.domainSetup(account.space.id, senderDomain),
  ]);
  const verdict = evaluate({
    space: account.facts,
    user: account.user.email,
    mailFrom: facts.mailFrom,
    rcptTo: facts.rcptTo,
    headers: facts.headers,
    fromAddressFlags: fromDefault?.flags ?? null,
    suppression,
    unsubscribeDefaults: {
      fromAddress: unsubscribeDefaultValue(fromDefault?.unsubscribe ?? null),
      space: unsubscribeDefaultValue(account.space.unsubscribe),
    },
    bounceAddress: ports.bounceAddress(account.space.id, sendId, setup.returnPath),
  });
  if (verdict.kind === 'reject') {
    logger.info({ queueId: sendId, login: escapeLogValue(account.user.email), reason: verdict.reason }, 'message refused');
    return { kind: 'reject', rejection: verdict };
  }
  const nothingLeft = verdict.deliverTo.length === 0;
  if (!nothingLeft && senderDomain !== null && setup.signingKeys.length === 0 && !account.space.allowUnsigned) {
    // Better late than without the signature the domain's DMARC policy needs: a 4xx, and the
    // client retries once a key is active (`trxmail domain dkim …`) or the space allows it.
    logger.error({ queueId: sendId, space: account.space.name, domain: senderDomain }, 'no active DKIM key for the sender domain: message deferred (451)');
    throw new TransientError('ENODKIMKEY', `no active DKIM key for ${senderDomain}`);
  }
  let sentCount = 0;
  if (!nothingLeft) {
    const reservation = await store.reserveSending(account.space.id, verdict.deliverTo.length, ports.clock(), {
      // Counted with the send, in its transaction (record below), when the space has no limits.
      countWithSend: true,
      ...(facts.sendingState !== undefined ? { knownState: facts.sendingState } : {}),
    });
    if (!reservation.admitted) {
      const refused = sendingRejection(reservation.verdict);
      logger.info({ queueId: sendId, space: account.space.name, reason: refused.reason, usage: reservation.usage }, 'message refused: sending limit or pause');
      return { kind: 'reject', rejection: refused };
    }
    sentCount = reservation.uncounted ?? 0;
  }
  if (facts.body !== null && (nothingLeft || !ports.tracking || !verdict.tracking)) {
    // The tracking rewrite enforces the MIME limits as it reads; without it, one counting pass,
    // unless the message is too small to break them (mime-limits-bound.ts).
    if (!(await withinMimeLimitsBound(facts.headers, facts.body))) await checkMimeLimits(originalMessage(facts, facts.body));
  }
  const unsubscribeEdits = nothingLeft ? [] : oneClickEdits(facts, account, verdict, setup, ports);
  const rendered = nothingLeft ? null : await render(facts, account, verdict, setup, ports, unsubscribeEdits.length > 0);
  const bccCopy = rendered?.copies.bccMessage && verdict.bcc !== null ? { spool: rendered.copies.bccMessage, to: verdict.bcc } : null;
  try {
    // Recorded BEFORE the BCC copy is handed over: a store that fails here costs the client a
    // retry, never a second BCC copy.
    await record(facts, account, verdict, bccCopy ? BCC_PENDING : null, sentCount, ports);
  } catch (err: unknown) {
    await rendered?.copies.dispose();
    throw err;
  }
  const tracked: Tracked | null = rendered ? { copies: rendered.copies, bccCopyQueueId: null } : null;
  if (tracked && rendered && bccCopy) tracked.bccCopyQueueId = await handOverBccCopy(facts, account, bccCopy, rendered, ports, tracked.copies);
  logAccepted(facts, account, verdict, tracked, ports);
  if (nothingLeft) return { kind: 'discard', sendId };
  const bccTakenOut = tracked?.bccCopyQueueId != null && verdict.bcc !== null ? [verdict.bcc] : [];
  const headerEdits = [...verdict.headerEdits, ...(tracked?.copies.toHeaderEdits ?? []), ...unsubscribeEdits, refEdit(verdict.envelopeSender)];
  const body = tracked?.copies.toBody ?? null;
  let signatures: HeaderField[];
  try {
    signatures = await signToCopy(facts, headerEdits, body ?? facts.body, setup.signingKeys, ports);
  } catch (err: unknown) {
    await tracked?.copies.dispose();
    throw err;
  }
  return {
    kind: 'accept',
    sendId,
    envelopeSender: verdict.envelopeSender,
    removeRecipients: [...verdict.removeRecipients, ...bccTakenOut],
    headerEdits,
    body,
    signatures,
    release: () => tracked?.copies.dispose() ?? Promise.resolve(),
  };
}

/**
 * The To copy's DKIM-Signature fields: over its final header fields (the received ones with
 * every edit applied) and its final body (the rendered one, else the received one).
 */
async function signToCopy(
  facts: AcceptFacts,
  edits: readonly HeaderEdit[],
  body: Spool | null,
  keys: readonly SigningKey[],
  ports: AcceptPorts,
): Promise<HeaderField[]> {
  if (keys.length === 0) return [];
  if (body === null) throw new InvariantError('DKIM signing needs the message body: the adapter must keep it');
  const hasher = createBodyHasher();
  for await (const chunk of body.read()) hasher.update(chunk);
  const headers = applyEditsToFields(facts.headers, facts.headerLeadingSpace, edits);
  return signatureFields({ headers, bodyHash: hasher.digest(), keys, time: ports.clock() });
}

/** The message as received: header block, blank line, body. */
async function* originalMessage(facts: AcceptFacts, body: Spool): AsyncGenerator<Buffer> {
  yield Buffer.from(facts.headers.map((f) => `${f.name}:${facts.headerLeadingSpace ? '' : ' '}${f.value}\r\n`).join('') + '\r\n', 'utf8');
  yield* body.read();
}

/** A whole message with `fields` written above it. */
async function* withFieldsAbove(fields: readonly HeaderField[], message: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  if (fields.length > 0) yield Buffer.from(fields.map((f) => `${f.name}:${f.value}\r\n`).join(''), 'utf8');
  yield* message;
}

/** The To copy's one-click unsubscribe fields, or none (not asked for, or not configured). */
function oneClickEdits(facts: AcceptFacts, account: Account, v: Acceptance, setup: DomainSetup, ports: AcceptPorts): HeaderEdit[] {
  if (!v.oneClickUnsubscribe) return [];
  const sign = ports.tracking?.unsubscribeUrl;
  const url = sign ? sign({ spaceId: account.space.id, sendId: facts.sendId, recipient: v.to }) : null;
  // The mailto: form: a signed address in the send's bounce domain (the return-path host when it has one).
  const address = url === null ? null : (ports.tracking?.unsubscribeAddress?.(account.space.id, facts.sendId, setup.returnPath) ?? null);
  const value = url === null ? null : listUnsubscribeValue(url, address === null ? null : unsubscribeMailto(address));
  if (value === null) {
    ports.logger.warn({ queueId: facts.sendId }, 'one-click unsubscribe asked for but not available (http.baseUrl not configured, or the URL cannot be signed): sent without List-Unsubscribe');
    return [];
  }
  return [
    { op: 'set', name: 'List-Unsubscribe', value },
    { op: 'set', name: 'List-Unsubscribe-Post', value: LIST_UNSUBSCRIBE_POST_VALUE },
  ];
}

/**
 * Renders the To copy (and the untracked BCC copy, signed as a whole message) when core's
 * tracking plan applies, or the BCC copy alone when the To copy carries one-click unsubscribe
 * fields the BCC recipient must not get; null when neither applies or nothing was rendered.
 */
async function render(
  facts: AcceptFacts,
  account: Account,
  v: Acceptance,
  setup: DomainSetup,
  ports: AcceptPorts,
  toCopyOwnFields: boolean,
): Promise<Rendered | null> {
  const tracking = ports.tracking;
  const plan = v.tracking;
  const bccReceives = v.bcc !== null && v.deliverTo.includes(v.bcc);
  if (!tracking || !facts.body || (!plan && !(toCopyOwnFields && bccReceives))) return null;
  const sendId = facts.sendId;
  const bccBounce = ports.bounceAddress(account.space.id, copySendId(sendId), setup.returnPath);
  const copies = await renderCopies({
    headers: facts.headers,
    leadingSpace: facts.headerLeadingSpace,
    body: facts.body,
    headerEdits: v.headerEdits,
    tracking: {
      pixelUrl: plan?.open ? tracking.links.pixelUrl(sendId, v.to) : null,
      clickUrl: plan?.click ? (url: string) => tracking.links.clickUrl(sendId, v.to, url) : null,
    },
    wantBccCopy: bccReceives,
    bccCopyEvenUntracked: toCopyOwnFields,
    bccHeaderEdits: [refEdit(bccBounce)],
    newSpool: ports.newSpool,
    logger: ports.logger,
  });
  if (!copies.toBody && !copies.bccMessage) {
    await copies.dispose();
    return null;
  }
  try {
    const bccSignatures = copies.bccMessage ? await signMessage(copies.bccMessage.read(), setup.signingKeys, ports.clock()) : [];
    return { copies, bccBounce, bccSignatures };
  } catch (err: unknown) {
    await copies.dispose();
    throw err;
  }
}

/**
 * Hands the recorded send's BCC copy to Postfix and returns its queue id. When the hand-over
 * fails the send is forgotten (the client is told to retry: nothing was promised) and the
 * error thrown; when only noting the copy's queue id fails, that is logged and the send stays
 * accepted — the copy is in Postfix's hands, and a 4xx now would make the retry send a second.
 */
async function handOverBccCopy(
  facts: AcceptFacts,
  account: Account,
  bcc: { spool: Spool; to: string },
  r: Rendered,
  ports: AcceptPorts,
  copies: RenderedCopies,
): Promise<string> {
  const tracking = ports.tracking;
  if (!tracking) throw new InvariantError('a BCC copy was rendered without tracking ports');
  let queueId: string;
  try {
    queueId = await tracking.reinject({ from: r.bccBounce, to: [bcc.to], raw: Readable.from(withFieldsAbove(r.bccSignatures, bcc.spool.read())) });
  } catch (err: unknown) {
    await copies.dispose();
    await ports.store.forgetSend(facts.sendId, account.space.id).catch((forgetErr: unknown) => {
      ports.logger.error({ queueId: facts.sendId, err: errorForLog(forgetErr) }, 'could not forget a send whose BCC copy was not handed over');
    });
    throw err;
  }
  await ports.store.updateRecipientStatus(facts.sendId, bcc.to, 'queued', `separate untracked copy, queued as ${queueId}`).catch((err: unknown) => {
    ports.logger.warn({ queueId: facts.sendId, bccCopy: queueId, err: errorForLog(err, false) }, 'could not note the BCC copy\'s queue id; the send stays accepted');
  });
  return queueId;
}

async function record(facts: AcceptFacts, account: Account, v: Acceptance, bccDetail: string | null, sentCount: number, ports: AcceptPorts): Promise<void> {
  const recipients: SendRecipient[] = v.recipients.map((r) => ({
    address: r.address,
    role: r.role,
    status: r.role === 'discarded' ? 'discarded' : r.suppressed ? 'suppressed' : 'queued',
    suppressedBy: r.suppressed?.list ?? null,
    detail: r.suppressed
      ? r.suppressed.reason
      : r.role === 'bcc' && bccDetail !== null
        ? bccDetail
        : null,
  }));
  const send: NewSend = {
    id: facts.sendId,
    spaceId: account.space.id,
    userId: account.user.id,
    mailFrom: facts.mailFrom,
    envelopeSender: v.envelopeSender,
    from: v.from,
    to: v.to,
    bcc: v.bcc,
    discarded: v.discarded,
    tags: v.tags,
    flags: v.flags,
    flagsSource: v.flagsSource,
    receivedAt: ports.clock(),
    recipients,
    ...(ports.node !== undefined ? { node: ports.node } : {}),
    ...withMessageId(facts.headers),
    ...(sentCount > 0 ? { sentCount } : {}),
  };
  try {
    // One atomic write: suppression is on the recipients (status, list, reason), so a
    // failure leaves nothing behind and the client's retry starts clean.
    await ports.store.recordSend(send);
  } catch (err: unknown) {
    ports.logger.error({ queueId: facts.sendId, err: errorForLog(err) }, 'could not record the send');
    if (err instanceof TransientError) throw err;
    throw new TransientError('ERECORD', 'could not record the send', { cause: err });
  }
}

function logAccepted(facts: AcceptFacts, account: Account, v: Acceptance, tracked: Tracked | null, ports: AcceptPorts): void {
  ports.logger.info(
    {
      queueId: facts.sendId,
      sendId: facts.sendId,
      space: account.space.name,
      to: escapeLogValue(v.to),
      bcc: v.bcc === null ? null : escapeLogValue(v.bcc),
      discarded: v.discarded.length,
      suppressed: v.recipients.filter((r) => r.suppressed).length,
      flags: v.flags,
      tags: v.tags.map((t) => escapeLogValue(t, 100)),
      tracked: tracked
        ? { links: tracked.copies.linksRewritten, pixel: tracked.copies.pixelInserted, bccCopy: tracked.bccCopyQueueId }
        : null,
    },
    v.deliverTo.length === 0 ? 'send accepted, every recipient suppressed: nothing delivered' : 'send accepted',
  );
}
