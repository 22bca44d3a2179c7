/**
 * Test helpers for the tracking stage: run a message through createMessageTransform with the
 * stage, and a small independent MIME reader (boundaries, headers, QP and base64 decoding)
 * to look at the parts of the output — not built on mailsplit, libqp or the production code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTrackingStage, type TrackingStageOptions } from '../../../src/tracking/tracking-stage.js';
import { rewriteMessage } from '../../../src/transform/message-transform.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'tracking');

export function fixture(name: string): Buffer {
  return readFileSync(join(FIXTURES, name));
}

/** LF or CRLF text → CRLF bytes (latin1: one byte per char, so binary-safe for \x00-\xff). */
export function crlf(s: string, encoding: BufferEncoding = 'utf8'): Buffer {
  return Buffer.from(s.replace(/\r?\n/g, '\r\n'), encoding);
}

export async function track(msg: Buffer, opts: TrackingStageOptions) {
  const t = createTrackingStage(opts);
  const out = await rewriteMessage(msg, { onHeaders: () => [], bodyStages: [t.stage] });
  return { out, result: t.result() };
}

/** A clickUrl that records what it is given and answers `${prefix}${n}&sig=x` (an `&` to be escaped). */
export function recorder(prefix = 'https://t.example/c?n='): { seen: string[]; clickUrl: (u: string) => string } {
  const seen: string[] = [];
  return {
    seen,
    clickUrl: (u: string): string => {
      seen.push(u);
      return `${prefix}${seen.length}&sig=x`;
    },
  };
}

export interface Part {
  /** Lower-cased header names → unfolded values (first occurrence). */
  readonly headers: Map<string, string>;
  /** Raw header block as written (latin1), without the empty line. */
  readonly head: string;
  /** Raw body bytes as written (latin1), without the CRLF before the next delimiter. */
  readonly body: string;
  readonly children: Part[];
}

function parseHead(head: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const field of head.replace(/\r\n(?=[ \t])/g, '').split('\r\n')) {
    const i = field.indexOf(':');
    if (i <= 0) continue;
    const name = field.slice(0, i).trim().toLowerCase();
    if (!m.has(name)) m.set(name, field.slice(i + 1).trim());
  }
  return m;
}

function boundaryOf(ct: string | undefined): string | null {
  const m = /boundary="?([^";]+)"?/i.exec(ct ?? '');
  return m ? m[1]! : null;
}

/** Parse an entity (header block + body) given as latin1 text; message/rfc822 bodies are not opened. */
export function parseEntity(text: string): Part {
  const sep = text.indexOf('\r\n\r\n');
  const head = sep < 0 ? text : text.slice(0, sep);
  const body = sep < 0 ? '' : text.slice(sep + 4);
  const headers = parseHead(head);
  const ct = headers.get('content-type') ?? '';
  const boundary = /^multipart\//i.test(ct) ? boundaryOf(ct) : null;
  const children: Part[] = [];
  if (boundary !== null) {
    const delim = `\r\n--${boundary}`;
    const all = `\r\n${body}`;
    const pieces = all.split(delim);
    // pieces[0] is the preamble; a piece starting with "--" is the close delimiter and epilogue
    for (const piece of pieces.slice(1)) {
      if (piece.startsWith('--')) break;
      children.push(parseEntity(piece.slice(piece.indexOf('\r\n') + 2)));
    }
  }
  return { headers, head, body, children };
}

export function parseMessage(msg: Buffer): Part {
  return parseEntity(msg.toString('latin1'));
}

/** Leaves in document order. */
export function leaves(p: Part): Part[] {
  return p.children.length === 0 ? [p] : p.children.flatMap(leaves);
}

/** The first text/html leaf. */
export function htmlLeafOf(p: Part): Part {
  const leaf = leaves(p).find((l) => /^text\/html/i.test(l.headers.get('content-type') ?? ''));
  if (!leaf) throw new Error('no html part');
  return leaf;
}

export function qpDecode(s: string): Buffer {
  const text = s.replace(/=\r\n/g, '').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  return Buffer.from(text, 'latin1');
}

/** The decoded body of a leaf by its Content-Transfer-Encoding. */
export function decodeBody(p: Part): Buffer {
  const cte = (p.headers.get('content-transfer-encoding') ?? '').toLowerCase();
  if (cte === 'base64') return Buffer.from(p.body.replace(/\s+/g, ''), 'base64');
  if (cte === 'quoted-printable') return qpDecode(p.body);
  return Buffer.from(p.body, 'latin1');
}

export function longestLine(s: string): number {
  let max = 0;
  for (const l of s.split('\r\n')) max = Math.max(max, l.length);
  return max;
}

export function hasBareLineBreak(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x0a && (i === 0 || b[i - 1] !== 0x0d)) return true;
    if (b[i] === 0x0d && b[i + 1] !== 0x0a) return true;
  }
  return false;
}

/** A logger that records calls. */
export function recordingLogger(): {
  lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }>;
  warn(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
} {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string }> = [];
  return {
    lines,
    warn: (obj, msg) => lines.push({ level: 'warn', obj, msg }),
    info: (obj, msg) => lines.push({ level: 'info', obj, msg }),
    debug: (obj, msg) => lines.push({ level: 'debug', obj, msg }),
  };
}
