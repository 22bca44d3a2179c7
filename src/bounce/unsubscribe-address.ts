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
import { normaliseDomain } from '../core/domain.js';
import { hmacSha256, type HmacKey } from '../lib/hmac-keys.js';
import { MAX_BOUNCE_SEND_ID_LENGTH, MAX_LOCAL_PART_LENGTH } from '../lib/limits.js';
import {
  BOUNCE_KEY_TAG_CHARS,
  BOUNCE_MAC_CHARS,
  base32Encode,
  isBounceSendId,
  isBounceSpaceId,
  keyTag,
  packSendId,
  decodeSignedAddress,
  type BounceDecodeResult,
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

export type UnsubscribeAddressResult = BounceDecodeResult;

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

/**
 * Decode and verify an unsubscribe address (a bare addr-spec: the LMTP/pipe envelope
 * recipient). Never throws: 'not-ours' (no unsub- prefix), 'wrong-domain', 'malformed',
 * 'unknown-key', 'bad-check'.
 */
export function decodeUnsubscribeAddress(address: unknown, keys: readonly HmacKey[], domains: string | BounceDomains): UnsubscribeAddressResult {
  return decodeSignedAddress(address, keys, domains, UNSUBSCRIBE_PREFIX, macChars);
}
