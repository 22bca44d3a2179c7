/**
 * The mailto: form of one-click unsubscribe, on the bounce intake's side: a mail whose envelope
 * recipient is a send's signed unsubscribe address (unsubscribe-address.ts) puts the send's To
 * recipient on the space's Unsubscribe list — the same store call, source and reason as the
 * https POST (http/unsubscribe.ts) — and records the send's `unsubscribed` event with detail
 * `{ via: 'mailto' }` (which queues the `unsubscribed` webhook like every send event). The
 * message itself is not read: whatever it says (RFC 2369: the mail to the address is the
 * request), it is never analysed as a bounce.
 *
 * Idempotent: an address already on the list is left as it is, and only the mail that put it
 * there records the event. When the event cannot be recorded after the entry was added, the
 * unsubscribe still holds and the failure is logged (a retry would not add the event either).
 *
 * The caller (intake.ts) only comes here for an address that verified; a forged or edited one
 * gets what any unknown local part of the bounce domain gets. A send that is gone (or another
 * space's) changes nothing ('unknown-send').
 *
 * Logs: the send and the space, never the address.
 *
 * Throws: the store's TransientError from getSend/addListEntry (the caller tempfails: LMTP 451,
 * pipe exit 75, and Postfix retries).
 */
import { UsageError } from '../lib/errors.js';
import { errorForLog, type Logger } from '../lib/logger.js';
import type { Store } from '../store/store.js';
import { merged } from '../lib/merged.js';

/** What one unsubscribe mail did. */
export type MailUnsubscribe =
  | { readonly outcome: 'unsubscribed' | 'already-unsubscribed'; readonly spaceId: number; readonly sendId: string; readonly eventAdded: boolean }
  | { readonly outcome: 'ignored'; readonly spaceId: number; readonly sendId: string; readonly reason: 'unknown-send' | 'unknown-space' };

/** The `via` of the `unsubscribed` event a mail to the unsubscribe address records. */
export const MAILTO_VIA = 'mailto';

export async function unsubscribeByMail(
  o: { store: Pick<Store, 'getSend' | 'addListEntry' | 'addEvent'>; logger: Logger; at: Date },
  ref: { spaceId: number; sendId: string },
): Promise<MailUnsubscribe> {
  const where = { sendId: ref.sendId, space: ref.spaceId };
  const send = await o.store.getSend(ref.sendId, ref.spaceId);
  if (send === null) {
    o.logger.info(merged(where, { reason: 'unknown-send' }), 'unsubscribe by mail: ignored');
    return { outcome: 'ignored', ...ref, reason: 'unknown-send' };
  }
  let added: boolean;
  try {
    added = await o.store.addListEntry({
      spaceId: ref.spaceId,
      list: 'unsubscribe',
      address: send.to,
      reason: `one-click unsubscribe (send ${ref.sendId})`,
      source: 'unsubscribe-link',
      ifAbsent: true,
      addedAt: o.at,
    });
  } catch (err: unknown) {
    if (!(err instanceof UsageError)) throw err;
    o.logger.info(merged(where, { reason: 'unknown-space' }), 'unsubscribe by mail: ignored');
    return { outcome: 'ignored', ...ref, reason: 'unknown-space' };
  }
  let eventAdded = false;
  if (added) {
    try {
      await o.store.addEvent({ sendId: send.id, recipient: send.to, type: 'unsubscribed', at: o.at, detail: { via: MAILTO_VIA } });
      eventAdded = true;
    } catch (err: unknown) {
      o.logger.error(merged(where, { err: errorForLog(err, false) }), 'unsubscribe by mail: unsubscribed, but the event was not recorded');
    }
  }
  o.logger.info(merged(where, { added, eventAdded }), added ? 'unsubscribe by mail: unsubscribed' : 'unsubscribe by mail: already on the Unsubscribe list');
  return { outcome: added ? 'unsubscribed' : 'already-unsubscribed', ...ref, eventAdded };
}
