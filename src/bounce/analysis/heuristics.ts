/**
 * Bounces without a machine-readable delivery-status part, read from their text, and the
 * header signals that tell a bounce from an auto-reply.
 *
 * Reading, on the human-readable text before the returned original (text-collector.ts
 * splitAtOriginal):
 *  1. a delivery-status report written into the text itself (Amazon WorkMail and others
 *     paste `Final-Recipient:` / `Action:` / `Status:` blocks into text/plain): read as a DSN;
 *  2. the templates of text-templates.ts, each recognising its family by its wording, in
 *     this order: Exchange 2007+ diagnostics, Gmail, Exim/GMX, Lotus Notes, Exchange 2003;
 *     then, only with a bounce marker, Zoho, IMail, `<addr>:` paragraphs (qmail look-alikes,
 *     Postfix, Yahoo), Sendmail transcripts, and the generic reply-line reading;
 *  3. X-Failed-Recipients (Exim, Gmail) when no template read a recipient.
 * Status, kind and reason of each recipient: text-collector.ts.
 *
 * Auto-replies (RFC 3834 Auto-Submitted: auto-replied, X-Autoreply / X-Autorespond,
 * Precedence: auto_reply, "Out of office"/"Automatic reply"/… subjects) are never bounces —
 * but Exim and Postfix also mark their bounces Auto-Submitted: auto-replied, so an auto-reply
 * signal counts only when no strong bounce marker (MAILER-DAEMON/postmaster sender, a bounce
 * subject, X-Failed-Recipients, multipart/report) is present. `Return-Path: <>` is a weak
 * marker: RFC 3834 asks auto-replies to use the null sender too.
 *
 * Limits: the caller hands at most MAX_BOUNCE_TEXT_BYTES of text; MAX_BOUNCE_RECIPIENTS
 * recipients are kept (note 'recipients-truncated'). All regular expressions are linear
 * (no nested quantifiers over the same characters) and run per line.
 *
 * Pure: no I/O. Never throws.
 */
import { decodeWordsSafe, parseAddressList } from '../../core/address.js';
import { MAX_BOUNCE_DIAGNOSTIC_LENGTH } from '../../lib/limits.js';
import { decodeAttributeValue } from '../../mail/html-entities.js';
import { firstValue, type MimeField } from '../../mail/mime-reader.js';
import { parseDeliveryStatus, type DeliveryStatusResult } from './dsn.js';
import { oneLine } from './report-fields.js';
import { Collector, PERMANENT_RE, splitAtOriginal, type TextBounce, type TextBounceOptions } from './text-collector.js';
import { angleParagraphs, exchange, exchange2003, exim, firstReplyLine, generic, gmail, imail, lotus, sendmail, zoho } from './text-templates.js';

export { splitAtOriginal } from './text-collector.js';
export type { TextBounce, TextBounceOptions, TextTemplate } from './text-collector.js';

/** Read recipients from a bounce's text; null when no template or generic line matches. */
export function parseTextBounce(text: string, opts: TextBounceOptions): TextBounce | null {
  const { head } = splitAtOriginal(text);
  const ex = opts.exclude;
  const found = exchange(head, ex) ?? gmail(head, ex) ?? exim(head, ex) ?? lotus(head, ex) ?? exchange2003(head, ex) ?? angleParagraphs(head, ex, opts.markers);
  if (found !== null || !opts.markers) return found;
  return zoho(head, ex) ?? imail(head, ex) ?? sendmail(head, ex) ?? generic(head, ex);
}

const DSN_IN_TEXT_RE = /^(?:Final|Original)-Recipient:[ \t]*\S/im;

/**
 * A delivery-status report pasted into the text (its field blocks at line starts); null when
 * the text has no Final-Recipient/Original-Recipient field or no readable recipient.
 */
export function deliveryStatusInText(text: string): DeliveryStatusResult | null {
  const m = DSN_IN_TEXT_RE.exec(text);
  if (m === null) return null;
  const dsn = parseDeliveryStatus(text.slice(m.index));
  return dsn.recipients.length === 0 ? null : dsn;
}

/**
 * Recipients from X-Failed-Recipients (Exim, Gmail) when the text named none: status from the
 * first SMTP reply in the text, else 5.0.0 when the text says the failure is permanent, else
 * null (soft).
 */
export function failedRecipientsFallback(values: readonly string[], text: string, exclude: TextBounceOptions['exclude']): TextBounce | null {
  const { head } = splitAtOriginal(text);
  const joined = head.join('\n');
  const reply = firstReplyLine(head);
  const permanent = PERMANENT_RE.test(joined);
  const c = new Collector(exclude);
  for (const value of values) {
    for (const m of parseAddressList(value).mailboxes) c.add(m.address, 'failed', reply, permanent, joined);
  }
  return c.result('generic');
}

const AUTO_REPLY_SUBJECT_RE =
  /^\s*(?:\[?auto(?:matic)?[- ]?(?:reply|response|responder|antwort)\]?|out of (?:the )?office|automatic reply|autoreply|autoresponse|auto:|vacation|on vacation|abwesenheits?notiz|abwesend|automatische antwort|r[ée]ponse automatique|absence|respuesta autom[áa]tica|fuori sede|risposta automatica|afwezig|automatisch antwoord|autosvar|automatisk svar|automaattinen vastaus|resposta autom[áa]tica|odpowied[źz] automatyczna)(?=\W|$)/i;
const BOUNCE_SUBJECT_RE =
  /\b(?:undeliver(?:able|ed)|nondeliverable|delivery (?:status notification|failure|failed|has failed|problem|notification)|returned (?:mail|to sender)|mail delivery (?:failed|failure|system)|failure notice|non[- ]?delivery|could not be delivered|could not send message|delivery incomplete|mail system error|delayed mail|message not delivered)\b/i;
const DAEMON_LOCAL_RE = /^(?:mailer[-_]?daemon|mail[-_]?daemon|postmaster|mdaemon|mail[-_]?delivery[-_]?(?:system|subsystem)?)$/i;
const AUTO_REPLY_FIELDS: ReadonlySet<string> = new Set(['x-autoreply', 'x-autorespond', 'x-autoresponder', 'x-autoreply-from', 'x-vacation']);

/** Why the header looks like an auto-reply (RFC 3834 and common vendor headers/subjects), or null. */
export function autoReplySignal(fields: readonly MimeField[]): string | null {
  const autoSubmitted = (firstValue(fields, 'auto-submitted') ?? '').trim().toLowerCase();
  if (autoSubmitted.startsWith('auto-replied')) return 'auto-submitted';
  for (const f of fields) if (AUTO_REPLY_FIELDS.has(f.key)) return f.key;
  if ((firstValue(fields, 'x-autogenerated') ?? '').trim().toLowerCase() === 'reply') return 'x-autogenerated';
  const precedence = (firstValue(fields, 'precedence') ?? '').trim().toLowerCase();
  if (precedence === 'auto_reply') return 'precedence';
  if (AUTO_REPLY_SUBJECT_RE.test(subjectOf(fields))) return 'subject';
  return null;
}

/**
 * How strongly the header says the message is a bounce: 'strong' for multipart/report,
 * X-Failed-Recipients, a bounce subject or a daemon sender; 'weak' for a null Return-Path
 * alone (auto-replies use it too, RFC 3834 3.3); null for none.
 */
export function bounceEvidence(fields: readonly MimeField[], contentType: string): 'strong' | 'weak' | null {
  if (contentType === 'multipart/report') return 'strong';
  if (firstValue(fields, 'x-failed-recipients') !== null) return 'strong';
  if (BOUNCE_SUBJECT_RE.test(subjectOf(fields))) return 'strong';
  const from = firstValue(fields, 'from');
  if (from !== null) {
    for (const m of parseAddressList(from).mailboxes) if (DAEMON_LOCAL_RE.test(m.local)) return 'strong';
  }
  const returnPath = firstValue(fields, 'return-path');
  if (returnPath !== null && /^<?\s*>?$/.test(returnPath.trim())) return 'weak';
  return null;
}

/** True when the header shows the message is a bounce (bounceEvidence strong or weak). */
export function bounceMarkers(fields: readonly MimeField[], contentType: string): boolean {
  return bounceEvidence(fields, contentType) !== null;
}

function subjectOf(fields: readonly MimeField[]): string {
  return oneLine(decodeWordsSafe(firstValue(fields, 'subject') ?? ''), MAX_BOUNCE_DIAGNOSTIC_LENGTH);
}

/** Crude text of an HTML part for the heuristics: block ends become line breaks, tags go, entities are decoded. */
export function htmlToText(html: string): string {
  // Drop <script>/<style> contents with one forward scan (no backtracking regex).
  let kept = '';
  let pos = 0;
  const lower = html.toLowerCase();
  for (;;) {
    const open = /<(script|style)\b/g;
    open.lastIndex = pos;
    const m = open.exec(lower);
    if (m === null) break;
    kept += html.slice(pos, m.index);
    const close = lower.indexOf(`</${m[1] as string}`, m.index);
    if (close < 0) {
      pos = html.length;
      break;
    }
    const end = lower.indexOf('>', close);
    pos = end < 0 ? html.length : end + 1;
  }
  kept += html.slice(pos);
  const text = kept.replace(/<\/?(?:br|p|div|tr|li|h[1-6])\b[^<>]*>/gi, '\n').replace(/<[^<>]*>/g, '');
  return decodeAttributeValue(text);
}
