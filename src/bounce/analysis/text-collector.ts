/**
 * What every text-bounce template (text-templates.ts) shares: the cut between the report and
 * the returned original, paragraphs, the address patterns, and the Collector that turns an
 * address and its detail text into a RecipientReport (status, kind, diagnostic, reason).
 *
 * Status of a text recipient: the SMTP reply its detail quotes (dsn.ts statusFromText). When
 * none is quoted and the Action is failed: 4.4.7 when the detail (or the template's context)
 * says the message expired (Exim "retry timeout exceeded", Gmail "did not accept our requests
 * to connect"), else 5.0.0 when the template states the failure is permanent; both with note
 * 'status-inferred'. Otherwise null and soft (note 'no-status'): never hard without evidence.
 * Reason: core/bounce-reason.ts on the whole detail (the kept diagnostic starts at the reply).
 *
 * Limits: MAX_BOUNCE_RECIPIENTS recipients (note 'recipients-truncated'). Pure; never throws.
 */
import { classifyText } from '../../core/bounce-reason.js';
import { MAX_BOUNCE_RECIPIENTS } from '../../lib/limits.js';
import type { RecipientAction, RecipientReport } from './analysis-types.js';
import { cleanDiagnostic, kindOf, replyStart, statusFromText, withReason } from './dsn.js';
import { plausibleAddress } from './report-fields.js';

export type TextTemplate =
  | 'qmail'
  | 'postfix'
  | 'angle'
  | 'exim'
  | 'exchange'
  | 'exchange-2003'
  | 'lotus'
  | 'zoho'
  | 'imail'
  | 'sendmail'
  | 'gmail'
  | 'generic';

export interface TextBounce {
  readonly template: TextTemplate;
  readonly recipients: RecipientReport[];
  readonly notes: string[];
}

export interface TextBounceOptions {
  /** A bounce marker is present (bounceMarkers): the generic readings are allowed. */
  readonly markers: boolean;
  /** Addresses never reported as recipients (our bounce domains, the sender's own addresses). */
  readonly exclude: (address: string) => boolean;
}

/** Lines that start the returned original (or its headers) in a text bounce. */
const ORIGINAL_SEPARATORS: readonly RegExp[] = [
  /^\s*-{2,}\s*Below this line is a copy of the message/i, // qmail
  /^\s*-{2,}\s*Enclosed (?:is a copy of the message|are the original headers)/i, // qmail variants
  /^\s*-{2,}\s*This is a copy of the message/i, // Exim
  /^\s*-{2,}\s*The header of the original message is following/i, // Exim "headers only"
  /^\s*Original message headers:?\s*$/i, // Exchange
  /^\s*-{2,}\s*(?:Original|Returned|Undelivered|Unsent) message\b/i, // Gmail, Sendmail, others
  /^\s*-{2,}\s*Forwarded message\b/i,
  /^\s*Original message follows\.?\s*$/i, // IMail
  /^\s*-{2,}\s*Original message text/i,
  /^Content-Type:\s*(?:message\/(?:rfc822|global)|text\/rfc822-headers)\b/i, // a MIME part read as text (broken MIME)
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

export const PERMANENT_RE = /\b(?:this is a permanent error|permanent (?:error|failure)|failed permanently|fatal errors?|I've given up|will not be retried)\b/i;

/** An address alone on a line: optional <>, optional trailing ':' (Exim, GMX), optional "(generated from …)". */
export const LONE_ADDRESS_RE = /^<?([^\s<>@"]+@[^\s<>:@]+?)>?:?(?:\s+\((?:generated from|expanded from|ultimately generated from)[^()]*\))?:?\s*$/i;
export const ANGLE_ADDR_RE = /<([^\s<>@]+@[^\s<>@]+)>/;
export const BARE_ADDR_RE = /(?<![\w.+=-])([\w.+=-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/;

/**
 * The first address in `line` (bracketed ones first) that `exclude` does not reject, or null:
 * a line may name the sender before the recipient ("from orders@shop.example to a@b.example").
 */
export function firstAddress(line: string, exclude: (address: string) => boolean): string | null {
  for (const re of [/<([^\s<>@]+@[^\s<>@]+)>/g, /(?<![\w.+=-])([\w.+=-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/g]) {
    for (const m of line.matchAll(re)) {
      const a = (m[1] as string).replace(/[.,;:]+$/, '');
      if (!exclude(a)) return a;
    }
  }
  return null;
}

/** Split lines into paragraphs (runs of non-blank lines). */
export function paragraphs(lines: readonly string[]): string[][] {
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

export class Collector {
  readonly recipients: RecipientReport[] = [];
  readonly notes: string[] = [];
  private readonly seen = new Set<string>();
  constructor(private readonly exclude: (address: string) => boolean) {}

  /** Whether `address` was already collected. */
  has(address: string): boolean {
    return this.seen.has(address.toLowerCase());
  }

  /**
   * One recipient: `detail` is everything the template says about it; `context` is the
   * template's own statement about all of them (an intro), used when the detail gives no reason.
   */
  add(address: string, action: RecipientAction, detail: string, permanent: boolean, context?: string): void {
    const a = plausibleAddress(address.replace(/[.,;:]+$/, ''));
    if (a === null || this.exclude(a)) return;
    const key = a.toLowerCase();
    if (this.seen.has(key)) return;
    if (this.recipients.length >= MAX_BOUNCE_RECIPIENTS) {
      if (!this.notes.includes('recipients-truncated')) this.notes.push('recipients-truncated');
      return;
    }
    this.seen.add(key);
    let status = statusFromText(detail);
    if (status === null && action === 'failed') {
      const why = classifyText(detail) ?? (context === undefined ? null : classifyText(context));
      if (why?.reason === 'expired') status = '4.4.7';
      else if (permanent) status = '5.0.0';
      if (status !== null) this.notes.push('status-inferred');
    }
    if (status === null) this.notes.push('no-status');
    // From the SMTP reply on, when there is one: the text before it ("host mx [ip] SMTP error
    // from remote mail server after RCPT TO:<a>:") says less than the reply and would use up
    // the length the intake keeps.
    const at = replyStart(detail);
    const report = {
      recipient: a,
      originalRecipient: null,
      action,
      status,
      kind: kindOf(action, status),
      diagnostic: cleanDiagnostic(at > 0 ? detail.slice(at) : detail),
      remoteMta: null,
    };
    this.recipients.push(withReason(report, detail, context));
  }

  result(template: TextTemplate): TextBounce | null {
    if (this.recipients.length === 0) return null;
    return { template, recipients: this.recipients, notes: [...new Set(this.notes)] };
  }
}
