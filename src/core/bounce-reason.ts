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
 *  3. the class alone: 'other'.
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
 * Diagnostic text patterns, most specific first. Each is matched case-insensitively against
 * the one-line diagnostic. Sender-side patterns come before address-level ones: "550 5.1.1
 * user unknown" is rare in a blocklist reply, while "rejected ... listed at Spamhaus" often
 * comes with 5.1.1-looking codes from badly configured receivers.
 */
const TEXT_RULES: readonly TextRule[] = [
  { name: 'expired', reason: 'expired', pattern: /retry time(?:out)? (?:not reached|exceeded)|delivery time expired|message expired|too long in queue|did not accept our requests to connect|giving up on|has been delayed for too long|maximal_queue_lifetime|timeout exceeded/i },
  { name: 'blocklisted', reason: 'blocked', pattern: /spamhaus|spamcop|barracuda|sorbs|blocklist|blacklist|block ?list|black ?list|\brbl\b|dnsbl|listed (?:at|on|in)|poor reputation|reputation|banned sending ip|\bblocked\b|access denied.*(?:ip|sender)|not allowed to send|ip .* not allowed/i },
  { name: 'auth', reason: 'auth-failure', pattern: /\bspf\b|\bdkim\b|\bdmarc\b|not authenticated|unauthenticated|authentication (?:check|fail)|sender verify failed|5\.7\.2[3-7]/i },
  // Before 'rate': receivers write "Mailbox full, try again later" (Postfix's 452 4.2.2).
  { name: 'mailbox-full', reason: 'mailbox-full', pattern: /mailbox (?:is )?full|over ?quota|quota exceeded|exceeded (?:the )?(?:storage|quota)|insufficient (?:storage|disk)|mailbox size limit|out of storage/i },
  { name: 'rate', reason: 'rate-limited', pattern: /rate limit|rate-limit|too many (?:messages|connections|recipients|emails)|try again later|throttl|exceeded .*quota of messages|sending limit|temporarily deferred due to/i },
  { name: 'virus', reason: 'content-rejected', pattern: /virus|malware|\bspam\b|spam content|content (?:rejected|policy|filter)|message content|looks like spam|bulk mail|unsolicited|phishing|suspicious/i },
  { name: 'too-big', reason: 'message-too-big', pattern: /message (?:size|too big|too large|length) exceeds|too (?:big|large)|size limit|exceeds (?:the )?(?:maximum|size)/i },
  { name: 'disabled', reason: 'mailbox-disabled', pattern: /disabled|suspended|deactivated|inactive|locked|no longer (?:active|available|in use)|account (?:has been )?(?:closed|expired)/i },
  { name: 'moved', reason: 'moved', pattern: /has moved|no longer (?:with|at)|forwarding address/i },
  { name: 'host-unknown', reason: 'host-unknown', pattern: /host (?:or domain name )?not found|domain (?:not found|does not exist|unknown)|name service error|nxdomain|no mx|unrouteable|unroutable|no such domain|host unknown/i },
  { name: 'user-unknown', reason: 'user-unknown', pattern: /user unknown|unknown user|no such (?:user|mailbox|recipient|address)|does not exist|doesn't exist|not exist|invalid (?:recipient|mailbox|address)|recipient (?:address )?rejected|mailbox (?:not found|unavailable)|address rejected|unknown (?:recipient|mailbox|address)|not a valid|no mailbox|user not found|account .* not found/i },
  { name: 'tls', reason: 'policy', pattern: /tls (?:is )?required|must issue a starttls|encryption required|reverse dns|\bptr\b|rdns|policy/i },
  { name: 'network', reason: 'network', pattern: /connection (?:refused|timed out|reset)|lost connection|network|temporarily unavailable|system error|try again/i },
];

/** Status subject.detail → reason (RFC 3463, plus RFC 7372 and common practice). */
const STATUS_RULES: ReadonlyMap<string, BounceReason> = new Map<string, BounceReason>([
  ['1.1', 'user-unknown'],
  ['1.0', 'user-unknown'],
  ['1.2', 'host-unknown'],
  ['1.6', 'moved'],
  ['1.10', 'user-unknown'],
  ['2.1', 'mailbox-disabled'],
  ['2.2', 'mailbox-full'],
  ['2.3', 'message-too-big'],
  ['3.4', 'message-too-big'],
  ['4.1', 'network'],
  ['4.2', 'network'],
  ['4.3', 'host-unknown'],
  ['4.4', 'host-unknown'],
  ['4.7', 'expired'],
  ['7.1', 'policy'],
  ['7.23', 'auth-failure'],
  ['7.24', 'auth-failure'],
  ['7.25', 'policy'],
  ['7.26', 'auth-failure'],
  ['7.27', 'auth-failure'],
  ['7.7', 'content-rejected'],
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

/** The reason of one failed or delayed recipient, and whether it lists the address. */
export function classifyBounce(facts: BounceFacts): BounceClass {
  const permanent = facts.action === 'failed' && facts.status !== null && facts.status.startsWith('5.');
  const done = (reason: BounceReason, rule: string): BounceClass => ({
    reason,
    permanent,
    listsAddress: permanent && ADDRESS_LEVEL_REASONS.has(reason),
    rule,
  });
  const text = facts.diagnostic ?? '';
  if (text !== '') {
    for (const r of TEXT_RULES) if (r.pattern.test(text)) return done(r.reason, `text:${r.name}`);
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
