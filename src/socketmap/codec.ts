/**
 * Postfix socketmap lookup protocol (socketmap_table(5), Postfix 2.10 and later), server side:
 * incremental request reader and reply encoder. Wire facts: docs/protocols.md §6.
 *
 * Wire layout (netstrings, cr.yp.to/proto/netstrings.txt):
 *   netstring = length ":" payload ","     length: decimal ASCII digits, the byte count of
 *                                          payload; no sign, no blanks, no leading zero
 *   request   = netstring( map SP key )    map: one or more bytes up to the first SP;
 *                                          key: the rest (it may itself contain SP, or be empty)
 *   reply     = netstring( status SP data )
 *   status    = "OK" (data: the value) / "NOTFOUND" (data empty)
 *             / "TEMP" / "TIMEOUT" / "PERM" (data: a reason, may be empty)
 * Bytes are decoded as UTF-8 (Postfix sends UTF-8 keys with SMTPUTF8: U-labels are not
 * converted to A-labels); invalid sequences become U+FFFD.
 *
 * Limits: a request payload of at most MAX_SOCKETMAP_REQUEST bytes, refused as soon as the
 * length digits pass it, so a peer cannot make us buffer more than the cap plus one socket
 * chunk; a reply payload of at most MAX_SOCKETMAP_REPLY bytes (Postfix's own limit).
 * Refused with ProtocolError (codes in SOCKETMAP_ERROR): a length that is empty, has a
 * non-digit or a leading zero, a length over the cap, a netstring not closed by ",", a NUL
 * byte, a payload without SP, an empty map name. Postfix never sends any of these; the caller
 * logs and drops the connection (Postfix reconnects and resends once, then reports a
 * temporary lookup failure). encodeSocketmapReply() throws InvariantError for a reply the
 * wire or Postfix cannot take.
 *
 * Pure: no I/O.
 */
import { InvariantError, ProtocolError } from '../lib/errors.js';
import { MAX_SOCKETMAP_REPLY, MAX_SOCKETMAP_REQUEST } from '../lib/limits.js';
import { escapeLogValue } from '../lib/logger.js';

/** ProtocolError codes of the socketmap protocol. */
export const SOCKETMAP_ERROR = {
  BAD_LENGTH: 'ESOCKETMAP_BAD_LENGTH',
  TOO_LONG: 'ESOCKETMAP_TOO_LONG',
  MISSING_COMMA: 'ESOCKETMAP_MISSING_COMMA',
  NUL_BYTE: 'ESOCKETMAP_NUL_BYTE',
  BAD_REQUEST: 'ESOCKETMAP_BAD_REQUEST',
  EMPTY_MAP_NAME: 'ESOCKETMAP_EMPTY_MAP_NAME',
  TOO_MANY_QUEUED: 'ESOCKETMAP_TOO_MANY_QUEUED',
} as const;

/** Reply statuses, with their spec names (dict_sockmap.c DICT_SOCKMAP_PROT_*). */
export const SOCKETMAP_STATUS = {
  OK: 'OK',
  NOTFOUND: 'NOTFOUND',
  TEMP: 'TEMP',
  TIMEOUT: 'TIMEOUT',
  PERM: 'PERM',
} as const;

/** One lookup: the map name Postfix was configured with (`socketmap:inet:h:p:<map>`) and the key. */
export interface SocketmapRequest {
  readonly map: string;
  readonly key: string;
}

export type SocketmapReply =
  | { readonly status: typeof SOCKETMAP_STATUS.OK; readonly value: string }
  | { readonly status: typeof SOCKETMAP_STATUS.NOTFOUND }
  | { readonly status: typeof SOCKETMAP_STATUS.TEMP | typeof SOCKETMAP_STATUS.TIMEOUT | typeof SOCKETMAP_STATUS.PERM; readonly reason: string };

const COLON = 0x3a;
const COMMA = 0x2c;
const SPACE = 0x20;
const ZERO = 0x30;
const NINE = 0x39;

function byteForLog(b: number): string {
  return escapeLogValue(String.fromCharCode(b));
}

export class SocketmapRequestReader {
  #buf: Buffer = Buffer.alloc(0);

  /** Append bytes from the socket (copied; the caller may reuse its buffer). */
  push(chunk: Uint8Array): void {
    this.#buf = Buffer.concat([this.#buf, chunk]);
  }

  /** The next complete request, or null if none is complete yet. Throws ProtocolError. */
  next(): SocketmapRequest | null {
    const buf = this.#buf;
    let length = 0;
    let i = 0;
    for (; ; i++) {
      const b = buf[i];
      if (b === undefined) return null;
      if (b === COLON) break;
      if (b < ZERO || b > NINE) {
        throw new ProtocolError(SOCKETMAP_ERROR.BAD_LENGTH, `socketmap netstring length has "${byteForLog(b)}" where a digit or ":" belongs`);
      }
      if (i === 1 && buf[0] === ZERO) throw new ProtocolError(SOCKETMAP_ERROR.BAD_LENGTH, 'socketmap netstring length has a leading zero');
      length = length * 10 + (b - ZERO);
      if (length > MAX_SOCKETMAP_REQUEST) {
        throw new ProtocolError(SOCKETMAP_ERROR.TOO_LONG, `socketmap request longer than ${MAX_SOCKETMAP_REQUEST} bytes`);
      }
    }
    if (i === 0) throw new ProtocolError(SOCKETMAP_ERROR.BAD_LENGTH, 'socketmap netstring without a length');
    const start = i + 1;
    const end = start + length;
    const terminator = buf[end];
    if (terminator === undefined) return null;
    if (terminator !== COMMA) {
      throw new ProtocolError(SOCKETMAP_ERROR.MISSING_COMMA, `socketmap netstring of ${length} bytes ends in "${byteForLog(terminator)}", not ","`);
    }
    const payload = buf.subarray(start, end);
    this.#buf = buf.subarray(end + 1);
    return parseRequest(payload);
  }
}

function parseRequest(payload: Buffer): SocketmapRequest {
  if (payload.includes(0)) throw new ProtocolError(SOCKETMAP_ERROR.NUL_BYTE, 'NUL byte in socketmap request');
  const space = payload.indexOf(SPACE);
  if (space < 0) {
    throw new ProtocolError(SOCKETMAP_ERROR.BAD_REQUEST, `socketmap request without "<map> <key>": "${escapeLogValue(payload.toString('utf8'), 60)}"`);
  }
  if (space === 0) throw new ProtocolError(SOCKETMAP_ERROR.EMPTY_MAP_NAME, 'socketmap request with an empty map name');
  // toString() copies, so nothing keeps the socket's buffer alive.
  return { map: payload.subarray(0, space).toString('utf8'), key: payload.subarray(space + 1).toString('utf8') };
}

/**
 * The netstring for a reply: `<len>:OK <value>,`, `<len>:NOTFOUND ,` or `<len>:TEMP <reason>,`
 * (TIMEOUT, PERM alike). Refuses (InvariantError) an OK with an empty value (Postfix's
 * maps_find() takes an empty result as a configuration error), a NUL anywhere (Postfix
 * reads the reply as a C string), and a payload over MAX_SOCKETMAP_REPLY bytes.
 */
export function encodeSocketmapReply(reply: SocketmapReply): string {
  let data: string;
  switch (reply.status) {
    case SOCKETMAP_STATUS.OK:
      if (typeof reply.value !== 'string' || reply.value === '') throw new InvariantError('socketmap OK reply needs a non-empty value');
      data = reply.value;
      break;
    case SOCKETMAP_STATUS.NOTFOUND:
      data = '';
      break;
    case SOCKETMAP_STATUS.TEMP:
    case SOCKETMAP_STATUS.TIMEOUT:
    case SOCKETMAP_STATUS.PERM:
      if (typeof reply.reason !== 'string') throw new InvariantError(`socketmap ${reply.status} reply needs a reason string`);
      data = reply.reason;
      break;
    default: {
      const never: never = reply;
      throw new InvariantError(`unknown socketmap reply status ${JSON.stringify(never)}`);
    }
  }
  if (data.includes('\0')) throw new InvariantError('socketmap reply must not contain NUL');
  const payload = `${reply.status} ${data}`;
  const bytes = Buffer.byteLength(payload, 'utf8');
  if (bytes > MAX_SOCKETMAP_REPLY) throw new InvariantError(`socketmap reply longer than ${MAX_SOCKETMAP_REPLY} bytes`);
  return `${bytes}:${payload},`;
}
