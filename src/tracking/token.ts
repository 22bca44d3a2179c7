/**
 * Tracking tokens: the self-verifying part of the open-pixel and click URLs
 * (docs/architecture.md: "Tracking links are self-verifying (HMAC, with key rotation): the redirect
 * endpoint never sends a browser to a URL that trxmail did not sign").
 *
 * A token names the send, the recipient and, for a click, the exact original URL. Nothing is
 * looked up to verify it; the HMAC proves trxmail wrote it. Layout (bytes, then base64url
 * without padding, RFC 4648 section 5):
 *
 *     0        version          TRACKING_TOKEN_VERSION (1)
 *     1..2     key tag          first 2 bytes of SHA-256("trxmail/tracking-key-tag", key id)
 *     3        kind             1 = open, 2 = click
 *     4..      fields           each: 2-byte big-endian length, then that many UTF-8 bytes
 *                               open:  send id, recipient
 *                               click: send id, recipient, URL
 *     last 16  MAC              HMAC-SHA256(secret, "trxmail/tracking-token", "1", kind name,
 *                               send id, recipient[, URL]) (length-prefixed parts,
 *                               lib/hmac-keys.ts), first TRACKING_MAC_BYTES bytes (128 bits)
 *
 * Strict decoding, so that every edit of a token fails: only base64url characters, the one
 * canonical encoding (unused bits of the last character must be zero), the exact length the
 * fields announce, well-formed UTF-8 (a BOM is kept, not skipped), kind 1 or 2. The MAC is
 * compared in constant time against every configured key carrying the tag.
 *
 * Keys rotate like bounce addresses (bounce/bounce-address.ts): the first configured key signs,
 * every configured key verifies; removing a key from the configuration retires its tokens.
 *
 * What can be signed: a send id of 1..MAX_TRACKING_SEND_ID_BYTES and a recipient of
 * 1..MAX_ADDRESS_LENGTH UTF-8 bytes, no control characters; a URL accepted by
 * redirectLocation() (absolute http/https, at most MAX_TRACKED_URL_LENGTH bytes). Anything
 * else makes signTrackingToken return null (the link is then left untracked).
 *
 * The recipient and URL are readable by anyone who decodes the token (they are signed, not
 * encrypted); the token only goes into the message sent to that recipient.
 *
 * Never throws on input: sign returns null, verify returns null.
 */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { domainToASCII } from 'node:url';
import { constantTimeEqual, macInput, sha256Parts, type HmacKey } from '../lib/hmac-keys.js';
import { MAX_ADDRESS_LENGTH, MAX_TRACKED_URL_LENGTH, MAX_TRACKING_SEND_ID_BYTES, MAX_TRACKING_TOKEN_LENGTH } from '../lib/limits.js';
import { canParseUrl } from './can-parse-url.js';
import { HmacSha256Prefix } from './hmac-prefix.js';

/** Format version: first byte of the token and part of the MAC input. */
export const TRACKING_TOKEN_VERSION = 1;
/** Bytes of the key tag. */
export const TRACKING_KEY_TAG_BYTES = 2;
/** Bytes of truncated HMAC-SHA256 (128 bits). */
export const TRACKING_MAC_BYTES = 16;

const MAC_PURPOSE = 'trxmail/tracking-token';
const TAG_PURPOSE = 'trxmail/tracking-key-tag';
const KIND_BYTE = { open: 1, click: 2 } as const;
const HEADER_BYTES = 1 + TRACKING_KEY_TAG_BYTES + 1;
const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const HTTP_PREFIX_RE = /^https?:\/\//i;
const PRINTABLE_ASCII_RE = /^[\x21-\x7e]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export type TrackingClaims =
  | { readonly kind: 'open'; readonly sendId: string; readonly recipient: string }
  | { readonly kind: 'click'; readonly sendId: string; readonly recipient: string; readonly url: string };

/** Well-formed (no lone surrogates, so UTF-8 round-trips it exactly) and within `maxBytes`. */
function utf8Fits(s: unknown, maxBytes: number): s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > maxBytes) return false;
  // visible ASCII (nearly every URL and address): one byte per character, no surrogates
  if (PRINTABLE_ASCII_RE.test(s)) return true;
  return !LONE_SURROGATE_RE.test(s) && Buffer.byteLength(s, 'utf8') <= maxBytes;
}

/** Percent-encode (UTF-8, upper-case hex) every character outside visible ASCII. */
function encodeNonAscii(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0) ?? 0;
    if (c >= 0x21 && c <= 0x7e) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

/**
 * redirectLocation for a URL of visible ASCII characters (nearly every link), without building a
 * URL object: the URL itself when it starts with http:// or https:// (any case), something
 * follows the `//` that is not `/`, `?`, `#` or `\\` (an authority as written), and the WHATWG
 * parser accepts it — which for these special schemes means a non-empty host too.
 */
function asciiRedirectLocation(url: string): string | null {
  if (url.length === 0 || !HTTP_PREFIX_RE.test(url)) return null;
  const c = url.charCodeAt(url.indexOf('//') + 2);
  if (Number.isNaN(c) || c === 0x2f || c === 0x3f || c === 0x23 || c === 0x5c) return null;
  return canParseUrl(url) ? url : null;
}

/**
 * The Location header value that sends a browser to `url`, or null when `url` is not a URL
 * trxmail tracks: an absolute `http://` or `https://` URL (scheme in any case) that the WHATWG
 * URL parser accepts, at most MAX_TRACKED_URL_LENGTH UTF-8 bytes, without control characters.
 *
 * An all-ASCII URL is returned unchanged, byte for byte (percent-escapes, query order, the
 * fragment, everything). HTTP header values are ASCII, so a URL with other characters is
 * written the way a browser requests it: a non-ASCII host as its IDNA A-label
 * (url.domainToASCII), any other non-ASCII character (and space) percent-encoded as UTF-8;
 * ASCII characters are never touched. The result is checked to be the same URL
 * (`new URL(location).href === new URL(url).href`); when it is not, null.
 */
export function redirectLocation(url: unknown): string | null {
  if (typeof url === 'string' && url.length <= MAX_TRACKED_URL_LENGTH && PRINTABLE_ASCII_RE.test(url)) return asciiRedirectLocation(url);
  if (!utf8Fits(url, MAX_TRACKED_URL_LENGTH) || CONTROL_RE.test(url) || !HTTP_PREFIX_RE.test(url)) return null;
  let original: URL;
  try {
    original = new URL(url);
  } catch {
    return null;
  }
  const schemeEnd = url.indexOf('//') + 2;
  let authorityEnd = url.slice(schemeEnd).search(/[/?#\\]/);
  authorityEnd = authorityEnd < 0 ? url.length : schemeEnd + authorityEnd;
  const authority = url.slice(schemeEnd, authorityEnd);
  // "https:///x" means https://x/ to a browser: not what the link appears to say.
  if (original.hostname === '' || authority === '') return null;
  if (PRINTABLE_ASCII_RE.test(url)) return url;

  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at + 1) : '';
  const hostPort = authority.slice(at + 1);
  let host = hostPort;
  let port = '';
  const portMatch = /:\d*$/.exec(hostPort);
  if (portMatch && !hostPort.endsWith(']')) {
    host = hostPort.slice(0, portMatch.index);
    port = portMatch[0];
  }
  if (!/^[\x21-\x7e]*$/.test(host)) {
    host = domainToASCII(host);
    if (host === '') return null;
  }
  const location =
    url.slice(0, schemeEnd) + encodeNonAscii(userinfo) + host + port + encodeNonAscii(url.slice(authorityEnd));
  try {
    return new URL(location).href === original.href ? location : null;
  } catch {
    return null;
  }
}

/**
 * Per-key values computed once, not per link (a message signs hundreds of links): the key tag
 * (a SHA-256) and the secret as a KeyObject (createHmac with raw bytes imports the key every
 * time). Keys come from the configuration, so the caches stay small; they are cleared past
 * KEY_CACHE_ENTRIES anyway.
 */
const KEY_CACHE_ENTRIES = 32;
const keyTags = new Map<string, Buffer>();
const keyObjects = new Map<string, KeyObject>();

function keyTag(id: string): Buffer {
  let tag = keyTags.get(id);
  if (tag === undefined) {
    if (keyTags.size >= KEY_CACHE_ENTRIES) keyTags.clear();
    tag = sha256Parts([TAG_PURPOSE, id]).subarray(0, TRACKING_KEY_TAG_BYTES);
    keyTags.set(id, tag);
  }
  return tag;
}

/** HMAC-SHA256 over the length-prefixed parts (the same bytes as lib/hmac-keys.ts hmacSha256). */
function hmac(secret: string, parts: readonly string[]): Buffer {
  let key = keyObjects.get(secret);
  if (key === undefined) {
    if (keyObjects.size >= KEY_CACHE_ENTRIES) keyObjects.clear();
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    keyObjects.set(secret, key);
  }
  return createHmac('sha256', key).update(macInput(parts)).digest();
}

function macParts(claims: TrackingClaims): string[] {
  const parts = [MAC_PURPOSE, String(TRACKING_TOKEN_VERSION), claims.kind, claims.sendId, claims.recipient];
  if (claims.kind === 'click') parts.push(claims.url);
  return parts;
}

function mac(key: HmacKey, claims: TrackingClaims): Buffer {
  return hmac(key.secret, macParts(claims)).subarray(0, TRACKING_MAC_BYTES);
}

/** True when `claims` can be put in a token (see the header for the rules). */
function signable(claims: TrackingClaims): boolean {
  if (typeof claims !== 'object' || claims === null) return false;
  if (claims.kind !== 'open' && claims.kind !== 'click') return false;
  if (!utf8Fits(claims.sendId, MAX_TRACKING_SEND_ID_BYTES) || CONTROL_RE.test(claims.sendId)) return false;
  if (!utf8Fits(claims.recipient, MAX_ADDRESS_LENGTH) || CONTROL_RE.test(claims.recipient)) return false;
  return claims.kind === 'open' || redirectLocation(claims.url) !== null;
}

/**
 * The token for `claims`, signed with the first key; null when there is no key or the claims
 * cannot be carried (too long, not a trackable URL, control characters). Never throws.
 */
export function signTrackingToken(claims: TrackingClaims, keys: readonly HmacKey[]): string | null {
  const key = Array.isArray(keys) ? (keys[0] as HmacKey | undefined) : undefined;
  if (key === undefined || !signable(claims)) return null;
  // one buffer, written in place (the layout in the header comment)
  const fields = claims.kind === 'click' ? [claims.sendId, claims.recipient, claims.url] : [claims.sendId, claims.recipient];
  let size = HEADER_BYTES + TRACKING_MAC_BYTES;
  for (const f of fields) size += 2 + Buffer.byteLength(f, 'utf8');
  const out = Buffer.allocUnsafe(size);
  out[0] = TRACKING_TOKEN_VERSION;
  keyTag(key.id).copy(out, 1);
  out[HEADER_BYTES - 1] = KIND_BYTE[claims.kind];
  let pos = HEADER_BYTES;
  for (const f of fields) {
    const written = out.write(f, pos + 2, 'utf8');
    out.writeUInt16BE(written, pos);
    pos += 2 + written;
  }
  mac(key, claims).copy(out, pos);
  return out.toString('base64url');
}

/**
 * The click tokens of one send and recipient, signed with the first key: `sign(url)` returns
 * exactly signTrackingToken({ kind: 'click', sendId, recipient, url }, keys) — the same bytes,
 * so verifyTrackingToken and every token issued before need nothing new — but computed with
 * the HMAC states of the common MAC input prepared once (hmac-prefix.ts) and the token's
 * common bytes written once, so a link costs its own bytes only. null when there is no key or
 * the send id or recipient cannot be carried (then no click can be signed).
 */
export function clickTokenSigner(sendId: string, recipient: string, keys: readonly HmacKey[]): ((url: string) => string | null) | null {
  const key = Array.isArray(keys) ? (keys[0] as HmacKey | undefined) : undefined;
  if (key === undefined || !signable({ kind: 'open', sendId, recipient })) return null;
  const hmacState = new HmacSha256Prefix(Buffer.from(key.secret, 'utf8'), macInput([MAC_PURPOSE, String(TRACKING_TOKEN_VERSION), 'click', sendId, recipient]));
  const sendIdBytes = Buffer.byteLength(sendId, 'utf8');
  const head = HEADER_BYTES + 2 + sendIdBytes + 2 + Buffer.byteLength(recipient, 'utf8');
  // the token's bytes: the common head, then the URL's length and bytes, then the MAC
  const buf = Buffer.alloc(head + 2 + MAX_TRACKED_URL_LENGTH + TRACKING_MAC_BYTES);
  buf[0] = TRACKING_TOKEN_VERSION;
  keyTag(key.id).copy(buf, 1);
  buf[HEADER_BYTES - 1] = KIND_BYTE.click;
  buf.writeUInt16BE(sendIdBytes, HEADER_BYTES);
  buf.write(sendId, HEADER_BYTES + 2, 'utf8');
  buf.writeUInt16BE(head - HEADER_BYTES - 4 - sendIdBytes, HEADER_BYTES + 2 + sendIdBytes);
  buf.write(recipient, HEADER_BYTES + 4 + sendIdBytes, 'utf8');
  return (url: string): string | null => {
    if (redirectLocation(url) === null) return null;
    // redirectLocation checked the URL fits in MAX_TRACKED_URL_LENGTH UTF-8 bytes
    const n = buf.write(url, head + 2, 'utf8');
    buf.writeUInt16BE(n, head);
    const end = head + 2 + n;
    hmacState.mac(buf, head + 2, end, buf, end, TRACKING_MAC_BYTES);
    return buf.toString('base64url', 0, end + TRACKING_MAC_BYTES);
  };
}

/** Reads the length-prefixed fields of `body` (also unsubscribe-token.ts); null unless they fill it exactly. */
export function readFields(body: Buffer, count: number): string[] | null {
  const out: string[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 2 > body.length) return null;
    const len = body.readUInt16BE(pos);
    pos += 2;
    if (len === 0 || pos + len > body.length) return null;
    try {
      out.push(utf8.decode(body.subarray(pos, pos + len)));
    } catch {
      return null;
    }
    pos += len;
  }
  return pos === body.length ? out : null;
}

/**
 * The claims of a token one of `keys` signed, or null for anything else (not a string, too
 * long, not canonical base64url, unknown version or kind, malformed fields, no key with its
 * tag, MAC mismatch, claims that could not have been signed). Never throws.
 */
export function verifyTrackingToken(token: unknown, keys: readonly HmacKey[]): TrackingClaims | null {
  if (typeof token !== 'string' || token.length > MAX_TRACKING_TOKEN_LENGTH || !BASE64URL_RE.test(token)) return null;
  if (!Array.isArray(keys)) return null;
  const bytes = Buffer.from(token, 'base64url');
  // One encoding per token: Buffer's decoder ignores the unused bits of the last character.
  if (bytes.toString('base64url') !== token) return null;
  if (bytes.length < HEADER_BYTES + TRACKING_MAC_BYTES || bytes[0] !== TRACKING_TOKEN_VERSION) return null;
  const kindByte = bytes[HEADER_BYTES - 1];
  const kind = kindByte === KIND_BYTE.open ? 'open' : kindByte === KIND_BYTE.click ? 'click' : null;
  if (kind === null) return null;
  const body = bytes.subarray(HEADER_BYTES, bytes.length - TRACKING_MAC_BYTES);
  const fields = readFields(body, kind === 'open' ? 2 : 3);
  if (fields === null) return null;
  const [sendId = '', recipient = '', url = ''] = fields;
  const claims: TrackingClaims = kind === 'open' ? { kind, sendId, recipient } : { kind, sendId, recipient, url };
  if (!signable(claims)) return null;

  const tag = bytes.subarray(1, HEADER_BYTES - 1);
  const given = bytes.subarray(bytes.length - TRACKING_MAC_BYTES);
  let matched = false;
  for (const key of keys as readonly unknown[]) {
    if (typeof key !== 'object' || key === null) continue;
    const k = key as HmacKey;
    if (typeof k.id !== 'string' || typeof k.secret !== 'string' || !keyTag(k.id).equals(tag)) continue;
    // Every candidate is computed and compared, so timing does not show which one matched.
    if (constantTimeEqual(mac(k, claims), given)) matched = true;
  }
  return matched ? claims : null;
}
