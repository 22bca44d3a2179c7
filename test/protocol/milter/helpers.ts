/**
 * Test helpers for the milter protocol: MTA-side frames built with plain Buffer writes and a
 * parser for filter responses — written independently of src/milter/decode.ts and encode.ts
 * on purpose, so codec bugs cannot cancel out in the tests.
 */

import { vi, type Mock } from 'vitest';
import type {
  MilterEomResult,
  MilterHandler,
  MilterMessageContext,
  MilterReply,
} from '../../../src/milter/handler.js';
import type { MilterMacros } from '../../../src/milter/macros.js';

/* ----------------------------- MTA -> filter frames ----------------------------- */

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n, 0);
  return b;
}

export function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n, 0);
  return b;
}

/** NUL-terminated UTF-8 string. */
export function z(s: string): Buffer {
  return Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
}

/** A whole packet: length (command + payload), command letter, payload. */
export function frame(letter: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length + 1, 0);
  head.write(letter, 4, 'latin1');
  return Buffer.concat([head, body]);
}

export const mta = {
  O: (version = 6, actions = 0x1ff, protocol = 0x1fffff): Buffer => frame('O', u32(version), u32(actions), u32(protocol)),
  D: (stage: string, ...pairs: [string, string][]): Buffer =>
    frame('D', Buffer.from(stage, 'latin1'), ...pairs.flatMap(([k, v]) => [z(k), z(v)])),
  C: (host: string, family: string, port: number, addr: string): Buffer =>
    family === 'U' ? frame('C', z(host), Buffer.from('U')) : frame('C', z(host), Buffer.from(family, 'latin1'), u16(port), z(addr)),
  H: (name: string): Buffer => frame('H', z(name)),
  M: (...args: string[]): Buffer => frame('M', ...args.map(z)),
  R: (...args: string[]): Buffer => frame('R', ...args.map(z)),
  T: (): Buffer => frame('T'),
  L: (name: string, value: string): Buffer => frame('L', z(name), z(value)),
  N: (): Buffer => frame('N'),
  B: (bytes: string | Buffer): Buffer => frame('B', typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : bytes),
  E: (): Buffer => frame('E'),
  A: (): Buffer => frame('A'),
  Q: (): Buffer => frame('Q'),
  U: (line: string): Buffer => frame('U', z(line)),
};

/* ----------------------------- filter -> MTA responses ----------------------------- */

export interface Resp {
  readonly cmd: string;
  readonly payload: Buffer;
}

/** Splits a byte stream of responses; throws on a truncated one. */
export function parseResponses(buf: Buffer): Resp[] {
  const out: Resp[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < 5) throw new Error(`truncated response header at ${off}`);
    const len = buf.readUInt32BE(off);
    if (len < 1 || buf.length - off - 4 < len) throw new Error(`bad response length ${len} at ${off}`);
    out.push({ cmd: String.fromCharCode(buf[off + 4]!), payload: buf.subarray(off + 5, off + 4 + len) });
    off += 4 + len;
  }
  return out;
}

function cstrings(p: Buffer): string[] {
  if (p.length === 0) return [];
  if (p[p.length - 1] !== 0) throw new Error('payload does not end in NUL');
  return p.subarray(0, p.length - 1).toString('utf8').split('\0');
}

/** A short readable form of one response, for toEqual() on whole conversations. */
export function show(r: Resp): string {
  switch (r.cmd) {
    case 'O': {
      const parts = [r.payload.readUInt32BE(0), r.payload.readUInt32BE(4), r.payload.readUInt32BE(8)].map((n) => n.toString(16));
      let off = 12;
      while (off < r.payload.length) {
        const stage = r.payload.readUInt32BE(off);
        const nul = r.payload.indexOf(0, off + 4);
        parts.push(`${stage}=${r.payload.subarray(off + 4, nul).toString('utf8')}`);
        off = nul + 1;
      }
      return `O:${parts.join(',')}`;
    }
    case 'y':
    case 'q':
    case 'e':
    case '+':
    case '2':
    case '-':
    case 'h':
      return r.payload.length === 0 ? r.cmd : `${r.cmd}:${cstrings(r.payload).join('|')}`;
    case 'i':
    case 'm':
      return `${r.cmd}:${r.payload.readUInt32BE(0)}|${cstrings(r.payload.subarray(4)).join('|')}`;
    case 'b':
      return `b:${r.payload.length}`;
    default:
      return r.payload.length === 0 ? r.cmd : `${r.cmd}+${r.payload.length}`;
  }
}

export function showAll(buf: Buffer): string[] {
  return parseResponses(buf).map(show);
}

/* ----------------------------- recording handler ----------------------------- */

export interface Recorder {
  readonly calls: string[];
  readonly handler: MilterHandler;
  readonly contexts: MilterMessageContext[];
}

function m(macros: MilterMacros): string {
  return JSON.stringify(macros.toObject());
}

/**
 * A handler that records every call as a string. `replies` overrides what an event answers;
 * `eom` overrides the end-of-message result; `omit` drops methods (to test negotiation).
 */
export function recorder(
  opts: {
    replies?: Partial<Record<'connect' | 'helo' | 'mail' | 'rcpt' | 'data' | 'header' | 'eoh' | 'body' | 'unknown', MilterReply>>;
    eom?: (ctx: MilterMessageContext) => MilterEomResult | Promise<MilterEomResult>;
    omit?: readonly string[];
  } = {},
): Recorder {
  const calls: string[] = [];
  const contexts: MilterMessageContext[] = [];
  const r = opts.replies ?? {};
  const full: MilterHandler = {
    connect: (info, macros) => {
      calls.push(`connect ${info.hostname} ${info.family} ${String(info.port)} ${String(info.address)} ${m(macros)}`);
      return r.connect;
    },
    helo: (name, macros) => {
      calls.push(`helo ${name} ${m(macros)}`);
      return r.helo;
    },
    mail: (sender, args, macros) => {
      calls.push(`mail ${sender} [${args.join(',')}] ${m(macros)}`);
      return r.mail;
    },
    rcpt: (rcpt, args, macros) => {
      calls.push(`rcpt ${rcpt} [${args.join(',')}] ${m(macros)}`);
      return r.rcpt;
    },
    data: (macros) => {
      calls.push(`data ${m(macros)}`);
      return r.data;
    },
    header: (name, value) => {
      calls.push(`header ${name}=${JSON.stringify(value)}`);
      return r.header;
    },
    eoh: (macros) => {
      calls.push(`eoh ${m(macros)}`);
      return r.eoh;
    },
    body: (chunk) => {
      calls.push(`body ${JSON.stringify(chunk.toString('utf8'))}`);
      return r.body;
    },
    unknown: (line, macros) => {
      calls.push(`unknown ${line} ${m(macros)}`);
      return r.unknown;
    },
    eom: (ctx) => {
      contexts.push(ctx);
      calls.push(
        `eom q=${String(ctx.queueId)} auth=${String(ctx.authUser)} from=${ctx.sender.address} to=${ctx.recipients.map((x) => x.address).join(',')} headers=${ctx.headers.length}`,
      );
      return opts.eom ? opts.eom(ctx) : { edits: [], reply: { kind: 'continue' } };
    },
    abort: () => {
      calls.push('abort');
    },
    close: () => {
      calls.push('close');
    },
  };
  const handler: Record<string, unknown> = { ...full };
  for (const k of opts.omit ?? []) delete handler[k];
  return { calls, handler: handler as unknown as MilterHandler, contexts };
}

type LogFn = (obj: Record<string, unknown>, msg: string) => void;

/** A logger whose methods are spies. */
export function spyLogger(): { debug: Mock<LogFn>; info: Mock<LogFn>; warn: Mock<LogFn>; error: Mock<LogFn> } {
  return { debug: vi.fn<LogFn>(), info: vi.fn<LogFn>(), warn: vi.fn<LogFn>(), error: vi.fn<LogFn>() };
}
