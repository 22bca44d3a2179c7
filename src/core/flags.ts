/**
 * X-Mxm-Flags: the per-message options header (bitwise integer, 0..MAX_FLAGS).
 *
 *   1 open tracking   2 click tracking   4 check the Unsubscribe list   8 ignore the Bounce list
 *
 * Only the first X-Mxm-Flags field counts. Its value, unfolded and trimmed of SP/HTAB, must
 * be ASCII digits only (leading zeros allowed) with a value from 0 to MAX_FLAGS; anything
 * else (`abc`, `-1`, `99`, `3 4`, empty, `0x3`, `+3`) is invalid.
 * Precedence: header > per-from-address default > space default > DEFAULT_FLAGS.
 *
 * Pure. Throws InvariantError only when a configured default (from the store) is out of
 * range, which is a bug elsewhere, never for message input.
 */
import { InvariantError } from './errors.js';
import { unfold } from './address.js';
import { DEFAULT_FLAGS, MAX_FLAGS, type FlagSource, type HeaderField } from './types.js';

export const FLAGS_HEADER = 'x-mxm-flags';

/** The parsed value of an X-Mxm-Flags field body, or null when it is invalid. */
export function parseFlagsValue(value: string): number | null {
  const v = trimWsp(unfold(value));
  if (!/^[0-9]+$/.test(v)) return null;
  const digits = v.replace(/^0+(?=.)/, '');
  if (digits.length > 2) return null;
  const n = Number(digits);
  return n <= MAX_FLAGS ? n : null;
}

/** SP/HTAB trim (RFC 5322 WSP), not JavaScript's Unicode-wide trim. */
export function trimWsp(s: string): string {
  return s.replace(/^[ \t]+|[ \t]+$/g, '');
}

export type FlagsResult =
  | { readonly ok: true; readonly flags: number; readonly source: FlagSource }
  /** `value` is the offending field body, unfolded and trimmed (for the reply, after safeEcho). */
  | { readonly ok: false; readonly value: string };

function checkConfigured(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 0 || n > MAX_FLAGS) {
    throw new InvariantError(`${name} flags ${String(n)} out of range 0..${MAX_FLAGS}`);
  }
  return n;
}

/** The effective flags of a message and where they came from. */
export function effectiveFlags(
  headers: readonly HeaderField[],
  fromAddressFlags: number | null,
  spaceDefault: number | null,
): FlagsResult {
  const field = headers.find((h) => h.name.trim().toLowerCase() === FLAGS_HEADER);
  if (field) {
    const n = parseFlagsValue(field.value);
    if (n === null) return { ok: false, value: trimWsp(unfold(field.value)) };
    return { ok: true, flags: n, source: 'header' };
  }
  if (fromAddressFlags !== null) {
    return { ok: true, flags: checkConfigured('per-from-address', fromAddressFlags), source: 'from-address' };
  }
  if (spaceDefault !== null) return { ok: true, flags: checkConfigured('space default', spaceDefault), source: 'space' };
  return { ok: true, flags: DEFAULT_FLAGS, source: 'default' };
}
