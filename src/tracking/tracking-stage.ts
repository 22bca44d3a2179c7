/**
 * The tracking body stage for createMessageTransform (docs/architecture.md, "The tree of src/"): a
 * synchronous body rewriter (transform/body-rewriter.ts) that puts every text/html part through
 * rewriteHtml (open pixel, click links). It writes what mailsplit's Rewriter + Joiner + a CRLF
 * pass wrote (same header updates, same encoders, the same line break after a part) — byte
 * for byte except in the body of a part that came in quoted-printable (below) — but runs
 * inline in the transform's one stream: the part's decoder and encoder (mailsplit's own, from
 * node.getDecoder()/getEncoder()) are driven by direct calls, not piped.
 *
 * Which parts:
 *  - every `text/html` part at any depth of the message (multipart/mixed > alternative >
 *    related > ... and a single-part root), except HTML files attached to the message
 *    (`Content-Disposition: attachment`): they are the sender's documents, not the body;
 *  - NOT parts inside an attached message (a node below a message/rfc822 or message/global
 *    node; mailsplit only opens inline ones, attachment ones are one opaque body anyway);
 *  - text/plain and every other type are never touched (URLs in text are not tracked).
 *
 * Per part:
 *  - transfer encoding: none, 7bit, 8bit, binary, quoted-printable or base64; a part in any
 *    other (x-uuencode, a quoted "base64", ...) passes through byte-for-byte with a warn line;
 *  - charset (html-charset.ts): UTF-8, US-ASCII/none (lenient), ISO-8859-x, Windows-125x are
 *    rewritten; any other charset passes through byte-for-byte, with a warn log line and a
 *    `skipped: { reason: 'charset', charset }` entry;
 *  - size: decoded bytes are buffered up to MAX_TRACKED_HTML_BYTES; at one byte more the part
 *    passes through untracked (content unchanged, transfer encoding as below) with a warn
 *    line and `skipped: { reason: 'too-large' }`. Nothing is held past the cap + one chunk;
 *  - the bytes are scanned as a latin1 string (byte-exact) and rewritten as bytes: unchanged
 *    ranges copied, only ASCII inserted (html-rewrite.ts rewriteHtmlBytes), so the charset
 *    stays and every byte not edited stays;
 *  - a part that comes in quoted-printable is held encoded (its decoded bytes are never more)
 *    and, at its end, decoded by mail/quoted-printable-lines.ts (libqp's decode, keeping where
 *    each encoded line went); the rewritten part is the sender's encoded lines with the edits
 *    spliced in: lines no edit touches are copied byte for byte, only the edited text (and
 *    what of its line must move) is encoded. NOT libqp's encoding of the whole part (as the
 *    Rewriter wrote) any more: the same decoded bytes, every line valid (at most 76
 *    characters, CRLF, `=` only as an escape or soft break), far less work. A sender's line
 *    that is not clean quoted-printable (too long, 8-bit, trailing space, lower-case or broken
 *    escapes, ...) is re-encoded with its whole hard line. Past MAX_TRACKED_HTML_BYTES of
 *    encoded bytes the part is decoded as it comes (mail/quoted-printable-decoder.ts) and, if
 *    its decoded bytes fit the cap, encoded whole by mail/quoted-printable.ts as before;
 *  - a part in 7bit/8bit/binary/none rewritten is encoded by mail/quoted-printable.ts
 *    (libqp's encoder output, byte for byte);
 *  - transfer encoding (as mailsplit's Rewriter): base64 and quoted-printable parts are
 *    re-encoded in the same encoding, 7bit/8bit/binary/none become quoted-printable; lines of
 *    both are at most 76 characters. A line break is written after a body that does not end
 *    in one; what the encoders write is normalised to CRLF here (a part decoded from base64
 *    may have bare LF line ends, which quoted-printable keeps literal);
 *  - pixel: only in the FIRST part that is rewritten (so a message gets at most one, however
 *    many HTML parts it has); the opt-out attribute data-trx-notrack is removed from every
 *    part that is rewritten.
 *
 * `result()` (read after the stream ended): htmlParts (text/html parts outside attached
 * messages), tracked (parts that got a pixel or at least one tracked link — when 0 the
 * output means the same as an untracked copy), linksRewritten, pixelInserted, skipped, and
 * rootHeaderEdits: the change the Rewriter made to the top-level header block, as a
 * HeaderEdit (a single-part HTML message in 7bit/8bit/binary/none is written as
 * quoted-printable: `Content-Transfer-Encoding: quoted-printable`), so that an adapter that
 * edits the message in place (the milter) can apply it without re-reading the output.
 *
 * Errors: whatever `clickUrl` throws and decoder/encoder errors are thrown by the rewriter
 * (the transform then errors with them). Logs carry no URLs (they may hold personal data).
 */
import type { MimeNode, SplitterChunk } from '@zone-eu/mailsplit';
import type { Duplex, Transform } from 'node:stream';
import type { HeaderEdit } from '../core/types.js';
import { escapeLogValue } from '../lib/logger.js';
import { InvariantError } from '../lib/errors.js';
import { MAX_TRACKED_HTML_BYTES, MAX_TRACKED_LINKS } from '../lib/limits.js';
import { BodyRewriterStage, type BodyOutput, type BodyRewriter } from '../transform/body-rewriter.js';
import { CrlfState } from '../transform/crlf-normaliser.js';
import { encodeQuotedPrintable } from '../mail/quoted-printable.js';
import { QuotedPrintableDecoder } from '../mail/quoted-printable-decoder.js';
import { decodeQuotedPrintableLines } from '../mail/quoted-printable-lines.js';
import { spliceQuotedPrintable } from '../mail/quoted-printable-splice.js';
import { decodeRawValue, htmlCharset, type HtmlCharset } from './html-charset.js';
import { htmlEdits, rewriteHtmlBytes, type HtmlEdit, type HtmlRewriteDetails, type HtmlRewriteOptions } from './html-rewrite.js';

export interface TrackingLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

export interface TrackingStageOptions extends HtmlRewriteOptions {
  readonly logger?: TrackingLogger;
}

export interface TrackingStageResult {
  htmlParts: number;
  tracked: number;
  linksRewritten: number;
  pixelInserted: boolean;
  /** Parts passed through untracked; `charset` is the declared label, escaped and cut to 40 characters. */
  skipped: Array<{ reason: 'charset' | 'too-large'; charset?: string }>;
  /** What the rewrite changed in the top-level header block (see the module comment). */
  rootHeaderEdits: HeaderEdit[];
}

export interface TrackingStage {
  /** A body stage for createMessageTransform (run inline: see transform/body-rewriter.ts). */
  readonly stage: Duplex;
  result(): TrackingStageResult;
}

const MESSAGE_TYPES = new Set(['message/rfc822', 'message/global']);
/** Transfer encodings the Rewriter keeps; it writes every other rewritten part as quoted-printable. */
const KEPT_ENCODINGS = new Set(['base64', 'quoted-printable']);
/** Content-Transfer-Encodings mailsplit decodes (RFC 2045 6.1); '' is none given. */
const TRANSFER_ENCODINGS = new Set(['', '7bit', '8bit', 'binary', 'quoted-printable', 'base64']);
const LF = Buffer.from('\n');
const CRLF = Buffer.from('\r\n');
/** First size of the buffer holding a quoted-printable part's encoded bytes (it doubles as needed). */
const RAW_INITIAL_BYTES = 64 * 1024;

/** True when some ancestor of `node` is an attached message. */
function insideAttachedMessage(node: MimeNode): boolean {
  for (let p = node.parentNode; p !== false; p = p.parentNode) {
    if (p.contentType !== false && MESSAGE_TYPES.has(p.contentType)) return true;
  }
  return false;
}

/**
 * A mailsplit decoder or encoder (libqp, libbase64, PassThrough) called directly: their
 * `_transform`/`_flush` push and call back synchronously, so no stream machinery is needed.
 */
class DirectCodec implements Codec {
  readonly #t: Transform;
  #out: Buffer[] = [];

  constructor(t: Transform) {
    this.#t = t;
    // string chunks keep their encoding (libqp pushes 'ascii' strings)
    t.push = (chunk: unknown, encoding?: BufferEncoding): boolean => {
      if (chunk !== null && chunk !== undefined) this.#collect(typeof chunk === 'string' ? Buffer.from(chunk, encoding ?? 'utf8') : chunk);
      return true;
    };
  }

  #collect(chunk: unknown): void {
    if (!Buffer.isBuffer(chunk)) throw new InvariantError('tracking: codec pushed something other than bytes');
    if (chunk.length > 0) this.#out.push(chunk);
  }

  #call(run: (cb: (err?: Error | null, data?: unknown) => void) => void): Buffer[] {
    const answer: { called: boolean; failure: Error | null } = { called: false, failure: null };
    run((err?: Error | null, data?: unknown) => {
      answer.called = true;
      if (err) answer.failure = err;
      else if (data !== null && data !== undefined) this.#collect(data);
    });
    if (answer.failure !== null) throw answer.failure;
    if (!answer.called) throw new InvariantError('tracking: codec did not answer synchronously');
    const out = this.#out;
    this.#out = [];
    return out;
  }

  write(chunk: Buffer): Buffer[] {
    return this.#call((cb) => {
      this.#t._transform(chunk, 'buffer' as BufferEncoding, cb);
    });
  }

  end(): Buffer[] {
    const t = this.#t as Transform & { _flush?: (cb: (err?: Error | null, data?: unknown) => void) => void };
    if (typeof t._flush !== 'function') return [];
    return this.#call((cb) => {
      t._flush?.(cb);
    });
  }
}

/** A decoder or encoder driven by direct calls. */
interface Codec {
  write(chunk: Buffer): Buffer[];
  end(): Buffer[];
}

/** mail/quoted-printable-decoder.ts: libqp's decode, streaming, in one pass over the bytes. */
class QpDecoder implements Codec {
  readonly #d = new QuotedPrintableDecoder();

  write(chunk: Buffer): Buffer[] {
    const out = this.#d.write(chunk);
    return out.length === 0 ? [] : [out];
  }

  end(): Buffer[] {
    const out = this.#d.end();
    return out.length === 0 ? [] : [out];
  }
}

/** One text/html part being rewritten. */
interface Part {
  readonly node: MimeNode;
  readonly charset: HtmlCharset;
  /** null while a quoted-printable part's encoded bytes are held in `raw`. */
  decoder: Codec | null;
  /** The encoding mailsplit's Rewriter would use, made when first needed. */
  encoder: DirectCodec | null;
  /**
   * A quoted-printable part's encoded bytes (the first `rawSize` of it), held while they fit in
   * MAX_TRACKED_HTML_BYTES (the decoded bytes are never more): the part is then rewritten by
   * splicing (mail/quoted-printable-lines.ts). Past that they are decoded as they come.
   */
  raw: Buffer | null;
  rawSize: number;
  /** The part is written as quoted-printable: a rewritten part is encoded here in one go. */
  readonly qpOut: boolean;
  /** Decoded bytes held for the rewrite (until the part ends or passes the cap). */
  readonly chunks: Buffer[];
  size: number;
  /** Over MAX_TRACKED_HTML_BYTES: decoded bytes go straight to the encoder. */
  passing: boolean;
  /** The node's header block has been emitted. */
  headed: boolean;
  /** Last byte the encoder wrote (before CRLF normalisation), -1 before any. */
  lastByte: number;
  readonly crlf: CrlfState;
}

class TrackingRewriter implements BodyRewriter {
  readonly stats: TrackingStageResult = { htmlParts: 0, tracked: 0, linksRewritten: 0, pixelInserted: false, skipped: [], rootHeaderEdits: [] };
  readonly #opts: TrackingStageOptions;
  #part: Part | null = null;

  constructor(opts: TrackingStageOptions) {
    this.#opts = opts;
  }

  write(obj: SplitterChunk, emit: (out: BodyOutput) => void): void {
    const part = this.#part;
    if (part !== null) {
      if (obj.type === 'body') {
        if (part.decoder === null) this.#hold(part, obj.value, emit);
        else for (const d of part.decoder.write(obj.value)) this.#decoded(part, d, emit);
        return;
      }
      this.#finish(part, emit);
    }
    if (obj.type === 'node') {
      const charset = this.#select(obj);
      if (charset !== null) {
        this.#start(obj, charset);
        return;
      }
    }
    emit(obj);
  }

  end(emit: (out: BodyOutput) => void): void {
    if (this.#part !== null) this.#finish(this.#part, emit);
  }

  /** The filter: the part's charset handling when the part is rewritten, else null. */
  #select(node: MimeNode): HtmlCharset | null {
    const logger = this.#opts.logger;
    const stats = this.stats;
    // An HTML *file* attached to the message is the sender's document, not the message body.
    if (node.contentType !== 'text/html' || node.disposition === 'attachment' || insideAttachedMessage(node)) return null;
    stats.htmlParts++;
    const encoding = node.encoding === false ? '' : node.encoding;
    if (!TRANSFER_ENCODINGS.has(encoding)) {
      // mailsplit would read it as raw bytes and relabel it quoted-printable: leave it be
      logger?.warn({ encoding: escapeLogValue(encoding, 40) }, 'tracking: HTML part in an unknown transfer encoding passed through untracked');
      return null;
    }
    const charset = htmlCharset(node.charset);
    if (charset === null) {
      const label = escapeLogValue(node.charset === false ? '' : node.charset, 40);
      stats.skipped.push({ reason: 'charset', charset: label });
      logger?.warn({ charset: label }, 'tracking: HTML part in an unsupported charset passed through untracked');
      return null;
    }
    if (node.root && !KEPT_ENCODINGS.has(encoding)) {
      stats.rootHeaderEdits.push({ op: 'set', name: 'Content-Transfer-Encoding', value: 'quoted-printable' });
    }
    return charset;
  }

  #start(node: MimeNode, charset: HtmlCharset): void {
    // the same decoder and encoder (and header update) as mailsplit's Rewriter; a rewritten
    // part is encoded as quoted-printable by mail/quoted-printable.ts (libqp's bytes, faster)
    const encoding = node.encoding === false ? '' : node.encoding;
    const qp = encoding === 'quoted-printable';
    const decoder = qp ? null : new DirectCodec(node.getDecoder());
    const qpOut = encoding !== 'base64';
    const part: Part = { node, charset, decoder, encoder: null, raw: null, rawSize: 0, qpOut, chunks: [], size: 0, passing: false, headed: false, lastByte: -1, crlf: new CrlfState() };
    // (getEncoder also updates the header of a part it re-encodes: made now for those; a
    // quoted-printable part keeps its header and seldom needs one)
    if (!qp) this.#encoder(part);
    this.#part = part;
  }

  #encoder(part: Part): DirectCodec {
    if (part.encoder === null) {
      const node = part.node;
      const encoding = node.encoding === false ? '' : node.encoding;
      part.encoder = new DirectCodec(KEPT_ENCODINGS.has(encoding) ? node.getEncoder() : node.getEncoder('quoted-printable'));
    }
    return part.encoder;
  }

  /** Holds a quoted-printable part's encoded bytes; past MAX_TRACKED_HTML_BYTES decodes them instead. */
  #hold(part: Part, chunk: Buffer, emit: (out: BodyOutput) => void): void {
    const size = part.rawSize + chunk.length;
    if (size <= MAX_TRACKED_HTML_BYTES) {
      let raw = part.raw;
      if (raw === null || raw.length < size) {
        // the first chunk is rarely the whole part: room for one more like it at once
        const grown = Buffer.allocUnsafe(Math.min(MAX_TRACKED_HTML_BYTES, Math.max(RAW_INITIAL_BYTES, size * 2, (raw?.length ?? 0) * 2)));
        if (raw !== null) raw.copy(grown, 0, 0, part.rawSize);
        raw = grown;
        part.raw = raw;
      }
      // a copy: the chunk's buffer is not ours to keep
      chunk.copy(raw, part.rawSize);
      part.rawSize = size;
      return;
    }
    // the rest is decoded as it comes (the decoded part may still fit the cap)
    const decoder = new QpDecoder();
    part.decoder = decoder;
    const held = part.raw?.subarray(0, part.rawSize);
    part.raw = null;
    part.rawSize = 0;
    if (held !== undefined) for (const d of decoder.write(held)) this.#decoded(part, d, emit);
    for (const d of decoder.write(chunk)) this.#decoded(part, d, emit);
  }

  #decoded(part: Part, chunk: Buffer, emit: (out: BodyOutput) => void): void {
    if (part.passing) {
      this.#encoded(part, this.#encoder(part).write(chunk), emit);
      return;
    }
    part.size += chunk.length;
    if (part.size <= MAX_TRACKED_HTML_BYTES) {
      part.chunks.push(chunk);
      return;
    }
    part.passing = true;
    this.stats.skipped.push({ reason: 'too-large' });
    this.#opts.logger?.warn({ limit: MAX_TRACKED_HTML_BYTES }, 'tracking: HTML part larger than MAX_TRACKED_HTML_BYTES passed through untracked');
    const held = part.chunks.splice(0);
    const encoder = this.#encoder(part);
    for (const c of held) this.#encoded(part, encoder.write(c), emit);
    this.#encoded(part, encoder.write(chunk), emit);
  }

  /** Writes encoder output: the node first, then the bytes, CRLF-normalised. */
  #encoded(part: Part, chunks: readonly Buffer[], emit: (out: BodyOutput) => void): void {
    for (const value of chunks) {
      if (value.length === 0) continue;
      this.#head(part, emit);
      part.lastByte = value[value.length - 1]!;
      const normal = part.crlf.normalise(value);
      if (normal !== null) emit({ node: part.node, type: 'body', value: normal });
    }
  }

  #head(part: Part, emit: (out: BodyOutput) => void): void {
    if (part.headed) return;
    part.headed = true;
    emit(part.node);
  }

  /** The part ended: rewrite what was held, encode, and end with a line break. */
  #finish(part: Part, emit: (out: BodyOutput) => void): void {
    this.#part = null;
    if (part.decoder === null) {
      this.#splice(part, emit);
      return;
    }
    for (const d of part.decoder.end()) this.#decoded(part, d, emit);
    if (!part.passing) {
      const bytes = Buffer.concat(part.chunks, part.size);
      part.chunks.length = 0;
      const html = this.#rewrite(bytes, part.charset);
      this.#encoded(part, part.qpOut ? [encodeQuotedPrintable(html)] : this.#encoder(part).write(html), emit);
    }
    if (part.encoder !== null) this.#encoded(part, part.encoder.end(), emit);
    this.#head(part, emit);
    // as the Rewriter: make sure the body ends with a line break
    if (part.lastByte !== 0x0a) this.#encoded(part, [LF], emit);
  }

  /**
   * A quoted-printable part held whole: decoded line by line, rewritten, and written as the
   * sender's lines with the edits spliced in (mail/quoted-printable-lines.ts: CRLF line ends
   * already, so no normalising), then a line break when it does not end in one.
   */
  #splice(part: Part, emit: (out: BodyOutput) => void): void {
    const encoded = part.raw === null ? Buffer.alloc(0) : part.raw.subarray(0, part.rawSize);
    part.raw = null;
    const lines = decodeQuotedPrintableLines(encoded);
    const edits = this.#edits(lines.decoded, part.charset);
    const out = spliceQuotedPrintable(encoded, lines, edits);
    emit(part.node);
    if (out.length > 0) emit({ node: part.node, type: 'body', value: out });
    if (out.length === 0 || out[out.length - 1] !== 0x0a) emit({ node: part.node, type: 'body', value: CRLF });
  }

  #rewrite(bytes: Buffer, charset: HtmlCharset): Buffer {
    const stats = this.stats;
    const r = rewriteHtmlBytes(bytes, bytes.toString('latin1'), { pixelUrl: stats.pixelInserted ? null : this.#opts.pixelUrl, clickUrl: this.#opts.clickUrl }, (raw) =>
      decodeRawValue(raw, charset),
    );
    this.#count(r, bytes.length);
    return r.bytes;
  }

  /** The rewrite's edits of a decoded part (for splicing), counted. */
  #edits(bytes: Buffer, charset: HtmlCharset): readonly HtmlEdit[] {
    const stats = this.stats;
    const r = htmlEdits(bytes.toString('latin1'), { pixelUrl: stats.pixelInserted ? null : this.#opts.pixelUrl, clickUrl: this.#opts.clickUrl }, (raw) =>
      decodeRawValue(raw, charset),
    );
    this.#count(r, bytes.length);
    return r.edits;
  }

  #count(r: Omit<HtmlRewriteDetails, 'html'>, bytes: number): void {
    const stats = this.stats;
    const logger = this.#opts.logger;
    stats.linksRewritten += r.linksRewritten;
    if (r.pixelInserted) stats.pixelInserted = true;
    if (r.linksRewritten > 0 || r.pixelInserted) stats.tracked++;
    if (r.linksOverCap > 0) {
      logger?.warn({ limit: MAX_TRACKED_LINKS, untracked: r.linksOverCap }, 'tracking: links past MAX_TRACKED_LINKS left untracked');
    }
    logger?.debug({ bytes, links: r.linksRewritten, pixel: r.pixelInserted, optOuts: r.optOuts }, 'tracking: HTML part rewritten');
  }
}

/** A body stage for createMessageTransform: rewrites every text/html part outside attached messages. */
export function createTrackingStage(opts: TrackingStageOptions): TrackingStage {
  const rewriter = new TrackingRewriter(opts);
  const stats = rewriter.stats;
  return {
    stage: new BodyRewriterStage(rewriter),
    result: () => Object.assign({}, stats, { skipped: [...stats.skipped], rootHeaderEdits: [...stats.rootHeaderEdits] }),
  };
}
