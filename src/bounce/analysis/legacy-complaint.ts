/**
 * Complaints that are not ARF: Hotmail's legacy JMRP/"complaint about message" reports (before,
 * and at some hosts still beside, RFC 5965). Layout, as those reports are known to look:
 *
 *   From: staff@hotmail.com
 *   Subject: complaint about message from 192.0.2.25
 *   Content-Type: multipart/mixed (or message/rfc822 directly)
 *     text/plain      "This is an email abuse report for an email message received from IP …"
 *     message/rfc822  the reported message, with `X-HmXmrOriginalRecipient: <reader@hotmail.com>`
 *
 * Recognised by the X-HmXmrOriginalRecipient field of the returned original, or by the
 * "complaint about message from" subject from a Microsoft consumer domain. The complained-about
 * recipient is X-HmXmrOriginalRecipient, else the To of the original (note
 * 'rcpt-from-original-to'). Feedback type 'abuse' (the only one these reports have).
 *
 * Pure: no I/O. Never throws.
 */
import { decodeWordsSafe, parseAddressList } from '../../core/address.js';
import { MAX_BOUNCE_DIAGNOSTIC_LENGTH } from '../../lib/limits.js';
import { allValues, firstValue, type MimeEntity, type MimeField } from '../../mail/mime-reader.js';
import type { ComplaintReport } from './analysis-types.js';
import { oneLine, plausibleAddress } from './report-fields.js';

const HOTMAIL_FROM_RE = /@(?:[a-z0-9-]+\.)*(?:hotmail|msn|live|outlook)\.[a-z.]+$/i;
const SUBJECT_RE = /^\s*complaint about message from\b/i;

/** A legacy (non-ARF) complaint's report and notes, or null when the message is not one. */
export function legacyComplaint(fields: readonly MimeField[], original: MimeEntity | null): { report: ComplaintReport; notes: string[] } | null {
  const marker = original === null ? [] : allValues(original.fields, 'x-hmxmroriginalrecipient');
  const from = parseAddressList(firstValue(fields, 'from') ?? '').mailboxes[0]?.address ?? '';
  const subject = decodeWordsSafe(firstValue(fields, 'subject') ?? '');
  if (marker.length === 0 && !(SUBJECT_RE.test(subject) && HOTMAIL_FROM_RE.test(from))) return null;
  const notes: string[] = [];
  const rcpt = new Map<string, string>();
  const collect = (values: readonly string[]): void => {
    for (const v of values) {
      for (const m of parseAddressList(decodeWordsSafe(v)).mailboxes) {
        const a = plausibleAddress(m.address);
        if (a !== null) rcpt.set(a.toLowerCase(), a);
      }
    }
  };
  collect(marker);
  if (rcpt.size === 0 && original !== null) {
    collect(allValues(original.fields, 'to'));
    notes.push(rcpt.size > 0 ? 'rcpt-from-original-to' : 'no-complaint-recipient');
  }
  if (original === null) notes.push('no-complaint-recipient');
  const date = original === null ? null : firstValue(original.fields, 'date');
  const mailFrom = original === null ? null : firstValue(original.fields, 'return-path');
  const mailFromAddress = mailFrom === null ? null : plausibleAddress(mailFrom.trim().replace(/^<(.*)>$/, '$1').trim());
  return {
    report: {
      feedbackType: 'abuse',
      userAgent: HOTMAIL_FROM_RE.test(from) ? 'Hotmail (legacy complaint report)' : null,
      originalRcptTo: [...rcpt.values()],
      originalMailFrom: mailFromAddress,
      arrivalDate: date === null ? null : oneLine(date, MAX_BOUNCE_DIAGNOSTIC_LENGTH) || null,
    },
    notes,
  };
}
