/**
 * One send's timeline: what happened to it, in time order, for the three places that show it
 * (`trxmail sends show`, `GET /api/v1/sends/:id` → `timeline`, the report page). One builder
 * (buildTimeline) and one JSON mapping (timelineEntryJson); the page renders that JSON.
 *
 * Entries: the send's recorded events (delivered, deferred, bounced, suppressed, opened,
 * clicked, complained, and any type added later) plus what the send record itself says:
 *   accepted     at receivedAt, for the To: the 250 reply's id, From, Message-ID
 *   bcc-copy     at receivedAt, for the BCC recipient (not suppressed): its separate copy
 *   discarded    at receivedAt, for each RCPT TO address dropped by the rules
 *   suppressed   at receivedAt, for a suppressed recipient without a 'suppressed' event
 *                (sends recorded before suppression became an event)
 *   not-queued   when the maillog follower decided Postfix never queued the message
 * Each entry: at, type, recipient and its role (to | bcc | discarded; null when not one of
 * the send's), a one-line summary, and the fields a reader looks for:
 *   reply   the remote server's reply (delivered, deferred, bounced: the log line's or DSN's
 *           diagnostic, e.g. "250 2.0.0 Ok: queued as 4Xyz"; else the status code)
 *   reason  the bounce reason (core/bounce-reason.ts) of a deferral or bounce
 *   list    the list that suppressed the recipient (bounce | unsubscribe)
 *   by      person | machine, for opens and clicks (machine: detail.machine === true, as
 *           every count and report decides; machineReason says why)
 * and `detail`, the event's detail as recorded. Sorted by time, stable: the entries of the
 * send record first, then events in their recorded order.
 *
 * Pure; throws nothing.
 */
import { listKey } from '../core/domain.js';
import type { Send, SendEvent, SendRecipient } from '../store/store.js';
import { merged } from '../lib/merged.js';

export type TimelineEntryType = SendEvent['type'] | 'bcc-copy' | 'discarded' | 'not-queued';

export interface TimelineEntry {
  readonly at: Date;
  readonly type: TimelineEntryType;
  readonly recipient: string | null;
  readonly role: SendRecipient['role'] | null;
  /** One line for people: what happened, with the reply, reason, list or who. */
  readonly summary: string;
  readonly reply?: string;
  readonly reason?: string;
  readonly list?: string;
  readonly by?: 'person' | 'machine';
  readonly detail: Readonly<Record<string, unknown>>;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function keyOf(address: string): string {
  return listKey(address) ?? address.trim().toLowerCase();
}

/** The role of an event's recipient in the send (the BCC copy's log lines say so themselves). */
function roleOf(send: Send, e: SendEvent): SendRecipient['role'] | null {
  if (e.detail['bccCopy'] === true) return 'bcc';
  const k = keyOf(e.recipient);
  const hits = send.recipients.filter((r) => keyOf(r.address) === k);
  return hits.find((r) => r.role === 'to')?.role ?? hits[0]?.role ?? null;
}

/** The remote reply of a delivery outcome: the diagnostic text, else the status code. */
function replyOf(d: Readonly<Record<string, unknown>>): string | null {
  return str(d['diagnostic']) ?? str(d['reply']) ?? str(d['status']) ?? str(d['dsn']);
}

function eventEntry(send: Send, e: SendEvent): TimelineEntry {
  const d = e.detail;
  const base = { at: e.at, type: e.type, recipient: e.recipient, role: roleOf(send, e), detail: d };
  switch (e.type) {
    case 'delivered':
    case 'deferred':
    case 'bounced': {
      const reply = replyOf(d);
      const reason = str(d['reason']);
      const kind = e.type === 'bounced' && str(d['kind']) ? ` (${String(d['kind'])})` : '';
      const relay = str(d['relay']);
      const summary =
        `${e.type}${kind}${reason ? ` [${reason}]` : ''}${relay ? ` via ${relay}` : ''}` + (reply ? `: ${reply}` : '');
      return merged(base, { summary, ...(reply ? { reply } : {}), ...(reason ? { reason } : {}) });
    }
    case 'suppressed': {
      const list = str(d['list']);
      const why = str(d['reason']);
      return merged(base, { summary: `suppressed by the ${list ?? '?'} list${why ? `: ${why}` : ''}`, ...(list ? { list } : {}) });
    }
    case 'opened':
    case 'clicked': {
      const machine = d['machine'] === true;
      const why = str(d['machineReason']);
      const url = str(d['url']);
      const ua = typeof d['userAgent'] === 'string' ? d['userAgent'] : null;
      const who = machine ? `machine${why ? ` (${why})` : ''}` : 'person';
      const parts = [`${e.type} by a ${who}`];
      if (url) parts.push(url);
      if (ua !== null) parts.push(`ua ${ua === '' ? '-' : JSON.stringify(ua)}`);
      return merged(base, { summary: parts.join('  '), by: machine ? 'machine' : 'person' });
    }
    case 'complained': {
      const type = str(d['feedbackType']);
      return merged(base, { summary: `complained${type ? ` (${type})` : ''}: the address is on the Bounce list` });
    }
    case 'unsubscribed': {
      const via = str(d['via']);
      return merged(base, { summary: `unsubscribed${via ? ` via ${via}` : ''}: the address is on the Unsubscribe list`, list: 'unsubscribe' });
    }
    case 'accepted':
    default: {
      // Types without a summary of their own (and any added later): the detail as JSON.
      const keys = Object.keys(d);
      return merged(base, { summary: keys.length ? `${e.type}  ${JSON.stringify(d)}` : e.type });
    }
  }
}

/** The send's timeline (see the header): record entries and events, by time. */
export function buildTimeline(send: Send, events: readonly SendEvent[]): TimelineEntry[] {
  const out: TimelineEntry[] = [];
  const at = send.receivedAt;
  if (!events.some((e) => e.type === 'accepted')) {
    const mid = send.messageId ? `, Message-ID <${send.messageId}>` : '';
    out.push({
      at,
      type: 'accepted',
      recipient: send.to,
      role: 'to',
      summary: `accepted as ${send.id} from ${send.from}${mid}`,
      detail: { id: send.id, from: send.from, mailFrom: send.mailFrom, messageId: send.messageId ?? null, flags: send.flags, tags: send.tags },
    });
  }
  const suppressedEvents = new Set(events.filter((e) => e.type === 'suppressed').map((e) => keyOf(e.recipient)));
  for (const r of send.recipients) {
    if (r.role === 'bcc' && r.status !== 'suppressed') {
      out.push({ at, type: 'bcc-copy', recipient: r.address, role: 'bcc', summary: `BCC copy, untracked${r.detail ? `: ${r.detail}` : ''}`, detail: {} });
    }
    if (r.role === 'discarded') {
      out.push({ at, type: 'discarded', recipient: r.address, role: 'discarded', summary: 'discarded: only the To and one BCC recipient are kept', detail: {} });
    }
    if (r.status === 'suppressed' && !suppressedEvents.has(keyOf(r.address))) {
      const list = r.suppressedBy ?? '?';
      out.push({
        at,
        type: 'suppressed',
        recipient: r.address,
        role: r.role,
        summary: `suppressed by the ${list} list${r.detail ? `: ${r.detail}` : ''}`,
        ...(r.suppressedBy ? { list: r.suppressedBy } : {}),
        detail: { list: r.suppressedBy, reason: r.detail },
      });
    }
  }
  for (const e of events) out.push(eventEntry(send, e));
  if (send.notQueued) {
    out.push({ at: send.notQueued.at, type: 'not-queued', recipient: null, role: null, summary: `never queued by Postfix: ${send.notQueued.reason}`, detail: {} });
  }
  // Array.prototype.sort is stable: equal times keep the order above.
  return out.sort((x, y) => x.at.getTime() - y.at.getTime());
}

/** One entry as JSON (the API's `timeline`, `sends show --json`): dates ISO 8601. Key order is fixed. */
export function timelineEntryJson(e: TimelineEntry): Record<string, unknown> {
  return {
    at: e.at.toISOString(),
    type: e.type,
    recipient: e.recipient,
    role: e.role,
    summary: e.summary,
    ...(e.reply !== undefined ? { reply: e.reply } : {}),
    ...(e.reason !== undefined ? { reason: e.reason } : {}),
    ...(e.list !== undefined ? { list: e.list } : {}),
    ...(e.by !== undefined ? { by: e.by } : {}),
    detail: e.detail,
  };
}

/** One entry as a terminal line (`sends show`). */
export function timelineLine(e: TimelineEntry): string {
  const who = e.recipient === null ? '-' : `${e.recipient}${e.role ? ` (${e.role})` : ''}`;
  return `  ${e.at.toISOString()}  ${e.type.padEnd(10)} ${who}  ${e.summary}`;
}
