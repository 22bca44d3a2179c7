/**
 * Unsubscribe addresses: the `mailto:` form of List-Unsubscribe (RFC 2369) next to the signed
 * https URL (tracking/unsubscribe-token.ts). A mail to one, received on the send's bounce
 * domain like a bounce, puts the send's To recipient on the space's Unsubscribe list
 * (bounce/unsubscribe-intake.ts); it is never analysed as a bounce.
 *
 *     unsub-<space>-<send>-<check>@<bounce domain of the send>
 *     unsub-42-clmfvdfq456u6uze7x-k5abcdefghijk@bounces.example
 *
 * <space> and <send> are written as in a bounce address (bounce-address.ts: decimal space id,
 * the send id packed into lower-case base32, so MTAs that change the case of local parts do
 * not break it). <check> is the bounce address's key tag (BOUNCE_KEY_TAG_CHARS, it only picks
 * the candidate keys) followed by BOUNCE_MAC_CHARS characters: the top 55 bits of
 * HMAC-SHA256(secret, "trxmail/unsubscribe-address", "1", <space>, <send id>). The purpose
 * label differs from the bounce address's ("trxmail/bounce-address") and from the unsubscribe
 * and tracking tokens', and so does the prefix: a bounce address, a click token or an
 * unsubscribe URL token can never act as an unsubscribe address, nor the reverse.
 *
 * The recipient is not in the address (it would not fit in a local part): it is the send's To
 * recipient, looked up with the send; one-click unsubscribe is only ever offered to the To copy.
 *
 * Length: the local part is at most MAX_LOCAL_PART_LENGTH (64, RFC 5321) octets. With the
 * longest send id (MAX_BOUNCE_SEND_ID_LENGTH, 29 base32 characters) that leaves
 * MAX_UNSUBSCRIBE_SPACE_DIGITS (14) digits for the space id; encoding a longer one gives null
 * (the message then offers the https URL alone).
 *
 * Keys rotate: the first configured key signs, every configured key verifies. Decoding
 * lower-cases the ASCII local part, compares the domain through normaliseDomain and the check in
 * constant time, and never throws on input. Encoding never throws either: null for what the
 * format cannot carry, no key or no domain.
 *
 * Pure apart from node:crypto.
 */
import { normaliseDomain, splitAddress } from '../core/domain.js';
import { constantTimeEqual, hmacSha256, type HmacKey } from '../lib/hmac-keys.js';
import { MAX_ADDRESS_LENGTH, MAX_BOUNCE_SEND_ID_LENGTH, MAX_LOCAL_PART_LENGTH } from '../lib/limits.js';
import {
  BOUNCE_KEY_TAG_CHARS,
  BOUNCE_MAC_CHARS,
  asBounceDomains,
  base32Encode,
  isBounceSendId,
  isBounceSpaceId,
  keyTag,
  packSendId,
  unpackSendId,
  type BounceDecodeFailure,
  type BounceDomains,
  type BounceRef,
} from './bounce-address.js';

/** Local-part prefix (with its separator); compared case-insensitively. */
export const UNSUBSCRIBE_PREFIX = 'unsub-';
/** Format version, part of the MAC input. */
export const UNSUBSCRIBE_ADDRESS_VERSION = '1';
/** The subject the mailto: URI asks for (RFC 6068 `?subject=`); the intake does not look at it. */
export const UNSUBSCRIBE_SUBJECT = 'unsubscribe';
/** Most digits of a space id that always fit (with the longest send id) in MAX_LOCAL_PART_LENGTH. */
export const MAX_UNSUBSCRIBE_SPACE_DIGITS =
  MAX_LOCAL_PART_LENGTH - UNSUBSCRIBE_PREFIX.length - 1 - Math.ceil((MAX_BOUNCE_SEND_ID_LENGTH * 6) / 5) - 1 - (BOUNCE_KEY_TAG_CHARS + BOUNCE_MAC_CHARS);

const MAC_PURPOSE = 'trxmail/unsubscribe-address';
const CHECK_CHARS = BOUNCE_KEY_TAG_CHARS + BOUNCE_MAC_CHARS;
const SPACE_RE = /^(?:0|[1-9][0-9]{0,15})$/;
const BASE32_RE = /^[a-z2-7]+$/;
const ASCII_LOCAL_RE = /^[\x21-\x7e]+$/;

export type UnsubscribeAddressResult =
  | { readonly ok: true; readonly spaceId: number; readonly sendId: string; readonly keyId: string }
  | { readonly ok: false; readonly reason: BounceDecodeFailure };

function macChars(key: HmacKey, spaceId: string, sendId: string): string {
  const mac = hmacSha256(key.secret, [MAC_PURPOSE, UNSUBSCRIBE_ADDRESS_VERSION, spaceId, sendId]);
  return base32Encode(mac.subarray(0, 7)).slice(0, BOUNCE_MAC_CHARS);
}

/**
 * The unsubscribe address of a send in `domain`, signed with the first key; null when the ids
 * are outside the format, the local part would be over MAX_LOCAL_PART_LENGTH, there is no key
 * or `domain` is not a domain.
 */
export function encodeUnsubscribeAddress(ref: BounceRef, keys: readonly HmacKey[], domain: string): string | null {
  const key = Array.isArray(keys) ? (keys[0] as HmacKey | undefined) : undefined;
  const host = normaliseDomain(domain);
  if (key === undefined || host === null || !isBounceSpaceId(ref.spaceId) || !isBounceSendId(ref.sendId)) return null;
  const space = String(ref.spaceId);
  const local = `${UNSUBSCRIBE_PREFIX}${space}-${packSendId(ref.sendId)}-${keyTag(key.id)}${macChars(key, space, ref.sendId)}`;
  return local.length > MAX_LOCAL_PART_LENGTH ? null : `${local}@${host}`;
}

/** The RFC 6068 mailto: URI for an unsubscribe address (ASCII, nothing to percent-encode). */
export function unsubscribeMailto(address: string): string {
  return `mailto:${address}?subject=${UNSUBSCRIBE_SUBJECT}`;
}

const fail = (reason: BounceDecodeFailure): UnsubscribeAddressResult => ({ ok: false, reason });

/**
 * Decode and verify an unsubscribe address (a bare addr-spec: the LMTP/pipe envelope
 * recipient). Never throws: 'not-ours' (no unsub- prefix), 'wrong-domain', 'malformed',
 * 'unknown-key', 'bad-check'.
 */
export function decodeUnsubscribeAddress(address: unknown, keys: readonly HmacKey[], domains: string | BounceDomains): UnsubscribeAddressResult {
  if (typeof address !== 'string' || address.length > MAX_ADDRESS_LENGTH) return fail('malformed');
  const parts = splitAddress(address);
  if (parts === null) return fail('malformed');
  if (!ASCII_LOCAL_RE.test(parts.local)) return fail('not-ours');
  const local = parts.local.toLowerCase();
  if (!local.startsWith(UNSUBSCRIBE_PREFIX)) return fail('not-ours');
  const domain = normaliseDomain(parts.domain);
  if (domain === null || !asBounceDomains(domains).has(domain)) return fail('wrong-domain');
  if (local.length > MAX_LOCAL_PART_LENGTH) return fail('malformed');
  const fields = local.slice(UNSUBSCRIBE_PREFIX.length).split('-');
  if (fields.length !== 3) return fail('malformed');
  const [spaceText, packed, check] = fields as [string, string, string];
  if (!SPACE_RE.test(spaceText) || !isBounceSpaceId(Number(spaceText))) return fail('malformed');
  if (!BASE32_RE.test(packed) || !BASE32_RE.test(check) || check.length !== CHECK_CHARS) return fail('malformed');
  const sendId = unpackSendId(packed);
  if (sendId === null) return fail('malformed');
  const tag = check.slice(0, BOUNCE_KEY_TAG_CHARS);
  const given = Buffer.from(check.slice(BOUNCE_KEY_TAG_CHARS), 'latin1');
  let candidates = 0;
  let matched: string | null = null;
  const candidatesOf: readonly HmacKey[] = Array.isArray(keys) ? keys : [];
  for (const key of candidatesOf) {
    if (keyTag(key.id) !== tag) continue;
    candidates++;
    const ok = constantTimeEqual(Buffer.from(macChars(key, spaceText, sendId), 'latin1'), given);
    if (ok && matched === null) matched = key.id;
  }
  if (candidates === 0) return fail('unknown-key');
  if (matched === null) return fail('bad-check');
  return { ok: true, spaceId: Number(spaceText), sendId, keyId: matched };
}
