/**
 * HMAC helpers shared by everything trxmail signs with its configured keys (bounce
 * addresses, later tracking tokens) and by the credential cache's per-process key.
 *
 * Domain separation: the MAC is computed over a list of parts, each prefixed with its
 * UTF-8 length as a 4-byte big-endian integer, so ("ab","c") and ("a","bc") never collide
 * and a purpose label as the first part keeps signatures of one use from being replayed
 * in another. HMAC-SHA256 (RFC 2104, FIPS 180-4) from node:crypto.
 *
 * Keys (Config.hmacKeys, `{ id, secret }`): the first one signs, all of them verify, so a
 * key can be rotated in and, later, the old one removed. Secrets are used as their UTF-8
 * bytes; never log them.
 *
 * Throws nothing on its own (node:crypto does not fail for these inputs).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** A configured HMAC key (structurally Config's HmacKey). */
export interface HmacKey {
  readonly id: string;
  readonly secret: string;
}

/** The length-prefixed byte string the MAC is computed over. */
export function macInput(parts: readonly string[]): Buffer {
  // one allocation: tracking signs hundreds of links per message
  let size = 0;
  for (const part of parts) size += 4 + Buffer.byteLength(part, 'utf8');
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const part of parts) {
    const written = out.write(part, pos + 4, 'utf8');
    out.writeUInt32BE(written, pos);
    pos += 4 + written;
  }
  return out;
}

/** HMAC-SHA256 with `secret` over the length-prefixed `parts` (first part: a purpose label). */
export function hmacSha256(secret: string | Uint8Array, parts: readonly string[]): Buffer {
  const key = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  return createHmac('sha256', key).update(macInput(parts)).digest();
}

/** SHA-256 over the length-prefixed `parts` (no secret: for public identifiers only). */
export function sha256Parts(parts: readonly string[]): Buffer {
  return createHash('sha256').update(macInput(parts)).digest();
}

/**
 * Constant-time equality of two byte strings. Different lengths are unequal at once
 * (length is not the secret: every MAC we compare has a fixed, public length).
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
