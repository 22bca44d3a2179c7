/**
 * Password hashing for customer-level users (the SMTP AUTH logins).
 *
 * scrypt (RFC 7914) from node:crypto, run asynchronously on libuv's thread pool so a login
 * never blocks the event loop. Each hash gets its own random 16-byte salt. The result is a
 * self-describing string, so the parameters can be raised later without breaking old hashes:
 *
 *     scrypt$<log2 N>$<r>$<p>$<salt, base64>$<derived key, base64>
 *     scrypt$15$8$1$3q2+7w...==$mG1k...=
 *
 * Passwords are hashed as their exact UTF-8 bytes (no Unicode normalisation).
 *
 * Limits: passwords longer than MAX_PASSWORD_BYTES are refused by hashPassword (UsageError)
 * and never verify. When verifying, the parameters read from a stored string are bounded
 * (VERIFY_LIMITS) so a corrupt or hostile row cannot make us allocate gigabytes.
 *
 * Throws: hashPassword throws UsageError for an empty or over-long password. verifyPassword
 * never throws on a malformed encoding or password; it resolves false.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { ScryptOptions } from 'node:crypto';
import { UsageError } from './errors.js';
import { MAX_PASSWORD_BYTES } from './limits.js';

/** Parameters for new hashes: N = 2^15, r = 8, p = 1 (32 MiB of memory per hash), 32-byte key. */
export const SCRYPT_LOG2_N = 15;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
export const SCRYPT_KEYLEN = 32;
export const SCRYPT_SALT_BYTES = 16;

/** Bounds on parameters accepted from a stored hash (anything outside verifies false). */
const VERIFY_LIMITS = {
  minLog2N: 10,
  maxLog2N: 20,
  maxR: 32,
  maxP: 16,
  /** 128 * N * r * p must stay under this (bytes). */
  maxMemory: 256 * 1024 * 1024,
  minSaltBytes: 8,
  maxSaltBytes: 64,
  minKeyBytes: 16,
  maxKeyBytes: 64,
} as const;

const PREFIX = 'scrypt';
const B64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
const INT_RE = /^[1-9][0-9]{0,2}$/;

/**
 * scrypt needs 128 * N * r * p bytes plus a little bookkeeping; Node's default maxmem (32 MiB)
 * is exactly 128 * 2^15 * 8 and so too small for our own parameters. Allow twice the need.
 */
function maxmemFor(n: number, r: number, p: number): number {
  return 2 * 128 * n * r * p;
}

function derive(password: Buffer, salt: Buffer, keylen: number, n: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: n, r, p, maxmem: maxmemFor(n, r, p) };
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (err, key) => {
      if (err) reject(err);
      else resolve(key);
    });
  });
}

/** Hash a password for storage. Throws UsageError when it is empty or over MAX_PASSWORD_BYTES. */
export async function hashPassword(password: string): Promise<string> {
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length === 0) throw new UsageError('password must not be empty');
  if (bytes.length > MAX_PASSWORD_BYTES) {
    throw new UsageError(`password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  }
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const key = await derive(bytes, salt, SCRYPT_KEYLEN, 2 ** SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P);
  return [PREFIX, SCRYPT_LOG2_N, SCRYPT_R, SCRYPT_P, salt.toString('base64'), key.toString('base64')].join('$');
}

interface Decoded {
  readonly log2N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly key: Buffer;
}

/** Strict base64 (the alphabet, padding, and a clean round trip); null otherwise. */
function decodeBase64(s: string): Buffer | null {
  if (s.length % 4 !== 0 || !B64_RE.test(s)) return null;
  const b = Buffer.from(s, 'base64');
  return b.toString('base64') === s ? b : null;
}

function decode(encoded: string): Decoded | null {
  const parts = encoded.split('$');
  if (parts.length !== 6) return null;
  const [prefix, log2NText, rText, pText, saltText, keyText] = parts;
  if (prefix !== PREFIX || log2NText === undefined || rText === undefined || pText === undefined) return null;
  if (saltText === undefined || keyText === undefined) return null;
  if (!INT_RE.test(log2NText) || !INT_RE.test(rText) || !INT_RE.test(pText)) return null;
  const log2N = Number(log2NText);
  const r = Number(rText);
  const p = Number(pText);
  const L = VERIFY_LIMITS;
  if (log2N < L.minLog2N || log2N > L.maxLog2N || r > L.maxR || p > L.maxP) return null;
  if (128 * 2 ** log2N * r * p > L.maxMemory) return null;
  const salt = decodeBase64(saltText);
  const key = decodeBase64(keyText);
  if (!salt || salt.length < L.minSaltBytes || salt.length > L.maxSaltBytes) return null;
  if (!key || key.length < L.minKeyBytes || key.length > L.maxKeyBytes) return null;
  return { log2N, r, p, salt, key };
}

/**
 * True when `password` matches the encoded hash. Resolves false (never throws) for a
 * malformed encoding, out-of-bounds parameters, or a password over MAX_PASSWORD_BYTES.
 * The comparison is constant-time.
 */
export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const d = decode(encoded);
  if (!d) return false;
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length > MAX_PASSWORD_BYTES) return false;
  let key: Buffer;
  try {
    key = await derive(bytes, d.salt, d.key.length, 2 ** d.log2N, d.r, d.p);
  } catch {
    // Parameters OpenSSL refuses despite our bounds (e.g. r * p too large): not a match.
    return false;
  }
  return key.length === d.key.length && timingSafeEqual(key, d.key);
}
