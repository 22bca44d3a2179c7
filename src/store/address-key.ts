/**
 * How the store keys addresses, shared by the neutral layer (which computes the keys it
 * passes down) and the backends (the SQLite report compares event recipients by key in SQL).
 *
 *  - strict key (listKey, core/domain.ts): domain normalised (IDN-aware, lower case), local
 *    part lower-cased; null when the string is not an address or is longer than
 *    MAX_ADDRESS_LENGTH. Users, list entries and from-address defaults are keyed by it.
 *  - loose key: the strict key, or the trimmed lower-cased string when it is no address.
 *    Send From and recipients are keyed by it (they are stored whatever the client sent).
 *
 * Pure; throws nothing.
 */
import { listKey } from '../core/domain.js';
import { MAX_ADDRESS_LENGTH } from '../lib/limits.js';

/** listKey of an address no longer than MAX_ADDRESS_LENGTH, else null. */
export function addressKey(address: string): string | null {
  return address.length <= MAX_ADDRESS_LENGTH ? listKey(address) : null;
}

/** The key an address is stored and compared under: listKey, or lower case when it is no address. */
export function looseAddressKey(address: string): string {
  return listKey(address) ?? address.trim().toLowerCase();
}
