/**
 * One line of Postfix's log as the delivery-status follower needs it (maillog-follower.ts
 * explains which lines and why). Pure: no I/O; parseMaillogLine never throws.
 *
 * Limits: lines over MAX_MAILLOG_LINE_BYTES are not parsed (null).
 */
import { MAX_MAILLOG_LINE_BYTES } from '../lib/limits.js';

/** Postfix programs whose `to=` lines report a delivery attempt. */
const DELIVERY_AGENTS = new Set(['smtp', 'lmtp', 'local', 'virtual', 'pipe', 'error', 'retry', 'discard']);

export type MaillogRecord =
  | { readonly kind: 'from'; readonly queueId: string; readonly sender: string; readonly time: Date | null }
  | { readonly kind: 'expired'; readonly queueId: string; readonly sender: string; readonly time: Date | null }
  | { readonly kind: 'removed'; readonly queueId: string; readonly time: Date | null }
  | {
      readonly kind: 'delivery';
      readonly queueId: string;
      readonly program: string;
      readonly to: string;
      readonly origTo: string | null;
      readonly relay: string | null;
      /** RFC 3463 status, e.g. "2.0.0". */
      readonly dsn: string | null;
      readonly status: 'sent' | 'deferred' | 'bounced';
      /** The text in parentheses after the status, e.g. "250 Ok: queued as X". */
      readonly text: string | null;
      readonly time: Date | null;
    };

// `<time stamp> <host> <program>[<pid>]: `, anchored so that text quoted later in a line
// (another program's message) is never taken for a Postfix line. Time stamps: traditional
// syslog (`Nov 23 00:02:51`, what maillog_file writes) or RFC 3339. The program may carry a
// multi-part syslog_name (postfix/submission/smtpd, postfix-out/smtp).
const HEAD_RE = /^([A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d{1,6})?|\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)) \S+ ([^\s[\]]+)\[(\d{1,10})\]: (.*)$/;
const QID_RE = /^([0-9A-Za-z]{5,24}): (.*)$/;
const RFC3339_RE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)$/;
const FROM_RE = /^from=<(.*)>, (?:size=\d+, nrcpt=\d+ \(queue active\)|status=expired, returned to sender)$/;
// The fields in Postfix's order (smtp/lmtp add conn_use= on a reused connection). Postfix
// does not escape them: an address or a remote reply that imitates the fields could shift the
// parse, but only for a recipient of that very message, who is matched against the send.
const DELIVERY_RE =
  /^to=<(.*?)>, (?:orig_to=<(.*?)>, )?relay=([^,\s]+), (?:conn_use=\d+, )?delay=[\d.]+, delays=[\d./]+, dsn=(\d\.\d{1,3}\.\d{1,3}), status=([A-Za-z]+)(?: \((.*)\))?$/;

/** The time of an RFC 3339 stamp (rsyslog's high-precision format); null for traditional syslog stamps (no year, no zone). */
function timeOf(stamp: string): Date | null {
  if (!RFC3339_RE.test(stamp)) return null;
  const t = Date.parse(stamp);
  return Number.isNaN(t) ? null : new Date(t);
}

/** Parses one log line; null when it is not one of the lines above. Pure, never throws. */
export function parseMaillogLine(line: string): MaillogRecord | null {
  if (line.length > MAX_MAILLOG_LINE_BYTES) return null;
  const head = HEAD_RE.exec(line.replace(/\r$/, ''));
  if (!head) return null;
  const [, stamp = '', program = '', , rest = ''] = head;
  const agent = program.slice(program.lastIndexOf('/') + 1);
  const q = QID_RE.exec(rest);
  if (!q) return null;
  const [, queueId = '', body = ''] = q;
  const time = timeOf(stamp);
  if (agent === 'qmgr') {
    if (body === 'removed') return { kind: 'removed', queueId, time };
    const f = FROM_RE.exec(body);
    if (!f) return null;
    const sender = f[1] ?? '';
    return body.endsWith('returned to sender') ? { kind: 'expired', queueId, sender, time } : { kind: 'from', queueId, sender, time };
  }
  if (!DELIVERY_AGENTS.has(agent)) return null;
  const d = DELIVERY_RE.exec(body);
  if (!d) return null;
  const raw = (d[5] ?? '').toLowerCase();
  // soft_bounce=yes logs SOFTBOUNCE for what would have bounced: it stays in the queue.
  const status = raw === 'sent' ? 'sent' : raw === 'deferred' || raw === 'softbounce' ? 'deferred' : raw === 'bounced' ? 'bounced' : null;
  if (status === null) return null;
  return {
    kind: 'delivery',
    queueId,
    program: agent,
    to: d[1] ?? '',
    origTo: d[2] ?? null,
    relay: d[3] ?? null,
    dsn: d[4] ?? null,
    status,
    text: d[6] ?? null,
    time,
  };
}

