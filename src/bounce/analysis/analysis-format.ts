/**
 * The text `trxmail bounce parse <file>` prints for a MessageAnalysis (with --json the CLI
 * prints the analysis itself, JSON.stringify(analysis, null, 2): it is plain data).
 *
 * Layout, one item per line, continuation lines indented under the value:
 *   kind:       bounce (dsn)
 *   sent to:    trx-1-…@bounces.example.com  space 1, send 4jXQZB3dVKzJ9Ft
 *   ref:        trx-1-…@bounces.example.com  space 1, send 4jXQZB3dVKzJ9Ft, BCC copy
 *   recipient:  nobody@example.net  hard (failed 5.1.1)
 *               550 5.1.1 <nobody@example.net>: Recipient address rejected: …
 *               remote MTA 127.0.0.1
 *   complaint:  abuse by Yahoo!-Mail-Feedback/2.0, about reader42@yahoo.com
 *   notes:      no-original
 * Every value comes from the message (untrusted): control characters are shown as `?`.
 *
 * Pure; never throws.
 */
import type { DecodedBounceAddress, MessageAnalysis } from './analysis-types.js';

const LABEL_WIDTH = 12;

const safe = (s: string): string => s.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');

function line(label: string, value: string): string {
  return (label === '' ? '' : `${label}:`).padEnd(LABEL_WIDTH) + value;
}

function addressText(d: DecodedBounceAddress | null): string {
  if (d === null) return '(none)';
  if (!d.ok) return `${safe(d.address)}  not verified: ${d.reason}`;
  return `${safe(d.address)}  space ${d.spaceId}, send ${safe(d.sendId)}${d.bccCopy ? ', BCC copy' : ''}`;
}

/** Human-readable lines for an analysis, ending in a newline. */
export function formatAnalysis(a: MessageAnalysis): string {
  const out: string[] = [];
  out.push(line('kind', a.format === null ? a.kind : `${a.kind} (${a.format})`));
  out.push(line('sent to', addressText(a.bounceAddress)));
  out.push(line('ref', addressText(a.ref)));
  for (const r of a.recipients) {
    out.push(line('recipient', `${safe(r.recipient)}  ${r.kind} (${r.action}${r.status === null ? '' : ` ${r.status}`})`));
    if (r.originalRecipient !== null && r.originalRecipient !== r.recipient) out.push(line('', `original recipient ${safe(r.originalRecipient)}`));
    if (r.diagnostic !== null) out.push(line('', safe(r.diagnostic)));
    if (r.remoteMta !== null) out.push(line('', `remote MTA ${safe(r.remoteMta)}`));
  }
  if (a.complaint !== null) {
    const c = a.complaint;
    const who = c.originalRcptTo.length === 0 ? 'recipient not given' : `about ${c.originalRcptTo.map(safe).join(', ')}`;
    out.push(line('complaint', `${safe(c.feedbackType)}${c.userAgent === null ? '' : ` by ${safe(c.userAgent)}`}, ${who}`));
    if (c.originalMailFrom !== null) out.push(line('', `original sender ${safe(c.originalMailFrom)}`));
    if (c.arrivalDate !== null) out.push(line('', `arrived ${safe(c.arrivalDate)}`));
  }
  if (a.notes.length > 0) out.push(line('notes', a.notes.map(safe).join(', ')));
  return out.join('\n') + '\n';
}
