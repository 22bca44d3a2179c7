/**
 * Milter protocol codec: bytes <-> typed messages. Pure and synchronous, no sockets.
 *
 * Protocol: Sendmail milter v2..6 as spoken by Postfix (docs/protocols.md §1, Postfix
 * src/milter/milter8.c). Every packet is
 *
 *     +----------------+---------+---------------------------+
 *     | uint32 BE len  | cmd (1) | payload (len - 1 bytes)   |
 *     +----------------+---------+---------------------------+
 *
 * where `len` counts the command byte plus the payload (so it is at least 1). Payload items
 * are big-endian uint32/uint16, single bytes, NUL-terminated strings, or raw bytes to the
 * end of the packet.
 *
 * - MilterFrameDecoder: feed arbitrary chunks, get whole frames. Refuses length 0 and
 *   length > MAX_MILTER_FRAME as soon as the 4 length bytes are in.
 * - decodeCommand(): typed decoding of every MTA->filter command (O D C H M R T L N B E A Q
 *   U); every read is bounds-checked, every string must carry its NUL terminator, and
 *   left-over bytes are refused (as Postfix does for its side).
 * - encode*(): one encoder per filter->MTA response (c a r t d y 4 p s q h i m e + 2 - b O).
 *   No packet payload exceeds MAX_MILTER_REPLY_PAYLOAD; `b` bodies are split to fit.
 * - buildCustomReply(): validated text of a `y` reply.
 *
 * Strings from the MTA are decoded as UTF-8, or Latin-1 when not valid UTF-8; strings we
 * send are UTF-8.
 *
 * Throws: ProtocolError (codes EMILTER_FRAME, EMILTER_COMMAND, EMILTER_PAYLOAD) for bad
 * peer input; InvariantError for encoder arguments that cannot be put on the wire (our bug).
 */

import { InvariantError, ProtocolError } from '../lib/errors.js';
import { MAX_MILTER_FRAME, MAX_MILTER_REPLY_LINE, MAX_MILTER_REPLY_PAYLOAD } from '../lib/limits.js';
import {
  SMFIA_INET,
  SMFIA_INET6,
  SMFIA_UNIX,
  SMFIA_UNKNOWN,
  SMFIC_ABORT,
  SMFIC_BODY,
  SMFIC_BODYEOB,
  SMFIC_CONNECT,
  SMFIC_DATA,
  SMFIC_EOH,
  SMFIC_HEADER,
  SMFIC_HELO,
  SMFIC_MACRO,
  SMFIC_MAIL,
  SMFIC_OPTNEG,
  SMFIC_QUIT,
  SMFIC_RCPT,
  SMFIC_UNKNOWN,
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
/* Framing                                                                               */
/* ------------------------------------------------------------------------------------ */

/** One whole packet: the command byte and a private copy of its payload. */
export interface MilterFrame {
  readonly command: number;
  readonly payload: Buffer;
}

/**
 * Incremental frame decoder. Buffers at most one partial frame (bounded by the cap) plus
 * whatever the caller pushes; once it has thrown it stays failed.
 */
export class MilterFrameDecoder {
  private readonly chunks: Buffer[] = [];
  private buffered = 0;
  private failed: ProtocolError | null = null;

  constructor(private readonly maxFrame: number = MAX_MILTER_FRAME) {}

  /** Bytes received but not yet returned as frames. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Adds bytes; returns every frame completed by them, in order. */
  push(chunk: Uint8Array): MilterFrame[] {
    if (this.failed) throw this.failed;
    if (chunk.length > 0) {
      // A private copy: the caller may reuse its buffer while part of a frame waits here.
      this.chunks.push(Buffer.from(chunk));
      this.buffered += chunk.length;
    }
    const frames: MilterFrame[] = [];
    while (this.buffered >= 4) {
      const len = this.peek(4).readUInt32BE(0);
      if (len === 0 || len > this.maxFrame) {
        this.failed = new ProtocolError(
          'EMILTER_FRAME',
          len === 0 ? 'milter packet length 0' : `milter packet length ${len} exceeds the limit of ${this.maxFrame}`,
        );
        throw this.failed;
      }
      if (this.buffered < 4 + len) break;
      const bytes = this.take(4 + len);
      frames.push({ command: bytes[4] as number, payload: bytes.subarray(5) });
    }
    return frames;
  }

  /** First n buffered bytes (n <= buffered), without consuming them. */
  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first.subarray(0, n);
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (off === n) break;
    }
    return out;
  }

  /** Consumes n buffered bytes (n <= buffered) into a fresh buffer. */
  private take(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0] as Buffer;
      const k = Math.min(c.length, n - off);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}

/* ------------------------------------------------------------------------------------ */
/* MTA -> filter commands                                                                */
/* ------------------------------------------------------------------------------------ */

export type ConnectFamily = 'inet4' | 'inet6' | 'unix' | 'unknown';

export type MilterCommand =
  | { readonly type: 'optneg'; readonly version: number; readonly actions: number; readonly protocol: number }
  /** `stage` is the letter code of the command these macros belong to (e.g. SMFIC_MAIL). */
  | { readonly type: 'macro'; readonly stage: number; readonly macros: readonly (readonly [string, string])[] }
  | {
      readonly type: 'connect';
      readonly hostname: string;
      readonly family: ConnectFamily;
      /** Client port; null for the unknown family. Unix sockets carry 0. */
      readonly port: number | null;
      /** Client address (no "IPv6:" prefix from Postfix); null for the unknown family. */
      readonly address: string | null;
    }
  | { readonly type: 'helo'; readonly name: string }
  /** `sender` exactly as typed by the client (normally "<a@b>"), then each ESMTP argument. */
  | { readonly type: 'mail'; readonly sender: string; readonly args: readonly string[] }
  | { readonly type: 'rcpt'; readonly recipient: string; readonly args: readonly string[] }
  | { readonly type: 'data' }
  | { readonly type: 'header'; readonly name: string; readonly value: string }
  | { readonly type: 'eoh' }
  | { readonly type: 'body'; readonly chunk: Buffer }
  /** `chunk` is a last body chunk some MTAs put on E; Postfix always sends it empty. */
  | { readonly type: 'eom'; readonly chunk: Buffer }
  | { readonly type: 'abort' }
  | { readonly type: 'quit' }
  | { readonly type: 'unknown'; readonly line: string };

/** Letters that may name the stage of a D (macro) packet: every event Postfix reports. */
const MACRO_STAGES = new Set<number>([
  SMFIC_CONNECT,
  SMFIC_HELO,
  SMFIC_MAIL,
  SMFIC_RCPT,
  SMFIC_DATA,
  SMFIC_HEADER,
  SMFIC_EOH,
  SMFIC_BODY,
  SMFIC_BODYEOB,
  SMFIC_UNKNOWN,
  SMFIC_ABORT,
  SMFIC_QUIT,
]);

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Bytes from the MTA as text: UTF-8, or Latin-1 when not valid UTF-8 (never throws). */
export function decodeText(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
  }
}

/** Bounds-checked reader over one payload. */
class PayloadReader {
  private pos = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  fail(detail: string): never {
    throw new ProtocolError('EMILTER_PAYLOAD', `malformed milter ${this.what} packet: ${detail}`);
  }

  u32(field: string): number {
    if (this.remaining < 4) this.fail(`truncated ${field}`);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u16(field: string): number {
    if (this.remaining < 2) this.fail(`truncated ${field}`);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  byte(field: string): number {
    if (this.remaining < 1) this.fail(`missing ${field}`);
    const v = this.buf[this.pos] as number;
    this.pos += 1;
    return v;
  }

  /** A NUL-terminated string; the terminator must be inside the payload. */
  cstring(field: string): string {
    if (this.remaining < 1) this.fail(`missing ${field}`);
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0) this.fail(`${field} is not NUL-terminated`);
    const s = decodeText(this.buf.subarray(this.pos, nul));
    this.pos = nul + 1;
    return s;
  }

  rest(): Buffer {
    const r = this.buf.subarray(this.pos);
    this.pos = this.buf.length;
    return r;
  }

  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} bytes of left-over data`);
  }
}

function emptyPayload(frame: MilterFrame, what: string): void {
  if (frame.payload.length !== 0) {
    throw new ProtocolError('EMILTER_PAYLOAD', `malformed milter ${what} packet: ${frame.payload.length} unexpected bytes`);
  }
}

/** Decodes one MTA->filter frame. Throws ProtocolError for unknown letters or bad payloads. */
export function decodeCommand(frame: MilterFrame): MilterCommand {
  const r = (what: string): PayloadReader => new PayloadReader(frame.payload, what);
  switch (frame.command) {
    case SMFIC_OPTNEG: {
      // uint32 version, uint32 actions, uint32 protocol (more bytes are tolerated, as libmilter does).
      const p = r('O (option negotiation)');
      const version = p.u32('version');
      const actions = p.u32('actions');
      const protocol = p.u32('protocol');
      return { type: 'optneg', version, actions, protocol };
    }
    case SMFIC_MACRO: {
      // stage letter, then zero or more name\0value\0 pairs.
      const p = r('D (macro)');
      const stage = p.byte('stage letter');
      if (!MACRO_STAGES.has(stage)) p.fail(`unknown macro stage ${commandName(stage)}`);
      const macros: (readonly [string, string])[] = [];
      while (p.remaining > 0) {
        const name = p.cstring('macro name');
        if (p.remaining === 0) p.fail('macro without a value');
        const value = p.cstring('macro value');
        macros.push([name, value]);
      }
      return { type: 'macro', stage, macros };
    }
    case SMFIC_CONNECT: {
      // hostname\0, family byte, then (unless family U) uint16 port and address\0.
      const p = r('C (connect)');
      const hostname = p.cstring('hostname');
      const fam = p.byte('address family');
      let family: ConnectFamily;
      switch (fam) {
        case SMFIA_INET:
          family = 'inet4';
          break;
        case SMFIA_INET6:
          family = 'inet6';
          break;
        case SMFIA_UNIX:
          family = 'unix';
          break;
        case SMFIA_UNKNOWN:
          family = 'unknown';
          break;
        default:
          return p.fail(`bad address family ${commandName(fam)}`);
      }
      if (family === 'unknown') {
        p.end();
        return { type: 'connect', hostname, family, port: null, address: null };
      }
      const port = p.u16('port');
      const address = p.cstring('address');
      p.end();
      return { type: 'connect', hostname, family, port, address };
    }
    case SMFIC_HELO: {
      const p = r('H (helo)');
      const name = p.cstring('helo name');
      p.end();
      return { type: 'helo', name };
    }
    case SMFIC_MAIL:
    case SMFIC_RCPT: {
      // One or more NUL-terminated strings: the address as typed, then ESMTP arguments.
      const isMail = frame.command === SMFIC_MAIL;
      const p = r(isMail ? 'M (mail)' : 'R (rcpt)');
      const first = p.cstring(isMail ? 'sender' : 'recipient');
      const args: string[] = [];
      while (p.remaining > 0) args.push(p.cstring('ESMTP argument'));
      return isMail ? { type: 'mail', sender: first, args } : { type: 'rcpt', recipient: first, args };
    }
    case SMFIC_DATA:
      emptyPayload(frame, 'T (data)');
      return { type: 'data' };
    case SMFIC_HEADER: {
      // name\0value\0
      const p = r('L (header)');
      const name = p.cstring('header name');
      if (name.length === 0) p.fail('empty header name');
      const value = p.cstring('header value');
      p.end();
      return { type: 'header', name, value };
    }
    case SMFIC_EOH:
      emptyPayload(frame, 'N (end of headers)');
      return { type: 'eoh' };
    case SMFIC_BODY:
      return { type: 'body', chunk: frame.payload };
    case SMFIC_BODYEOB:
      return { type: 'eom', chunk: frame.payload };
    case SMFIC_ABORT:
      emptyPayload(frame, 'A (abort)');
      return { type: 'abort' };
    case SMFIC_QUIT:
      emptyPayload(frame, 'Q (quit)');
      return { type: 'quit' };
    case SMFIC_UNKNOWN: {
      const p = r('U (unknown command)');
      const line = p.cstring('command line');
      p.end();
      return { type: 'unknown', line };
    }
    default:
      throw new ProtocolError('EMILTER_COMMAND', `unknown milter command ${commandName(frame.command)}`);
  }
}

/* ------------------------------------------------------------------------------------ */
/* Filter -> MTA responses                                                               */
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
  const b = Buffer.from(s + '\0', 'utf8');
  return b;
}

function u32(n: number, field: string): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) bug(`${field} ${n} is not a uint32`);
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}

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
  return packet(SMFIR_ADDHEADER, cstr(name, 'header name'), cstr(value, 'header value'));
}

/** `i`: insert a header at `index` (0 = very top): uint32 index, name\0value\0. */
export function encodeInsertHeader(index: number, name: string, value: string): Buffer {
  return packet(SMFIR_INSHEADER, u32(index, 'header index'), cstr(name, 'header name'), cstr(value, 'header value'));
}

/** `m`: change the index-th (1-based) header of this name; empty value deletes it. */
export function encodeChangeHeader(index: number, name: string, value: string): Buffer {
  return packet(SMFIR_CHGHEADER, u32(index, 'header index'), cstr(name, 'header name'), cstr(value, 'header value'));
}

/** `e`: change the envelope sender: addr\0 [args\0]. */
export function encodeChangeFrom(address: string, args?: string): Buffer {
  const parts = [cstr(address, 'sender')];
  if (args !== undefined && args !== '') parts.push(cstr(args, 'ESMTP arguments'));
  return packet(SMFIR_CHGFROM, ...parts);
}

/** `+`: add a recipient: addr\0. */
export function encodeAddRcpt(address: string): Buffer {
  return packet(SMFIR_ADDRCPT, cstr(address, 'recipient'));
}

/** `2`: add a recipient with ESMTP arguments: addr\0 [args\0]. */
export function encodeAddRcptPar(address: string, args?: string): Buffer {
  const parts = [cstr(address, 'recipient')];
  if (args !== undefined && args !== '') parts.push(cstr(args, 'ESMTP arguments'));
  return packet(SMFIR_ADDRCPT_PAR, ...parts);
}

/** `-`: delete a recipient: addr\0. */
export function encodeDeleteRcpt(address: string): Buffer {
  return packet(SMFIR_DELRCPT, cstr(address, 'recipient'));
}

/** `b`: one body-replacement packet (raw CRLF bytes, 1..MAX_MILTER_REPLY_PAYLOAD). */
export function encodeReplaceBody(chunk: Uint8Array): Buffer {
  // Postfix refuses an empty `b` ("no data in input packet").
  if (chunk.length === 0) bug('empty body replacement packet');
  return packet(SMFIR_REPLBODY, chunk);
}

/** Splits body bytes into `b` packets of at most MAX_MILTER_REPLY_PAYLOAD bytes each. */
export function* encodeReplaceBodyPackets(bytes: Uint8Array): Generator<Buffer> {
  for (let off = 0; off < bytes.length; off += MAX_MILTER_REPLY_PAYLOAD) {
    yield encodeReplaceBody(bytes.subarray(off, Math.min(bytes.length, off + MAX_MILTER_REPLY_PAYLOAD)));
  }
}

/* ------------------------------------------------------------------------------------ */
/* Custom replies (`y`)                                                                  */
/* ------------------------------------------------------------------------------------ */

export interface CustomReply {
  /** 421 or 4xx/5xx; 2xx and 3xx are impossible through a milter. */
  readonly code: number;
  /** RFC 3463 enhanced status code whose class digit matches `code`, e.g. "5.7.1". */
  readonly enhanced: string;
  /** One line, or several lines for a multi-line reply. Printable ASCII only. */
  readonly text: string | readonly string[];
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
