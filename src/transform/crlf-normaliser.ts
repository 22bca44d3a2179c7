/**
 * Streaming line-ending normaliser: bytes in, bytes out, every CR and LF leaves as a CRLF pair.
 *
 * RFC 5321 4.1.1.4 / RFC 5322 2.3: a message on the wire has CRLF line endings and no bare CR
 * or LF. Input may be LF-only or mixed (files, pipes, the mailsplit Rewriter's bare LF after a
 * re-encoded base64 part); this stage fixes that before the MIME splitter sees the bytes and
 * again after the Joiner when body stages may have written bare LFs.
 *  - LF not preceded by CR  -> CRLF
 *  - CR not followed by LF  -> CRLF (a bare CR is a line break to some readers and not to
 *    others; making it one for everybody means the header editor sees what a recipient sees)
 *  - CRLF                   -> unchanged (CRLF input passes byte-for-byte, without copying)
 * A CR at the very end of a chunk is held back until the next chunk (or the end) shows
 * whether an LF follows, so a CRLF split across two writes never doubles.
 *
 * Limits: holds at most one byte between writes. Throws nothing.
 */
import { Transform, type TransformCallback } from 'node:stream';

const CR = 0x0d;
const LF = 0x0a;
const CR_BUF = Buffer.from([CR]);
const LF_BUF = Buffer.from([LF]);
const CRLF_BUF = Buffer.from([CR, LF]);

/** A Transform that normalises its byte stream with a CrlfState. */
export class CrlfNormaliser extends Transform {
  readonly #state = new CrlfState();

  constructor() {
    super({ decodeStrings: true });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const out = this.#state.normalise(chunk);
    if (out !== null) this.push(out);
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const tail = this.#state.takePending();
    if (tail !== null) this.push(tail);
    callback();
  }
}

/** True when every CR in `chunk` is followed by an LF and every LF follows a CR. */
function isCrlfClean(chunk: Buffer): boolean {
  let lfs = 0;
  for (let k = chunk.indexOf(LF); k !== -1; k = chunk.indexOf(LF, k + 1)) {
    if (k === 0 || chunk[k - 1] !== CR) return false;
    lfs++;
  }
  let crs = 0;
  for (let k = chunk.indexOf(CR); k !== -1 && crs <= lfs; k = chunk.indexOf(CR, k + 1)) crs++;
  return crs === lfs;
}

/** The normalisation itself, without stream machinery (MessageStage uses it directly). */
export class CrlfState {
  /** The previous chunk ended in a CR that has not been written yet. */
  #pendingCr = false;

  /** At the end of the input: the bytes still held back (a final bare CR becomes CRLF), or null. */
  takePending(): Buffer | null {
    if (!this.#pendingCr) return null;
    this.#pendingCr = false;
    return CRLF_BUF;
  }

  /** Normalise one chunk; returns the bytes to write now (the chunk itself when unchanged), or null. */
  normalise(chunk: Buffer): Buffer | null {
    const n = chunk.length;
    if (n === 0) return null;
    const pieces: Buffer[] = [];
    let scanFrom = 0;
    if (this.#pendingCr) {
      this.#pendingCr = false;
      if (chunk[0] === LF) {
        // the held-back CR and this LF form one CRLF
        pieces.push(CR_BUF);
        scanFrom = 1;
      } else {
        pieces.push(CRLF_BUF);
      }
    }
    // The usual case, a chunk that is CRLF already, is recognised without copying it: every
    // LF has a CR before it and there are as many CRs as LFs (Buffer#indexOf with a byte is
    // a fast call on Node 20; the Latin-1 copy below cost more than the whole check).
    if (pieces.length === 0 && isCrlfClean(chunk)) return chunk;
    // Otherwise scan a Latin-1 copy with String#indexOf; bytes and chars have the same offsets.
    const text = chunk.toString('latin1');
    // `start`: first byte of `chunk` not yet copied into `pieces`
    let start = 0;
    let nextCr = text.indexOf('\r', scanFrom);
    let nextLf = text.indexOf('\n', scanFrom);
    while (nextCr !== -1 || nextLf !== -1) {
      if (nextCr !== -1 && (nextLf === -1 || nextCr < nextLf)) {
        if (nextCr === n - 1) {
          // cannot tell yet whether an LF follows: hold the CR back
          if (nextCr > start) pieces.push(chunk.subarray(start, nextCr));
          start = n;
          this.#pendingCr = true;
          break;
        }
        if (nextLf === nextCr + 1) {
          // a proper CRLF
          nextCr = text.indexOf('\r', nextLf + 1);
          nextLf = text.indexOf('\n', nextLf + 1);
        } else {
          // bare CR: add the LF after it
          pieces.push(chunk.subarray(start, nextCr + 1), LF_BUF);
          start = nextCr + 1;
          nextCr = text.indexOf('\r', nextCr + 1);
        }
      } else {
        // bare LF (an LF after a CR was skipped above): add the CR before it
        if (nextLf > start) pieces.push(chunk.subarray(start, nextLf));
        pieces.push(CR_BUF);
        start = nextLf;
        nextLf = text.indexOf('\n', nextLf + 1);
      }
    }
    if (start === 0 && pieces.length === 0) return chunk;
    if (start < n) pieces.push(chunk.subarray(start));
    if (pieces.length === 0) return null;
    return pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces);
  }
}
