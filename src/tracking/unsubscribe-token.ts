/**
 * Unsubscribe tokens: the self-verifying part of the one-click unsubscribe URL (RFC 8058)
 * trxmail writes into List-Unsubscribe (README, "One-click unsubscribe"). The HTTP service
 * (http/unsubscribe.ts) puts the recipient on the space's Unsubscribe list for a POST to it.
 *
 * A token names the space, the send and the recipient. Nothing is looked up to verify it; the
 * HMAC proves trxmail wrote it, so a forged or edited token cannot unsubscribe anybody.
 * Layout (bytes, then base64url without padding, RFC 4648 section 5):
 *
 *     0        version          UNSUBSCRIBE_TOKEN_VERSION (1)
 *     1..2     key tag          first 2 bytes of SHA-256("trxmail/unsubscribe-key-tag", key id)
 *     3..      fields           each: 2-byte big-endian length, then that many UTF-8 bytes:
 *                               space id (decimal), send id, recipient
 *     last 16  MAC              HMAC-SHA256(secret, "trxmail/unsubscribe-token", "1", space id,
 *                               send id, recipient) (length-prefixed parts, lib/hmac-keys.ts),
 *                               first UNSUBSCRIBE_MAC_BYTES bytes (128 bits)
 *
 * The purpose label differs from the tracking tokens' ("trxmail/tracking-token"), so an open
 * or click token can never verify as an unsubscribe token, nor the reverse, even with the
 * same keys (and the layouts differ too).
 *
 * Keys rotate like tracking tokens and bounce addresses: the first configured key signs,
 * every configured key verifies.
 *
 * What can be signed: a positive integer space id, a send id of 1..MAX_TRACKING_SEND_ID_BYTES
 * and a recipient of 1..MAX_ADDRESS_LENGTH UTF-8 bytes, without control characters; else sign
 * returns null. Strict decoding (canonical base64url, exact field lengths, well-formed UTF-8).
 *
 * Never throws on input: sign returns null, verify returns null.
 */
import { constantTimeEqual, hmacSha256, sha256Parts, type HmacKey } from '../lib/hmac-keys.js';
import { MAX_ADDRESS_LENGTH, MAX_TRACKING_SEND_ID_BYTES, MAX_UNSUBSCRIBE_TOKEN_LENGTH } from '../lib/limits.js';
import { readFields } from './token.js';

export const UNSUBSCRIBE_TOKEN_VERSION = 1;
export const UNSUBSCRIBE_KEY_TAG_BYTES = 2;
export const UNSUBSCRIBE_MAC_BYTES = 16;

const MAC_PURPOSE = 'trxmail/unsubscribe-token';
const TAG_PURPOSE = 'trxmail/unsubscribe-key-tag';
const HEADER_BYTES = 1 + UNSUBSCRIBE_KEY_TAG_BYTES;
const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const SPACE_ID_RE = /^[1-9][0-9]{0,14}$/;

export interface UnsubscribeClaims {
  readonly spaceId: number;
  readonly sendId: string;
  readonly recipient: string;
}

function fits(s: unknown, maxBytes: number): s is string {
  return typeof s === 'string' && s.length > 0 && !CONTROL_RE.test(s) && !LONE_SURROGATE_RE.test(s) && Buffer.byteLength(s, 'utf8') <= maxBytes;
}

function signable(c: UnsubscribeClaims): boolean {
  return (
    typeof c === 'object' &&
    c !== null &&
    Number.isSafeInteger(c.spaceId) &&
    c.spaceId > 0 &&
    fits(c.sendId, MAX_TRACKING_SEND_ID_BYTES) &&
    fits(c.recipient, MAX_ADDRESS_LENGTH)
  );
}

function keyTag(id: string): Buffer {
  return sha256Parts([TAG_PURPOSE, id]).subarray(0, UNSUBSCRIBE_KEY_TAG_BYTES);
}

function mac(key: HmacKey, c: UnsubscribeClaims): Buffer {
  return hmacSha256(key.secret, [MAC_PURPOSE, String(UNSUBSCRIBE_TOKEN_VERSION), String(c.spaceId), c.sendId, c.recipient]).subarray(0, UNSUBSCRIBE_MAC_BYTES);
}

/** The token for `claims`, signed with the first key; null when there is no key or the claims cannot be carried. */
export function signUnsubscribeToken(claims: UnsubscribeClaims, keys: readonly HmacKey[]): string | null {
  const key = Array.isArray(keys) ? (keys[0] as HmacKey | undefined) : undefined;
  if (key === undefined || !signable(claims)) return null;
  const parts: Buffer[] = [Buffer.from([UNSUBSCRIBE_TOKEN_VERSION]), keyTag(key.id)];
  for (const f of [String(claims.spaceId), claims.sendId, claims.recipient]) {
    const b = Buffer.from(f, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(b.length);
    parts.push(len, b);
  }
  parts.push(mac(key, claims));
  return Buffer.concat(parts).toString('base64url');
}

/** The claims of a token one of `keys` signed, or null for anything else. Never throws. */
export function verifyUnsubscribeToken(token: unknown, keys: readonly HmacKey[]): UnsubscribeClaims | null {
  if (typeof token !== 'string' || token.length > MAX_UNSUBSCRIBE_TOKEN_LENGTH || !BASE64URL_RE.test(token)) return null;
  if (!Array.isArray(keys)) return null;
  const bytes = Buffer.from(token, 'base64url');
  if (bytes.toString('base64url') !== token) return null;
  if (bytes.length < HEADER_BYTES + UNSUBSCRIBE_MAC_BYTES || bytes[0] !== UNSUBSCRIBE_TOKEN_VERSION) return null;
  const body = bytes.subarray(HEADER_BYTES, bytes.length - UNSUBSCRIBE_MAC_BYTES);
  const fields = readFields(body, 3);
  if (fields === null) return null;
  const [spaceText = '', sendId = '', recipient = ''] = fields;
  if (!SPACE_ID_RE.test(spaceText)) return null;
  const claims: UnsubscribeClaims = { spaceId: Number(spaceText), sendId, recipient };
  if (!signable(claims)) return null;
  const tag = bytes.subarray(1, HEADER_BYTES);
  const given = bytes.subarray(bytes.length - UNSUBSCRIBE_MAC_BYTES);
  let matched = false;
  for (const key of keys as readonly unknown[]) {
    if (typeof key !== 'object' || key === null) continue;
    const k = key as HmacKey;
    if (typeof k.id !== 'string' || typeof k.secret !== 'string' || !keyTag(k.id).equals(tag)) continue;
    if (constantTimeEqual(mac(k, claims), given)) matched = true;
  }
  return matched ? claims : null;
}

/** Path segment of the one-click unsubscribe URL (http/unsubscribe.ts serves it). */
export const UNSUBSCRIBE_PATH = 'u';

/**
 * The one-click unsubscribe URL `${baseUrl}/u/<token>` of a space's send to a recipient, or
 * null when the claims cannot be carried or there is no key. `baseUrl` as TrackingLinks keeps
 * it (http.baseUrl without a trailing slash).
 */
export function unsubscribeUrl(baseUrl: string, claims: UnsubscribeClaims, keys: readonly HmacKey[]): string | null {
  const token = signUnsubscribeToken(claims, keys);
  return token === null ? null : `${baseUrl}/${UNSUBSCRIBE_PATH}/${token}`;
}
