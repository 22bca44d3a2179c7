/**
 * The facts core/ decides on and the verdicts it returns. Pure data: no I/O, no clock.
 *
 * Adapters (milter, policy, filter, transform tests) gather these facts, call
 * `evaluate()` (src/core/evaluate.ts) and translate the verdict to their wire format.
 */

/** Bit values of X-Mxm-Flags. */
export const FLAG_OPEN_TRACKING = 1;
export const FLAG_CLICK_TRACKING = 2;
export const FLAG_CHECK_UNSUBSCRIBE = 4;
export const FLAG_IGNORE_BOUNCES = 8;
/** Built-in default when nothing is configured: open + click tracking, bounce list checked. */
export const DEFAULT_FLAGS = FLAG_OPEN_TRACKING | FLAG_CLICK_TRACKING;
export const MAX_FLAGS = 15;

/** Where the effective flags came from, highest precedence first. */
export type FlagSource = 'header' | 'from-address' | 'space' | 'default';

/** A header field as it appears in the message. */
export interface HeaderField {
  /** Field name as written (case kept), e.g. "From". */
  readonly name: string;
  /**
   * Field body exactly as in the message after the colon, decoded from bytes as UTF-8
   * (Latin-1 when not valid UTF-8). Folding line breaks (CRLF or LF + WSP) are kept and it
   * may start with whitespace; parsers must unfold and trim themselves.
   */
  readonly value: string;
}

/** The customer space's settings that the rules need. */
export interface SpaceFacts {
  readonly id: number;
  readonly name: string;
  /** Sender domains, normalised: lower-case A-label, no trailing dot. */
  readonly domains: readonly string[];
  /** Whether subdomains of the allowed domains are allowed too. */
  readonly allowSubdomains: boolean;
  /** Space default flags, or null when not configured. */
  readonly defaultFlags: number | null;
}

/** Answer of the suppression lists for one recipient. */
export interface SuppressionAnswer {
  readonly bounce?: { readonly reason: string } | undefined;
  readonly unsubscribe?: { readonly reason: string } | undefined;
}

export interface Facts {
  readonly space: SpaceFacts;
  /** Login (e-mail) of the authenticated user. */
  readonly user: string;
  /** MAIL FROM as given by the client, without angle brackets ("" = null sender). */
  readonly mailFrom: string;
  /** RCPT TO addresses in order, without angle brackets. */
  readonly rcptTo: readonly string[];
  /** Top-level header fields of the message in order. */
  readonly headers: readonly HeaderField[];
  /** Per-from-address default flags for the MAIL FROM address, or null when none. */
  readonly fromAddressFlags: number | null;
  /**
   * Suppression answers keyed by the RCPT TO string exactly as in `rcptTo`.
   * A missing key means "not on any list".
   */
  readonly suppression: Readonly<Record<string, SuppressionAnswer>>;
  /**
   * One-click unsubscribe defaults (X-Mxm-Unsubscribe, core/unsubscribe.ts) of the From
   * address and of the space; null or absent: none configured.
   */
  readonly unsubscribeDefaults?: { readonly fromAddress: boolean | null; readonly space: boolean | null };
  /** The envelope sender to use for the message (bounce address), computed by the adapter. */
  readonly bounceAddress: string;
}

export interface Rejection {
  readonly kind: 'reject';
  /** Stable machine-readable reason, e.g. "sender-domain-not-allowed". */
  readonly reason: RejectReason;
  readonly code: number;
  readonly enhanced: string;
  /** One line of ASCII, no CR/LF. */
  readonly text: string;
}

export type RejectReason =
  | 'auth-required'
  | 'starttls-required'
  | 'null-sender'
  | 'sender-syntax'
  | 'sender-domain-not-allowed'
  | 'no-recipients'
  | 'too-many-recipients'
  | 'no-to'
  | 'to-not-in-rcpt'
  | 'invalid-flags'
  | 'invalid-unsubscribe'
  | 'too-many-tags'
  | 'tag-too-long'
  | 'tag-control-character'
  | 'sending-limit'
  | 'space-paused';

/**
 * A header edit, applied in list order. Names compare case-insensitively.
 * - delete: remove every field with this name.
 * - set: replace the FIRST field with this name in place (written as `Name: value`), delete
 *   the others; append at the end of the header block when there is none.
 * `value` never contains CR or LF (the transform refuses it) and is already in the form to
 * write: non-ASCII display names RFC 2047-encoded; only an SMTPUTF8 address may be raw UTF-8.
 */
export type HeaderEdit =
  | { readonly op: 'delete'; readonly name: string }
  | { readonly op: 'set'; readonly name: string; readonly value: string };

export type SuppressionList = 'bounce' | 'unsubscribe';

export interface RecipientOutcome {
  /** As given in RCPT TO. */
  readonly address: string;
  readonly role: 'to' | 'bcc' | 'discarded';
  /** Set when the recipient is suppressed and gets nothing. */
  readonly suppressed: { readonly list: SuppressionList; readonly reason: string } | null;
}

export interface Acceptance {
  readonly kind: 'accept';
  readonly headerEdits: readonly HeaderEdit[];
  /** New envelope sender (the bounce address from the facts). */
  readonly envelopeSender: string;
  /** The From address now in the message (= MAIL FROM). */
  readonly from: string;
  /** Decoded display name kept from the original From, or null. */
  readonly fromDisplayName: string | null;
  /** The RCPT TO address the To header matched. */
  readonly to: string;
  /** The BCC recipient (first other RCPT TO), or null. */
  readonly bcc: string | null;
  /** RCPT TO addresses that get nothing because of the one-To/one-BCC rule. */
  readonly discarded: readonly string[];
  /** Every RCPT TO address with its role and suppression. */
  readonly recipients: readonly RecipientOutcome[];
  /** RCPT TO addresses that will actually receive the message (To and BCC, not suppressed). */
  readonly deliverTo: readonly string[];
  /** RCPT TO addresses to remove from the envelope (discarded and suppressed). */
  readonly removeRecipients: readonly string[];
  readonly flags: number;
  readonly flagsSource: FlagSource;
  readonly tags: readonly string[];
  /**
   * The To copy gets one-click unsubscribe headers (core/unsubscribe.ts): asked for, and the
   * To recipient receives the message. The adapter signs the URL and adds the fields to the
   * To copy only.
   */
  readonly oneClickUnsubscribe: boolean;
  /** What tracking this message gets, or null when none (see TrackingPlan). */
  readonly tracking: TrackingPlan | null;
}

/**
 * Tracking of one accepted message. Present only when the effective flags ask for open or
 * click tracking, the To recipient receives the message (not suppressed) and the top-level
 * Content-Type can hold an HTML part (text/html or multipart; plain text never has one).
 * Whether an HTML part really gets a pixel or a link is known only after the rewrite.
 */
export interface TrackingPlan {
  /** Flag 1: an open pixel in the To copy. */
  readonly open: boolean;
  /** Flag 2: tracked links in the To copy. */
  readonly click: boolean;
  /**
   * The BCC recipient receives the message (not suppressed) and so needs its own untracked
   * copy, rendered like the To copy without tracking, as a separate message.
   */
  readonly bccCopy: boolean;
}

export type Verdict = Rejection | Acceptance;
