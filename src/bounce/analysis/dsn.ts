/**
 * RFC 3464 delivery status notifications: the message/delivery-status (and RFC 6533
 * message/global-delivery-status) body as recipient reports, plus the RFC 3463 status
 * helpers the heuristics share.
 *
 * Body layout (report-fields.ts reads the blocks):
 *   Reporting-MTA: dns; mail.example.com          per-message block (first; optional here)
 *   X-Postfix-Queue-ID: 4jXnHF0Dk8zJJ9X
 *   <empty line>
 *   Final-Recipient: rfc822; nobody@example.net   one block per recipient
 *   Original-Recipient: rfc822;nobody@example.net
 *   Action: failed                                failed|delayed|delivered|relayed|expanded
 *   Status: 5.1.1                                 class.subject.detail, class 2/4/5
 *   Remote-MTA: dns; mx.example.net
 *   Diagnostic-Code: smtp; 550 5.1.1 <nobody@example.net>: Recipient address
 *       rejected: User unknown                    (folded)
 * A block with a Final-Recipient (or, lacking it, an Original-Recipient) is a recipient; a
 * block with two Final-Recipient fields (a missing blank line) is split at the second.
 * The per-message block (no recipient field) is ignored apart from being skipped.
 *
 * Reading each recipient:
 *  - recipient: Final-Recipient's address (type prefix removed; `utf-8;` addresses have their
 *    `\x{HHHH}` escapes decoded), else Original-Recipient's; a block without a usable address
 *    is skipped (note 'recipient-unreadable').
 *  - status: Status when it is `[245].d.d`, else read from the Diagnostic-Code's SMTP reply
 *    (note 'status-from-diagnostic'); a bare reply code gives `<class>.0.0`, as Postfix does.
 *  - action: Action when known, else from the status class (5 failed, 4 delayed, 2 delivered),
 *    else failed (note 'no-action').
 *  - kind: analysis-types.ts (hard only for failed + 5.x.x).
 *  - diagnostic / remoteMta: type prefix removed, one line, ≤ MAX_BOUNCE_DIAGNOSTIC_LENGTH;
 *    repeated continuation prefixes of a multi-line reply ("550-5.1.1 ") are dropped.
 *
 * Limits: MAX_BOUNCE_RECIPIENTS recipient blocks; more: note 'recipients-truncated'.
 * Pure: no I/O. Never throws.
 */
import { classifyBounce, classifyText } from '../../core/bounce-reason.js';
import { MAX_BOUNCE_DIAGNOSTIC_LENGTH, MAX_BOUNCE_RECIPIENTS } from '../../lib/limits.js';
import type { RecipientAction, RecipientReport } from './analysis-types.js';
import { blockValue, oneLine, parseFieldBlocks, splitTyped, typedAddress, type FieldBlock, type ReportField } from './report-fields.js';
import { merged } from '../../lib/merged.js';

const ACTIONS: ReadonlySet<string> = new Set(['failed', 'delayed', 'delivered', 'relayed', 'expanded']);
const STATUS_RE = /^([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])/;

/** The RFC 3463 status at the start of `value` ("5.1.1", "5.1.1 (comment)"), or null. */
export function parseStatus(value: string | null): string | null {
  if (value === null) return null;
  const m = STATUS_RE.exec(value.trim());
  return m === null ? null : `${m[1]}.${Number(m[2])}.${Number(m[3])}`;
}

/** A reply code with an enhanced status code: `550 5.1.1`, `550-5.1.1`, `#550 5.1.1`. */
const REPLY_ENHANCED_RE = /(?<![\w.=/])([245])\d\d[ -]#?([245]\.\d{1,3}\.\d{1,3})(?![\d.])/;
/** qmail's `(#5.1.1)`, Exchange 2003's `<mx.example.com #5.1.1>`. */
const QMAIL_STATUS_RE = /(?:\(#|<[^\s<>]* #)([245]\.\d{1,3}\.\d{1,3})(?=[)>\s])/;
/**
 * A bare reply code where one is expected: line start, after `said:`/`returned '`/`#`/`:`;
 * followed by a space or dash and text (Yahoo/AOL's "552 1 Requested mail action aborted"
 * counts), or by `: ` (Yahoo's old "550: : User unknown").
 */
const REPLY_BARE_RE = /(?:^|\bsaid:|\breturned[ \t]*'|#|:)[ \t]*([245])\d\d(?=[ -](?:[^\d.]|\d{1,2} [A-Za-z])|: |$)/m;

/**
 * The RFC 3463 status an SMTP reply quoted in free text gives: the enhanced code next to a
 * reply code (when the classes agree; else the reply's class with .0.0), qmail's `(#x.y.z)`,
 * or a bare reply code as `<class>.0.0`. Null when none is found.
 */
export function statusFromText(text: string): string | null {
  const enhanced = REPLY_ENHANCED_RE.exec(text);
  if (enhanced !== null) {
    const status = parseStatus(enhanced[2] as string);
    const replyClass = enhanced[1] as string;
    return status !== null && status.startsWith(replyClass + '.') ? status : `${replyClass}.0.0`;
  }
  const qmail = QMAIL_STATUS_RE.exec(text);
  if (qmail !== null) return parseStatus(qmail[1] as string);
  const bare = REPLY_BARE_RE.exec(text);
  if (bare !== null) return `${bare[1]}.0.0`;
  return null;
}

/** Where the first SMTP reply quoted in `text` starts (as statusFromText finds it), or -1. */
export function replyStart(text: string): number {
  const enhanced = REPLY_ENHANCED_RE.exec(text);
  if (enhanced !== null) return enhanced.index;
  const bare = REPLY_BARE_RE.exec(text);
  if (bare === null) return -1;
  // the match ends right after the three digits of the reply code (the lookahead takes nothing)
  return bare.index + bare[0].length - 3;
}

/** The recipient kind for an action and status (analysis-types.ts). */
export function kindOf(action: RecipientAction, status: string | null): RecipientReport['kind'] {
  switch (action) {
    case 'delivered':
    case 'relayed':
    case 'expanded':
      return 'success';
    case 'delayed':
      return 'soft';
    case 'failed':
      return status !== null && status.startsWith('5.') ? 'hard' : 'soft';
  }
}

/** Action implied by a status class when the Action field is missing or unknown. */
export function actionForStatus(status: string | null): RecipientAction | null {
  if (status === null) return null;
  if (status.startsWith('5.')) return 'failed';
  if (status.startsWith('4.')) return 'delayed';
  return 'delivered';
}

/**
 * A diagnostic as one line: whitespace collapsed, the repeated `NNN-x.y.z ` prefixes of a
 * multi-line SMTP reply dropped after the first, cut to MAX_BOUNCE_DIAGNOSTIC_LENGTH.
 */
export function cleanDiagnostic(text: string): string | null {
  let s = oneLine(text, MAX_BOUNCE_DIAGNOSTIC_LENGTH * 4);
  // only a multi-line reply ("550-…") repeats its code; a single line may quote codes in its text
  const m = /^([245]\d\d)-((?:[245]\.\d{1,3}\.\d{1,3})?)\s*/.exec(s);
  if (m !== null) {
    const code = m[1] as string;
    const enhanced = m[2] as string;
    // "550-5.1.1 " (then whitespace) or, without an enhanced code, "421-" / "421 "
    const prefix = enhanced === '' ? `${code}[ -]` : `${code}[ -]${enhanced.replace(/\./g, '\\.')}(?=\\s|$)\\s?`;
    const head = s.slice(0, m[0].length);
    const rest = s.slice(m[0].length).replace(new RegExp(`(^|\\s)${prefix}`, 'g'), '$1');
    s = (head + rest).replace(/^([245]\d\d)-/, '$1 ');
  }
  s = oneLine(s, MAX_BOUNCE_DIAGNOSTIC_LENGTH);
  return s === '' ? null : s;
}

/** A recipient report without its reason yet. */
export type UnclassifiedReport = Omit<RecipientReport, 'reason' | 'reasonRule'>;

/**
 * The report with its reason (core/bounce-reason.ts): from `fullText` (the whole diagnostic or
 * prose, when the kept `diagnostic` was cut), else the report's own diagnostic and status; when
 * neither says why and `context` (the text around it: a bounce's intro) matches a text rule,
 * that rule decides (rule 'context:<name>'). Success reports have no reason.
 */
export function withReason(r: UnclassifiedReport, fullText?: string, context?: string): RecipientReport {
  if (r.kind === 'success') return merged(r, { reason: null, reasonRule: 'success' });
  const c = classifyBounce({ action: r.action, status: r.status, diagnostic: fullText ?? r.diagnostic });
  if (!c.rule.startsWith('text:') && context !== undefined && context !== '') {
    const t = classifyText(context);
    if (t !== null) {
      const gaveUp = r.action === 'failed' && r.status?.startsWith('4.') === true && (t.reason === 'network' || t.reason === 'other');
      return merged(r, { reason: gaveUp ? 'expired' : t.reason, reasonRule: `context:${t.name}` });
    }
  }
  return merged(r, { reason: c.reason, reasonRule: c.rule });
}

export interface DeliveryStatusResult {
  readonly recipients: RecipientReport[];
  readonly notes: string[];
}

/** Split a block at a second Final-Recipient (a missing blank line between recipients). */
function splitRecipientBlocks(block: FieldBlock): FieldBlock[] {
  const out: ReportField[][] = [[]];
  let seenFinal = false;
  for (const f of block) {
    if (f.key === 'final-recipient') {
      if (seenFinal) out.push([]);
      seenFinal = true;
    }
    (out[out.length - 1] as ReportField[]).push(f);
  }
  return out;
}

function isRecipientBlock(block: FieldBlock): boolean {
  return block.some((f) => f.key === 'final-recipient' || f.key === 'original-recipient');
}

/** One recipient block as a report; null (with a note) when it has no usable address. */
export function recipientFromBlock(block: FieldBlock, notes: string[]): RecipientReport | null {
  const finalValue = blockValue(block, 'final-recipient');
  const originalValue = blockValue(block, 'original-recipient');
  const original = originalValue === null ? null : typedAddress(originalValue);
  const recipient = (finalValue === null ? null : typedAddress(finalValue)) ?? original;
  if (recipient === null) {
    notes.push('recipient-unreadable');
    return null;
  }
  const diagnosticValue = blockValue(block, 'diagnostic-code');
  const diagnostic = diagnosticValue === null ? null : cleanDiagnostic(splitTyped(diagnosticValue).text);
  let status = parseStatus(blockValue(block, 'status'));
  if (status === null && diagnostic !== null) {
    status = statusFromText(diagnostic);
    if (status !== null) notes.push('status-from-diagnostic');
  }
  const actionText = (blockValue(block, 'action') ?? '').trim().toLowerCase().split(/[\s(;]/)[0] ?? '';
  let action: RecipientAction;
  if (ACTIONS.has(actionText)) {
    action = actionText as RecipientAction;
  } else {
    const implied = actionForStatus(status);
    if (implied === null) notes.push('no-action');
    action = implied ?? 'failed';
  }
  if (status === null && action !== 'delivered' && action !== 'relayed' && action !== 'expanded') notes.push('no-status');
  const remoteValue = blockValue(block, 'remote-mta');
  const remoteMta = remoteValue === null ? null : oneLine(splitTyped(remoteValue).text, MAX_BOUNCE_DIAGNOSTIC_LENGTH) || null;
  return withReason({ recipient, originalRecipient: original, action, status, kind: kindOf(action, status), diagnostic, remoteMta });
}

/** Parse a delivery-status body (already transfer- and charset-decoded). */
export function parseDeliveryStatus(text: string): DeliveryStatusResult {
  const notes: string[] = [];
  // +2: the per-message block, and one more to see that the cap was passed
  const { blocks, truncated } = parseFieldBlocks(text, MAX_BOUNCE_RECIPIENTS + 2);
  const recipients: RecipientReport[] = [];
  let over = truncated;
  for (const block of blocks) {
    if (!isRecipientBlock(block)) continue;
    for (const piece of splitRecipientBlocks(block)) {
      if (!isRecipientBlock(piece)) continue;
      if (recipients.length >= MAX_BOUNCE_RECIPIENTS) {
        over = true;
        break;
      }
      const r = recipientFromBlock(piece, notes);
      if (r !== null) recipients.push(r);
    }
  }
  if (over) notes.push('recipients-truncated');
  return { recipients, notes: dedupe(notes) };
}

export function dedupe(notes: readonly string[]): string[] {
  return [...new Set(notes)];
}
