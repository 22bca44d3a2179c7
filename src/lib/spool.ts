/**
 * A byte spool: message bodies (and rewritten copies) kept in memory up to
 * SPOOL_MEMORY_BYTES and spilled to a temporary file beyond, so memory stays bounded
 * whatever the message size. Written once, then read (any number of times) as a stream of
 * chunks, then disposed (the file is removed).
 *
 * Limits: `maxBytes` (default MAX_SPOOL_BYTES; a message body's spool gets the message size
 * limit) in total — writing past it throws RejectError `552 5.3.4 Message size exceeds fixed
 * limit of N bytes` (Postfix's message_size_limit, the same value, normally stops such a
 * message first: it counts the header too).
 * Throws TransientError when the temporary file cannot be written (disk full): a 4xx.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvariantError, RejectError, TransientError } from './errors.js';
import { MAX_SPOOL_BYTES, SPOOL_MEMORY_BYTES } from './limits.js';

export class Spool {
  private chunks: Buffer[] = [];
  private file: FileHandle | null = null;
  private filePath: string | null = null;
  private ended = false;
  private disposed = false;
  size = 0;

  constructor(
    private readonly dir: string = tmpdir(),
    private readonly memoryLimit: number = SPOOL_MEMORY_BYTES,
    private readonly maxBytes: number = MAX_SPOOL_BYTES,
  ) {}

  /** True once the content went to a file. */
  get onDisk(): boolean {
    return this.filePath !== null;
  }

  /**
   * Adds a chunk. `owned`: the caller hands the chunk over and never touches its bytes again,
   * so it is kept as it is instead of copied (e.g. a milter body chunk, a private buffer).
   */
  async write(chunk: Uint8Array, owned = false): Promise<void> {
    if (this.ended || this.disposed) throw new InvariantError('spool: write after end');
    if (this.size + chunk.length > this.maxBytes) {
      throw new RejectError('ESPOOL_FULL', { code: 552, enhanced: '5.3.4', text: `Message size exceeds fixed limit of ${this.maxBytes} bytes` });
    }
    this.size += chunk.length;
    const copy = owned ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length) : Buffer.from(chunk);
    if (this.file === null && this.size <= this.memoryLimit) {
      this.chunks.push(copy);
      return;
    }
    try {
      if (this.file === null) {
        mkdirSync(this.dir, { recursive: true });
        this.filePath = path.join(this.dir, `trxmail-spool-${process.pid}-${randomBytes(8).toString('hex')}`);
        this.file = await open(this.filePath, 'wx', 0o600);
        for (const c of this.chunks) await this.file.write(c);
        this.chunks = [];
      }
      await this.file.write(copy);
    } catch (err: unknown) {
      if (err instanceof RejectError) throw err;
      throw new TransientError('ESPOOL_IO', `spool: cannot write ${this.filePath ?? this.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  async end(): Promise<void> {
    this.ended = true;
    if (this.file) {
      await this.file.close();
      this.file = null;
    }
  }

  /** The content as chunks (memory) or a file stream; call after end(). */
  async *read(chunkSize = 64 * 1024): AsyncGenerator<Buffer> {
    if (!this.ended || this.disposed) throw new InvariantError('spool: read before end or after dispose');
    if (this.filePath === null) {
      for (const c of this.chunks) yield c;
      return;
    }
    for await (const c of createReadStream(this.filePath, { highWaterMark: chunkSize })) yield c as Buffer;
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.chunks = [];
    if (this.file) await this.file.close().catch(() => undefined);
    this.file = null;
    if (this.filePath) await rm(this.filePath, { force: true });
    this.filePath = null;
  }
}
