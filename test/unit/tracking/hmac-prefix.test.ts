/**
 * tracking/hmac-prefix.ts is HMAC-SHA256: for random keys (shorter than, equal to and longer
 * than a block), prefixes and last parts (across the block and padding boundaries), its MAC is
 * node:crypto's createHmac over prefix || u32be(length) || part, reusing one instance for
 * many parts.
 */
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_TRACKED_URL_LENGTH } from '../../../src/lib/limits.js';
import { HmacSha256Prefix, MAX_LAST_PART_BYTES } from '../../../src/tracking/hmac-prefix.js';

function reference(key: Uint8Array, prefix: Uint8Array, part: Uint8Array): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(part.length);
  return createHmac('sha256', key).update(Buffer.concat([prefix, len, part])).digest();
}

const bytes = (max: number) => fc.uint8Array({ maxLength: max });

describe('HmacSha256Prefix', () => {
  it('is createHmac("sha256") over prefix, length and part', () => {
    fc.assert(
      fc.property(bytes(200), bytes(200), fc.array(bytes(300), { minLength: 1, maxLength: 4 }), (key, prefix, parts) => {
        const h = new HmacSha256Prefix(key, prefix);
        for (const part of parts) {
          const out = new Uint8Array(32);
          h.mac(part, 0, part.length, out, 0, 32);
          expect(Buffer.from(out).equals(reference(key, prefix, part))).toBe(true);
        }
      }),
      { numRuns: 500, seed: 15 },
    );
  });

  it('gets every length around the block and padding boundaries right', () => {
    const key = Buffer.from('a key of some length');
    for (let p = 0; p <= 130; p++) {
      const prefix = Buffer.alloc(p, 0x61);
      const h = new HmacSha256Prefix(key, prefix);
      for (let n = 0; n <= 130; n += 1) {
        const part = Buffer.alloc(n, 0x7a);
        const out = new Uint8Array(32);
        h.mac(part, 0, n, out, 0, 32);
        expect(Buffer.from(out).toString('hex')).toBe(reference(key, prefix, part).toString('hex'));
      }
    }
  });

  it('writes a truncated MAC at an offset and reads a part from a window', () => {
    const key = Buffer.alloc(64, 7);
    const h = new HmacSha256Prefix(key, Buffer.from('prefix'));
    const host = Buffer.from('xxhttps://a.example/yy');
    const out = Buffer.alloc(20, 0xee);
    h.mac(host, 2, host.length - 2, out, 3, 16);
    expect(out.subarray(3, 19).equals(reference(key, Buffer.from('prefix'), Buffer.from('https://a.example/')).subarray(0, 16))).toBe(true);
    expect(out[2]).toBe(0xee);
    expect(out[19]).toBe(0xee);
  });

  it('takes a last part of MAX_LAST_PART_BYTES (a URL) and refuses one byte more', () => {
    expect(MAX_LAST_PART_BYTES).toBe(MAX_TRACKED_URL_LENGTH);
    const h = new HmacSha256Prefix(Buffer.from('k'), Buffer.from('p'));
    const part = Buffer.alloc(MAX_LAST_PART_BYTES + 1, 0x41);
    const out = new Uint8Array(32);
    h.mac(part, 0, MAX_LAST_PART_BYTES, out, 0, 32);
    expect(Buffer.from(out).equals(reference(Buffer.from('k'), Buffer.from('p'), part.subarray(0, MAX_LAST_PART_BYTES)))).toBe(true);
    expect(() => h.mac(part, 0, MAX_LAST_PART_BYTES + 1, out, 0, 32)).toThrow(RangeError);
  });
});
