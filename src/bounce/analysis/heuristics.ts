/**
 * Bounces without a machine-readable delivery-status part, read from their text, and the
 * header signals that tell a bounce from an auto-reply.
 *
 * Templates, tried in this order on the human-readable text (the part of it before the
 * returned original, see ORIGINAL_SEPARATORS):
 *  - qmail (QSBMF, cr.yp.to/proto/qsbmf.txt): "Hi. This is the qmail-send program at …",
 *    then one paragraph per recipient: `<addr>:` and the reason ("Remote host said: 550 5.1.1
 *    …", "Sorry, no mailbox here by that name. (#5.1.1)").
 *  - Exim: "This message was created automatically by mail delivery software." then, after
 *    "The following address(es) failed:" (or "…has not yet been delivered…" for a delay
 *    warning), each address on a line indented by 1–3 spaces and its details (host, "SMTP
 *    error from remote mail server after RCPT TO:…", the reply) indented by 4 or more.
 *  - Exchange / Office 365 text: after "Diagnostic information for administrators:", an
 *    address alone on a line followed by `#550 5.1.1 RESOLVER… ##`, "Remote Server returned
 *    '550 5.1.10 …'" or "… Server at X returned '…'".
 *  - generic (only with a bounce marker, see `bounceMarkers`): a line quoting an SMTP reply
 *    with an enhanced status code (`550 5.1.1`, `550-5.1.1`, `#5.1.1`) and an address on the
 *    same line (or alone on the line before).
 *
 * Status and kind: the reply's status (dsn.ts statusFromText: enhanced code, qmail's (#x.y.z),
 * or a bare reply code as x.0.0). When a recipient has none, a template that states the
 * failure is permanent ("This is a permanent error", "failed permanently") gives 5.0.0 (note
 * 'status-inferred'); otherwise the status stays null and the recipient is soft (note
 * 'no-status'): never hard without evidence. Exim delay warnings are Action delayed (soft);
 * everything else is Action failed.
 *
 * Auto-replies (RFC 3834 Auto-Submitted: auto-replied, X-Autoreply / X-Autorespond,
 * Precedence: auto_reply, "Out of office"/"Automatic reply"/… subjects) are never bounces —
 * but Exim and Postfix also mark their bounces Auto-Submitted: auto-replied, so an auto-reply
 * signal counts only when no bounce marker (MAILER-DAEMON/postmaster sender, a bounce
 * subject, X-Failed-Recipients, Return-Path: <>, multipart/report) is present.
 *
 * Limits: the caller hands at most MAX_BOUNCE_TEXT_BYTES of text; MAX_BOUNCE_RECIPIENTS
 * recipients are kept (note 'recipients-truncated'). All regular expressions are linear
 * (no nested quantifiers over the same characters) and run per line.
 *
 * Pure: no I/O. Never throws.
 */
import { decodeWordsSafe, parseAddressList } from '../../core/address.js';
import { MAX_BOUNCE_DIAGNOSTIC_LENGTH, MAX_BOUNCE_RECIPIENTS } from '../../lib/limits.js';
import { decodeAttributeValue } from '../../mail/html-entities.js';
import type { ParsedRecipient, RecipientAction } from './analysis-types.js';
import { cleanDiagnostic, kindOf, replyStart, statusFromText } from './dsn.js';
import { firstValue, type MimeField } from '../../mail/mime-reader.js';
import { oneLine, plausibleAddress } from './report-fields.js';

export type TextTemplate = 'qmail' | 'exim' | 'exchange' | 'generic';

export interface TextBounce {
  readonly template: TextTemplate;
  readonly recipients: ParsedRecipient[];
  readonly notes: string[];
}

export interface TextBounceOptions {
  /** A bounce marker is present (bounceMarkers): the generic reading is allowed. */
  readonly markers: boolean;
  /** Addresses never reported as recipients (our own bounce domain). */
  readonly exclude: (address: string) => boolean;
}

/** Lines that start the returned original (or its headers) in a text bounce. */
const ORIGINAL_SEPARATORS: readonly RegExp[] = [
  /^\s*-{2,}\s*Below this line is a copy of the message/i, // qmail
  /^\s*-{2,}\s*Enclosed (?:is a copy of the message|are the original headers)/i, // qmail variants
  /^\s*-{2,}\s*This is a copy of the message/i, // Exim
  /^\s*-{2,}\s*The header of the original message is following/i, // Exim "headers only"
  /^\s*Original message headers:?\s*$/i, // Exchange
  /^\s*-{2,}\s*(?:Original|Returned|Undelivered) message\b/i, // Gmail, Sendmail, others
  /^\s*-{2,}\s*Forwarded message\b/i,
];

/** The lines of `text` before the returned original, and the rest. */
export function splitAtOriginal(text: string): { head: string[]; tail: string[] } {
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (ORIGINAL_SEPARATORS.some((re) => re.test(line))) return { head: lines.slice(0, i), tail: lines.slice(i + 1) };
  }
  return { head: lines, tail: [] };
}

const PERMANENT_RE = /\b(?:this is a permanent error|permanent (?:error|failure)|failed permanently)\b/i;

class Collector {
  readonly recipients: ParsedRecipient[] = [];
  readonly notes: string[] = [];
  private readonly seen = new Set<string>();
  constructor(private readonly exclude: (address: string) => boolean) {}

  add(address: string, action: RecipientAction, detail: string, permanent: boolean): void {
    const a = plausibleAddress(address);
    if (a === null || this.exclude(a)) return;
    const key = a.toLowerCase();
    if (this.seen.has(key)) return;
    if (this.recipients.length >= MAX_BOUNCE_RECIPIENTS) {
      if (!this.notes.includes('recipients-truncated')) this.notes.push('recipients-truncated');
      return;
    }
    this.seen.add(key);
    let status = statusFromText(detail);
    if (status === null && permanent && action === 'failed') {
      status = '5.0.0';
      this.notes.push('status-inferred');
    }
    if (status === null) this.notes.push('no-status');
    // From the SMTP reply on, when there is one: the text before it ("host mx [ip] SMTP error
    // from remote mail server after RCPT TO:<a>:") says less than the reply and would use up
    // the length the intake keeps.
    const at = replyStart(detail);
    this.recipients.push({
      recipient: a,
      originalRecipient: null,
      action,
      status,
      kind: kindOf(action, status),
      diagnostic: cleanDiagnostic(at > 0 ? detail.slice(at) : detail),
      remoteMta: null,
    });
  }

  result(template: TextTemplate): TextBounce | null {
    if (this.recipients.length === 0) return null;
    return { template, recipients: this.recipients, notes: [...new Set(this.notes)] };
  }
}

/** Split lines into paragraphs (runs of non-blank lines). */
function paragraphs(lines: readonly string[]): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  for (const line of lines) {
    if (line.trim() === '') {
      if (cur.length > 0) out.push(cur);
      cur = [];
    } else {
      cur.push(line);
    }
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

function qmail(head: readonly string[], exclude: TextBounceOptions['exclude']): TextBounce | null {
  if (!head.some((l) => /\bThis is the qmail-send program\b/i.test(l))) return null;
  const permanent = PERMANENT_RE.test(head.join(' '));
  const c = new Collector(exclude);
  for (const para of paragraphs(head)) {
    const m = /^<([^<>\s]+)>:\s*(.*)$/.exec(para[0] as string);
    if (m === null) continue;
    const detail = [m[2] as string, ...para.slice(1)].join(' ');
    c.add(m[1] as string, 'failed', detail, permanent);
  }
  return c.result('qmail');
}

const EXIM_ENTRY_RE = /^ {1,3}<?([^\s<>@]+@[^\s<>]+?)>?(?:\s.*)?$/;

function exim(head: readonly string[], exclude: TextBounceOptions['exclude']): TextBounce | null {
  const start = head.findIndex((l) => /This message was created automatically by mail delivery software/i.test(l));
  if (start < 0) return null;
  const intro = head.join(' ');
  const delayed = /has not yet been delivered/i.test(intro) && !/could not be delivered/i.test(intro);
  const permanent = !delayed && PERMANENT_RE.test(intro);
  const c = new Collector(exclude);
  const entries: { address: string; details: string[] }[] = [];
  let open = false;
  for (const line of head.slice(start + 1)) {
    if (line.trim() === '') continue;
    const entry = EXIM_ENTRY_RE.exec(line);
    if (entry !== null) {
      entries.push({ address: entry[1] as string, details: [] });
      open = true;
      continue;
    }
    const last = entries[entries.length - 1];
    if (open && last !== undefined && /^\s{4,}\S/.test(line)) {
      last.details.push(line.trim());
      continue;
    }
    open = false;
  }
  for (const e of entries) c.add(e.address, delayed ? 'delayed' : 'failed', e.details.join(' '), permanent);
  return c.result('exim');
}

/** The reply an Exchange diagnostic line quotes, or null. */
function exchangeReply(line: string): string | null {
  // "Remote Server returned '550 5.1.10 …'", "7/7/2026 3:58:12 PM - Server at X returned '550 …'"
  const quoted = /\breturned '([^]*)'$/i.exec(line);
  if (quoted !== null) return quoted[1] as string;
  // "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##"
  if (line.startsWith('#')) {
    let r = line.slice(1).trimEnd();
    while (r.endsWith('#')) r = r.slice(0, -1);
    return r.trim();
  }
  return null;
}

function exchange(head: readonly string[], exclude: TextBounceOptions['exclude']): TextBounce | null {
  const start = head.findIndex((l) => /^\s*Diagnostic information for administrators:?\s*$/i.test(l));
  if (start < 0) return null;
  const c = new Collector(exclude);
  let address: string | null = null;
  for (const line of head.slice(start + 1)) {
    const t = line.trim();
    if (t === '' || /^(?:Generating|Receiving) server:/i.test(t)) continue;
    const alone = /^<?([^\s<>@]+@[^\s<>]+?)>?$/.exec(t);
    if (alone !== null) {
      address = alone[1] as string;
      continue;
    }
    if (address === null) continue;
    const reply = exchangeReply(t);
    if (reply !== null && statusFromText(reply) !== null) {
      c.add(address, 'failed', reply, false);
      address = null;
    }
  }
  return c.result('exchange');
}

const ANGLE_ADDR_RE = /<([^\s<>@]+@[^\s<>@]+)>/;
const BARE_ADDR_RE = /(?<![\w.+-])([\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/;
const STATUS_LINE_RE = /(?<![\w.=/])(?:[245]\d\d[ -]#?[245]\.\d{1,3}\.\d{1,3}|\(#[245]\.\d{1,3}\.\d{1,3}\))(?![\d.])/;

function generic(head: readonly string[], exclude: TextBounceOptions['exclude']): TextBounce | null {
  const c = new Collector(exclude);
  let previous = '';
  for (const line of head) {
    if (line.trim() === '') continue;
    if (STATUS_LINE_RE.test(line)) {
      const inLine = ANGLE_ADDR_RE.exec(line) ?? BARE_ADDR_RE.exec(line);
      const before = /^\s*<?([^\s<>@]+@[^\s<>]+?)>?:?\s*$/.exec(previous);
      const address = inLine?.[1] ?? before?.[1] ?? null;
      if (address !== null) c.add(address, 'failed', line.trim(), false);
    }
    previous = line;
  }
  return c.result('generic');
}

/** Read recipients from a bounce's text; null when no template or generic line matches. */
export function parseTextBounce(text: string, opts: TextBounceOptions): TextBounce | null {
  const { head } = splitAtOriginal(text);
  return qmail(head, opts.exclude) ?? exim(head, opts.exclude) ?? exchange(head, opts.exclude) ?? (opts.markers ? generic(head, opts.exclude) : null);
}

/**
 * Recipients from X-Failed-Recipients (Exim, Gmail) when the text named none: status from the
 * first SMTP reply in the text, else 5.0.0 when the text says the failure is permanent, else
 * null (soft).
 */
export function failedRecipientsFallback(values: readonly string[], text: string, exclude: TextBounceOptions['exclude']): TextBounce | null {
  const { head } = splitAtOriginal(text);
  const joined = head.join('\n');
  const reply = head.find((l) => STATUS_LINE_RE.test(l)) ?? '';
  const permanent = PERMANENT_RE.test(joined);
  const c = new Collector(exclude);
  for (const value of values) {
    for (const m of parseAddressList(value).mailboxes) c.add(m.address, 'failed', reply, permanent);
  }
  return c.result('generic');
}

const AUTO_REPLY_SUBJECT_RE =
  /^\s*(?:out of (?:the )?office|automatic reply|auto(?:matic)?[- ]?(?:reply|response|antwort)|autoreply|autoresponse|vacation|on vacation|abwesenheits?notiz|abwesend|r[ée]ponse automatique|absence|respuesta autom[áa]tica|fuori sede|risposta automatica|afwezig|automatisch antwoord)\b/i;
const BOUNCE_SUBJECT_RE =
  /\b(?:undeliver(?:able|ed)|delivery (?:status notification|failure|failed|has failed|problem|notification)|returned (?:mail|to sender)|mail delivery (?:failed|failure|system)|failure notice|non[- ]?delivery|could not be delivered|delivery incomplete|mail system error|delayed mail)\b/i;
const DAEMON_LOCAL_RE = /^(?:mailer[-_]?daemon|mail[-_]?daemon|postmaster|mdaemon|mail[-_]?delivery[-_]?system)$/i;

/** Why the header looks like an auto-reply (RFC 3834 and common vendor headers/subjects), or null. */
export function autoReplySignal(fields: readonly MimeField[]): string | null {
  const autoSubmitted = (firstValue(fields, 'auto-submitted') ?? '').trim().toLowerCase();
  if (autoSubmitted.startsWith('auto-replied')) return 'auto-submitted';
  for (const f of fields) if (f.key === 'x-autoreply' || f.key === 'x-autorespond' || f.key === 'x-autoresponder') return f.key;
  const precedence = (firstValue(fields, 'precedence') ?? '').trim().toLowerCase();
  if (precedence === 'auto_reply') return 'precedence';
  if (AUTO_REPLY_SUBJECT_RE.test(subjectOf(fields))) return 'subject';
  return null;
}

/** True when the header shows the message is a bounce (null/daemon sender, bounce subject, X-Failed-Recipients, multipart/report). */
export function bounceMarkers(fields: readonly MimeField[], contentType: string): boolean {
  if (contentType === 'multipart/report') return true;
  if (firstValue(fields, 'x-failed-recipients') !== null) return true;
  const returnPath = firstValue(fields, 'return-path');
  if (returnPath !== null && /^<?\s*>?$/.test(returnPath.trim())) return true;
  if (BOUNCE_SUBJECT_RE.test(subjectOf(fields))) return true;
  const from = firstValue(fields, 'from');
  if (from !== null) {
    for (const m of parseAddressList(from).mailboxes) if (DAEMON_LOCAL_RE.test(m.local)) return true;
  }
  return false;
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
