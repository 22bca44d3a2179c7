/**
 * In-process V8 CPU profile of the bench's Node process (trxmail's listeners) for one run,
 * through node:inspector, and a summary of where the time went: self time by function and by
 * source file. The raw profile can be saved as a `.cpuprofile` (Chrome DevTools, speedscope).
 *
 * Profiling slows the process down; bench/postfix uses it only for an extra, unmeasured run.
 */
import { Session } from 'node:inspector/promises';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}

export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly startTime: number;
  readonly endTime: number;
  readonly samples?: readonly number[];
  readonly timeDeltas?: readonly number[];
}

export class CpuProfiler {
  private readonly session = new Session();

  async start(samplingIntervalUs = 500): Promise<void> {
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.setSamplingInterval', { interval: samplingIntervalUs });
    await this.session.post('Profiler.start');
  }

  async stop(): Promise<CpuProfile> {
    try {
      const { profile } = await this.session.post('Profiler.stop');
      await this.session.post('Profiler.disable');
      return profile as unknown as CpuProfile;
    } finally {
      this.session.disconnect();
    }
  }
}

export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  readonly share: number;
}

/** Shortens file URLs to a path relative to the repository (or the package in node_modules). */
function shortUrl(url: string): string {
  if (url === '') return '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const m = /\/(src|bench|test)\/.*$/.exec(url);
  return m ? m[0].slice(1) : url.replace(/^file:\/\//, '');
}

/**
 * Self time by function (`name file:line`) and by file, largest first, top `n` each; shares
 * are of the busy time (all samples but `(idle)`).
 */
export function summariseProfile(p: CpuProfile, n: number): { busyMs: number; idleMs: number; byFunction: SelfTime[]; byFile: SelfTime[] } {
  const byId = new Map<number, CallFrame>();
  for (const node of p.nodes) byId.set(node.id, node.callFrame);
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let total = 0;
  let idle = 0;
  for (let i = 0; i < samples.length; i++) {
    const cf = byId.get(samples[i]!);
    const us = deltas[i] ?? 0;
    if (!cf || us <= 0) continue;
    if (cf.functionName === '(idle)') {
      idle += us;
      continue;
    }
    total += us;
    const f = shortUrl(cf.url);
    const name = `${cf.functionName || '(anonymous)'} ${f}${cf.url ? `:${cf.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const key = f === '(native)' ? `${cf.functionName || '(anonymous)'} (native)` : f;
    file.set(key, (file.get(key) ?? 0) + us);
  }
  const top = (m: Map<string, number>): SelfTime[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: us / 1000, share: total > 0 ? us / total : 0 }));
  return { busyMs: total / 1000, idleMs: idle / 1000, byFunction: top(fn), byFile: top(file) };
}
