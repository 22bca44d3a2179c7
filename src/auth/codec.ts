/**
 * Dovecot auth-client protocol 1.x, server side: framing, Dovecot tab-escaping, typed
 * parsing of what a client sends (Postfix smtpd with `smtpd_sasl_type = dovecot`), and
 * serialisers for what we answer. Wire facts: docs/protocols.md §0 and §4.
 *
 * Wire layout — one message per LF-terminated line, TAB-separated fields, command first:
 *   client → server   VERSION\t<major>\t<minor>        (must be the first line; major 1)
 *                     CPID\t<pid>                      (before any AUTH)
 *                     AUTH\t<id>\t<MECH>[\t<name>=<value> | \t<flag>]…[\tresp=<base64>]
 *                     CONT\t<id>\t<base64>             (may be empty)
 *                     CANCEL\t<id>
 *   server → client   VERSION\t1\t<minor>  MECH\t<name>[\t<flag>]…  SPID\t<pid>  CUID\t<n>
 *                     COOKIE\t<32 hex>  DONE
 *                     OK\t<id>\tuser=<name>   CONT\t<id>\t<base64>
 *                     FAIL\t<id>[\tuser=<name>][\tcode=<code>][\treason=<text>]
 * Ids and pids are unsigned 32-bit decimals. Field values use Dovecot's tab-escaping:
 * 0x01 followed by `0` NUL, `1` 0x01, `t` TAB, `r` CR, `n` LF; any other byte stands for itself.
 * `resp=` must be the last AUTH parameter (Dovecot drops a client that sends more after it).
 * A trailing CR before the LF is dropped (as Dovecot's line reader does); Postfix sends none.
 *
 * Limits: MAX_AUTH_LINE bytes per line, LF not counted; a raw NUL byte is refused.
 * Throws ProtocolError (codes in AUTH_ERROR) for input a correct client never sends; the
 * caller drops the connection. Serialisers throw InvariantError for values the wire cannot
 * carry (a bug on our side). Error messages never quote a line: AUTH and CONT lines carry
 * passwords.
 *
 * Pure: no I/O.
 */
import { InvariantError, ProtocolError } from '../lib/errors.js';
import { MAX_AUTH_LINE } from '../lib/limits.js';
import { LineSplitter } from '../lib/line-splitter.js';
import { escapeLogValue } from '../lib/logger.js';

/** ProtocolError codes of the auth protocol. */
export const AUTH_ERROR = {
  LINE_TOO_LONG: 'EAUTH_LINE_TOO_LONG',
  NUL_BYTE: 'EAUTH_NUL_BYTE',
  UNKNOWN_COMMAND: 'EAUTH_UNKNOWN_COMMAND',
  BAD_COMMAND: 'EAUTH_BAD_COMMAND',
  BAD_VERSION: 'EAUTH_BAD_VERSION',
  VERSION_MISMATCH: 'EAUTH_VERSION_MISMATCH',
  OUT_OF_ORDER: 'EAUTH_OUT_OF_ORDER',
  DUPLICATE_ID: 'EAUTH_DUPLICATE_ID',
  TOO_MANY_REQUESTS: 'EAUTH_TOO_MANY_REQUESTS',
} as const;

/** The protocol version we speak. Only the major must match the client's. */
export const AUTH_PROTOCOL_MAJOR = 1;
/** 1.2 = Dovecot 2.3; 1.3 would promise channel binding, which we do not offer. */
export const AUTH_PROTOCOL_MINOR = 2;

// ---------------------------------------------------------------------------------------
// Tab-escaping

const ESCAPE = '\x01';

/** Dovecot tab-escaping of one field value. */
export function tabEscape(value: string): string {
  return value.replace(/[\x00\x01\t\r\n]/g, (c) => {
    switch (c) {
      case '\x00':
        return '\x010';
      case '\x01':
        return '\x011';
      case '\t':
        return '\x01t';
      case '\r':
        return '\x01r';
      default:
        return '\x01n';
    }
  });
}

/** Undo Dovecot tab-escaping. A lone 0x01 at the very end stays as it is (as in Dovecot). */
export function tabUnescape(value: string): string {
  if (!value.includes(ESCAPE)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value.charAt(i);
    if (c !== ESCAPE || i + 1 >= value.length) {
      out += c;
      continue;
    }
    i++;
    const e = value.charAt(i);
    switch (e) {
      case '0':
        out += '\x00';
        break;
      case '1':
        out += '\x01';
        break;
      case 't':
        out += '\t';
        break;
      case 'r':
        out += '\r';
        break;
      case 'n':
        out += '\n';
        break;
      default:
        out += e;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Base64 (SASL payloads)

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Strict base64 decode of a SASL payload; null when it is not base64. Accepts the padded and
 * the unpadded form, refuses whitespace, other characters, misplaced padding and impossible
 * lengths. A lone `=` is the RFC 4954 zero-length response and decodes to no bytes.
 */
export function decodeBase64(text: string): Buffer | null {
  if (text === '=') return Buffer.alloc(0);
  if (!BASE64_RE.test(text)) return null;
  const body = text.replace(/=+$/, '');
  if (body.length !== text.length && text.length % 4 !== 0) return null;
  if (body.length % 4 === 1) return null;
  return Buffer.from(body, 'base64');
}

/** Standard padded base64. */
export function encodeBase64(data: string | Uint8Array): string {
  return (typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data)).toString('base64');
}

// ---------------------------------------------------------------------------------------
// Client → server

export interface AuthVersionMessage {
  readonly type: 'VERSION';
  readonly major: number;
  readonly minor: number;
}
export interface AuthCpidMessage {
  readonly type: 'CPID';
  readonly pid: number;
}
export interface AuthAuthMessage {
  readonly type: 'AUTH';
  readonly id: number;
  /** Upper-cased (mechanism names are case-insensitive). */
  readonly mechanism: string;
  /** `name=value` parameters (values unescaped); a later duplicate wins, as in Dovecot. */
  readonly params: ReadonlyMap<string, string>;
  /** Bare flags such as `secured` and `nologin`. */
  readonly flags: ReadonlySet<string>;
  /** The base64 initial response exactly as sent, or null when there was none (`resp=` empty counts as none). */
  readonly resp: string | null;
}
export interface AuthContMessage {
  readonly type: 'CONT';
  readonly id: number;
  /** Base64 exactly as sent; may be empty. */
  readonly data: string;
}
export interface AuthCancelMessage {
  readonly type: 'CANCEL';
  readonly id: number;
}
export type AuthClientMessage = AuthVersionMessage | AuthCpidMessage | AuthAuthMessage | AuthContMessage | AuthCancelMessage;

const UINT_RE = /^[0-9]{1,10}$/;
const MECH_NAME_RE = /^[A-Z0-9_-]{1,64}$/;

function parseUint32(text: string | undefined): number | null {
  if (text === undefined || !UINT_RE.test(text)) return null;
  const n = Number(text);
  return n <= 0xffffffff ? n : null;
}

function bad(what: string): ProtocolError {
  return new ProtocolError(AUTH_ERROR.BAD_COMMAND, `malformed ${what} line from auth client`);
}

/** Decode one line (without its LF) into a typed message. Throws ProtocolError. */
export function parseAuthClientLine(raw: Uint8Array): AuthClientMessage {
  if (raw.includes(0)) throw new ProtocolError(AUTH_ERROR.NUL_BYTE, 'NUL byte in auth client line');
  let line = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  if (line.endsWith('\r')) line = line.slice(0, -1);
  const fields = line.split('\t');
  const command = fields[0] ?? '';
  switch (command) {
    case 'VERSION': {
      // Dovecot compares only the major; a missing minor is tolerated.
      const major = parseUint32(fields[1]);
      const minor = fields.length > 2 ? parseUint32(fields[2]) : 0;
      if (major === null || minor === null) {
        throw new ProtocolError(AUTH_ERROR.BAD_VERSION, 'malformed VERSION line from auth client');
      }
      return { type: 'VERSION', major, minor };
    }
    case 'CPID': {
      const pid = parseUint32(fields[1]);
      if (pid === null || pid === 0 || fields.length !== 2) throw bad('CPID');
      return { type: 'CPID', pid };
    }
    case 'AUTH':
      return parseAuth(fields);
    case 'CONT': {
      // CONT\t<id>\t<data>: the data is everything after the second TAB, not unescaped, as in Dovecot
      // (base64 never needs escaping; a TAB in it just makes it invalid base64).
      const id = parseUint32(fields[1]);
      if (id === null || fields.length < 3) throw bad('CONT');
      return { type: 'CONT', id, data: fields.slice(2).join('\t') };
    }
    case 'CANCEL': {
      const id = parseUint32(fields[1]);
      if (id === null || fields.length !== 2) throw bad('CANCEL');
      return { type: 'CANCEL', id };
    }
    default:
      throw new ProtocolError(AUTH_ERROR.UNKNOWN_COMMAND, `unknown auth client command "${escapeLogValue(command, 16)}"`);
  }
}

function parseAuth(fields: readonly string[]): AuthAuthMessage {
  const id = parseUint32(fields[1]);
  const mechanism = tabUnescape(fields[2] ?? '').toUpperCase();
  if (id === null || mechanism === '') throw bad('AUTH');
  const params = new Map<string, string>();
  const flags = new Set<string>();
  let resp: string | null = null;
  for (let i = 3; i < fields.length; i++) {
    const field = fields[i] ?? '';
    if (field === '') continue;
    const eq = field.indexOf('=');
    const name = eq === -1 ? field : field.slice(0, eq);
    if (name === 'resp') {
      if (i !== fields.length - 1) throw bad('AUTH (parameters after resp)');
      const value = eq === -1 ? '' : tabUnescape(field.slice(eq + 1));
      // Dovecot (and Exim) treat an empty resp= as no initial response.
      resp = value === '' ? null : value;
    } else if (eq === -1) {
      flags.add(name);
    } else {
      params.set(name, tabUnescape(field.slice(eq + 1)));
    }
  }
  return { type: 'AUTH', id, mechanism, params, flags, resp };
}

/**
 * Incremental reader of client lines: push socket bytes, then take lines one by one.
 * Throws ProtocolError (EAUTH_LINE_TOO_LONG) for a line over MAX_AUTH_LINE bytes.
 */
export class AuthLineReader {
  readonly #splitter = new LineSplitter(
    MAX_AUTH_LINE,
    (n) => new ProtocolError(AUTH_ERROR.LINE_TOO_LONG, `auth client line longer than ${MAX_AUTH_LINE} bytes (${n} so far)`),
  );

  push(chunk: Uint8Array): void {
    this.#splitter.push(chunk);
  }

  /** The next complete raw line (without LF), or null. */
  next(): Buffer | null {
    return this.#splitter.next();
  }
}

// ---------------------------------------------------------------------------------------
// Server → client

/** Mechanism properties Postfix filters on (`smtpd_sasl_security_options`). */
export type AuthMechFlag = 'anonymous' | 'plaintext' | 'dictionary' | 'active' | 'forward-secrecy' | 'mutual-auth';
/** FAIL codes of protocol 1.2+ (Postfix ignores them; Dovecot-aware clients use them). */
export type AuthFailCode = 'temp_fail' | 'authz_fail' | 'user_disabled' | 'pass_expired' | 'invalid_base64';

export type AuthServerMessage =
  | { readonly type: 'VERSION'; readonly major: number; readonly minor: number }
  | { readonly type: 'MECH'; readonly name: string; readonly flags: readonly AuthMechFlag[] }
  | { readonly type: 'SPID'; readonly pid: number }
  | { readonly type: 'CUID'; readonly id: number }
  | { readonly type: 'COOKIE'; readonly cookie: string }
  | { readonly type: 'DONE' }
  /** Success. Only `user=` is ever sent: never `nologin` or `proxy` (Postfix would not check them). */
  | { readonly type: 'OK'; readonly id: number; readonly user: string }
  | { readonly type: 'CONT'; readonly id: number; readonly data: string }
  | {
      readonly type: 'FAIL';
      readonly id: number;
      readonly reason?: string;
      readonly code?: AuthFailCode;
      readonly user?: string;
    };

const COOKIE_RE = /^[0-9a-f]{32}$/;
const BASE64_CHARS_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function uint32(n: number, what: string): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvariantError(`auth ${what} ${n} is not an unsigned 32-bit integer`);
  return String(n);
}

/** One server line, LF included. */
export function serialiseAuthServerMessage(msg: AuthServerMessage): string {
  switch (msg.type) {
    case 'VERSION':
      return `VERSION\t${uint32(msg.major, 'major version')}\t${uint32(msg.minor, 'minor version')}\n`;
    case 'MECH':
      if (!MECH_NAME_RE.test(msg.name)) throw new InvariantError(`bad SASL mechanism name ${JSON.stringify(msg.name)}`);
      return ['MECH', msg.name, ...msg.flags].join('\t') + '\n';
    case 'SPID':
      return `SPID\t${uint32(msg.pid, 'server pid')}\n`;
    case 'CUID':
      return `CUID\t${uint32(msg.id, 'connection id')}\n`;
    case 'COOKIE':
      if (!COOKIE_RE.test(msg.cookie)) throw new InvariantError('auth cookie must be 32 lower-case hex digits');
      return `COOKIE\t${msg.cookie}\n`;
    case 'DONE':
      return 'DONE\n';
    case 'OK':
      if (msg.user === '') throw new InvariantError('auth OK needs a non-empty user name');
      return `OK\t${uint32(msg.id, 'request id')}\tuser=${tabEscape(msg.user)}\n`;
    case 'CONT':
      if (!BASE64_CHARS_RE.test(msg.data)) throw new InvariantError('auth CONT data must be base64');
      return `CONT\t${uint32(msg.id, 'request id')}\t${msg.data}\n`;
    case 'FAIL': {
      let line = `FAIL\t${uint32(msg.id, 'request id')}`;
      if (msg.user !== undefined && msg.user !== '') line += `\tuser=${tabEscape(msg.user)}`;
      if (msg.code !== undefined) line += `\tcode=${msg.code}`;
      if (msg.reason !== undefined && msg.reason !== '') line += `\treason=${tabEscape(msg.reason)}`;
      return line + '\n';
    }
  }
}
