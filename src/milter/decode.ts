/**
 * Milter decoder: bytes from the MTA -> whole packets -> typed commands. Pure and
 * synchronous, no sockets.
 *
 * Protocol: Sendmail milter v2..6 as spoken by Postfix (docs/protocols.md §1.1, §1.4;
 * Postfix src/milter/milter8.c). Every packet is
 *
 *     +----------------+---------+---------------------------+
 *     | uint32 BE len  | cmd (1) | payload (len - 1 bytes)   |
 *     +----------------+---------+---------------------------+
 *
 * where `len` counts the command byte plus the payload (so it is at least 1). Payloads:
 *
 *     O  uint32 version, uint32 actions, uint32 protocol  (more bytes tolerated, as libmilter)
 *     D  stage letter, then (name\0 value\0)*
 *     C  hostname\0, family byte (4 6 L U), then unless U: uint16 port, address\0
 *     H  heloname\0                        U  command line\0
 *     M  sender\0 (esmtp-arg\0)*           R  recipient\0 (esmtp-arg\0)*
 *     L  name\0 value\0                    B  raw body bytes (E: raw, empty from Postfix)
 *     T N A Q  empty
 *
 * - MilterFrameDecoder: feed arbitrary chunks, get whole frames (private copies). Refuses
 *   length 0 and length > MAX_MILTER_FRAME as soon as the 4 length bytes are in.
 * - decodeCommand(): one frame -> MilterCommand. Every read is bounds-checked, every string's
 *   NUL terminator is found before the string is sliced, and left-over bytes are refused
 *   (as Postfix does for its side).
 *
 * Strings from the MTA are decoded as UTF-8, or Latin-1 when not valid UTF-8.
 *
 * Throws: ProtocolError (EMILTER_FRAME, EMILTER_COMMAND, EMILTER_PAYLOAD) for bad peer input.
 */

import { ProtocolError } from '../lib/errors.js';
import { MAX_MILTER_FRAME } from '../lib/limits.js';
import {
  MACRO_STAGES,
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
/* Commands                                                                              */
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

export type MilterCommandType = MilterCommand['type'];

/** The wire letter of each command type, for log lines and error messages. */
export const COMMAND_LETTERS: Readonly<Record<MilterCommandType, string>> = {
  optneg: 'O',
  macro: 'D',
  connect: 'C',
  helo: 'H',
  mail: 'M',
  rcpt: 'R',
  data: 'T',
  header: 'L',
  eoh: 'N',
  body: 'B',
  eom: 'E',
  abort: 'A',
  quit: 'Q',
  unknown: 'U',
};

const FAMILIES: ReadonlyMap<number, ConnectFamily> = new Map([
  [SMFIA_INET, 'inet4'],
  [SMFIA_INET6, 'inet6'],
  [SMFIA_UNIX, 'unix'],
  [SMFIA_UNKNOWN, 'unknown'],
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

  /** No byte may be left over. */
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} bytes of left-over data`);
  }
}

/** Decodes one MTA->filter frame. Throws ProtocolError for unknown letters or bad payloads. */
export function decodeCommand(frame: MilterFrame): MilterCommand {
  const r = (what: string): PayloadReader => new PayloadReader(frame.payload, what);
  const empty = <T extends MilterCommand>(what: string, command: T): T => {
    const p = r(what);
    if (p.remaining !== 0) p.fail(`${p.remaining} unexpected bytes`);
    return command;
  };
  switch (frame.command) {
    case SMFIC_OPTNEG: {
      const p = r('O (option negotiation)');
      const version = p.u32('version');
      const actions = p.u32('actions');
      const protocol = p.u32('protocol');
      return { type: 'optneg', version, actions, protocol };
    }
    case SMFIC_MACRO: {
      const p = r('D (macro)');
      const stage = p.byte('stage letter');
      if (!MACRO_STAGES.has(stage)) p.fail(`unknown macro stage ${commandName(stage)}`);
      const macros: (readonly [string, string])[] = [];
      while (p.remaining > 0) {
        const name = p.cstring('macro name');
        if (p.remaining === 0) p.fail('macro without a value');
        macros.push([name, p.cstring('macro value')]);
      }
      return { type: 'macro', stage, macros };
    }
    case SMFIC_CONNECT: {
      const p = r('C (connect)');
      const hostname = p.cstring('hostname');
      const fam = p.byte('address family');
      const family = FAMILIES.get(fam);
      if (family === undefined) return p.fail(`bad address family ${commandName(fam)}`);
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
      const isMail = frame.command === SMFIC_MAIL;
      const p = r(isMail ? 'M (mail)' : 'R (rcpt)');
      const first = p.cstring(isMail ? 'sender' : 'recipient');
      const args: string[] = [];
      while (p.remaining > 0) args.push(p.cstring('ESMTP argument'));
      return isMail ? { type: 'mail', sender: first, args } : { type: 'rcpt', recipient: first, args };
    }
    case SMFIC_DATA:
      return empty('T (data)', { type: 'data' });
    case SMFIC_HEADER: {
      const p = r('L (header)');
      const name = p.cstring('header name');
      if (name.length === 0) p.fail('empty header name');
      const value = p.cstring('header value');
      p.end();
      return { type: 'header', name, value };
    }
    case SMFIC_EOH:
      return empty('N (end of headers)', { type: 'eoh' });
    case SMFIC_BODY:
      return { type: 'body', chunk: frame.payload };
    case SMFIC_BODYEOB:
      return { type: 'eom', chunk: frame.payload };
    case SMFIC_ABORT:
      return empty('A (abort)', { type: 'abort' });
    case SMFIC_QUIT:
      return empty('Q (quit)', { type: 'quit' });
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
