/**
 * HMAC-SHA256 (RFC 2104, FIPS 180-4) over many messages that share a prefix, for signing the
 * hundreds of click links of one message (token.ts clickTokenSigner).
 *
 * HMAC(K, m) = H((K ^ opad) || H((K ^ ipad) || m)). Every link's MAC input starts with the same
 * bytes (purpose, version, kind, send id, recipient: lib/hmac-keys.ts macInput), so the inner
 * hash state after `(K ^ ipad) || prefix` and the outer state after `K ^ opad` are computed
 * once; each link then costs the compression of its own bytes plus one outer block (3 blocks
 * for a typical URL). The result is HMAC by definition, byte for byte what node:crypto's
 * createHmac gives (test/unit/tracking/hmac-prefix.test.ts checks that); only the arithmetic
 * is done here, in JavaScript, because a node:crypto Hmac or Hash object per link (creating
 * it, copying it, digesting it: each a native call) cost about 4 µs, more than the hashing.
 *
 * The messages are lib/hmac-keys.ts macInput parts: the prefix holds the common length-prefixed
 * parts, `mac` adds one last part (its 4-byte big-endian length, then its bytes).
 *
 * Limits: the last part is at most MAX_LAST_PART_BYTES (MAX_TRACKED_URL_LENGTH); longer input
 * throws RangeError (a bug: callers check the URL first).
 * Keys longer than a block are hashed first, as RFC 2104 says.
 */
import { createHash } from 'node:crypto';
import { MAX_TRACKED_URL_LENGTH } from '../lib/limits.js';

const BLOCK = 64;
/** Longest last part after the shared prefix: a URL. */
export const MAX_LAST_PART_BYTES = MAX_TRACKED_URL_LENGTH;

// prettier-ignore
const K = new Int32Array([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = new Int32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const W = new Int32Array(64);

/**
 * One SHA-256 compression of the 64 bytes of `data` at `off` into `state`. The 64 rounds run
 * 8 at a time with the working variables' roles renamed from round to round (no shuffling of
 * a..h after each round): the same arithmetic as FIPS 180-4 6.2.2, a third fewer moves.
 */
function compress(state: Int32Array, data: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    W[i] = (data[j]! << 24) | (data[j + 1]! << 16) | (data[j + 2]! << 8) | data[j + 3]!;
  }
  for (let i = 16; i < 64; i++) {
    const w15 = W[i - 15]!;
    const w2 = W[i - 2]!;
    const s0 = ((w15 >>> 7) | (w15 << 25)) ^ ((w15 >>> 18) | (w15 << 14)) ^ (w15 >>> 3);
    const s1 = ((w2 >>> 17) | (w2 << 15)) ^ ((w2 >>> 19) | (w2 << 13)) ^ (w2 >>> 10);
    W[i] = (W[i - 16]! + s0 + W[i - 7]! + s1) | 0;
  }
  let a = state[0]!;
  let b = state[1]!;
  let c = state[2]!;
  let d = state[3]!;
  let e = state[4]!;
  let f = state[5]!;
  let g = state[6]!;
  let h = state[7]!;
  let t1 = 0;
  for (let i = 0; i < 64; i += 8) {
    t1 = (h + ((((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) + ((e & f) ^ (~e & g)) + K[i + 0]! + W[i + 0]!) | 0;
    d = (d + t1) | 0;
    h = (t1 + ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c)))) | 0;
    t1 = (g + ((((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) + ((d & e) ^ (~d & f)) + K[i + 1]! + W[i + 1]!) | 0;
    c = (c + t1) | 0;
    g = (t1 + ((((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) + ((h & a) ^ (h & b) ^ (a & b)))) | 0;
    t1 = (f + ((((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) + ((c & d) ^ (~c & e)) + K[i + 2]! + W[i + 2]!) | 0;
    b = (b + t1) | 0;
    f = (t1 + ((((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) + ((g & h) ^ (g & a) ^ (h & a)))) | 0;
    t1 = (e + ((((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) + ((b & c) ^ (~b & d)) + K[i + 3]! + W[i + 3]!) | 0;
    a = (a + t1) | 0;
    e = (t1 + ((((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) + ((f & g) ^ (f & h) ^ (g & h)))) | 0;
    t1 = (d + ((((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) + ((a & b) ^ (~a & c)) + K[i + 4]! + W[i + 4]!) | 0;
    h = (h + t1) | 0;
    d = (t1 + ((((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) + ((e & f) ^ (e & g) ^ (f & g)))) | 0;
    t1 = (c + ((((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7)))) + ((h & a) ^ (~h & b)) + K[i + 5]! + W[i + 5]!) | 0;
    g = (g + t1) | 0;
    c = (t1 + ((((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) + ((d & e) ^ (d & f) ^ (e & f)))) | 0;
    t1 = (b + ((((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) + ((g & h) ^ (~g & a)) + K[i + 6]! + W[i + 6]!) | 0;
    f = (f + t1) | 0;
    b = (t1 + ((((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) + ((c & d) ^ (c & e) ^ (d & e)))) | 0;
    t1 = (a + ((((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) + ((f & g) ^ (~f & h)) + K[i + 7]! + W[i + 7]!) | 0;
    e = (e + t1) | 0;
    a = (t1 + ((((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) + ((b & c) ^ (b & d) ^ (c & d)))) | 0;
  }
  state[0] = (state[0]! + a) | 0;
  state[1] = (state[1]! + b) | 0;
  state[2] = (state[2]! + c) | 0;
  state[3] = (state[3]! + d) | 0;
  state[4] = (state[4]! + e) | 0;
  state[5] = (state[5]! + f) | 0;
  state[6] = (state[6]! + g) | 0;
  state[7] = (state[7]! + h) | 0;
}

/** Pads the message whose last `used` bytes are at the start of `buf` (total `total` bytes) and compresses it. */
function finish(state: Int32Array, buf: Uint8Array, used: number, total: number): void {
  buf[used] = 0x80;
  let end = used + 1;
  const blocks = end + 8 <= BLOCK ? 1 : Math.ceil((end + 8) / BLOCK);
  const last = blocks * BLOCK;
  buf.fill(0, end, last - 8);
  // bit length, big-endian 64-bit (messages here are far below 2^29 bytes)
  const bits = total * 8;
  buf[last - 8] = 0;
  buf[last - 7] = 0;
  buf[last - 6] = 0;
  buf[last - 5] = Math.floor(bits / 2 ** 32) & 0xff;
  buf[last - 4] = (bits >>> 24) & 0xff;
  buf[last - 3] = (bits >>> 16) & 0xff;
  buf[last - 2] = (bits >>> 8) & 0xff;
  buf[last - 1] = bits & 0xff;
  for (end = 0; end < last; end += BLOCK) compress(state, buf, end);
}

function writeState(state: Int32Array, out: Uint8Array, off: number, words: number): void {
  for (let i = 0; i < words; i++) {
    const v = state[i]!;
    out[off + i * 4] = v >>> 24;
    out[off + i * 4 + 1] = (v >>> 16) & 0xff;
    out[off + i * 4 + 2] = (v >>> 8) & 0xff;
    out[off + i * 4 + 3] = v & 0xff;
  }
}

/** HMAC-SHA256 with one key over messages that all start with one prefix. */
export class HmacSha256Prefix {
  /** Inner state after (K ^ ipad) and the prefix's whole blocks. */
  readonly #inner = new Int32Array(8);
  /** Outer state after (K ^ opad). */
  readonly #outer = new Int32Array(8);
  /** Bytes hashed into the inner state so far (the ipad block and the prefix). */
  readonly #innerLength: number;
  /** The prefix's bytes past its last whole block (fewer than 64). */
  readonly #tail: Uint8Array;
  readonly #state = new Int32Array(8);
  /** Scratch for the tail, the message and the padding. */
  readonly #buf = new Uint8Array(BLOCK + 4 + MAX_LAST_PART_BYTES + 2 * BLOCK);

  constructor(key: Uint8Array, prefix: Uint8Array) {
    const k = new Uint8Array(BLOCK);
    k.set(key.length > BLOCK ? createHash('sha256').update(key).digest() : key);
    const pad = new Uint8Array(BLOCK);
    for (let i = 0; i < BLOCK; i++) pad[i] = k[i]! ^ 0x36;
    this.#inner.set(IV);
    compress(this.#inner, pad, 0);
    for (let i = 0; i < BLOCK; i++) pad[i] = k[i]! ^ 0x5c;
    this.#outer.set(IV);
    compress(this.#outer, pad, 0);
    const whole = prefix.length - (prefix.length % BLOCK);
    for (let off = 0; off < whole; off += BLOCK) compress(this.#inner, prefix, off);
    this.#tail = prefix.slice(whole);
    this.#innerLength = BLOCK + prefix.length;
  }

  /**
   * HMAC of prefix || u32be(end - start) || `part[start, end)`: its first `outBytes` bytes (at
   * most 32) are written to `out` at `outOff`.
   */
  mac(part: Uint8Array, start: number, end: number, out: Uint8Array, outOff: number, outBytes: number): void {
    const len = end - start;
    if (len < 0 || len > MAX_LAST_PART_BYTES || outBytes > 32) throw new RangeError('hmac-prefix: part or MAC size out of range');
    const buf = this.#buf;
    const state = this.#state;
    const tail = this.#tail;
    let at = tail.length;
    buf.set(tail, 0);
    buf[at++] = len >>> 24;
    buf[at++] = (len >>> 16) & 0xff;
    buf[at++] = (len >>> 8) & 0xff;
    buf[at++] = len & 0xff;
    for (let i = start; i < end; i++) buf[at++] = part[i]!;
    state.set(this.#inner);
    const n = 4 + len;
    const used = at;
    const whole = used - (used % BLOCK);
    for (let off = 0; off < whole; off += BLOCK) compress(state, buf, off);
    buf.copyWithin(0, whole, used);
    finish(state, buf, used - whole, this.#innerLength + n);
    // outer: (K ^ opad) was one block, then the 32-byte inner digest
    writeState(state, buf, 0, 8);
    state.set(this.#outer);
    finish(state, buf, 32, BLOCK + 32);
    const words = Math.ceil(outBytes / 4);
    writeState(state, buf, 0, words);
    for (let i = 0; i < outBytes; i++) out[outOff + i] = buf[i]!;
  }
}
