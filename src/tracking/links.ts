/**
 * Tracking URLs for one configured base URL: `${baseUrl}/o/<token>` for the open pixel and
 * `${baseUrl}/c/<token>` for a click (http/server.ts serves both). Tokens: token.ts.
 *
 * The base URL is trxmail.yaml `http.baseUrl`: absolute http/https, may carry a path prefix
 * (`https://t.example.com/mail`), no query or fragment; a trailing slash is dropped.
 *
 * Throws InvariantError from the constructor for an unusable base URL or an empty key list,
 * and from pixelUrl for a send id or recipient a token cannot carry (token.ts: send ids of
 * 1..MAX_TRACKING_SEND_ID_BYTES, addresses of 1..MAX_ADDRESS_LENGTH bytes; a queue id and an
 * address core accepted always fit). clickUrl returns null instead: that link stays as it is.
 */
import { InvariantError } from '../lib/errors.js';
import type { HmacKey } from '../lib/hmac-keys.js';
import { clickTokenSigner, signTrackingToken } from './token.js';

/** Path segment of the open pixel. */
export const OPEN_PATH = 'o';
/** Path segment of the click redirect. */
export const CLICK_PATH = 'c';

export class TrackingLinks {
  readonly baseUrl: string;
  private readonly keys: readonly HmacKey[];
  /** The click signer of the send and recipient asked last (a message asks for all its links in a row). */
  private last: { sendId: string; recipient: string; sign: ((url: string) => string | null) | null } | null = null;

  constructor(baseUrl: string, keys: readonly HmacKey[]) {
    const trimmed = baseUrl.replace(/\/+$/, '');
    let parsed: URL | null = null;
    try {
      parsed = new URL(trimmed);
    } catch {
      parsed = null;
    }
    if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || /[?#]/.test(trimmed)) {
      throw new InvariantError('tracking links: base URL must be an absolute http(s) URL without query or fragment');
    }
    if (keys.length === 0) throw new InvariantError('tracking links: no HMAC key configured');
    this.baseUrl = trimmed;
    this.keys = keys;
  }

  /** URL of the 1×1 open pixel for this send and recipient. */
  pixelUrl(sendId: string, recipient: string): string {
    const token = signTrackingToken({ kind: 'open', sendId, recipient }, this.keys);
    if (token === null) throw new InvariantError('tracking links: send id or recipient cannot be carried in a tracking token');
    return `${this.baseUrl}/${OPEN_PATH}/${token}`;
  }

  /**
   * Tracking URL that redirects to exactly `url`, or null when `url` is not tracked (not an
   * absolute http/https URL, longer than MAX_TRACKED_URL_LENGTH, or ids a token cannot carry).
   */
  clickUrl(sendId: string, recipient: string, url: string): string | null {
    let last = this.last;
    if (last === null || last.sendId !== sendId || last.recipient !== recipient) {
      last = { sendId, recipient, sign: clickTokenSigner(sendId, recipient, this.keys) };
      this.last = last;
    }
    const token = last.sign === null ? null : last.sign(url);
    return token === null ? null : `${this.baseUrl}/${CLICK_PATH}/${token}`;
  }
}
