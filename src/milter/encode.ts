/**
 * Milter encoder: typed filter->MTA responses -> bytes. Pure and synchronous, no sockets.
 *
 * Protocol: Sendmail milter v2..6 as spoken by Postfix (docs/protocols.md §1.2, §1.5,
 * §1.7). Every packet is uint32 BE length (command byte + payload), the response letter,
 * then the payload:
 *
 *     O  uint32 version, uint32 actions, uint32 protocol, (uint32 stage, names\0)*
 *     c a r t d 4 p s  empty               y  reply text\0      q  reason\0
 *     h  name\0 value\0                    i m  uint32 index, name\0 value\0
 *     e 2  address\0 [esmtp-args\0]        + -  address\0
 *     b  raw body bytes (1..MAX_MILTER_REPLY_PAYLOAD)
 *
 * - encode*(): one encoder per response; encodeReply() for the replies a handler gives.
 * - buildCustomReply() / customReplyProblem(): the validated text of a `y` reply.
 *
 * Limits: no payload exceeds MAX_MILTER_REPLY_PAYLOAD; a custom reply line is at most
 * MAX_MILTER_REPLY_LINE octets. Strings are sent as UTF-8.
 *
 * Throws: InvariantError for arguments that cannot be put on the wire (our bug): a NUL inside
 * a string, an index that is not a uint32, an empty or oversized payload, an invalid reply.
 */

import { InvariantError } from '../lib/errors.js';
import { MAX_MILTER_REPLY_LINE, MAX_MILTER_REPLY_PAYLOAD } from '../lib/limits.js';
import {
  SMFIC_OPTNEG,
  SMFIR_ACCEPT,
  SMFIR_ADDHEADER,
  SMFIR_ADDRCPT,
  SMFIR_ADDRCPT_PAR,
  SMFIR_CHGFROM,
  SMFIR_CHGHEADER,
  SMFIR_CONTINUE,
  SMFIR_DELRCPT,
  SMFIR_DISCARD,
  SMFIR_INSHEADER,
  SMFIR_PROGRESS,
  SMFIR_QUARANTINE,
  SMFIR_REJECT,
  SMFIR_REPLBODY,
  SMFIR_REPLYCODE,
  SMFIR_SHUTDOWN,
  SMFIR_SKIP,
  SMFIR_TEMPFAIL,
  commandName,
} from './constants.js';

/* ------------------------------------------------------------------------------------ */
/* Packet parts                                                                          */
/* ------------------------------------------------------------------------------------ */

function bug(message: string): never {
  throw new InvariantError(`milter encoder: ${message}`);
}

/** One packet; payload parts are concatenated. */
function packet(command: number, ...parts: Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  if (len > MAX_MILTER_REPLY_PAYLOAD) bug(`${commandName(command)} payload of ${len} bytes exceeds ${MAX_MILTER_REPLY_PAYLOAD}`);
  const out = Buffer.allocUnsafe(5 + len);
  out.writeUInt32BE(len + 1, 0);
  out[4] = command;
  let off = 5;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** A string as UTF-8 plus its NUL terminator; refuses inner NULs. */
function cstr(s: string, field: string): Buffer {
  if (s.includes('\0')) bug(`${field} contains NUL`);
  return Buffer.from(s + '\0', 'utf8');
}

function u32(n: number, field: string): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) bug(`${field} ${n} is not a uint32`);
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}

/** address\0 [args\0]: the layout of e, +, 2 and -. */
function addressPacket(command: number, address: string, field: string, args?: string): Buffer {
  const parts = [cstr(address, field)];
  if (args !== undefined && args !== '') parts.push(cstr(args, 'ESMTP arguments'));
  return packet(command, ...parts);
}

/** [uint32 index] name\0 value\0: the layout of h, i and m. */
function headerPacket(command: number, index: number | null, name: string, value: string): Buffer {
  const fields = [cstr(name, 'header name'), cstr(value, 'header value')];
  return packet(command, ...(index === null ? fields : [u32(index, 'header index'), ...fields]));
}

/* ------------------------------------------------------------------------------------ */
/* Responses                                                                             */
/* ------------------------------------------------------------------------------------ */

export interface OptnegReply {
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
  /** SETSYMLIST overrides: [stage (SMFIM_*), space-separated macro names]. */
  readonly macroLists?: readonly (readonly [number, string])[];
}

/** `O`: uint32 version, uint32 actions, uint32 protocol, then (stage uint32, names\0)*. */
export function encodeOptneg(o: OptnegReply): Buffer {
  const parts: Buffer[] = [u32(o.version, 'version'), u32(o.actions, 'actions'), u32(o.protocol, 'protocol')];
  for (const [stage, names] of o.macroLists ?? []) {
    parts.push(u32(stage, 'macro stage'), cstr(names, 'macro list'));
  }
  return packet(SMFIC_OPTNEG, ...parts);
}

/** `c`: continue. */
export const encodeContinue = (): Buffer => packet(SMFIR_CONTINUE);
/** `a`: accept (the connection at C/H, else the message). */
export const encodeAccept = (): Buffer => packet(SMFIR_ACCEPT);
/** `r`: reject (Postfix: 550 5.7.1 Command rejected). */
export const encodeReject = (): Buffer => packet(SMFIR_REJECT);
/** `t`: tempfail (Postfix: 451 4.7.1 Service unavailable - try again later). */
export const encodeTempfail = (): Buffer => packet(SMFIR_TEMPFAIL);
/** `d`: discard the whole message. */
export const encodeDiscard = (): Buffer => packet(SMFIR_DISCARD);
/** `4`: shutdown (421, then disconnect). */
export const encodeShutdown = (): Buffer => packet(SMFIR_SHUTDOWN);
/** `p`: progress; the MTA waits for the next reply with a fresh timeout. */
export const encodeProgress = (): Buffer => packet(SMFIR_PROGRESS);
/** `s`: skip further events of the current type. */
export const encodeSkip = (): Buffer => packet(SMFIR_SKIP);

/** `y`: custom reply; `text` as built by buildCustomReply() (NUL-terminated on the wire). */
export function encodeReplyCode(text: string): Buffer {
  return packet(SMFIR_REPLYCODE, cstr(text, 'reply text'));
}

/** `q`: quarantine with a reason (not final: a final reply must follow). */
export function encodeQuarantine(reason: string): Buffer {
  return packet(SMFIR_QUARANTINE, cstr(reason, 'quarantine reason'));
}

/** `h`: append a header: name\0value\0. */
export function encodeAddHeader(name: string, value: string): Buffer {
  return headerPacket(SMFIR_ADDHEADER, null, name, value);
}

/** `i`: insert a header at `index` (0 = very top): uint32 index, name\0value\0. */
export function encodeInsertHeader(index: number, name: string, value: string): Buffer {
  return headerPacket(SMFIR_INSHEADER, index, name, value);
}

/** `m`: change the index-th (1-based) header of this name; empty value deletes it. */
export function encodeChangeHeader(index: number, name: string, value: string): Buffer {
  return headerPacket(SMFIR_CHGHEADER, index, name, value);
}

/** `e`: change the envelope sender: addr\0 [args\0]. */
export function encodeChangeFrom(address: string, args?: string): Buffer {
  return addressPacket(SMFIR_CHGFROM, address, 'sender', args);
}

/** `+`: add a recipient: addr\0. */
export function encodeAddRcpt(address: string): Buffer {
  return addressPacket(SMFIR_ADDRCPT, address, 'recipient');
}

/** `2`: add a recipient with ESMTP arguments: addr\0 [args\0]. */
export function encodeAddRcptPar(address: string, args?: string): Buffer {
  return addressPacket(SMFIR_ADDRCPT_PAR, address, 'recipient', args);
}

/** `-`: delete a recipient: addr\0. */
export function encodeDeleteRcpt(address: string): Buffer {
  return addressPacket(SMFIR_DELRCPT, address, 'recipient');
}

/** `b`: one body-replacement packet (raw CRLF bytes, 1..MAX_MILTER_REPLY_PAYLOAD). */
export function encodeReplaceBody(chunk: Uint8Array): Buffer {
  // Postfix refuses an empty `b` ("no data in input packet").
  if (chunk.length === 0) bug('empty body replacement packet');
  return packet(SMFIR_REPLBODY, chunk);
}

/* ------------------------------------------------------------------------------------ */
/* Replies to events                                                                     */
/* ------------------------------------------------------------------------------------ */

export interface CustomReply {
  /** 421 or 4xx/5xx; 2xx and 3xx are impossible through a milter. */
  readonly code: number;
  /** RFC 3463 enhanced status code whose class digit matches `code`, e.g. "5.7.1". */
  readonly enhanced: string;
  /** One line, or several lines for a multi-line reply. Printable ASCII only. */
  readonly text: string | readonly string[];
}

/** A reply to one event as the wire carries it (the shape of handler.ts's MilterReply). */
export type ReplyPacket =
  | { readonly kind: 'continue' | 'accept' | 'reject' | 'tempfail' | 'discard' }
  | ({ readonly kind: 'custom' } & CustomReply);

const SIMPLE_REPLIES = {
  continue: SMFIR_CONTINUE,
  accept: SMFIR_ACCEPT,
  reject: SMFIR_REJECT,
  tempfail: SMFIR_TEMPFAIL,
  discard: SMFIR_DISCARD,
} as const;

/** The packet of a reply; a custom one must pass customReplyProblem(). */
export function encodeReply(reply: ReplyPacket): Buffer {
  return reply.kind === 'custom' ? encodeReplyCode(buildCustomReply(reply)) : packet(SIMPLE_REPLIES[reply.kind]);
}

const ENHANCED_RE = /^([45])\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})$/;
const PRINTABLE_RE = /^[\x20-\x7e]*$/;

/** Why `reply` cannot be sent as a custom reply, or null when it can. */
export function customReplyProblem(reply: CustomReply): string | null {
  const { code, enhanced, text } = reply;
  if (!Number.isInteger(code) || code < 400 || code > 599) return `reply code ${String(code)} is not 4xx or 5xx`;
  const m = ENHANCED_RE.exec(enhanced);
  if (!m) return `enhanced status code ${JSON.stringify(enhanced)} is not class.subject.detail`;
  if (m[1] !== String(code)[0]) return `enhanced status code ${enhanced} does not match reply code ${code}`;
  const lines = typeof text === 'string' ? [text] : text;
  if (lines.length === 0) return 'reply has no lines';
  for (const line of lines) {
    if (typeof line !== 'string') return 'reply line is not a string';
    if (/[\r\n\0]/.test(line)) return 'reply text contains CR, LF or NUL';
    if (!PRINTABLE_RE.test(line)) return 'reply text contains characters other than printable ASCII';
    const len = 4 + enhanced.length + (line.length > 0 ? 1 + line.length : 0);
    if (len > MAX_MILTER_REPLY_LINE) return `reply line of ${len} octets exceeds ${MAX_MILTER_REPLY_LINE}`;
  }
  return null;
}

/**
 * The text of a `y` packet: "ddd-x.y.z line" for every line but the last, "ddd x.y.z line"
 * for the last, joined by CRLF, no trailing CRLF, every `%` doubled (Postfix and Sendmail
 * treat `%%` as `%`). Throws InvariantError when customReplyProblem() finds one.
 */
export function buildCustomReply(reply: CustomReply): string {
  const problem = customReplyProblem(reply);
  if (problem !== null) throw new InvariantError(`invalid custom milter reply: ${problem}`);
  const lines = typeof reply.text === 'string' ? [reply.text] : reply.text;
  return lines
    .map((line, i) => {
      const sep = i === lines.length - 1 ? ' ' : '-';
      const body = line.length > 0 ? ` ${line.replace(/%/g, '%%')}` : '';
      return `${reply.code}${sep}${reply.enhanced}${body}`;
    })
    .join('\r\n');
}
