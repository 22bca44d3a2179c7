/**
 * Bounce and complaint analysis: what a message that came back to the bounce domain says.
 * The pure half of issue 5 — the intake (intake.ts: LMTP, pipe command, store updates) and
 * the `bounce parse` CLI call `analyseMessage` and act on its result.
 *
 * Order of reading (mime.ts parses; report parts are looked for outside returned originals):
 *  1. A message/feedback-report part → ARF (RFC 5965), format 'arf'. Feedback-Type abuse and
 *     fraud are complaints (kind 'complaint': the recipient told their provider the mail is
 *     unwanted or a scam); not-spam, virus (a scanner's finding, not the recipient's wish),
 *     auth-failure, other and unknown types are kind 'other' with the notes
 *     'feedback-ignored' and 'feedback-type:<type>'. The complained-about recipients are the
 *     Original-Rcpt-To addresses, else the To of the returned original
 *     ('rcpt-from-original-to'); redacted ones are dropped.
 *  2. A message/delivery-status or message/global-delivery-status part → DSN (RFC 3464,
 *     RFC 6533), format 'dsn' (dsn.ts). kind 'bounce' covers failure, delay and success
 *     reports alike; each recipient carries its own kind. A status part without a readable
 *     recipient falls back to the text heuristics (note 'dsn-unreadable').
 *  3. Otherwise the text: an auto-reply (heuristics.ts autoReplySignal, and no bounce marker)
 *     is kind 'other' (note 'auto-reply'); qmail/Exim/Exchange/generic text bounces and
 *     X-Failed-Recipients are format 'heuristic'; a message with a bounce marker (daemon
 *     sender, bounce subject, Return-Path: <>, …) but no readable recipient is kind 'bounce',
 *     format null, note 'no-recipients'; anything else is 'other' ('not-a-bounce').
 *     A multipart/report; report-type=delivery-status without its status part adds
 *     'no-delivery-status'.
 *
 * Bounce address: the envelope recipient when given, else the first Delivered-To,
 * X-Original-To, Envelope-To, X-Envelope-To, To address that verifies, else the first in the
 * bounce domain, else the first at all ('no-bounce-address' when there is none). Decoded with
 * decodeBounceAddress; the `_b` suffix of a BCC copy's send id is split off (bccCopy).
 * A forged address is still analysed: `ok: false` with the reason, and the intake does
 * nothing with it.
 * Ref: X-Trxmail-Ref of the returned original (DSN/ARF part 3: message/rfc822,
 * message/global, text/rfc822-headers, message/global-headers), else an `X-Trxmail-Ref:` line
 * in the text (qmail and Exim quote the original inline); decoded as
 * `<ref>@<bounce domain>`. Notes 'no-original' / 'no-ref' say why it is null.
 *
 * Notes (machine-readable, in the order found): truncated, mime-limit, no-bounce-address,
 * no-original, no-ref, no-delivery-status, dsn-unreadable, no-recipients, recipient-unreadable,
 * recipients-truncated, status-from-diagnostic, status-inferred, no-status, no-action,
 * auto-reply, not-a-bounce, feedback-ignored, feedback-type:<t>, no-feedback-type,
 * rcpt-from-original-to, no-complaint-recipient.
 *
 * Limits: the first MAX_BOUNCE_BYTES bytes are analysed (note 'truncated' past them);
 * MAX_BOUNCE_RECIPIENTS recipients; MAX_BOUNCE_TEXT_BYTES of a text part for the heuristics;
 * MIME limits in mime.ts.
 *
 * Pure: no I/O, no clock. Never throws on input: garbage is kind 'other'.
 */
import { decodeWordsSafe, parseAddressList } from '../../core/address.js';
import { normaliseDomain, splitAddress } from '../../core/domain.js';
import { asBounceDomains, decodeBounceAddress, sendOfBounceId, type BounceDomains } from '../bounce-address.js';
import type { HmacKey } from '../../lib/hmac-keys.js';
import { MAX_ADDRESS_LENGTH, MAX_BOUNCE_BYTES, MAX_BOUNCE_DIAGNOSTIC_LENGTH, MAX_BOUNCE_TEXT_BYTES } from '../../lib/limits.js';
import { classifyBounce } from '../../core/bounce-reason.js';
import type { ComplaintReport, DecodedBounceAddress, MessageAnalysis, ParsedRecipient, RecipientReport } from './analysis-types.js';
import { dedupe, parseDeliveryStatus } from './dsn.js';
import { autoReplySignal, bounceMarkers, failedRecipientsFallback, htmlToText, parseTextBounce } from './heuristics.js';
import { EMBEDDED_MESSAGE_TYPES, allValues, entityText, firstValue, parseMime, walkEntities, type MimeEntity } from '../../mail/mime-reader.js';
import { blockValue, blockValues, oneLine, parseFieldBlocks, plausibleAddress, type ReportField } from './report-fields.js';

export type { ComplaintReport, DecodedBounceAddress, MessageAnalysis, RecipientAction, RecipientReport } from './analysis-types.js';

export interface AnalyseOptions {
  /** The envelope recipient (LMTP RCPT TO, pipe(8) ${original_recipient}); undefined when unknown. */
  readonly envelopeRecipient?: string | undefined;
  /** Configured HMAC keys (first signs, all verify). */
  readonly keys: readonly HmacKey[];
  /** The bounce domain, or every domain bounce addresses live in (bounce-address.ts BounceDomains). */
  readonly bounceDomain: string | BounceDomains;
}

const DELIVERY_STATUS_TYPES: ReadonlySet<string> = new Set(['message/delivery-status', 'message/global-delivery-status']);
/** Header fields that may name the address the message was delivered to, in the order tried. */
const DESTINATION_FIELDS = ['delivered-to', 'x-original-to', 'envelope-to', 'x-envelope-to', 'to'] as const;
/** Feedback types that are complaints about the recipient getting the mail. */
const COMPLAINT_FEEDBACK_TYPES: ReadonlySet<string> = new Set(['abuse', 'fraud']);
/** Field blocks read from a feedback report (it is one block; a few stray blank lines are tolerated). */
const MAX_FEEDBACK_BLOCKS = 8;

/** Analyse a message that came back to the bounce domain. Never throws on input. */
export function analyseMessage(raw: Buffer, opts: AnalyseOptions): MessageAnalysis {
  const notes: string[] = [];
  let data = raw;
  if (raw.length > MAX_BOUNCE_BYTES) {
    data = raw.subarray(0, MAX_BOUNCE_BYTES);
    notes.push('truncated');
  }
  const { root, limited } = parseMime(data);
  if (limited) notes.push('mime-limit');
  const ctx = new Context(root, opts, notes);
  const bounceAddress = ctx.bounceAddress();

  const feedbackPart = ctx.top.find((e) => e.contentType === 'message/feedback-report');
  if (feedbackPart !== undefined) return ctx.arf(feedbackPart, bounceAddress);

  const statusPart = ctx.top.find((e) => DELIVERY_STATUS_TYPES.has(e.contentType));
  if (statusPart !== undefined) {
    const dsn = parseDeliveryStatus(entityText(statusPart, MAX_BOUNCE_BYTES));
    notes.push(...dsn.notes);
    if (dsn.recipients.length > 0) {
      return ctx.result('bounce', 'dsn', bounceAddress, ctx.ref(), dsn.recipients, null);
    }
    notes.push('dsn-unreadable');
  } else if (root.contentType === 'multipart/report' && (root.params['report-type'] ?? '').toLowerCase() === 'delivery-status') {
    notes.push('no-delivery-status');
  }
  return ctx.text(bounceAddress, statusPart !== undefined);
}

class Context {
  /** Entities outside returned originals, in document order. */
  readonly top: MimeEntity[];
  readonly #domains: BounceDomains;

  constructor(
    readonly root: MimeEntity,
    readonly opts: AnalyseOptions,
    readonly notes: string[],
  ) {
    this.top = walkEntities(root, false);
    this.#domains = asBounceDomains(opts.bounceDomain);
  }

  result(
    kind: MessageAnalysis['kind'],
    format: MessageAnalysis['format'],
    bounceAddress: DecodedBounceAddress | null,
    ref: DecodedBounceAddress | null,
    recipients: readonly ParsedRecipient[],
    complaint: ComplaintReport | null,
  ): MessageAnalysis {
    return { kind, format, bounceAddress, ref, recipients: recipients.map(withReason), complaint, notes: dedupe(this.notes) };
  }

  /** True when `address` is in our bounce domain (never reported as a bounced recipient). */
  readonly isOurs = (address: string): boolean => {
    const parts = splitAddress(address);
    const domain = parts === null ? null : normaliseDomain(parts.domain);
    return domain !== null && this.#domains.has(domain);
  };

  decode(address: string): DecodedBounceAddress {
    const shown = oneLine(address, MAX_ADDRESS_LENGTH);
    const r = decodeBounceAddress(address, this.opts.keys, this.opts.bounceDomain);
    if (!r.ok) return { address: shown, ok: false, reason: r.reason };
    const { sendId, bccCopy } = sendOfBounceId(r.sendId);
    return { address: shown, ok: true, spaceId: r.spaceId, sendId, bccCopy };
  }

  bounceAddress(): DecodedBounceAddress | null {
    const given = this.opts.envelopeRecipient?.trim().replace(/^<(.*)>$/, '$1').trim();
    if (given !== undefined && given !== '') return this.decode(given);
    const candidates: string[] = [];
    for (const key of DESTINATION_FIELDS) {
      for (const value of allValues(this.root.fields, key)) {
        for (const m of parseAddressList(value).mailboxes) candidates.push(m.address);
      }
    }
    let inDomain: DecodedBounceAddress | null = null;
    let first: DecodedBounceAddress | null = null;
    for (const c of candidates) {
      const d = this.decode(c);
      if (d.ok) return d;
      if (inDomain === null && this.isOurs(c)) inDomain = d;
      first ??= d;
    }
    if (inDomain === null && first === null) this.notes.push('no-bounce-address');
    return inDomain ?? first;
  }

  /** The returned original: the message inside the first message/rfc822-like part outside other originals. */
  original(): MimeEntity | null {
    for (const e of this.top) if (EMBEDDED_MESSAGE_TYPES.has(e.contentType) && e.embedded !== null) return e.embedded;
    return null;
  }

  /** The decoded X-Trxmail-Ref of the returned original, else of an inline copy in the text. */
  ref(): DecodedBounceAddress | null {
    const original = this.original();
    let value = original === null ? null : firstValue(original.fields, 'x-trxmail-ref');
    if (value === null) {
      for (const e of this.top) {
        if (!e.contentType.startsWith('text/') || EMBEDDED_MESSAGE_TYPES.has(e.contentType)) continue;
        const m = /^X-Trxmail-Ref:[ \t]*(\S+)/im.exec(entityText(e, MAX_BOUNCE_TEXT_BYTES));
        if (m !== null) {
          value = m[1] as string;
          break;
        }
      }
    }
    if (value === null) {
      this.notes.push(original === null ? 'no-original' : 'no-ref');
      return null;
    }
    const token = (value.trim().split(/[\s;]/)[0] ?? '').replace(/^<(.*)>$/, '$1');
    return this.decode(`${token}@${this.#domains.primary}`);
  }

  /** The human-readable text: the first text/plain part, else the first text/html as text. */
  humanText(): string {
    const plain = this.top.find((e) => e.contentType === 'text/plain');
    if (plain !== undefined) return entityText(plain, MAX_BOUNCE_TEXT_BYTES);
    const html = this.top.find((e) => e.contentType === 'text/html');
    return html === undefined ? '' : htmlToText(entityText(html, MAX_BOUNCE_TEXT_BYTES));
  }

  text(bounceAddress: DecodedBounceAddress | null, hadStatusPart: boolean): MessageAnalysis {
    const fields = this.root.fields;
    const markers = bounceMarkers(fields, this.root.contentType) || hadStatusPart;
    if (autoReplySignal(fields) !== null && !markers) {
      this.notes.push('auto-reply');
      return this.result('other', null, bounceAddress, null, [], null);
    }
    const text = this.humanText();
    const found =
      parseTextBounce(text, { markers, exclude: this.isOurs }) ??
      failedRecipientsFallback(allValues(fields, 'x-failed-recipients'), text, this.isOurs);
    if (found !== null) {
      this.notes.push(...found.notes);
      return this.result('bounce', 'heuristic', bounceAddress, this.ref(), found.recipients, null);
    }
    if (hadStatusPart) {
      this.notes.push('no-recipients');
      return this.result('bounce', 'dsn', bounceAddress, this.ref(), [], null);
    }
    if (markers) {
      // It says it is a bounce (daemon sender, bounce subject, …) but names no recipient we can
      // read: report it as such, so the gap shows in the intake's log instead of "not a bounce".
      this.notes.push('no-recipients');
      return this.result('bounce', null, bounceAddress, this.ref(), [], null);
    }
    this.notes.push('not-a-bounce');
    return this.result('other', null, bounceAddress, null, [], null);
  }

  arf(part: MimeEntity, bounceAddress: DecodedBounceAddress | null): MessageAnalysis {
    const { blocks } = parseFieldBlocks(entityText(part, MAX_BOUNCE_BYTES), MAX_FEEDBACK_BLOCKS);
    const fields: ReportField[] = blocks.flat();
    const ref = this.ref();
    const typeValue = blockValue(fields, 'feedback-type');
    const feedbackType = (typeValue ?? '').trim().toLowerCase().split(/[\s;(]/)[0] ?? '';
    if (feedbackType === '') {
      this.notes.push('no-feedback-type');
      return this.result('other', 'arf', bounceAddress, ref, [], null);
    }
    if (!COMPLAINT_FEEDBACK_TYPES.has(feedbackType)) {
      this.notes.push('feedback-ignored', `feedback-type:${oneLine(feedbackType, 64)}`);
      return this.result('other', 'arf', bounceAddress, ref, [], null);
    }
    const complaint: ComplaintReport = {
      feedbackType,
      userAgent: optionalLine(blockValue(fields, 'user-agent')),
      originalRcptTo: this.complainedRecipients(blockValues(fields, 'original-rcpt-to')),
      originalMailFrom: reportAddress(blockValue(fields, 'original-mail-from')),
      arrivalDate: optionalLine(blockValue(fields, 'arrival-date') ?? blockValue(fields, 'received-date')),
    };
    return this.result('complaint', 'arf', bounceAddress, ref, [], complaint);
  }

  complainedRecipients(rcptTo: readonly string[]): string[] {
    const out = new Map<string, string>();
    for (const v of rcptTo) {
      const a = reportAddress(v);
      if (a !== null && !isRedacted(a)) out.set(a.toLowerCase(), a);
    }
    if (out.size === 0) {
      const original = this.original();
      for (const v of original === null ? [] : allValues(original.fields, 'to')) {
        for (const m of parseAddressList(decodeWordsSafe(v)).mailboxes) {
          const a = plausibleAddress(m.address);
          if (a !== null && !isRedacted(a)) out.set(a.toLowerCase(), a);
        }
      }
      this.notes.push(out.size > 0 ? 'rcpt-from-original-to' : 'no-complaint-recipient');
    }
    return [...out.values()];
  }
}

/** An address field of a report (`<a@b>`, `a@b`, `rfc822; a@b`); null when empty or unusable. */
function reportAddress(value: string | null): string | null {
  if (value === null) return null;
  let a = value.trim();
  const typed = /^[A-Za-z0-9-]+;\s*(.*)$/.exec(a);
  if (typed !== null) a = (typed[1] as string).trim();
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1).trim();
  return plausibleAddress(a);
}

/** Providers that hide the complainant write "redacted" (AOL) or mask the local part. */
function isRedacted(address: string): boolean {
  const local = address.slice(0, address.lastIndexOf('@'));
  return /redacted/i.test(address) || /^[x*#.]+$/i.test(local);
}

function optionalLine(value: string | null): string | null {
  if (value === null) return null;
  const s = oneLine(value, MAX_BOUNCE_DIAGNOSTIC_LENGTH);
  return s === '' ? null : s;
}

/** The one place a reported recipient gets its bounce reason (core/bounce-reason.ts). */
function withReason(r: ParsedRecipient): RecipientReport {
  if (r.kind === 'success') return { ...r, reason: null, reasonRule: null };
  const c = classifyBounce({ action: r.action, status: r.status, diagnostic: r.diagnostic });
  return { ...r, reason: c.reason, reasonRule: c.rule };
}
