/**
 * The Message-ID of a message (RFC 5322 3.6.4) as trxmail keeps it with the send and searches
 * for it: the text between the angle brackets of the first Message-ID field, unfolded and
 * trimmed. A search term is normalised the same way, so `<a@b>` and `a@b` find the same send.
 * Compared exactly (the id-left part is case-sensitive).
 *
 * Refused (null: the send keeps no Message-ID, a search term is an error): an empty id, one
 * longer than MAX_MESSAGE_ID_LENGTH characters, and one holding whitespace, control
 * characters or angle brackets inside.
 *
 * Pure. Throws nothing.
 */
import { MAX_MESSAGE_ID_LENGTH } from './limits.js';
import type { HeaderField } from './types.js';

export const MESSAGE_ID_HEADER = 'message-id';

const BAD = /[\s\u0000-\u001f\u007f-\u009f<>]/u;

/** The id of one Message-ID value or search term (brackets optional), or null. */
export function normalizeMessageId(value: string): string | null {
  let text = value.replace(/\r?\n[ \t]+/g, ' ').trim();
  // A comment or display text around the brackets (seen from some clients) is dropped.
  const open = text.indexOf('<');
  const close = text.indexOf('>', open + 1);
  if (open >= 0 && close > open) text = text.slice(open + 1, close).trim();
  if (text === '' || [...text].length > MAX_MESSAGE_ID_LENGTH || BAD.test(text)) return null;
  return text;
}

/** The Message-ID of a header block: the first Message-ID field's id, or null (none or invalid). */
export function messageIdOf(headers: readonly HeaderField[]): string | null {
  const field = headers.find((h) => h.name.toLowerCase() === MESSAGE_ID_HEADER);
  return field === undefined ? null : normalizeMessageId(field.value);
}
