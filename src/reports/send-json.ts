/**
 * One send as JSON, for the two places that print it: the CLI (`sends list --json`, `sends show
 * --json`) and the reports API (`GET /api/v1/sends`, `GET /api/v1/sends/:id`). One mapping;
 * the views differ on purpose and are chosen explicitly:
 *
 *   field           cli   api
 *   id              yes   yes
 *   space           yes   -     (the API serves the caller's own space only)
 *   receivedAt      yes   yes   ISO 8601, UTC, milliseconds
 *   status          yes   yes
 *   notQueued       yes   yes   only when Postfix never queued the send: { at, reason }
 *   toState         -     yes   the To recipient's state (recipientState), else the send's status
 *   mailFrom        yes   yes
 *   envelopeSender  yes   -     the bounce address, an operator's detail
 *   from, to, bcc, discarded, tags, flags, flagsSource, recipients, counts   both
 *   messageId       yes   yes   only when the message had one (between the <>)
 *                         (a recipient has `reason`, its bounce reason, only when it has one)
 *
 * Key order is part of the output (byte-identical JSON across releases). Pure; throws nothing.
 */
import type { EventCounts, Send } from '../store/store.js';

/** Counts of a send nobody has opened or clicked (or whose counts were not fetched). */
export const NO_EVENT_COUNTS: EventCounts = {
  opened: 0,
  openedMachine: 0,
  clicked: 0,
  clickedMachine: 0,
  uniqueOpened: false,
  uniqueClicked: false,
};

export type SendJsonView =
  | { readonly view: 'cli'; readonly space: string; readonly counts: EventCounts }
  | { readonly view: 'api'; readonly counts: EventCounts };

/** The state of the send's recipient in `role`: its status, or `suppressed:<list>`; null when there is none. */
export function recipientState(s: Send, role: 'to' | 'bcc'): string | null {
  const r = s.recipients.find((x) => x.role === role);
  if (!r) return null;
  return r.suppressedBy ? `suppressed:${r.suppressedBy}` : r.status;
}

export function sendJson(s: Send, v: SendJsonView): Record<string, unknown> {
  return {
    id: s.id,
    ...(v.view === 'cli' ? { space: v.space } : {}),
    receivedAt: s.receivedAt.toISOString(),
    status: s.status,
    // Only on a send Postfix never queued (the maillog follower's phantom check).
    ...(s.notQueued ? { notQueued: { at: s.notQueued.at.toISOString(), reason: s.notQueued.reason } } : {}),
    ...(v.view === 'api' ? { toState: recipientState(s, 'to') ?? s.status } : {}),
    mailFrom: s.mailFrom,
    ...(v.view === 'cli' ? { envelopeSender: s.envelopeSender } : {}),
    from: s.from,
    to: s.to,
    bcc: s.bcc,
    discarded: s.discarded,
    tags: s.tags,
    // Only when the message had a (valid) Message-ID.
    ...(s.messageId !== undefined ? { messageId: s.messageId } : {}),
    flags: s.flags,
    flagsSource: s.flagsSource,
    recipients: s.recipients,
    counts: v.counts,
  };
}
