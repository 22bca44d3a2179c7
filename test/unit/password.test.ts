import { describe, expect, it } from 'vitest';
import { UsageError } from '../../src/lib/errors.js';
import { MAX_PASSWORD_BYTES } from '../../src/lib/limits.js';
import { hashPassword, verifyPassword } from '../../src/lib/password.js';

describe('password hashing', () => {
  it('round-trips and uses the documented encoding', async () => {
    const h = await hashPassword('correct horse battery staple');
    expect(h).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    expect(await verifyPassword('correct horse battery staple', h)).toBe(true);
  });

  it('refuses a wrong password, including near misses', async () => {
    const h = await hashPassword('Secret-1');
    for (const wrong of ['secret-1', 'Secret-1 ', 'Secret-', 'Secret-12', '']) {
      expect(await verifyPassword(wrong, h)).toBe(false);
    }
  });

  it('salts: two hashes of the same password differ and both verify', async () => {
    const a = await hashPassword('same');
    const b = await hashPassword('same');
    expect(a).not.toBe(b);
    expect(a.split('$')[4]).not.toBe(b.split('$')[4]);
    expect(await verifyPassword('same', a)).toBe(true);
    expect(await verifyPassword('same', b)).toBe(true);
  });

  it('hashes non-ASCII passwords as UTF-8 bytes without normalising', async () => {
    const h = await hashPassword('p\u00e4ss');
    expect(await verifyPassword('p\u00e4ss', h)).toBe(true);
    expect(await verifyPassword('pa\u0308ss', h)).toBe(false);
  });

  it('verifies a hash made with other (smaller) parameters, read from the encoding', async () => {
    const h = await hashPassword('x');
    const [, , , , salt] = h.split('$');
    // Build an N=2^10, r=1 hash independently through node:crypto.
    const { scryptSync } = await import('node:crypto');
    const key = scryptSync('x', Buffer.from(salt!, 'base64'), 32, { N: 1024, r: 1, p: 1 });
    const other = `scrypt$10$1$1$${salt}$${key.toString('base64')}`;
    expect(await verifyPassword('x', other)).toBe(true);
    expect(await verifyPassword('y', other)).toBe(false);
  });

  it('accepts a password of exactly MAX_PASSWORD_BYTES and refuses one byte more', async () => {
    const max = 'a'.repeat(MAX_PASSWORD_BYTES);
    const h = await hashPassword(max);
    expect(await verifyPassword(max, h)).toBe(true);
    await expect(hashPassword(max + 'a')).rejects.toBeInstanceOf(UsageError);
    // Multi-byte characters count in bytes: 512 x 2-byte + 1 = 1025 bytes.
    await expect(hashPassword('\u00e9'.repeat(MAX_PASSWORD_BYTES / 2) + 'a')).rejects.toThrow(/longer than 1024 bytes/);
    expect(await verifyPassword(max + 'a', h)).toBe(false);
  });

  it('refuses an empty password', async () => {
    await expect(hashPassword('')).rejects.toBeInstanceOf(UsageError);
  });

  describe('malformed encodings verify false and never throw', () => {
    const salt = Buffer.alloc(16, 1).toString('base64');
    const key = Buffer.alloc(32, 2).toString('base64');
    const bad: Array<[string, string]> = [
      ['empty', ''],
      ['plaintext', 'hunter2'],
      ['other scheme', `bcrypt$15$8$1$${salt}$${key}`],
      ['too few fields', `scrypt$15$8$1$${salt}`],
      ['too many fields', `scrypt$15$8$1$${salt}$${key}$x`],
      ['non-numeric N', `scrypt$x$8$1$${salt}$${key}`],
      ['leading zero', `scrypt$015$8$1$${salt}$${key}`],
      ['negative r', `scrypt$15$-8$1$${salt}$${key}`],
      ['zero p', `scrypt$15$8$0$${salt}$${key}`],
      ['N too small', `scrypt$4$8$1$${salt}$${key}`],
      ['N too large (memory bomb)', `scrypt$30$8$1$${salt}$${key}`],
      ['r * N over the memory bound', `scrypt$20$32$1$${salt}$${key}`],
      ['salt not base64', `scrypt$15$8$1$not*base64!!!$${key}`],
      ['salt unpadded', `scrypt$15$8$1$${salt.replace(/=+$/, '')}$${key}`],
      ['salt too short', `scrypt$15$8$1$${Buffer.alloc(4).toString('base64')}$${key}`],
      ['key empty', `scrypt$15$8$1$${salt}$`],
      ['key too short', `scrypt$15$8$1$${salt}$${Buffer.alloc(8).toString('base64')}`],
      ['key too long', `scrypt$15$8$1$${salt}$${Buffer.alloc(65).toString('base64')}`],
      ['whitespace', ` scrypt$15$8$1$${salt}$${key}`],
    ];
    it.each(bad)('%s', async (_label, encoded) => {
      await expect(verifyPassword('anything', encoded)).resolves.toBe(false);
    });
  });
});
