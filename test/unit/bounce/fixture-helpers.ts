/**
 * Test helpers for the bounce fixtures (test/fixtures/bounces): the fixture key and bounce
 * domain, and the placeholder substitution that turns readable .eml files into messages with
 * valid (or deliberately forged) bounce addresses at load time.
 *
 * Placeholders (space id, send id; a `_b` send id is a BCC copy's):
 *   {{BOUNCE:1:4jXQZB3dVKzJ9Ft}}     the bounce address for that send
 *   {{REF:1:4jXQZB3dVKzJ9Ft}}        its local part (the X-Trxmail-Ref value)
 *   {{FORGED:1:4jXQZB3dVKzJ9Ft}}     the address with one character of its check changed
 *   {{FORGEDREF:1:4jXQZB3dVKzJ9Ft}}  the local part of that forged address
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeBounceAddress } from '../../../src/bounce/bounce-address.js';
import type { HmacKey } from '../../../src/lib/hmac-keys.js';

export const FIXTURE_KEY: HmacKey = { id: 'fx', secret: 'fixture-secret-0123456789' };
export const FIXTURE_KEYS: readonly HmacKey[] = [FIXTURE_KEY];
export const BOUNCE_DOMAIN = 'bounces.example.com';
export const FIXTURE_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'bounces');

/** The bounce address of a send, signed with the fixture key. */
export function bounceAddressFor(spaceId: number, sendId: string): string {
  return encodeBounceAddress({ spaceId, sendId }, FIXTURE_KEYS, BOUNCE_DOMAIN);
}

/** The same address with the last character of its check replaced (a forgery that still parses). */
export function forgedAddressFor(spaceId: number, sendId: string): string {
  const address = bounceAddressFor(spaceId, sendId);
  const at = address.lastIndexOf('@');
  const last = address[at - 1];
  return address.slice(0, at - 1) + (last === 'a' ? 'b' : 'a') + address.slice(at);
}

const PLACEHOLDER_RE = /\{\{(BOUNCE|REF|FORGED|FORGEDREF):(\d+):([0-9A-Za-z_]+)\}\}/g;

/** Replace every placeholder in `text`. */
export function substitute(text: string): string {
  return text.replace(PLACEHOLDER_RE, (_m, what: string, space: string, send: string) => {
    const forged = what.startsWith('FORGED');
    const address = forged ? forgedAddressFor(Number(space), send) : bounceAddressFor(Number(space), send);
    return what.endsWith('REF') ? address.slice(0, address.lastIndexOf('@')) : address;
  });
}

/** A fixture's bytes with placeholders substituted (latin1 round trip: other bytes unchanged). */
export function loadFixture(name: string): Buffer {
  const raw = readFileSync(join(FIXTURE_DIR, name));
  return Buffer.from(substitute(raw.toString('latin1')), 'latin1');
}
