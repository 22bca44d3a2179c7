/**
 * VERP-style bounce addresses with an HMAC check (docs/architecture.md: "Bounce addresses carry
 * an HMAC check: forged bounces cannot put an address on the Bounce list").
 *
 *     trx-<space>-<send>-<check>@<bounce domain>
 *     trx-42-clmfvdfq456u6uze7x-k5qte2lqbduug@bounces.example   (send id 4jXQZB3dVKzJ9Ft)
 *
 *  - <space>  the space id in decimal, canonical (no sign, no leading zero), 0..2^53-1.
 *  - <send>   the send id (Postfix queue id): 1..MAX_BOUNCE_SEND_ID_LENGTH characters of
 *             [0-9A-Za-z_], case-sensitive. A queue id never has `_`: a separate copy of a
 *             send (the untracked BCC copy) carries `<queue id>_b` (copySendId), so its
 *             bounces are told apart from the main message's. Each character becomes its 6-bit index in
 *             SEND_ID_ALPHABET; the bits, padded with zero bits, are written in lower-case
 *             RFC 4648 base32 (ceil(6n/5) characters), so the address survives MTAs that
 *             change the case of local parts. Non-canonical encodings are refused.
 *  - <check>  BOUNCE_KEY_TAG_CHARS characters naming the key (the top 10 bits of
 *             SHA-256("trxmail/bounce-key-tag", key id), base32) followed by
 *             BOUNCE_MAC_CHARS characters: the top 55 bits of
 *             HMAC-SHA256(secret, "trxmail/bounce-address", "1", <space>, <send id>)
 *             (length-prefixed parts, hmac-keys.ts), base32.
 *
 * Longest local part: 4 + 16 + 1 + 29 + 1 + 13 = 64 = MAX_LOCAL_PART_LENGTH (RFC 5321).
 *
 * Keys rotate: the first configured key signs, every configured key verifies. The tag picks
 * the candidate keys (two ids may share a tag: all candidates are tried); no candidate means
 * 'unknown-key' (the key was removed). The format version is in the MAC input; a new format
 * would get a new prefix.
 *
 * Decoding lower-cases the (ASCII-only) local part first, compares the domain through
 * normaliseDomain (IDN- and case-insensitive), and compares the check in constant time. It
 * never throws on input: every failure is a reason. Encoding throws InvariantError for a
 * space id or send id outside the format, an empty key list or an invalid bounce domain —
 * callers holding an id from a peer check it with isBounceSendId first.
 *
 * Pure apart from node:crypto: no I/O, no clock.
 */
import { normaliseDomain, splitAddress } from '../core/domain.js';
import { InvariantError } from '../lib/errors.js';
import { constantTimeEqual, hmacSha256, sha256Parts, type HmacKey } from '../lib/hmac-keys.js';
import { MAX_ADDRESS_LENGTH, MAX_BOUNCE_SEND_ID_LENGTH, MAX_LOCAL_PART_LENGTH } from '../lib/limits.js';

/** Local-part prefix (with its separator); compared case-insensitively. */
export const BOUNCE_PREFIX = 'trx-';
/** Format version, part of the MAC input. */
export const BOUNCE_FORMAT_VERSION = '1';
/** Base32 characters naming the key (10 bits). */
export const BOUNCE_KEY_TAG_CHARS = 2;
/** Base32 characters of truncated HMAC (55 bits). */
export const BOUNCE_MAC_CHARS = 11;
/** Largest space id the format carries (16 decimal digits). */
export const MAX_BOUNCE_SPACE_ID = Number.MAX_SAFE_INTEGER;
/** Characters a send id may use; the index of each is what gets encoded. */
export const SEND_ID_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_';

const MAC_PURPOSE = 'trxmail/bounce-address';
const TAG_PURPOSE = 'trxmail/bounce-key-tag';
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const CHECK_CHARS = BOUNCE_KEY_TAG_CHARS + BOUNCE_MAC_CHARS;
const SEND_ID_RE = new RegExp(`^[0-9A-Za-z_]{1,${MAX_BOUNCE_SEND_ID_LENGTH}}$`);
/** Suffix of the send id in the bounce address of a send's separate BCC copy. */
export const BCC_COPY_SUFFIX = '_b';
const SPACE_RE = /^(?:0|[1-9][0-9]{0,15})$/;
const BASE32_RE = /^[a-z2-7]+$/;
const ASCII_LOCAL_RE = /^[\x21-\x7e]+$/;

export interface BounceRef {
  readonly spaceId: number;
  readonly sendId: string;
}

export type BounceDecodeFailure = 'not-ours' | 'malformed' | 'bad-check' | 'unknown-key' | 'wrong-domain';

export type BounceDecodeResult =
  | { readonly ok: true; readonly spaceId: number; readonly sendId: string; readonly keyId: string }
  | { readonly ok: false; readonly reason: BounceDecodeFailure };

/** True when `id` can be carried in a bounce address. */
/** The send id for the bounce address of a send's separate BCC copy. */
export function copySendId(sendId: string): string {
  return sendId + BCC_COPY_SUFFIX;
}

/** Splits a decoded send id into the send and whether it was the BCC copy's. */
export function sendOfBounceId(id: string): { sendId: string; bccCopy: boolean } {
  return id.endsWith(BCC_COPY_SUFFIX) ? { sendId: id.slice(0, -BCC_COPY_SUFFIX.length), bccCopy: true } : { sendId: id, bccCopy: false };
}

export function isBounceSendId(id: unknown): id is string {
  return typeof id === 'string' && SEND_ID_RE.test(id);
}

/** True when `id` can be carried as the space id. */
export function isBounceSpaceId(id: unknown): id is number {
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 && id <= MAX_BOUNCE_SPACE_ID;
}

/** Lower-case RFC 4648 base32 of `bytes`, no padding; the last character carries zero bits. */
/** Lower-case base32 of a sequence of `width`-bit values, padded with zero bits. */
function base32Bits(values: Iterable<number>, width: number): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const v of values) {
    acc = (acc << width) | v;
    bits += width;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

/** Lower-case RFC 4648 base32 of `bytes`, no padding (unsubscribe-address.ts shares it). */
export function base32Encode(bytes: Uint8Array): string {
  return base32Bits(bytes, 8);
}

/** A send id (isBounceSendId) in lower-case base32, 6 bits a character (unsubscribe-address.ts shares it). */
export function packSendId(sendId: string): string {
  return base32Bits(Array.from(sendId, (ch) => SEND_ID_ALPHABET.indexOf(ch)), 6);
}

/** Inverse of packSendId; null unless `packed` is the canonical encoding of a valid id. */
export function unpackSendId(packed: string): string | null {
  const n = Math.floor((packed.length * 5) / 6);
  if (n < 1 || n > MAX_BOUNCE_SEND_ID_LENGTH || Math.ceil((n * 6) / 5) !== packed.length) return null;
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const ch of packed) {
    const v = BASE32.indexOf(ch);
    if (v < 0) return null;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 6 && out.length < n) {
      bits -= 6;
      const index = (acc >>> bits) & 63;
      const c = SEND_ID_ALPHABET[index];
      if (c === undefined) return null;
      out += c;
    }
    acc &= (1 << bits) - 1;
  }
  // Whatever is left is padding and must be zero (one encoding per id).
  return out.length === n && acc === 0 ? out : null;
}

/** Key ids come from the configuration: a handful, asked for every message. Bounded anyway. */
const keyTags = new Map<string, string>();
const MAX_KEY_TAGS_REMEMBERED = 64;

/** BOUNCE_KEY_TAG_CHARS characters naming key `id` (unsubscribe-address.ts shares it: a tag only picks candidate keys). */
export function keyTag(id: string): string {
  let tag = keyTags.get(id);
  if (tag === undefined) {
    tag = base32Encode(sha256Parts([TAG_PURPOSE, id]).subarray(0, 2)).slice(0, BOUNCE_KEY_TAG_CHARS);
    if (keyTags.size >= MAX_KEY_TAGS_REMEMBERED) keyTags.clear();
    keyTags.set(id, tag);
  }
  return tag;
}

function macChars(key: HmacKey, spaceId: string, sendId: string): string {
  const mac = hmacSha256(key.secret, [MAC_PURPOSE, BOUNCE_FORMAT_VERSION, spaceId, sendId]);
  return base32Encode(mac.subarray(0, 7)).slice(0, BOUNCE_MAC_CHARS);
}

/**
 * The bounce address for a send, signed with the first key. Throws InvariantError when the
 * ids are outside the format, `keys` is empty or `bounceDomain` is not a domain.
 */
export function encodeBounceAddress(ref: BounceRef, keys: readonly HmacKey[], bounceDomain: string): string {
  if (!isBounceSpaceId(ref.spaceId)) throw new InvariantError(`bounce address: space id ${String(ref.spaceId)} is not an integer 0..${MAX_BOUNCE_SPACE_ID}`);
  if (!isBounceSendId(ref.sendId)) {
    throw new InvariantError(`bounce address: send id is not 1..${MAX_BOUNCE_SEND_ID_LENGTH} characters of [0-9A-Za-z_]`);
  }
  const key = keys[0];
  if (key === undefined) throw new InvariantError('bounce address: no HMAC key configured');
  const domain = normaliseDomain(bounceDomain);
  if (domain === null) throw new InvariantError('bounce address: the bounce domain is not a domain name');
  const space = String(ref.spaceId);
  const local = `${BOUNCE_PREFIX}${space}-${packSendId(ref.sendId)}-${keyTag(key.id)}${macChars(key, space, ref.sendId)}`;
  if (local.length > MAX_LOCAL_PART_LENGTH) throw new InvariantError('bounce address: local part over 64 characters');
  return `${local}@${domain}`;
}

const fail = (reason: BounceDecodeFailure): BounceDecodeResult => ({ ok: false, reason });

/**
 * The domains bounce addresses live in: the relay's bounce domain (`primary`, where a bare
 * X-Trxmail-Ref local part is placed) and every customer's return-path host (bounce-domains.ts).
 * A plain string is the primary domain alone.
 */
export interface BounceDomains {
  /** Normalised. */
  readonly primary: string;
  /** `domain` normalised. */
  has(domain: string): boolean;
}

/** `domains` as a BounceDomains; a string that is not a domain gives one that matches nothing. */
export function asBounceDomains(domains: string | BounceDomains): BounceDomains {
  if (typeof domains !== 'string') return domains;
  const primary = normaliseDomain(domains);
  return { primary: primary ?? domains, has: (d) => primary !== null && d === primary };
}

/**
 * Decode and verify a bounce address (a bare addr-spec, e.g. pipe(8)'s ${recipient}).
 * Never throws: 'malformed' (not an address, or a trx- local part that does not parse),
 * 'not-ours' (local part without the trx- prefix), 'wrong-domain', 'unknown-key' (no
 * configured key has the tag), 'bad-check' (no candidate key's MAC matches).
 */
export function decodeBounceAddress(address: unknown, keys: readonly HmacKey[], bounceDomain: string | BounceDomains): BounceDecodeResult {
  return decodeSignedAddress(address, keys, bounceDomain, BOUNCE_PREFIX, macChars);
}

/** The MAC characters of (space, send) under a key: what tells one kind of signed address from another. */
export type SignedAddressMac = (key: HmacKey, spaceId: string, sendId: string) => string;

/**
 * Decode and verify an address `<prefix><space>-<packed send id>-<key tag><mac>@<domain>`: the
 * bounce address (above) and the unsubscribe address (unsubscribe-address.ts) differ only in
 * the prefix and the MAC's purpose. Never throws; the failures of decodeBounceAddress.
 */
export function decodeSignedAddress(
  address: unknown,
  keys: readonly HmacKey[],
  bounceDomain: string | BounceDomains,
  prefix: string,
  mac: SignedAddressMac,
): BounceDecodeResult {
  if (typeof address !== 'string' || address.length > MAX_ADDRESS_LENGTH) return fail('malformed');
  const parts = splitAddress(address);
  if (parts === null) return fail('malformed');
  // ASCII first: toLowerCase would turn e.g. U+212A KELVIN SIGN into "k".
  if (!ASCII_LOCAL_RE.test(parts.local)) return fail('not-ours');
  const local = parts.local.toLowerCase();
  if (!local.startsWith(prefix)) return fail('not-ours');
  const domain = normaliseDomain(parts.domain);
  if (domain === null || !asBounceDomains(bounceDomain).has(domain)) return fail('wrong-domain');
  if (local.length > MAX_LOCAL_PART_LENGTH) return fail('malformed');

  const fields = local.slice(prefix.length).split('-');
  if (fields.length !== 3) return fail('malformed');
  const [spaceText, packed, check] = fields as [string, string, string];
  if (!SPACE_RE.test(spaceText)) return fail('malformed');
  const spaceId = Number(spaceText);
  if (!isBounceSpaceId(spaceId)) return fail('malformed');
  if (!BASE32_RE.test(packed) || !BASE32_RE.test(check) || check.length !== CHECK_CHARS) return fail('malformed');
  const sendId = unpackSendId(packed);
  if (sendId === null) return fail('malformed');

  const tag = check.slice(0, BOUNCE_KEY_TAG_CHARS);
  const given = Buffer.from(check.slice(BOUNCE_KEY_TAG_CHARS), 'latin1');
  let candidates = 0;
  let matched: string | null = null;
  const candidateKeys: readonly HmacKey[] = Array.isArray(keys) ? keys : [];
  for (const key of candidateKeys) {
    if (keyTag(key.id) !== tag) continue;
    candidates++;
    // Every candidate is computed and compared, so timing does not show which one matched.
    const ok = constantTimeEqual(Buffer.from(mac(key, spaceText, sendId), 'latin1'), given);
    if (ok && matched === null) matched = key.id;
  }
  if (candidates === 0) return fail('unknown-key');
  if (matched === null) return fail('bad-check');
  return { ok: true, spaceId, sendId, keyId: matched };
}
