/**
 * Streaming DKIM body hash: "relaxed" body canonicalisation (RFC 6376 3.4.4) + SHA-256,
 * base64 (the `bh=` value).
 *
 * Canonicalisation, applied to a body of lines:
 *   a. whitespace (SP, HTAB) at the end of a line is removed; runs of whitespace inside a
 *      line become one SP;
 *   b. empty lines at the end of the body are removed; a non-empty body that does not end
 *      with a line break gets one; an empty body (or one of empty lines only) hashes as "".
 * A line ends at CRLF. A bare LF ends a line too (written as CRLF): the message leaves
 * Postfix with CRLF line endings, and that is what a verifier hashes. A CR not followed by LF
 * is an ordinary byte. An unterminated last line is treated like a terminated one (its trailing
 * whitespace dropped), because SMTP delivers it with a CRLF added and every verifier then
 * sees a terminated line.
 *
 * Why our own and not mailauth's RelaxedHash (lib/dkim/body/relaxed.js): mailauth's is correct
 * across chunk boundaries (our split-at-every-offset test passes against it) but its memory is
 * not bounded: it keeps every trailing blank line as a slice of the input until a non-blank
 * byte arrives (20 MB of blank lines stay referenced), and it re-concatenates an unterminated
 * line with every new chunk (a 10 MB line without LF took 2.5 s in 64 KB chunks, quadratic).
 * Here the state between chunks is a few flags and a count of pending line breaks; the input
 * is never retained.
 *
 * Speed: lines that are already canonical (a non-whitespace byte before CRLF, no HTAB, no
 * double SP — nearly all of base64 and quoted-printable) are found with Buffer.indexOf and
 * hashed as runs of the input; other lines go through a byte loop into a 16 KB scratch buffer.
 *
 * Throws InvariantError for update() or digest() after digest().
 */
import { createHash } from 'node:crypto';
import { InvariantError } from '../lib/errors.js';

export interface BodyHasher {
  /** Feed the next bytes of the body (any split). The chunk is not retained. */
  update(chunk: Uint8Array): void;
  /** The base64 SHA-256 of the canonical body. Call once, after the last update. */
  digest(): string;
}

const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;
const DOUBLE_SP = Buffer.from('  ', 'latin1');
const SCRATCH_BYTES = 16 * 1024;

class RelaxedSha256BodyHasher implements BodyHasher {
  private readonly hash = createHash('sha256');
  /** Line breaks seen since the last content byte, not hashed yet (trailing ones never are). */
  private pendingBreaks = 0;
  /** Whitespace seen on this line since the last content byte. */
  private wsp = false;
  /** The previous byte was a CR that may start a CRLF. */
  private cr = false;
  /** Nothing of the current line seen yet. */
  private atLineStart = true;
  /** Some byte other than whitespace or a line break was hashed. */
  private anyContent = false;
  private finished = false;
  private readonly scratch = Buffer.allocUnsafe(SCRATCH_BYTES);
  private scratchLen = 0;

  update(chunk: Uint8Array): void {
    if (this.finished) throw new InvariantError('dkim body hash: update after digest');
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = buf.length;
    // next HTAB / double SP at or after the current position (n: none), searched lazily
    let nextTab = -1;
    let nextDouble = -1;
    let i = 0;
    while (i < n) {
      if (this.atLineStart) {
        // fast path: a run of canonical lines, hashed as they are (without the last CRLF)
        const runStart = i;
        let runEnd = -1;
        for (;;) {
          const lf = buf.indexOf(LF, i);
          if (lf === -1 || lf - i < 2 || buf[lf - 1] !== CR) break;
          const last = buf[lf - 2];
          if (last === SP || last === HT) break;
          if (nextTab < i) nextTab = indexOrEnd(buf.indexOf(HT, i), n);
          if (nextTab < lf) break;
          if (nextDouble < i) nextDouble = indexOrEnd(buf.indexOf(DOUBLE_SP, i), n);
          if (nextDouble < lf) break;
          runEnd = lf - 1;
          i = lf + 1;
        }
        if (runEnd !== -1) this.hashRun(buf.subarray(runStart, runEnd));
        if (i >= n) break;
      }
      i = this.slowLine(buf, i);
    }
  }

  digest(): string {
    if (this.finished) throw new InvariantError('dkim body hash: digest called twice');
    if (this.cr) {
      this.cr = false;
      this.content(CR);
    }
    // the breaks after the last content collapse to one CRLF; an unterminated last line gets one
    if (this.anyContent) {
      this.put(CR);
      this.put(LF);
    }
    this.flushScratch();
    this.finished = true;
    return this.hash.digest('base64');
  }

  /** A run of whole canonical lines: pending breaks first, then the run; its CRLF is pending. */
  private hashRun(run: Buffer): void {
    this.putPendingBreaks();
    this.flushScratch();
    this.hash.update(run);
    this.pendingBreaks = 1;
    this.anyContent = true;
  }

  /** Byte by byte up to and including the next LF (or the end of the chunk); returns the next index. */
  private slowLine(buf: Buffer, from: number): number {
    const n = buf.length;
    for (let i = from; i < n; i++) {
      const b = buf[i] as number;
      if (b === LF) {
        // CRLF or a bare LF: the line ends; its trailing whitespace is dropped
        this.cr = false;
        this.wsp = false;
        this.pendingBreaks++;
        this.atLineStart = true;
        return i + 1;
      }
      this.atLineStart = false;
      if (this.cr) {
        this.cr = false;
        this.content(CR);
      }
      if (b === CR) this.cr = true;
      else if (b === SP || b === HT) this.wsp = true;
      else this.content(b);
    }
    return n;
  }

  private content(b: number): void {
    this.putPendingBreaks();
    if (this.wsp) {
      this.put(SP);
      this.wsp = false;
    }
    this.put(b);
    this.anyContent = true;
  }

  private putPendingBreaks(): void {
    for (; this.pendingBreaks > 0; this.pendingBreaks--) {
      this.put(CR);
      this.put(LF);
    }
  }

  private put(b: number): void {
    if (this.scratchLen === SCRATCH_BYTES) this.flushScratch();
    this.scratch[this.scratchLen++] = b;
  }

  private flushScratch(): void {
    if (this.scratchLen === 0) return;
    this.hash.update(this.scratch.subarray(0, this.scratchLen));
    this.scratchLen = 0;
  }
}

function indexOrEnd(index: number, end: number): number {
  return index === -1 ? end : index;
}

/** A fresh relaxed/SHA-256 body hasher. */
export function createBodyHasher(): BodyHasher {
  return new RelaxedSha256BodyHasher();
}
