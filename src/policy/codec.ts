/**
 * Postfix SMTP access policy delegation (`check_policy_service`), server side: incremental
 * request reader and reply serialiser. Wire facts: docs/protocols.md §0 and §2.
 *
 * Wire layout (no encoding of any kind):
 *   request = 1*( name "=" value LF ) LF     name: bytes up to the first "="; value: the rest
 *                                           of the line, which may itself contain "="
 *   reply   = "action=" text LF LF
 * The request must carry `request=smtpd_access_policy`. Order is meaningless; unknown names
 * are kept (the decider ignores what it does not know). Bytes are decoded as UTF-8 (Postfix
 * sends UTF-8 with SMTPUTF8, ASCII otherwise); invalid sequences become U+FFFD.
 *
 * Limits: MAX_POLICY_LINE bytes per line (LF not counted), MAX_POLICY_ATTRIBUTES attributes
 * per request. Refused with ProtocolError (codes in POLICY_ERROR): a line over the cap, too
 * many attributes, a line without "=" or with an empty name, a NUL byte, the same name
 * twice, a request without `request=smtpd_access_policy`. Postfix never sends any of these;
 * the caller logs and drops the connection without replying, as the protocol asks.
 * serialisePolicyAction() throws InvariantError for an action the wire cannot carry.
 *
 * Pure: no I/O.
 */
import { InvariantError, ProtocolError } from '../lib/errors.js';
import { MAX_POLICY_ATTRIBUTES, MAX_POLICY_LINE } from '../lib/limits.js';
import { LineSplitter } from '../lib/line-splitter.js';
import { escapeLogValue } from '../lib/logger.js';

/** ProtocolError codes of the policy protocol. */
export const POLICY_ERROR = {
  LINE_TOO_LONG: 'EPOLICY_LINE_TOO_LONG',
  TOO_MANY_ATTRIBUTES: 'EPOLICY_TOO_MANY_ATTRIBUTES',
  BAD_LINE: 'EPOLICY_BAD_LINE',
  NUL_BYTE: 'EPOLICY_NUL_BYTE',
  DUPLICATE_ATTRIBUTE: 'EPOLICY_DUPLICATE_ATTRIBUTE',
  BAD_REQUEST: 'EPOLICY_BAD_REQUEST',
  TOO_MANY_QUEUED: 'EPOLICY_TOO_MANY_QUEUED',
} as const;

/** The only request type Postfix sends. */
export const POLICY_REQUEST_TYPE = 'smtpd_access_policy';

/**
 * One request: attribute name → value. A null-prototype object, so names such as
 * `__proto__` or `constructor` are plain keys.
 */
export type PolicyRequest = Readonly<Record<string, string>>;

const ACTION_PREFIX = 'action=';

export class PolicyRequestReader {
  readonly #splitter = new LineSplitter(
    MAX_POLICY_LINE,
    (n) => new ProtocolError(POLICY_ERROR.LINE_TOO_LONG, `policy client line longer than ${MAX_POLICY_LINE} bytes (${n} so far)`),
  );
  #attributes: Record<string, string> = Object.create(null) as Record<string, string>;
  #count = 0;

  /** Append bytes from the socket. */
  push(chunk: Uint8Array): void {
    this.#splitter.push(chunk);
  }

  /** The next complete request, or null if none is complete yet. Throws ProtocolError. */
  next(): PolicyRequest | null {
    for (let raw = this.#splitter.next(); raw !== null; raw = this.#splitter.next()) {
      if (raw.length === 0) return this.#finish();
      if (raw.includes(0)) throw new ProtocolError(POLICY_ERROR.NUL_BYTE, 'NUL byte in policy request');
      const eq = raw.indexOf(0x3d); // "="
      if (eq <= 0) {
        throw new ProtocolError(POLICY_ERROR.BAD_LINE, `policy request line without "name=": "${escapeLogValue(raw.toString('utf8'), 60)}"`);
      }
      const name = raw.subarray(0, eq).toString('utf8');
      if (Object.hasOwn(this.#attributes, name)) {
        throw new ProtocolError(POLICY_ERROR.DUPLICATE_ATTRIBUTE, `policy request repeats attribute "${escapeLogValue(name, 60)}"`);
      }
      if (this.#count >= MAX_POLICY_ATTRIBUTES) {
        throw new ProtocolError(POLICY_ERROR.TOO_MANY_ATTRIBUTES, `policy request has more than ${MAX_POLICY_ATTRIBUTES} attributes`);
      }
      this.#attributes[name] = raw.subarray(eq + 1).toString('utf8');
      this.#count++;
    }
    return null;
  }

  #finish(): PolicyRequest {
    const request = this.#attributes;
    this.#attributes = Object.create(null) as Record<string, string>;
    this.#count = 0;
    const type = request['request'];
    if (type !== POLICY_REQUEST_TYPE) {
      throw new ProtocolError(
        POLICY_ERROR.BAD_REQUEST,
        type === undefined ? 'policy request without request=' : `policy request type "${escapeLogValue(type, 60)}" is not ${POLICY_REQUEST_TYPE}`,
      );
    }
    return Object.freeze(request);
  }
}

/**
 * The reply line for an access(5) action such as `DUNNO`, `REJECT text` or `550 5.7.1 text`:
 * `action=<text>\n\n`. Refuses (InvariantError) an empty action, CR, LF or NUL in it, and a
 * line longer than MAX_POLICY_LINE bytes.
 */
export function serialisePolicyAction(action: string): string {
  if (typeof action !== 'string' || action.trim() === '') throw new InvariantError('policy action must be a non-empty string');
  if (/[\r\n\0]/.test(action)) throw new InvariantError('policy action must not contain CR, LF or NUL');
  const line = ACTION_PREFIX + action;
  if (Buffer.byteLength(line, 'utf8') > MAX_POLICY_LINE) throw new InvariantError(`policy action longer than ${MAX_POLICY_LINE} bytes`);
  return `${line}\n\n`;
}
