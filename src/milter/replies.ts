/**
 * Handler replies as the wire can carry them: what a handler returned, checked, and the reply
 * that stands in for an error. Pure.
 *
 * Protocol: a reply is one of c a r t d y (docs/protocols.md §1.5); a custom `y` reply must
 * pass customReplyProblem() (§1.7). An error maps to smtpReplyFor(err): a RejectError's own
 * reply, anything else 451 4.3.0 (fail closed: Postfix answers the client with a 4xx).
 *
 * Throws InvariantError from checkReply() and checkEomResult() for something that is not a
 * valid reply or end-of-message result (a handler bug).
 */

import { InvariantError, smtpReplyFor } from '../lib/errors.js';
import { customReplyProblem } from './encode.js';
import type { MilterEdit, MilterReply } from './handler.js';

export const CONTINUE: MilterReply = { kind: 'continue' };

const REPLY_KINDS: ReadonlySet<unknown> = new Set(['continue', 'accept', 'reject', 'tempfail', 'discard', 'custom']);

/** `value` as a reply (undefined or null is continue). Throws InvariantError when the wire cannot carry it. */
export function checkReply(value: unknown): MilterReply {
  if (value === undefined || value === null) return CONTINUE;
  if (typeof value !== 'object' || value === null || !REPLY_KINDS.has((value as { kind?: unknown }).kind)) {
    throw new InvariantError('milter handler returned something that is not a MilterReply');
  }
  const reply = value as MilterReply;
  if (reply.kind === 'custom') {
    const problem = customReplyProblem(reply);
    if (problem !== null) throw new InvariantError(`invalid custom milter reply: ${problem}`);
  }
  return reply;
}

/** What eom() returned, checked: its reply and edits. Throws InvariantError for anything else. */
export function checkEomResult(value: unknown): { reply: MilterReply; edits: readonly MilterEdit[] } {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { edits?: unknown }).edits)) {
    throw new InvariantError('milter handler eom() did not return { edits, reply }');
  }
  const { reply, edits } = value as { reply?: unknown; edits: readonly MilterEdit[] };
  if (reply === undefined || reply === null) throw new InvariantError('milter handler returned something that is not a MilterReply');
  return { reply: checkReply(reply), edits };
}

/** The reply for an error: smtpReplyFor(err), or the generic tempfail when that cannot be sent. */
export function errorAsReply(err: unknown): MilterReply {
  const r = smtpReplyFor(err);
  const reply: MilterReply = { kind: 'custom', code: r.code, enhanced: r.enhanced, text: r.text };
  if (customReplyProblem(reply) === null) return reply;
  const d = smtpReplyFor(undefined);
  return { kind: 'custom', code: d.code, enhanced: d.enhanced, text: d.text };
}
