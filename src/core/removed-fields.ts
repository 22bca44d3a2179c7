/**
 * The header fields a client may send that never leave the relay (README, "What the relay
 * does to every message"), once, with why. evaluate.ts deletes every field of these names
 * (any letter case, every occurrence); the instruction fields `X-Mxm-*`, `Cc` and `Bcc` are
 * handled there by their own rules.
 *
 * Only the client's fields go: the DKIM-Signature fields trxmail adds are inserted after
 * these edits, over the final header (src/milter/rules-handler.ts orders the milter edits
 * that way). `Reply-To` stays: it is the author's own choice of where answers go.
 *
 * Pure data.
 */

/** Field name → why it is removed. Names in their usual spelling; compared case-insensitively. */
export const REMOVED_FIELDS: ReadonlyMap<string, string> = new Map([
  // Authorship the relay cannot vouch for: From is now MAIL FROM, one mailbox (RFC 5322 §3.6.2).
  ['Sender', 'named the author(s) of the original From, which the relay replaced'],
  ['X-Original-From', 'an earlier author the From rewrite replaced'],
  // A resent block (RFC 5322 §3.6.6) describes a re-sending that is not this one: all of it goes.
  ['Resent-From', 'a resent block describes another sending'],
  ['Resent-Sender', 'a resent block describes another sending'],
  ['Resent-To', 'a resent block describes another sending (recipients not in RCPT TO)'],
  ['Resent-Cc', 'a resent block describes another sending (recipients not in RCPT TO)'],
  ['Resent-Bcc', 'a resent block describes another sending (recipients not in RCPT TO)'],
  ['Resent-Date', 'a resent block describes another sending (and needs its Resent-From)'],
  ['Resent-Message-ID', 'a resent block describes another sending'],
  // Bounces go to the relay's bounce address (the envelope sender), nowhere else.
  ['Errors-To', 'obsolete bounce address (RFC 2076); bounces go to the envelope sender'],
  // Trace and authentication results only the relay may write.
  ['DKIM-Signature', "the client's signature breaks with the rewrite; trxmail signs after every edit"],
  ['Authentication-Results', 'results only a receiving server may write (RFC 8601 §5); a client could fake them'],
]);
