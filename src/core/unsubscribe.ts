/**
 * X-Mxm-Unsubscribe: whether the To copy gets RFC 8058 one-click unsubscribe headers
 * (List-Unsubscribe with a signed https URL, List-Unsubscribe-Post: List-Unsubscribe=One-Click).
 *
 *   X-Mxm-Unsubscribe: one-click   add them
 *   X-Mxm-Unsubscribe: none        do not (overrides a space or From-address default)
 *
 * Only the first field counts; its value is unfolded, trimmed of SP/HTAB and compared
 * case-insensitively. Anything else is invalid (a 5xx, like an invalid X-Mxm-Flags).
 * Precedence: header > per-From-address default > space default > off.
 *
 * Who gets them is decided in evaluate.ts: only the To recipient, and only when it receives
 * the message; the BCC recipient's copy never carries the To recipient's unsubscribe link.
 *
 * Pure. Throws nothing.
 */
import { unfold } from './address.js';
import { trimWsp } from './flags.js';
import type { HeaderField } from './types.js';

export const UNSUBSCRIBE_HEADER = 'x-mxm-unsubscribe';
/** The value that asks for one-click unsubscribe headers. */
export const ONE_CLICK = 'one-click';
/** The value that asks for none. */
export const NO_UNSUBSCRIBE = 'none';
/** The header value RFC 8058 section 3.1 prescribes. */
export const LIST_UNSUBSCRIBE_POST_VALUE = 'List-Unsubscribe=One-Click';

/** A stored default of a space or a From address (null in the store: none configured). */
export type UnsubscribeDefault = typeof ONE_CLICK | typeof NO_UNSUBSCRIBE;

export function isUnsubscribeDefault(value: unknown): value is UnsubscribeDefault {
  return value === ONE_CLICK || value === NO_UNSUBSCRIBE;
}

/** A stored default as unsubscribeOption takes it: true for one-click, false for none, null for none configured. */
export function unsubscribeDefaultValue(value: UnsubscribeDefault | null): boolean | null {
  return value === null ? null : value === ONE_CLICK;
}

export type UnsubscribeOption =
  | { readonly ok: true; readonly oneClick: boolean; readonly source: 'header' | 'from-address' | 'space' | 'default' }
  /** `value` is the offending field body, unfolded and trimmed (for the reply, after safeEcho). */
  | { readonly ok: false; readonly value: string };

/** Whether a message asks for one-click unsubscribe headers, and where that came from. */
export function unsubscribeOption(
  headers: readonly HeaderField[],
  fromAddressDefault: boolean | null,
  spaceDefault: boolean | null,
): UnsubscribeOption {
  const field = headers.find((h) => h.name.trim().toLowerCase() === UNSUBSCRIBE_HEADER);
  if (field) {
    const value = trimWsp(unfold(field.value));
    const v = value.toLowerCase();
    if (v === ONE_CLICK) return { ok: true, oneClick: true, source: 'header' };
    if (v === NO_UNSUBSCRIBE) return { ok: true, oneClick: false, source: 'header' };
    return { ok: false, value };
  }
  if (fromAddressDefault !== null) return { ok: true, oneClick: fromAddressDefault, source: 'from-address' };
  if (spaceDefault !== null) return { ok: true, oneClick: spaceDefault, source: 'space' };
  return { ok: true, oneClick: false, source: 'default' };
}

/**
 * The List-Unsubscribe field value (RFC 2369: each URI in angle brackets, comma-separated, in
 * order of preference): the https URL first (RFC 8058 one-click needs it), then the mailto: URI
 * when there is one. Null when the URL cannot be written in a header (not ASCII, has a control
 * character, space or angle bracket); a mailto: URI that cannot be is left out.
 */
export function listUnsubscribeValue(url: string, mailto: string | null = null): string | null {
  if (!/^https?:\/\/[\x21-\x3b\x3d\x3f-\x7e]+$/.test(url)) return null;
  const mail = mailto !== null && /^mailto:[\x21-\x2b\x2d-\x3b\x3d\x3f-\x7e]+$/.test(mailto) ? `, <${mailto}>` : '';
  return `<${url}>${mail}`;
}
