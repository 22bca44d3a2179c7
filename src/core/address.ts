/**
 * Address parsers: RFC 5322 address lists (From/To/Cc header bodies), with RFC 6532 UTF-8
 * local parts and RFC 2047 encoded words in display names. RFC 5321 envelope paths (MAIL FROM
 * / RCPT TO) are read by envelope-address.ts, which shares the local-part helpers here.
 *
 * Header grammar handled (RFC 5322 §3.4, §4.4 obsolete forms tolerated):
 *   address-list = address *("," address)        empty elements (",,") skipped
 *   address      = mailbox / group
 *   group        = display-name ":" [mailbox-list] ";"     e.g. `undisclosed-recipients:;`
 *   mailbox      = name-addr / addr-spec
 *   name-addr    = [display-name] "<" [obs-route] addr-spec ">"    route `@a,@b:` dropped
 *   addr-spec    = local-part "@" domain      local = dot-atom / quoted-string (+ obs forms)
 * plus CFWS (nested comments, folding) anywhere, quoted strings holding `,` `<` `:`.
 *
 * For each mailbox the result carries the address, the decoded display name and the raw
 * source text of the mailbox and of its display name, so a caller can write the display
 * name back byte-for-byte. "Raw" means a slice of the field body after unfolding (every CR
 * and LF removed, RFC 5322 §2.2.3); nothing else is changed.
 *
 * Robust against garbage: never throws; an element it cannot read is skipped (counted in
 * `errors`) and parsing resumes at the next top-level comma. Work is linear in the input
 * length: one tokenizing pass, and every token is looked at a bounded number of times.
 * Unterminated quoted strings, comments and angle brackets run to the end of the input.
 */
import libmime from 'libmime';

/** One mailbox found in an address list. */
export interface ParsedMailbox {
  /** The addr-spec, CFWS removed: `local@domain` (local part quoted only when it must be). */
  readonly address: string;
  readonly local: string;
  /** Domain as written (not normalised); a domain literal keeps its brackets. */
  readonly domain: string;
  /** Display name, RFC 2047 decoded and unquoted; null when there is none. */
  readonly displayName: string | null;
  /** Source text of the display-name phrase (unfolded); null when the name is absent or came from a comment. */
  readonly displayRaw: string | null;
  /** Source text of the whole mailbox, display name to `>` plus trailing comments (unfolded). */
  readonly raw: string;
  /** Decoded name of the group this mailbox belongs to, or null. */
  readonly group: string | null;
}

export interface AddressList {
  /** Mailboxes in order; group members included, in place. */
  readonly mailboxes: readonly ParsedMailbox[];
  /** Number of groups seen (empty ones included). */
  readonly groups: number;
  /** Number of elements (or trailing pieces) that could not be read and were skipped. */
  readonly errors: number;
}

/** Remove every CR and LF (RFC 5322 unfolding: the whitespace after the break stays). */
export function unfold(value: string): string {
  return value.replace(/[\r\n]/g, '');
}

// ---------------------------------------------------------------------------------------
// Tokenizer

type TokenKind = 'atom' | 'quoted' | 'comment' | 'literal' | 'special';

interface Token {
  readonly kind: TokenKind;
  /** Offsets in the unfolded source. */
  readonly start: number;
  readonly end: number;
  /** atom: its text; quoted/comment/literal: content unescaped (no delimiters); special: the char. */
  readonly text: string;
  /** Whitespace immediately before this token. */
  readonly spaceBefore: boolean;
}

/** Specials that end an atom. `\`, `)` and `]` outside their context are taken as atom text (lenient). */
const SPECIALS = new Set(['(', ')', '<', '>', '[', ':', ';', '@', ',', '.', '"']);
const isWsp = (c: string): boolean => c === ' ' || c === '\t';

/** Read a delimited run (quoted string, comment, literal) from `i` (the opening char). */
function readDelimited(s: string, i: number, close: string, nests: boolean): { end: number; text: string } {
  let depth = 1;
  let text = '';
  let j = i + 1;
  while (j < s.length) {
    const c = s[j] ?? '';
    if (c === '\\' && j + 1 < s.length) {
      text += s[j + 1] ?? '';
      j += 2;
      continue;
    }
    if (nests && c === '(') depth++;
    else if (c === close) {
      depth--;
      if (depth === 0) return { end: j + 1, text };
    }
    text += c;
    j++;
  }
  return { end: s.length, text };
}

function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  // Whether a `]` follows: a `[` with none after it is plain text, not a literal.
  const lastClose = s.lastIndexOf(']');
  let i = 0;
  let space = false;
  while (i < s.length) {
    const c = s[i] ?? '';
    if (isWsp(c)) {
      space = true;
      i++;
      continue;
    }
    const start = i;
    let kind: TokenKind;
    let text: string;
    if (c === '"' || c === '(' || (c === '[' && lastClose > i)) {
      const close = c === '"' ? '"' : c === '(' ? ')' : ']';
      const r = readDelimited(s, i, close, c === '(');
      kind = c === '"' ? 'quoted' : c === '(' ? 'comment' : 'literal';
      text = r.text;
      i = r.end;
    } else if (SPECIALS.has(c) && c !== ')' && c !== '[') {
      kind = 'special';
      text = c;
      i++;
    } else {
      kind = 'atom';
      let j = i + 1;
      while (j < s.length) {
        const d = s[j] ?? '';
        if (isWsp(d) || (SPECIALS.has(d) && d !== ')')) break;
        j++;
      }
      text = s.slice(i, j);
      i = j;
    }
    tokens.push({ kind, start, end: i, text, spaceBefore: space });
    space = false;
  }
  return tokens;
}

// ---------------------------------------------------------------------------------------
// Helpers

const ATEXT_RE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+$/u;

/** True when `s` is a dot-atom (RFC 5322 §3.2.3; non-ASCII allowed per RFC 6532). */
export function isDotAtom(s: string): boolean {
  if (s === '') return false;
  for (const part of s.split('.')) {
    if (!ATEXT_RE.test(part)) return false;
  }
  return true;
}

/** A local part written in its simplest form: unquoted when the content is a dot-atom. */
export function localPartText(content: string, quoted: boolean): string {
  if (!quoted || isDotAtom(content)) return content;
  return '"' + content.replace(/(["\\])/g, '\\$1') + '"';
}

/** RFC 2047 decode, lenient (encoded words inside quoted strings too); never throws. */
export function decodeWordsSafe(text: string): string {
  if (!text.includes('=?')) return text;
  try {
    return libmime.decodeWords(text);
  } catch {
    return text;
  }
}

/** Decoded text of phrase tokens: words joined with one space where the source had CFWS. */
function phraseText(s: string, tokens: readonly Token[], from: number, to: number): string {
  let out = '';
  let sawComment = false;
  for (let k = from; k < to; k++) {
    const t = tokens[k];
    if (!t) break;
    if (t.kind === 'comment') {
      sawComment = true; // a comment between words acts as whitespace
      continue;
    }
    if (out !== '' && (t.spaceBefore || sawComment)) out += ' ';
    out += t.kind === 'literal' ? s.slice(t.start, t.end) : t.text;
    sawComment = false;
  }
  return decodeWordsSafe(out);
}

// ---------------------------------------------------------------------------------------
// Parser

class ListParser {
  private pos = 0;
  readonly mailboxes: ParsedMailbox[] = [];
  groups = 0;
  errors = 0;

  constructor(
    private readonly s: string,
    private readonly t: readonly Token[],
  ) {}

  private isSpecial(k: number, ch: string): boolean {
    const tok = this.t[k];
    return tok !== undefined && tok.kind === 'special' && tok.text === ch;
  }

  parse(): void {
    while (this.pos < this.t.length) {
      if (this.isSpecial(this.pos, ',') || this.t[this.pos]?.kind === 'comment') {
        this.pos++;
        continue;
      }
      this.step(null);
    }
  }

  /** One element; the position always moves forward, so no input can make the parser spin. */
  private step(group: string | null): void {
    const before = this.pos;
    this.parseAddress(group);
    if (this.pos === before) {
      this.errors++;
      this.pos++;
    }
  }

  /** Skip to just after the next top-level `,` (or to `;` inside a group, not consumed). */
  private skipElement(inGroup: boolean): void {
    this.errors++;
    while (this.pos < this.t.length) {
      if (this.isSpecial(this.pos, ',')) {
        this.pos++;
        return;
      }
      if (inGroup && this.isSpecial(this.pos, ';')) return;
      this.pos++;
    }
  }

  /**
   * First index at or after `from` holding `<`, `:`, `,`, `;` or end. Bounded: the caller
   * consumes every token before the index it returns (or skips them), so each token is
   * scanned a constant number of times overall.
   */
  private lookahead(from: number): number {
    let k = from;
    while (k < this.t.length) {
      const tok = this.t[k];
      if (tok && tok.kind === 'special' && '<:,;'.includes(tok.text)) return k;
      k++;
    }
    return k;
  }

  private parseAddress(group: string | null): void {
    const inGroup = group !== null;
    const stop = this.lookahead(this.pos);
    const stopTok = this.t[stop];
    if (stopTok?.text === '<' && stopTok.kind === 'special') {
      this.parseNameAddr(stop, group);
      return;
    }
    if (stopTok?.text === ':' && stopTok.kind === 'special' && !inGroup) {
      // A group only when the name is a plain phrase (no `@` before the colon).
      let plain = true;
      for (let k = this.pos; k < stop; k++) if (this.isSpecial(k, '@')) plain = false;
      if (plain) {
        this.parseGroup(stop);
        return;
      }
    }
    this.parseAddrSpecMailbox(stop, group);
  }

  private parseGroup(colon: number): void {
    const name = phraseText(this.s, this.t, this.pos, colon);
    this.groups++;
    this.pos = colon + 1;
    while (this.pos < this.t.length) {
      if (this.isSpecial(this.pos, ';')) {
        this.pos++;
        break;
      }
      if (this.isSpecial(this.pos, ',') || this.t[this.pos]?.kind === 'comment') {
        this.pos++;
        continue;
      }
      // A colon inside a group (nested group) is garbage.
      if (this.isSpecial(this.pos, ':')) {
        this.skipElement(true);
        continue;
      }
      this.step(name);
    }
    // Anything between `;` and the next comma is garbage.
    this.finishElement(false);
  }

  /** Display phrase tokens [pos, lt), then `<` [route] addr-spec `>`. */
  private parseNameAddr(lt: number, group: string | null): void {
    const inGroup = group !== null;
    // Leading comments are CFWS, not part of the display name.
    let first = this.pos;
    while (first < lt && this.t[first]?.kind === 'comment') first++;
    let last = lt - 1;
    while (last >= first && this.t[last]?.kind === 'comment') last--;
    const hasName = last >= first;
    const startTok = hasName ? this.t[first] : this.t[lt];
    const mbStart = startTok?.start ?? 0;
    const displayRaw = hasName ? this.s.slice(this.t[first]?.start ?? 0, this.t[last]?.end ?? 0) : null;
    const displayName = hasName ? phraseText(this.s, this.t, first, last + 1) : null;

    // Inside the angle brackets: [obs-route ":"] addr-spec, up to ">" (or end, lenient).
    let k = lt + 1;
    let gt = k;
    while (gt < this.t.length && !this.isSpecial(gt, '>')) {
      if (this.isSpecial(gt, ',') && !this.isSpecial(k, '@')) break; // unterminated `<a@b, c@d`
      if (inGroup && this.isSpecial(gt, ';')) break;
      gt++;
    }
    if (this.isSpecial(k, '@')) {
      // obs-route: skip to the colon that ends it.
      let colon = k;
      while (colon < gt && !this.isSpecial(colon, ':')) colon++;
      k = colon < gt ? colon + 1 : gt;
    }
    const spec = readAddrSpec(this.t, k, gt);
    const closed = this.isSpecial(gt, '>');
    this.pos = closed ? gt + 1 : gt;
    if (!spec) {
      // `<>` gives nothing; anything else unreadable is an error.
      if (gt > k) this.errors++;
      this.finishElement(inGroup);
      return;
    }
    const endTok = this.t[closed ? gt : gt - 1];
    const mbEnd = this.trailingCommentsEnd(endTok?.end ?? mbStart);
    this.mailboxes.push({
      address: spec.address,
      local: spec.local,
      domain: spec.domain,
      displayName,
      displayRaw,
      raw: this.s.slice(mbStart, mbEnd),
      group,
    });
    this.finishElement(inGroup);
  }

  /** A bare addr-spec in [pos, stop), optionally followed by a comment ("old style" name). */
  private parseAddrSpecMailbox(stop: number, group: string | null): void {
    const inGroup = group !== null;
    let first = this.pos;
    while (first < stop && this.t[first]?.kind === 'comment') first++;
    let last = stop - 1;
    while (last >= first && this.t[last]?.kind === 'comment') last--;
    if (last < first) {
      // Only comments (or nothing) before the stop token: an empty element.
      this.pos = stop;
      this.finishElement(inGroup);
      return;
    }
    const spec = readAddrSpec(this.t, first, last + 1);
    if (!spec) {
      this.pos = first;
      this.skipElement(inGroup);
      return;
    }
    // Comments after the spec: the first one's text stands in for a display name.
    let name: string | null = null;
    for (let k = last + 1; k < stop; k++) {
      const tok = this.t[k];
      if (tok?.kind === 'comment') {
        const text = decodeWordsSafe(tok.text).trim();
        if (text !== '') {
          name = text;
          break;
        }
      }
    }
    const startTok = this.t[first];
    const endTok = this.t[last];
    this.pos = last + 1;
    const mbEnd = this.trailingCommentsEnd(endTok?.end ?? 0);
    this.mailboxes.push({
      address: spec.address,
      local: spec.local,
      domain: spec.domain,
      displayName: name,
      displayRaw: null,
      raw: this.s.slice(startTok?.start ?? 0, mbEnd),
      group,
    });
    this.finishElement(inGroup);
  }

  /** Consume comments after a mailbox; return the end offset of the last one (or `end`). */
  private trailingCommentsEnd(end: number): number {
    let e = end;
    let k = this.pos;
    while (k < this.t.length && this.t[k]?.kind === 'comment') {
      e = this.t[k]?.end ?? e;
      k++;
    }
    this.pos = k;
    return e;
  }

  /** After an element: expect `,`, `;` (in a group) or the end; anything else is garbage. */
  private finishElement(inGroup: boolean): void {
    while (this.pos < this.t.length && this.t[this.pos]?.kind === 'comment') this.pos++;
    if (this.pos >= this.t.length) return;
    if (this.isSpecial(this.pos, ',')) {
      this.pos++;
      return;
    }
    if (inGroup && this.isSpecial(this.pos, ';')) return;
    this.skipElement(inGroup);
  }
}

/**
 * Read an addr-spec from tokens [from, to): local-part `@` domain, comments ignored.
 * Obsolete local parts (`a . b`, `"a".b`) are accepted; words must be separated by dots.
 * Returns null when it is not one.
 */
function readAddrSpec(
  t: readonly Token[],
  from: number,
  to: number,
): { address: string; local: string; domain: string } | null {
  const parts: Token[] = [];
  for (let k = from; k < to; k++) {
    const tok = t[k];
    if (tok && tok.kind !== 'comment') parts.push(tok);
  }
  const at = parts.findIndex((p) => p.kind === 'special' && p.text === '@');
  if (at <= 0 || at === parts.length - 1) return null;
  const localToks = parts.slice(0, at);
  const domainToks = parts.slice(at + 1);

  // local-part: word *("." word); runs of dots (`a..b`, seen from some carriers) tolerated.
  let local = '';
  let prevWord = false;
  for (const p of localToks) {
    const isWord = p.kind === 'atom' || p.kind === 'quoted';
    if (isWord) {
      if (prevWord) return null;
      local += p.kind === 'quoted' ? localPartText(p.text, true) : p.text;
    } else {
      if (!(p.kind === 'special' && p.text === '.') || local === '') return null;
      local += '.';
    }
    prevWord = isWord;
  }
  if (!prevWord) return null; // trailing dot

  // domain: dot-atom or a literal
  let domain = '';
  if (domainToks.length === 1 && domainToks[0]?.kind === 'literal') {
    domain = '[' + domainToks[0].text + ']';
  } else {
    let expectWord = true;
    for (const p of domainToks) {
      if (expectWord) {
        if (p.kind !== 'atom') return null;
        domain += p.text;
      } else {
        if (!(p.kind === 'special' && p.text === '.')) return null;
        domain += '.';
      }
      expectWord = !expectWord;
    }
    // A trailing dot (FQDN form) is tolerated.
  }
  if (local === '' || domain === '') return null;
  return { address: `${local}@${domain}`, local, domain };
}

/** Parse an RFC 5322 address-list field body (From, To, Cc, ...). Never throws. */
export function parseAddressList(value: string): AddressList {
  const s = unfold(value);
  const p = new ListParser(s, tokenize(s));
  p.parse();
  return { mailboxes: p.mailboxes, groups: p.groups, errors: p.errors };
}
