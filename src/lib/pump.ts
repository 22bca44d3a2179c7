/**
 * pumpThrough: bytes from an async iterable, through one Duplex, into an async sink — what
 * `stream.pipeline(Readable.from(source), duplex, new Writable(...))` does for the accept
 * step's renderings, without its fixed cost per call. On Node 20 a pipeline of three streams
 * costs ~150 µs of CPU however small the message (three stream objects, end-of-stream
 * listeners on each, and an AbortController aborted at the end, whose DOMException alone is
 * ~22 µs); a 5 KB message rendered with tracking paid that per copy (issue 15).
 *
 * Semantics (the ones the callers relied on from pipeline):
 *  - backpressure both ways: the source is read only while the duplex takes more
 *    (`write()` true, else after 'drain'), and the duplex is paused while a sink call is
 *    pending;
 *  - resolves once the duplex has ended and every sink call has resolved;
 *  - rejects with the first error of the source, the duplex or the sink; the duplex is then
 *    destroyed and the source's iterator closed (its `return()`: a generator's finally runs).
 *    A duplex that closes without ending rejects with a premature-close error.
 */
import type { Duplex } from 'node:stream';
import { InvariantError } from './errors.js';

export function pumpThrough(source: AsyncIterable<Uint8Array>, duplex: Duplex, sink: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    let ended = false;
    /** Sink calls not yet resolved: 'end' can come while the last one is pending. */
    let pending = 0;
    let wake: (() => void) | null = null;
    const finishIfDone = (): void => {
      if (settled || !ended || pending > 0) return;
      settled = true;
      resolve();
    };
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      duplex.destroy();
      wake?.();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    duplex.on('error', fail);
    duplex.on('close', () => {
      wake?.();
      if (!ended) fail(new InvariantError('pump: the stream closed before it ended'));
    });
    duplex.on('drain', () => wake?.());
    duplex.on('data', (chunk: Buffer) => {
      if (settled) return;
      let result: Promise<void> | void;
      try {
        result = sink(chunk);
      } catch (err: unknown) {
        fail(err);
        return;
      }
      if (result === undefined) return;
      pending++;
      duplex.pause();
      result.then(() => {
        pending--;
        if (settled) return;
        if (ended) finishIfDone();
        else duplex.resume();
      }, fail);
    });
    duplex.on('end', () => {
      ended = true;
      finishIfDone();
    });
    const feed = async (): Promise<void> => {
      for await (const chunk of source) {
        if (settled) return;
        if (!duplex.write(chunk)) {
          await new Promise<void>((w) => {
            wake = w;
          });
          wake = null;
          if (settled) return;
        }
      }
      if (!settled) duplex.end();
    };
    feed().catch(fail);
  });
}
