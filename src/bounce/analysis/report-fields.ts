/**
 * The field blocks of a report body: message/delivery-status and
 * message/global-delivery-status (RFC 3464 2.1, RFC 6533), message/feedback-report
 * (RFC 5965 3.1).
 *
 * Layout (lines end in CRLF or LF):
 *   Name: value            a field; names are case-insensitive
 *     continued value      folding: a line starting with SP/HT continues the field above
 *   <empty line>           separates blocks (a line of only whitespace counts as empty)
 *   anything else          junk, skipped
 * Values are unfolded (the line breaks removed, the whitespace kept) and trimmed.
 *
 * Helpers for the typed values both reports use: `type; text` (address-type, diagnostic-type,
 * mta-name-type), RFC 6533 `\x{HHHH}` escapes in utf-8 addresses, and one-line cleaning
 * (control characters dropped, whitespace collapsed, cut to a length).
 *
 * Limits: at most `maxBlocks` non-empty blocks are read (the caller's cap, e.g.
 * MAX_BOUNCE_RECIPIENTS + 2); `truncated` says more followed.
 *
 * Pure: no I/O. Never throws.
 */
import { MAX_ADDRESS_LENGTH } from '../../lib/limits.js';

export interface ReportField {
  readonly name: string;
  /** Lower-cased name. */
  readonly key: string;
  readonly value: string;
}

export type FieldBlock = readonly ReportField[];

const FIELD_RE = /^([\x21-\x39\x3b-\x7e]+)[ \t]*:(.*)$/s;

/** Parse a report body into blocks of fields. */
export function parseFieldBlocks(text: string, maxBlocks: number): { blocks: FieldBlock[]; truncated: boolean } {
  const blocks: FieldBlock[] = [];
  let current: { name: string; key: string; value: string }[] = [];
  const finish = (): boolean => {
    if (current.length > 0) {
      blocks.push(current.map((f) => ({ name: f.name, key: f.key, value: f.value.trim() })));
      current = [];
    }
    return blocks.length >= maxBlocks;
  };
  const lines = text.split('\n');
  for (let idx = 0; idx < lines.length; idx++) {
    const line = (lines[idx] as string).replace(/\r$/, '');
    if (line.trim() === '') {
      if (finish()) return { blocks, truncated: hasMoreFields(lines, idx + 1) };
      continue;
    }
    const last = current[current.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
      last.value += line;
      continue;
    }
    const m = FIELD_RE.exec(line);
    if (m === null) continue;
    const name = m[1] as string;
    current.push({ name, key: name.toLowerCase(), value: m[2] as string });
  }
  finish();
  return { blocks: blocks.slice(0, maxBlocks), truncated: blocks.length > maxBlocks };
}

function hasMoreFields(lines: readonly string[], from: number): boolean {
  for (let i = from; i < lines.length; i++) if (FIELD_RE.test((lines[i] as string).replace(/\r$/, ''))) return true;
  return false;
}

/** First value of `key` in the block, or null. */
export function blockValue(block: FieldBlock, key: string): string | null {
  for (const f of block) if (f.key === key) return f.value;
  return null;
}

/** Every value of `key` in the block. */
export function blockValues(block: FieldBlock, key: string): string[] {
  const out: string[] = [];
  for (const f of block) if (f.key === key) out.push(f.value);
  return out;
}

/** Split `type; text` (RFC 3464 address-type / diagnostic-type / mta-name-type); no type when there is no `token;` prefix. */
export function splitTyped(value: string): { type: string | null; text: string } {
  const m = /^\s*([A-Za-z0-9][A-Za-z0-9._+-]*)\s*;(.*)$/s.exec(value);
  if (m === null) return { type: null, text: value.trim() };
  return { type: (m[1] as string).toLowerCase(), text: (m[2] as string).trim() };
}

/** RFC 6533 3: `\x{HHHH}` (1..6 hex digits, a Unicode scalar value) in a utf-8 address. */
export function decodeEmbeddedUnicode(s: string): string {
  return s.replace(/\\x\{([0-9A-Fa-f]{1,6})\}/g, (whole, hex: string) => {
    const cp = parseInt(hex, 16);
    if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return whole;
    return String.fromCodePoint(cp);
  });
}

/**
 * The address in a typed recipient field (`rfc822; a@b`, `utf-8; ü@b`, bare `a@b`, `<a@b>`);
 * null when it is not an addr-spec we can use (no `@`, whitespace or control characters, over
 * MAX_ADDRESS_LENGTH).
 */
export function typedAddress(value: string): string | null {
  const { type, text } = splitTyped(value);
  let a = text;
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1).trim();
  if (type === 'utf-8') a = decodeEmbeddedUnicode(a);
  return plausibleAddress(a);
}

/** `a` when it looks like an addr-spec (one `@` with text on both sides, no whitespace/controls/brackets, not too long). */
export function plausibleAddress(a: string): string | null {
  if (a.length === 0 || a.length > MAX_ADDRESS_LENGTH) return null;
  if (/[\s\x00-\x1f\x7f<>()[\],;]/.test(a.replace(/^".*"(?=@)/, '""'))) return null;
  const at = a.lastIndexOf('@');
  if (at <= 0 || at === a.length - 1) return null;
  return a;
}

/**
 * One line of untrusted text: control characters dropped, whitespace runs collapsed to one
 * space, trimmed, cut to `max` UTF-16 code units (never inside a surrogate pair).
 */
export function oneLine(s: string, max: number): string {
  let out = s.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '').replace(/\s+/g, ' ').trim();
  if (out.length > max) {
    out = out.slice(0, max);
    const last = out.charCodeAt(out.length - 1);
    if (last >= 0xd800 && last <= 0xdbff) out = out.slice(0, -1);
  }
  return out;
}
