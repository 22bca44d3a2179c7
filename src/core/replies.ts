/**
 * The table of every rejection core can give: reason → SMTP reply code, RFC 3463 enhanced
 * status code and the builder of the human-readable text.
 *
 * Replies are one line of printable ASCII (RFC 5321 §4.2). Any text that came from the
 * client (an address, a header value) goes through `safeEcho` first: characters outside
 * printable ASCII become `?` (so CR, LF and NUL can never reach the wire) and it is cut to
 * MAX_ECHO_LENGTH characters followed by `...`.
 *
 * Pure: no I/O. Throws nothing.
 */
import { RejectError } from './errors.js';
import { MAX_ECHO_LENGTH, MAX_PAUSE_REASON_LENGTH, MAX_TAG_LENGTH, MAX_TAGS } from './limits.js';
import { MAX_FLAGS, type RejectReason, type Rejection } from './types.js';

/**
 * Client text made safe for a reply: printable ASCII only (others → `?`), at most
 * `max` characters (then `...` appended). Code points, not UTF-16 units, are counted so a
 * surrogate pair becomes one `?`.
 */
export function safeEcho(text: string, max: number = MAX_ECHO_LENGTH): string {
  let out = '';
  let n = 0;
  for (const ch of text) {
    if (n === max) return out + '...';
    const c = ch.codePointAt(0) ?? 0;
    out += c >= 0x20 && c <= 0x7e ? ch : '?';
    n++;
  }
  return out;
}

interface ReplySpec<A extends readonly unknown[]> {
  readonly code: number;
  readonly enhanced: string;
  readonly text: (...args: A) => string;
}

/** Every rejection: reason → code, enhanced code, text builder. The README quotes this table. */
export const REPLIES = {
  'auth-required': {
    code: 530,
    enhanced: '5.7.0',
    text: () => 'Authentication required',
  },
  // Postfix's own words for a plain-text MAIL on a listener that requires TLS (smtpd.c), so a
  // client sees one reply for "no TLS" whether Postfix or trxmail's policy service refuses.
  'starttls-required': {
    code: 530,
    enhanced: '5.7.0',
    text: () => 'Must issue a STARTTLS command first',
  },
  'null-sender': {
    code: 553,
    enhanced: '5.1.7',
    text: () => 'Null sender not allowed: MAIL FROM must be an address in one of your sender domains',
  },
  'sender-syntax': {
    code: 553,
    enhanced: '5.1.7',
    text: (address: string) => `Sender address <${safeEcho(address)}> is not a valid address`,
  },
  'sender-domain-not-allowed': {
    code: 553,
    enhanced: '5.7.1',
    text: (domain: string) => `Sender domain <${safeEcho(domain)}> is not allowed for this account`,
  },
  'invalid-flags': {
    code: 554,
    enhanced: '5.6.0',
    text: (value: string) =>
      `X-Mxm-Flags value "${safeEcho(value)}" is invalid: expected an integer from 0 to ${MAX_FLAGS}`,
  },
  'invalid-unsubscribe': {
    code: 554,
    enhanced: '5.6.0',
    text: (value: string) => `X-Mxm-Unsubscribe value "${safeEcho(value)}" is invalid: expected one-click or none`,
  },
  'too-many-tags': {
    code: 554,
    enhanced: '5.6.0',
    text: (count: number) => `X-Mxm-Tag: too many tags (${count}, at most ${MAX_TAGS})`,
  },
  'tag-too-long': {
    code: 554,
    enhanced: '5.6.0',
    text: () => `X-Mxm-Tag: a tag is longer than ${MAX_TAG_LENGTH} characters`,
  },
  'tag-control-character': {
    code: 554,
    enhanced: '5.6.0',
    text: (codePoint: number) =>
      `X-Mxm-Tag: a tag contains a control character or line break (U+${codePoint.toString(16).toUpperCase().padStart(4, '0')})`,
  },
  'no-recipients': {
    code: 554,
    enhanced: '5.5.1',
    text: () => 'No valid recipients',
  },
  'too-many-recipients': {
    code: 554,
    enhanced: '5.5.3',
    text: (count: number, max: number) => `Too many recipients (${count}, at most ${max})`,
  },
  'no-to': {
    code: 554,
    enhanced: '5.6.0',
    text: () => 'Message must have a To: header with one recipient address',
  },
  'to-not-in-rcpt': {
    code: 554,
    enhanced: '5.7.1',
    text: (address: string) => `To: address <${safeEcho(address)}> is not one of the RCPT TO recipients`,
  },
  // Sending limits and pause (core/sending-limits.ts): temporary, the client retries later.
  // At RCPT Postfix puts `<rcpt>: Recipient address rejected: ` before the text.
  'sending-limit': {
    code: 451,
    enhanced: '4.7.0',
    text: (limit: number, window: string) => `Sending limit of ${limit} messages per ${window} reached for this space; try again later`,
  },
  'space-paused': {
    code: 451,
    enhanced: '4.7.1',
    text: (reason: string) => `Sending paused for this space: ${safeEcho(reason, MAX_PAUSE_REASON_LENGTH)}; contact your administrator`,
  },
} as const satisfies { readonly [R in RejectReason]: ReplySpec<never[]> };

type ReplyArgs<R extends RejectReason> = Parameters<(typeof REPLIES)[R]['text']>;

/** Build the Rejection verdict for `reason`, with the arguments its text needs. */
export function rejection<R extends RejectReason>(reason: R, ...args: ReplyArgs<R>): Rejection {
  const spec: ReplySpec<ReplyArgs<R>> = REPLIES[reason] as ReplySpec<ReplyArgs<R>>;
  return { kind: 'reject', reason, code: spec.code, enhanced: spec.enhanced, text: spec.text(...args) };
}

/** The RejectError an adapter throws (or a stream errors with) for a Rejection; its code is the reason. */
export function rejectErrorFor(r: Rejection): RejectError {
  return new RejectError(r.reason, { code: r.code, enhanced: r.enhanced, text: r.text });
}
