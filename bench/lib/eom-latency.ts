/**
 * End-of-message latency inside trxmail, for bench/postfix: the time from the moment the
 * milter session takes Postfix's `E` to the moment its last reply frame was handed to the
 * socket (edits and the final reply; the accept step included). Bench-only: it wraps
 * MilterSession.prototype.handle in this process, and uninstall() puts it back.
 *
 * Samples are collected per run (take() returns and forgets them); quantile() is the
 * nearest-rank quantile of one run's samples.
 */
import type { MilterCommand } from '../../src/milter/decode.js';
import { MilterSession, type MilterFrameSink } from '../../src/milter/session.js';

export class EomLatency {
  #samples: number[] = [];
  #uninstall: (() => void) | null = null;

  install(): void {
    if (this.#uninstall) return;
    const proto = MilterSession.prototype;
    type Handle = (this: MilterSession, cmd: MilterCommand, write: MilterFrameSink) => ReturnType<MilterSession['handle']>;
    const original: Handle = Reflect.get<MilterSession, 'handle'>(proto, 'handle');
    const samples = (): number[] => this.#samples;
    proto.handle = async function (this: MilterSession, cmd: MilterCommand, write: MilterFrameSink) {
      if (cmd.type !== 'eom') return original.call(this, cmd, write);
      const t0 = process.hrtime.bigint();
      try {
        return await original.call(this, cmd, write);
      } finally {
        samples().push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    };
    this.#uninstall = () => {
      proto.handle = original;
    };
  }

  uninstall(): void {
    this.#uninstall?.();
    this.#uninstall = null;
  }

  /** The samples (ms) since the last take(). */
  take(): number[] {
    const s = this.#samples;
    this.#samples = [];
    return s;
  }
}

/** Nearest-rank quantile (q in 0..1) of `xs`; NaN when empty. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
