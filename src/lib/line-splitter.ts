/**
 * Incremental LF line splitter with a hard length cap, for the line-based peer protocols
 * (Dovecot auth, src/auth/codec.ts; Postfix policy delegation, src/policy/codec.ts).
 *
 * Bytes are pushed in whatever pieces the socket delivers; `next()` hands out one complete
 * line at a time (without its LF, as a copy), so the caller handles every line before the
 * splitter looks at the next one. A line longer than `maxLine` bytes (not counting the LF)
 * is refused by calling `tooLong` and throwing what it returns — as soon as the buffered
 * partial line passes the cap, without waiting for its LF, so a peer cannot make us buffer
 * more than `maxLine + 1` bytes plus one socket chunk. The outcome is the same however the
 * input is split: earlier lines are handed out first, then the error.
 *
 * Pure: no I/O. Throws only what `tooLong` returns (the codecs make it a ProtocolError).
 */

const LF = 0x0a;

export class LineSplitter {
  readonly #maxLine: number;
  readonly #tooLong: (length: number) => Error;
  #buf: Buffer = Buffer.alloc(0);
  /** Bytes at the start of #buf already known to contain no LF. */
  #scanned = 0;

  constructor(maxLine: number, tooLong: (length: number) => Error) {
    this.#maxLine = maxLine;
    this.#tooLong = tooLong;
  }

  /** Append received bytes (copied; the caller may reuse its buffer). */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#buf = this.#buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buf, chunk]);
  }

  /** The next complete line without its LF, or null if none is complete yet. Throws on a line over the cap. */
  next(): Buffer | null {
    const lf = this.#buf.indexOf(LF, this.#scanned);
    if (lf === -1) {
      this.#scanned = this.#buf.length;
      if (this.#buf.length > this.#maxLine) throw this.#tooLong(this.#buf.length);
      return null;
    }
    if (lf > this.#maxLine) throw this.#tooLong(lf);
    const line = Buffer.from(this.#buf.subarray(0, lf));
    this.#buf = this.#buf.subarray(lf + 1);
    this.#scanned = 0;
    return line;
  }

  /** Bytes received but not yet handed out as a line. */
  get buffered(): number {
    return this.#buf.length;
  }
}
