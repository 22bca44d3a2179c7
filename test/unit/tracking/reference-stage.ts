/**
 * The tracking stage as it was built on mailsplit's Rewriter (a Duplex with a decoder/encoder
 * stream pair per part, then Joiner and a CRLF pass in createMessageTransform), kept as the
 * oracle for the inline rewriter: both must write the same bytes for every message.
 * Test-only; it shares the pure HTML rewrite with production (that is not what is compared).
 */
import { Rewriter, type MimeNode } from '@zone-eu/mailsplit';
import type { Duplex, Transform } from 'node:stream';
import type { HeaderEdit } from '../../../src/core/types.js';
import { escapeLogValue } from '../../../src/lib/logger.js';
import { InvariantError } from '../../../src/lib/errors.js';
import { MAX_TRACKED_HTML_BYTES, MAX_TRACKED_LINKS } from '../../../src/lib/limits.js';
import { decodeRawValue, htmlCharset, type HtmlCharset } from '../../../src/tracking/html-charset.js';
import { rewriteHtmlDetailed, type HtmlRewriteOptions } from '../../../src/tracking/html-rewrite.js';

interface TrackingLogger {
  warn(obj: Record<string, unknown>, msg: string): void;
  info(obj: Record<string, unknown>, msg: string): void;
  debug(obj: Record<string, unknown>, msg: string): void;
}

interface TrackingStageOptions extends HtmlRewriteOptions {
  readonly logger?: TrackingLogger;
}

interface TrackingStageResult {
  htmlParts: number;
  tracked: number;
  linksRewritten: number;
  pixelInserted: boolean;
  /** Parts passed through untracked; `charset` is the declared label, escaped and cut to 40 characters. */
  skipped: Array<{ reason: 'charset' | 'too-large'; charset?: string }>;
  /** What the rewrite changed in the top-level header block (see the module comment). */
  rootHeaderEdits: HeaderEdit[];
}

interface TrackingStage {
  readonly stage: Duplex;
  result(): TrackingStageResult;
}

const MESSAGE_TYPES = new Set(['message/rfc822', 'message/global']);
/** Transfer encodings the Rewriter keeps; it writes every other rewritten part as quoted-printable. */
const KEPT_ENCODINGS = new Set(['base64', 'quoted-printable']);
/** Content-Transfer-Encodings mailsplit decodes (RFC 2045 6.1); '' is none given. */
const TRANSFER_ENCODINGS = new Set(['', '7bit', '8bit', 'binary', 'quoted-printable', 'base64']);

/** True when some ancestor of `node` is an attached message. */
function insideAttachedMessage(node: MimeNode): boolean {
  for (let p = node.parentNode; p !== false; p = p.parentNode) {
    if (p.contentType !== false && MESSAGE_TYPES.has(p.contentType)) return true;
  }
  return false;
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new InvariantError('non-Error thrown while rewriting HTML', { cause: err });
}

/** A body stage for createMessageTransform: rewrites every text/html part outside attached messages. */
export function createReferenceStage(opts: TrackingStageOptions): TrackingStage {
  const logger = opts.logger;
  const stats: TrackingStageResult = { htmlParts: 0, tracked: 0, linksRewritten: 0, pixelInserted: false, skipped: [], rootHeaderEdits: [] };
  const charsets = new WeakMap<MimeNode, HtmlCharset>();

  const rewriter = new Rewriter((node: MimeNode): boolean => {
    // An HTML *file* attached to the message is the sender's document, not the message body.
    if (node.contentType !== 'text/html' || node.disposition === 'attachment' || insideAttachedMessage(node)) return false;
    stats.htmlParts++;
    if (!TRANSFER_ENCODINGS.has(node.encoding === false ? '' : node.encoding)) {
      // mailsplit would read it as raw bytes and relabel it quoted-printable: leave it be
      logger?.warn(
        { encoding: escapeLogValue(node.encoding === false ? '' : node.encoding, 40) },
        'tracking: HTML part in an unknown transfer encoding passed through untracked',
      );
      return false;
    }
    const charset = htmlCharset(node.charset);
    if (charset === null) {
      const label = escapeLogValue(node.charset === false ? '' : node.charset, 40);
      stats.skipped.push({ reason: 'charset', charset: label });
      logger?.warn({ charset: label }, 'tracking: HTML part in an unsupported charset passed through untracked');
      return false;
    }
    charsets.set(node, charset);
    if (node.root && !KEPT_ENCODINGS.has(node.encoding === false ? '' : node.encoding)) {
      stats.rootHeaderEdits.push({ op: 'set', name: 'Content-Transfer-Encoding', value: 'quoted-printable' });
    }
    return true;
  });
  const stage = rewriter as unknown as Duplex;
  const fail = (err: unknown): void => {
    stage.destroy(toError(err));
  };

  const rewritePart = (node: MimeNode, decoder: Transform, encoder: Transform): void => {
    const charset = charsets.get(node) ?? { decodeAs: 'lenient' };
    const chunks: Buffer[] = [];
    let size = 0;
    let passing = false;
    const forward = (chunk: Buffer): void => {
      if (!encoder.write(chunk)) {
        decoder.pause();
        encoder.once('drain', () => decoder.resume());
      }
    };
    decoder.on('data', (chunk: Buffer) => {
      if (passing) {
        forward(chunk);
        return;
      }
      size += chunk.length;
      if (size <= MAX_TRACKED_HTML_BYTES) {
        chunks.push(chunk);
        return;
      }
      passing = true;
      stats.skipped.push({ reason: 'too-large' });
      logger?.warn({ limit: MAX_TRACKED_HTML_BYTES }, 'tracking: HTML part larger than MAX_TRACKED_HTML_BYTES passed through untracked');
      const held = chunks.splice(0);
      for (const c of held) encoder.write(c);
      forward(chunk);
    });
    decoder.on('end', () => {
      if (passing) {
        encoder.end();
        return;
      }
      try {
        const bytes = Buffer.concat(chunks, size);
        const input = bytes.toString('latin1');
        chunks.length = 0;
        const r = rewriteHtmlDetailed(input, { pixelUrl: stats.pixelInserted ? null : opts.pixelUrl, clickUrl: opts.clickUrl }, (raw) =>
          decodeRawValue(raw, charset),
        );
        stats.linksRewritten += r.linksRewritten;
        if (r.pixelInserted) stats.pixelInserted = true;
        if (r.linksRewritten > 0 || r.pixelInserted) stats.tracked++;
        if (r.linksOverCap > 0) {
          logger?.warn({ limit: MAX_TRACKED_LINKS, untracked: r.linksOverCap }, 'tracking: links past MAX_TRACKED_LINKS left untracked');
        }
        logger?.debug(
          { bytes: size, links: r.linksRewritten, pixel: r.pixelInserted, optOuts: r.optOuts },
          'tracking: HTML part rewritten',
        );
        encoder.end(r.html === input ? bytes : Buffer.from(r.html, 'latin1'));
      } catch (err: unknown) {
        fail(err);
      }
    });
    decoder.on('error', fail);
    encoder.on('error', fail);
  };

  rewriter.on('node', ({ node, decoder, encoder }) => {
    rewritePart(node, decoder, encoder);
  });

  return {
    stage,
    result: () => ({ ...stats, skipped: [...stats.skipped], rootHeaderEdits: [...stats.rootHeaderEdits] }),
  };
}
