/**
 * The rules of the transactional relay, once (docs/architecture.md "The rules being enforced").
 *
 * `checkSender` is the MAIL FROM rule alone, for the policy server and the milter at
 * MAIL/RCPT time; `evaluate` applies every rule to the facts of a whole transaction and
 * returns a Verdict: a Rejection, or an Acceptance with the header edits, envelope changes,
 * effective flags and tags.
 *
 * Order of the rejection checks (the first failing one is returned):
 *   1. sender     null-sender, sender-syntax, sender-domain-not-allowed
 *   2. flags      invalid-flags (first X-Mxm-Flags field), then invalid-unsubscribe (first
 *                 X-Mxm-Unsubscribe field, core/unsubscribe.ts)
 *   3. tags       too-many-tags, then tag-too-long, then tag-control-character
 *   4. To         no-recipients, too-many-recipients (RCPT count), no-to, to-not-in-rcpt
 *
 * Header decisions (see the README table):
 *   From   The first From field's first mailbox keeps its display name; the value becomes
 *          `<display raw> <MAIL FROM>` (raw text unfolded, else byte-identical; re-encoded
 *          as RFC 2047 UTF-8 when it holds raw 8-bit), or the bare MAIL FROM without a name
 *          or when From is missing/unparseable. Other From fields go. No edit when the only
 *          From field is exactly one mailbox string-equal to MAIL FROM.
 *   Sender and the other fields of REMOVED_FIELDS (removed-fields.ts: Resent-*, Errors-To,
 *          X-Original-From, the client's DKIM-Signature, Authentication-Results): deleted
 *          whenever present, every occurrence. Reply-To stays.
 *   To     The first mailbox of the first To field (group members count, empty groups do
 *          not) is kept as written; other To fields go; no edit when the only To field is
 *          exactly that mailbox. Its address must equal an RCPT TO address as mailbox
 *          providers compare them: domain case-insensitive and IDN-equal, local part
 *          case-insensitive (`CaSe@Example.NET` is `case@example.net`). The To field keeps
 *          the header's spelling; the message still goes only to RCPT TO addresses.
 *   Cc, Bcc and every X-Mxm-* field are deleted.
 * Every value written is one line: no CR, LF or NUL.
 *
 * Pure: no I/O, no clock. Throws InvariantError only for impossible facts (configured flags
 * out of range, an edit value with a line break), never for anything a client sent.
 */
import { InvariantError } from './errors.js';
import { MAX_RECIPIENTS } from './limits.js';
import { parseAddressList, unfold, type ParsedMailbox } from './address.js';
import { parseEnvelopeAddress } from './envelope-address.js';
import { mailboxValue, rawMailboxValue } from './display-name.js';
import { allowingDomain, domainAllowed, listKey, normaliseDomain } from './domain.js';
import { effectiveFlags, trimWsp } from './flags.js';
import { REMOVED_FIELDS } from './removed-fields.js';
import { rejection } from './replies.js';
import { parseTags } from './tags.js';
import { unsubscribeOption } from './unsubscribe.js';
import {
  FLAG_CHECK_UNSUBSCRIBE,
  FLAG_CLICK_TRACKING,
  FLAG_IGNORE_BOUNCES,
  FLAG_OPEN_TRACKING,
  type Acceptance,
  type Facts,
  type HeaderEdit,
  type HeaderField,
  type RecipientOutcome,
  type Rejection,
  type SpaceFacts,
  type SuppressionAnswer,
  type SuppressionList,
  type TrackingPlan,
  type Verdict,
} from './types.js';

const lower = (name: string): string => name.trim().toLowerCase();

/**
 * The sender rule: MAIL FROM must be an address in one of the space's domains
 * (subdomains only when allowed). Returns the rejection, or null when the sender is fine.
 */
export function checkSender(space: SpaceFacts, mailFrom: string): Rejection | null {
  const env = parseEnvelopeAddress(mailFrom);
  switch (env.kind) {
    case 'null':
      return rejection('null-sender');
    case 'invalid':
      return rejection('sender-syntax', mailFrom);
    case 'address': {
      const allowed = space.domains.map((d) => normaliseDomain(d) ?? d);
      if (env.normalisedDomain === null || !domainAllowed(env.normalisedDomain, allowed, space.allowSubdomains)) {
        // The A-label form is echoed: it is ASCII, so an IDN stays readable in the reply.
        return rejection('sender-domain-not-allowed', env.normalisedDomain ?? env.domain);
      }
      return null;
    }
  }
}

/**
 * The space's configured sender domain that allows MAIL FROM (the domain whose DKIM keys and
 * return-path host apply), or null when the sender is not allowed (checkSender says why).
 */
export function senderDomainOf(space: SpaceFacts, mailFrom: string): string | null {
  const env = parseEnvelopeAddress(mailFrom);
  if (env.kind !== 'address' || env.normalisedDomain === null) return null;
  return allowingDomain(env.normalisedDomain, space.domains.map((d) => normaliseDomain(d) ?? d), space.allowSubdomains);
}

/**
 * Comparison key of a recipient address: listKey (domain normalised, local part lower-cased),
 * the product contract's "as mailbox providers compare them".
 */
function addressKey(address: string): string {
  const env = parseEnvelopeAddress(address);
  const a = env.kind === 'address' ? env.address : address.trim();
  return listKey(a) ?? a.toLowerCase();
}

function unique(items: readonly string[]): string[] {
  return [...new Set(items)];
}

/** The suppression that applies to a recipient given the flags; bounce wins over unsubscribe. */
function suppressionFor(
  answers: readonly (SuppressionAnswer | undefined)[],
  flags: number,
): { list: SuppressionList; reason: string } | null {
  if ((flags & FLAG_IGNORE_BOUNCES) === 0) {
    for (const a of answers) if (a?.bounce) return { list: 'bounce', reason: a.bounce.reason };
  }
  if ((flags & FLAG_CHECK_UNSUBSCRIBE) !== 0) {
    for (const a of answers) if (a?.unsubscribe) return { list: 'unsubscribe', reason: a.unsubscribe.reason };
  }
  return null;
}

/** True when the only field `fields[0]` is exactly the one mailbox `mb`, nothing more. */
function fieldIsExactly(fields: readonly HeaderField[], mb: ParsedMailbox, address: string): boolean {
  const first = fields[0];
  if (fields.length !== 1 || !first) return false;
  const parsed = parseAddressList(first.value);
  return (
    parsed.errors === 0 &&
    parsed.groups === 0 &&
    parsed.mailboxes.length === 1 &&
    mb.address === address &&
    trimWsp(unfold(first.value)) === mb.raw
  );
}

/** Apply every rule to the facts of one transaction. */
export function evaluate(facts: Facts): Verdict {
  // 1. Sender.
  const senderProblem = checkSender(facts.space, facts.mailFrom);
  if (senderProblem) return senderProblem;
  const env = parseEnvelopeAddress(facts.mailFrom);
  if (env.kind !== 'address') throw new InvariantError('checkSender passed a sender that does not parse');
  const mailFrom = env.address;

  // 2. Flags.
  const flagsResult = effectiveFlags(facts.headers, facts.fromAddressFlags, facts.space.defaultFlags);
  if (!flagsResult.ok) return rejection('invalid-flags', flagsResult.value);
  const flags = flagsResult.flags;
  const unsubscribe = unsubscribeOption(facts.headers, facts.unsubscribeDefaults?.fromAddress ?? null, facts.unsubscribeDefaults?.space ?? null);
  if (!unsubscribe.ok) return rejection('invalid-unsubscribe', unsubscribe.value);

  // 3. Tags.
  const tagsResult = parseTags(facts.headers);
  if (!tagsResult.ok) {
    switch (tagsResult.problem) {
      case 'too-many':
        return rejection('too-many-tags', tagsResult.count);
      case 'too-long':
        return rejection('tag-too-long');
      case 'control':
        return rejection('tag-control-character', tagsResult.codePoint);
    }
  }

  // 4. Recipients and To.
  if (facts.rcptTo.length === 0) return rejection('no-recipients');
  if (facts.rcptTo.length > MAX_RECIPIENTS) {
    return rejection('too-many-recipients', facts.rcptTo.length, MAX_RECIPIENTS);
  }
  const toFields = facts.headers.filter((h) => lower(h.name) === 'to');
  const firstTo = toFields[0];
  const toMailbox = firstTo ? parseAddressList(firstTo.value).mailboxes[0] : undefined;
  if (!toMailbox) return rejection('no-to');
  const toKey = addressKey(toMailbox.address);
  const rcpts = unique(facts.rcptTo);
  const keys = new Map(rcpts.map((r) => [r, addressKey(r)] as const));
  const toRcpt = rcpts.find((r) => keys.get(r) === toKey);
  if (toRcpt === undefined) return rejection('to-not-in-rcpt', toMailbox.address);

  // Roles: every spelling of the To (or BCC) address shares its role.
  let bccKey: string | null = null;
  const roleOf = (key: string): RecipientOutcome['role'] => {
    if (key === toKey) return 'to';
    if (bccKey === null) bccKey = key;
    return key === bccKey ? 'bcc' : 'discarded';
  };
  const roles = new Map<string, RecipientOutcome['role']>();
  for (const r of rcpts) {
    const key = keys.get(r) ?? r;
    if (!roles.has(key)) roles.set(key, roleOf(key));
  }
  const spellings = (key: string): string[] => rcpts.filter((r) => keys.get(r) === key);
  const suppressed = new Map<string, { list: SuppressionList; reason: string } | null>();
  for (const [key, role] of roles) {
    if (role === 'discarded') continue;
    suppressed.set(key, suppressionFor(spellings(key).map((r) => facts.suppression[r]), flags));
  }
  const recipients: RecipientOutcome[] = rcpts.map((r) => {
    const key = keys.get(r) ?? r;
    return { address: r, role: roles.get(key) ?? 'discarded', suppressed: suppressed.get(key) ?? null };
  });
  const bcc = bccKey === null ? null : (spellings(bccKey)[0] ?? null);

  // Header edits.
  const edits: HeaderEdit[] = [];
  const fromFields = facts.headers.filter((h) => lower(h.name) === 'from');
  const fromParsed = fromFields[0] ? parseAddressList(fromFields[0].value) : null;
  const fromMailbox = fromParsed?.mailboxes[0] ?? null;
  let fromDisplayName: string | null = fromMailbox?.displayName ?? null;
  if (!(fromMailbox && fieldIsExactly(fromFields, fromMailbox, mailFrom))) {
    const value = mailboxValue(fromMailbox, mailFrom);
    if (value === mailFrom) fromDisplayName = null;
    edits.push({ op: 'set', name: 'From', value });
  }
  for (const name of REMOVED_FIELDS.keys()) {
    if (facts.headers.some((h) => lower(h.name) === name.toLowerCase())) edits.push({ op: 'delete', name });
  }
  if (!fieldIsExactly(toFields, toMailbox, toMailbox.address)) {
    edits.push({ op: 'set', name: 'To', value: rawMailboxValue(toMailbox) });
  }
  for (const name of ['Cc', 'Bcc']) {
    if (facts.headers.some((h) => lower(h.name) === name.toLowerCase())) edits.push({ op: 'delete', name });
  }
  const mxm = new Map<string, string>();
  for (const h of facts.headers) {
    const l = lower(h.name);
    if (l.startsWith('x-mxm-') && !mxm.has(l)) mxm.set(l, h.name.trim());
  }
  for (const name of mxm.values()) edits.push({ op: 'delete', name });
  for (const e of edits) {
    if (e.op === 'set' && /[\r\n\0]/.test(e.value)) throw new InvariantError(`header edit for ${e.name} has a line break`);
  }

  const deliverTo = recipients.filter((r) => r.role !== 'discarded' && r.suppressed === null).map((r) => r.address);
  const acceptance: Acceptance = {
    kind: 'accept',
    headerEdits: edits,
    envelopeSender: facts.bounceAddress,
    from: mailFrom,
    fromDisplayName,
    to: toRcpt,
    bcc,
    discarded: recipients.filter((r) => r.role === 'discarded').map((r) => r.address),
    recipients,
    deliverTo,
    removeRecipients: recipients.filter((r) => r.role === 'discarded' || r.suppressed !== null).map((r) => r.address),
    flags,
    flagsSource: flagsResult.source,
    tags: tagsResult.tags,
    oneClickUnsubscribe: unsubscribe.oneClick && deliverTo.includes(toRcpt),
    tracking: trackingPlan(flags, facts.headers, deliverTo, toRcpt, bcc),
  };
  return acceptance;
}

/** The TrackingPlan of an accepted message (src/core/types.ts), or null. */
function trackingPlan(
  flags: number,
  headers: readonly HeaderField[],
  deliverTo: readonly string[],
  to: string,
  bcc: string | null,
): TrackingPlan | null {
  const open = (flags & FLAG_OPEN_TRACKING) !== 0;
  const click = (flags & FLAG_CLICK_TRACKING) !== 0;
  if ((!open && !click) || !deliverTo.includes(to) || !mayHoldHtml(headers)) return null;
  return { open, click, bccCopy: bcc !== null && deliverTo.includes(bcc) };
}

/** False when the top-level Content-Type (RFC 2045 default: text/plain) rules out any HTML part. */
function mayHoldHtml(headers: readonly HeaderField[]): boolean {
  const ct = headers.find((h) => lower(h.name) === 'content-type');
  if (!ct) return false;
  return /^\s*(multipart\/|text\/html\b)/i.test(ct.value);
}
