/**
 * Why a delivery failed: the bounce reason taxonomy, and which reasons put the recipient's
 * address on the Bounce list. Pure: no I/O, never throws.
 *
 * A reason is decided per failed recipient from, in this order (classifyBounce):
 *  1. the diagnostic text of the receiver (the SMTP reply or the MTA's prose), matched against
 *     patterns of the major receivers: the text says *why* where the status code often does
 *     not (Gmail answers 550 5.7.1 for both "blocked IP" and "DMARC policy");
 *  2. the RFC 3463 enhanced status code: subject and detail (5.1.1 user unknown, 5.2.2
 *     mailbox full, 5.7.26 authentication, ...);
 *  3. else 'other'.
 * A failure with a class-4 status (the sending MTA gave up on a temporary error) whose text
 * says no more than network trouble is 'expired'. Only the first MAX_CLASSIFIED_TEXT
 * characters of the text are matched; every pattern is linear.
 *
 * Only address-level permanent causes list the address (ADDRESS_LEVEL_REASONS): the mailbox or
 * its domain does not exist or will not take mail. A cause on the sender's side (IP, domain
 * reputation, content, SPF/DKIM/DMARC, policy, rate) says nothing about the address, and one
 * blocklist entry on the relay's IP would otherwise empty a customer's list. 'mailbox-full'
 * is soft: it lists the address only when it persists (the intake counts repeats).
 */

/** The reasons, in the order they are documented. */
export const BOUNCE_REASONS = [
  'user-unknown',
  'mailbox-disabled',
  'host-unknown',
  'moved',
  'mailbox-full',
  'message-too-big',
  'content-rejected',
  'blocked',
  'auth-failure',
  'policy',
  'rate-limited',
  'expired',
  'network',
  'other',
] as const;

export type BounceReason = (typeof BOUNCE_REASONS)[number];

/** Permanent failures that are about the address itself: only these list the address at once. */
export const ADDRESS_LEVEL_REASONS: ReadonlySet<BounceReason> = new Set<BounceReason>([
  'user-unknown',
  'mailbox-disabled',
  'host-unknown',
  'moved',
]);

/** Causes on the sending side: recorded on the send, counted as "blocked", never listed. */
export const SENDER_SIDE_REASONS: ReadonlySet<BounceReason> = new Set<BounceReason>([
  'content-rejected',
  'blocked',
  'auth-failure',
  'policy',
  'rate-limited',
]);

export function isBounceReason(value: string): value is BounceReason {
  return (BOUNCE_REASONS as readonly string[]).includes(value);
}

export interface BounceFacts {
  /** 'failed' or 'delayed' (success reports are not classified). */
  readonly action: string;
  /** RFC 3463 status "5.1.1", or null when none could be read. */
  readonly status: string | null;
  /** The diagnostic text (SMTP reply or prose), one line, or null. */
  readonly diagnostic: string | null;
}

export interface BounceClass {
  readonly reason: BounceReason;
  /** Permanent (5.x.x and failed) or not. */
  readonly permanent: boolean;
  /** Whether this failure alone puts the address on the Bounce list. */
  readonly listsAddress: boolean;
  /** The rule that decided, for `bounce parse` and logs: 'status:5.1.1', 'text:gmail-blocked-ip'. */
  readonly rule: string;
}

interface TextRule {
  readonly name: string;
  readonly reason: BounceReason;
  readonly pattern: RegExp;
}

/**
 * Diagnostic text patterns, tried in order; the first that matches decides. Each runs
 * case-insensitively over the one-line diagnostic (linear patterns: no nested quantifiers).
 *
 * Order, and why:
 *  1. expired: "retry timeout exceeded" (Exim), "did not accept our requests to connect"
 *     (Gmail), "Message expired" (SES) — the receiver never judged the address.
 *  2. sender-side causes, because a reply often names both the sender-side cause and the
 *     recipient ("<a@b>: Recipient address rejected: blocked using zen.spamhaus.org", Gmail's
 *     "unauthenticated … has been blocked", iCloud's "rejected due to example.com's DMARC
 *     policy"): authentication, then rate, then blocklists and reputation (named lists are
 *     more specific than the word "spam"), then content, then policy.
 *  3. the mailbox: full, too big; then a sending MTA that gave up ("in the queue too long",
 *     after the cause it may quote); then address-level causes: moved, disabled, unknown
 *     host, unknown user — the more specific before the broader ("mailbox size limit
 *     exceeded" is a full mailbox, "this mailbox is disabled" is not an unknown one).
 *     Office 365's "Recipient address rejected: Access denied. AS(…)" (directory-based edge
 *     blocking: no such recipient) is read before the sender-side rules; elsewhere that
 *     wording is a policy refusal.
 *  4. network trouble, then the catch-all "policy" / "blocked" words.
 * Receivers' wording: Gmail (gsmtp), Outlook/Office 365 (RESOLVER.*, 5.7.6xx, SC-/RP-/OU-
 * codes of Outlook.com), Yahoo/AOL ([TSS04], "dd This user doesn't have", RLY:B1, DYN:T1),
 * iCloud, GMX/web.de (Nemesis), Mimecast, Proofpoint, Barracuda, Spamhaus/SpamCop, SES,
 * Zoho, and the defaults of Exim, Postfix, Sendmail and qmail.
 */
const TEXT_RULES: readonly TextRule[] = [
  {
    name: 'expired',
    reason: 'expired',
    pattern:
      /retry time(?:out)? (?:not reached|exceeded)|delivery time expired|message expired|message has expired|did not accept our requests to connect|has been delayed for too long|unable to deliver in \d+ minutes|have been failing for a long time|delivery attempts? (?:will )?(?:has |have )?(?:expired|timed out)/i,
  },
  {
    name: 'o365-dbeb',
    reason: 'user-unknown',
    pattern: /recipient address rejected: access denied\. (?:AS\(\d+\)|for more information see https:\/\/aka\.ms\/EXOSmtpErrors)/i,
  },
  {
    name: 'auth',
    reason: 'auth-failure',
    pattern:
      /\bspf\b|\bdkim\b|\bdmarc\b|unauthenticated (?:e-?mail|mail|message)|this mail is unauthenticated|sender is unauthenticated|not authenticated with|authentication (?:check )?fail|fails? (?:sender )?authentication|does not pass (?:dmarc|authentication)/i,
  },
  {
    name: 'rate',
    reason: 'rate-limited',
    pattern:
      /rate[- ]limit|unusual rate|sending quota|daily (?:user )?(?:sending )?(?:quota|limit)|too many (?:messages|connections|recipients|e-?mails|concurrent|sessions)|throttl|sending limit|limits? for how many messages|temporarily deferred due to|\[TS(?:S)?0[1-4]\]|\bRP-00\d\b|\bDYN:T\d\b|unusual sending activity|receiving mail at a rate|server busy\. please try again later|exceeded (?:the )?(?:maximum )?(?:number of )?(?:messages|connections)/i,
  },
  {
    name: 'blocklisted',
    reason: 'blocked',
    pattern:
      /spamhaus|spamcop|barracuda(?:central)?|\bsorbs\b|\buceprotect\b|\bpsbl\b|block ?list|black ?list|black listed|\brbl\b|dnsbl|blocked using|(?<!not )listed (?:at|on|in|by)|reputation|banned sending ip|\bRLY:B\d\b|\bCON:B\d\b|\bRTR:BL\b|\bSC-00\d\b|\bOU-00\d\b|\bDY-00\d\b|dial-?up traffic|\[TSS09\]|permanently deferred|traffic not accepted from this ip|bad outbound sender|not authorized to send e-?mail directly|envelope blocked|administrative prohibition|ipcheck\.proofpoint|dnsbl-lookup|sender (?:ip|address) (?:is )?blocked|ip (?:address )?(?:is )?blocked/i,
  },
  {
    name: 'content',
    reason: 'content-rejected',
    pattern:
      /virus|malware|infected|phishing|spam|spam (?:score|content)|likely unsolicited|unsolicited (?:mail|e-?mail|bulk)|bulk mail|message content|content (?:rejected|policy|filter)|looks like spam|\bHVU:B\d\b|suspicious (?:content|link|attachment|url)|banned (?:attachment|file)|attachment (?:type )?(?:not allowed|blocked)/i,
  },
  {
    name: 'sender-policy',
    reason: 'policy',
    pattern:
      /sender verify failed|verification failed for|recipient address rejected: access denied|sender address rejected|client host rejected|helo command rejected|cannot find your (?:hostname|reverse)|reverse dns|\bptr\b|\brdns\b|\bDNS:NR\b|relay(?:ing)? (?:access )?(?:denied|not permitted|not allowed|prohibited)|open relay|not permitted to relay|unable to relay|tls (?:is )?required|must issue a starttls|encryption required|invalid dns mx or a\/aaaa|domain of sender address|sender domain (?:does not exist|must resolve|not found)|resolver\.rst\.|anti-?spoofing|greylist|graylist|external forwarding|not allowed to send|ipv6 sending guidelines/i,
  },
  {
    name: 'mailbox-full',
    reason: 'mailbox-full',
    pattern:
      /mailbox (?:is )?full|mail ?box (?:size limit|quota)|over ?quota|quota (?:exceeded|full)|exceeded (?:the |his |her )?(?:storage|quota|mailbox)|exceeds? (?:the )?(?:user'?s )?quota|insufficient (?:storage|disk|system storage)|out of storage|storage (?:space|allocation|limit)|inbox is full|blocks limit exceeded|inode limit exceeded|QuotaExceeded|mailfolder is over/i,
  },
  {
    name: 'too-big',
    reason: 'message-too-big',
    pattern: /message (?:size|too big|too large|length)|too (?:big|large)|size (?:limit|exceeds)|exceeds? (?:the )?(?:fixed |maximum )?(?:message )?size|exceeded .{0,80}size limits?|maximum message size/i,
  },
  {
    name: 'gave-up',
    reason: 'expired',
    pattern:
      /too long in (?:the )?queue|been in the queue too long|maximal_queue_lifetime|could not be delivered for \d+ (?:days|hours)|cannot send message for \d+ (?:days|hours)/i,
  },
  {
    name: 'moved',
    reason: 'moved',
    pattern: /has moved|user not local|no longer (?:with|at|works)|forwarding address|new address is|please try <|changed (?:his|her|their) (?:e-?mail )?address/i,
  },
  {
    name: 'disabled',
    reason: 'mailbox-disabled',
    pattern:
      /disabled|suspended|deactivated|inactive|(?:account|mailbox) (?:is |has been )?(?:locked|closed|blocked|frozen|expired|discontinued)|no longer (?:active|available|in use)|discontinued|not accepting mail|mailbox (?:is )?not (?:enabled|active)/i,
  },
  {
    name: 'host-unknown',
    reason: 'host-unknown',
    pattern:
      /host (?:or domain name )?not found|domain (?:name )?(?:not found|does not exist|unknown|couldn't be found|could not be found)|name service error|nxdomain|no mx|unrouteable|unroutable|no such domain|host unknown|unknown host|couldn't find any host|could not find any host|non-existent hosts?|dns error: (?:domain|dns server returned answer with no data)|domain .{0,255} couldn't be found|bad destination system/i,
  },
  {
    name: 'user-unknown',
    reason: 'user-unknown',
    pattern:
      /user unknown|unknown user|no such (?:user|mailbox|recipient|address|person|account)|does not exist|doesn'?t exist|not exist|doesn'?t have an? \S+ account|invalid (?:recipient|mailbox|address|user)|recipient (?:address )?rejected|recipient not found|recipientnotfound|mailbox (?:not found|unavailable|does not exist)|address (?:rejected|not found|couldn't be found|unknown)|unknown (?:recipient|mailbox|address|local part)|not a valid|no mailbox|user not found|account (?:\S+ )?not found|not listed in (?:domino directory|public name & address book)|addressee unknown|unknown or illegal alias|no such local user|is not a known user|user doesn't have|bad recipient|recipient unknown|undeliverable address|mailbox unknown|suppressed sending to this address|not our customer|unable to receive mail/i,
  },
  {
    name: 'network',
    reason: 'network',
    pattern:
      /connection (?:refused|timed out|reset|closed|lost|dropped)|lost connection|timed out|network (?:is )?unreachable|no route to host|couldn't establish|wasn't able to establish|unable to connect|could not connect|connect to .{0,300} failed|read error|broken pipe|tls handshake|temporarily unavailable|temporary (?:failure|error|problem)|service (?:not available|unavailable)|try again later|mail loop|loops back to myself|looping|hop count exceeded/i,
  },
  { name: 'policy', reason: 'policy', pattern: /polic(?:y|ies)|prohibited|not permitted|not allowed|access denied|refused/i },
  { name: 'blocked', reason: 'blocked', pattern: /\bblocked\b|\bbanned\b|\bdenied\b/i },
];

/** Status subject.detail → reason (RFC 3463, RFC 7372, RFC 7504 and common practice). */
const STATUS_RULES: ReadonlyMap<string, BounceReason> = new Map<string, BounceReason>([
  ['1.0', 'user-unknown'],
  ['1.1', 'user-unknown'],
  ['1.2', 'host-unknown'],
  ['1.3', 'user-unknown'],
  ['1.6', 'moved'],
  ['1.7', 'policy'],
  ['1.8', 'policy'],
  ['1.10', 'user-unknown'],
  ['2.0', 'mailbox-disabled'],
  ['2.1', 'mailbox-disabled'],
  ['2.2', 'mailbox-full'],
  ['2.3', 'message-too-big'],
  ['3.4', 'message-too-big'],
  ['4.1', 'network'],
  ['4.2', 'network'],
  ['4.3', 'host-unknown'],
  ['4.4', 'host-unknown'],
  ['4.7', 'expired'],
  ['7.0', 'policy'],
  ['7.1', 'policy'],
  ['7.23', 'auth-failure'],
  ['7.24', 'auth-failure'],
  ['7.25', 'policy'],
  ['7.26', 'auth-failure'],
  ['7.27', 'auth-failure'],
  ['7.7', 'content-rejected'],
  ['7.9', 'auth-failure'],
  ['7.28', 'rate-limited'],
  // Microsoft's extended 5.7.xxx codes (Exchange Online)
  ['7.509', 'auth-failure'],
  ['7.510', 'auth-failure'],
  ['7.511', 'blocked'],
  ['7.512', 'blocked'],
  ['7.606', 'blocked'],
  ['7.607', 'blocked'],
  ['7.608', 'blocked'],
  ['7.708', 'blocked'],
  ['7.750', 'blocked'],
  ['7.133', 'policy'],
  ['7.134', 'policy'],
  ['7.135', 'policy'],
  ['7.136', 'policy'],
  ['7.500', 'rate-limited'],
  ['7.520', 'policy'],
  ['3.0', 'network'],
  ['4.0', 'network'],
]);
/** The subject alone (x.S.*) when the detail is not in STATUS_RULES. */
const SUBJECT_RULES: ReadonlyMap<string, BounceReason> = new Map<string, BounceReason>([
  ['1', 'user-unknown'],
  ['2', 'mailbox-disabled'],
  ['3', 'network'],
  ['4', 'network'],
  ['5', 'network'],
  ['6', 'content-rejected'],
  ['7', 'policy'],
]);

/**
 * Only this much of a diagnostic is matched against the text rules: a receiver's reason comes
 * first, and a text bounce may hand a whole paragraph. Bounds the work per recipient.
 */
export const MAX_CLASSIFIED_TEXT = 4096;

/** The reason of one failed or delayed recipient, and whether it lists the address. */
export function classifyBounce(facts: BounceFacts): BounceClass {
  const permanent = facts.action === 'failed' && facts.status !== null && facts.status.startsWith('5.');
  // A failure with a class-4 status is a temporary problem the sending MTA gave up on (Postfix
  // at maximal_queue_lifetime, Exim after its retry rules): the message expired in the queue.
  const gaveUp = facts.action === 'failed' && facts.status !== null && facts.status.startsWith('4.');
  const done = (reason: BounceReason, rule: string): BounceClass => {
    const r = gaveUp && (reason === 'network' || reason === 'other') ? 'expired' : reason;
    return { reason: r, permanent, listsAddress: permanent && ADDRESS_LEVEL_REASONS.has(r), rule: r === reason ? rule : `${rule}+gave-up` };
  };
  const text = facts.diagnostic ?? '';
  if (text !== '') {
    const byText = classifyText(text);
    if (byText !== null) return done(byText.reason, `text:${byText.name}`);
  }
  if (facts.status !== null) {
    const [, subject, detail] = facts.status.split('.');
    const exact = STATUS_RULES.get(`${subject}.${detail}`);
    if (exact !== undefined) return done(exact, `status:${facts.status}`);
    const bySubject = subject === '0' ? undefined : SUBJECT_RULES.get(subject ?? '');
    if (bySubject !== undefined) return done(bySubject, `status:${facts.status}`);
  }
  return done('other', facts.status === null ? 'none' : `status:${facts.status}`);
}

/**
 * The first text rule matching `text` (its name and reason), or null. For callers that hold
 * more prose than the one diagnostic (the intro of a text bounce).
 */
export function classifyText(text: string): { readonly name: string; readonly reason: BounceReason } | null {
  const head = text.length > MAX_CLASSIFIED_TEXT ? text.slice(0, MAX_CLASSIFIED_TEXT) : text;
  for (const r of TEXT_RULES) if (r.pattern.test(head)) return { name: r.name, reason: r.reason };
  return null;
}
