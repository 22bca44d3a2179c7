/**
 * Growth checks for the "stays linear on hostile input" tests, valid on any machine: the same
 * work is timed on an input of size n and on one of size GROWTH_FACTOR·n, and only the ratio
 * of the two is asserted — never a time, so the speed or the load of the machine does not
 * matter.
 *
 * Why n against 64n and not 4n: linear code is not equally fast per element at every size.
 * Once the input and what the code builds from it (tokens, arrays) no longer fit the CPU
 * caches and V8's young generation, each element costs more: the address parser measured
 * up to about 5× more per character at 200 000 than at 3 000 characters (and 12–14 for a
 * 50 000 → 200 000 step, where quadratic is 16). With a factor of 64, linear work grows by
 * 64 to about 350 and quadratic work by 4096, so LINEAR_RATIO_LIMIT (16 × 64 = 1024) leaves
 * room for a 16× slowdown per element and is still a quarter of quadratic growth.
 *
 * Noise damping: inputs are built before any timing; both sizes run first to warm up (JIT,
 * inline caches); time is the process's CPU time (process.cpuUsage: waiting for a CPU that
 * another process holds is not counted); each measurement repeats the call until it lasts
 * MIN_SAMPLE_MS and is divided by the number of calls; each size is measured twice in a row
 * (the first run after a switch may pay for the other size's garbage) and the best of all
 * its measurements is kept (a GC pause or a busy neighbour only makes a run slower); a ratio
 * over the limit gets more measurements before it is returned.
 */

/** How much larger the large input is than the small one. */
export const GROWTH_FACTOR = 64;
/** Largest time ratio (large / small) accepted as linear: linear ≈ 64–350, quadratic ≈ 4096. */
export const LINEAR_RATIO_LIMIT = 16 * GROWTH_FACTOR;
/** Shortest measurement (ms of CPU time); shorter calls are repeated. */
const MIN_SAMPLE_MS = 2;
/** Most calls in one measurement (a call this cheap is linear in practice). */
const MAX_CALLS = 1 << 16;
/** A ratio over the limit after `repetitions` rounds gets up to this many times as many. */
const MAX_REPETITIONS_FACTOR = 3;

export interface Growth {
  /** Best CPU time of one call on the small input (ms). */
  readonly small: number;
  /** Best CPU time of one call on the large input (ms). */
  readonly large: number;
  /** large / small. */
  readonly ratio: number;
}

export interface GrowthOptions {
  readonly factor?: number;
  readonly repetitions?: number;
}

/** Results are kept here so that no call can be optimised away. */
let sink: unknown;

/** CPU time (user + system, ms) of `calls` calls. */
function cpuTime<T>(run: (input: T) => unknown, input: T, calls: number): number {
  const before = process.cpuUsage();
  for (let i = 0; i < calls; i++) sink = run(input);
  const spent = process.cpuUsage(before);
  return (spent.user + spent.system) / 1000;
}

/** One size: calls per measurement, fixed during warm-up, and the best time per call so far. */
class Sample<T> {
  calls = 1;
  best = Infinity;

  constructor(
    readonly run: (input: T) => unknown,
    readonly input: T,
  ) {
    // Warm-up, and enough calls per measurement to last MIN_SAMPLE_MS.
    while (cpuTime(run, input, this.calls) < MIN_SAMPLE_MS && this.calls < MAX_CALLS) this.calls *= 2;
  }

  measure(): void {
    this.best = Math.min(this.best, cpuTime(this.run, this.input, this.calls) / this.calls);
  }
}

/**
 * Times `run(build(n))` against `run(build(factor·n))`, as CPU time per call. Pick `n` so that
 * the large input is as large as the hostile input the test is about.
 */
export function measureGrowth<T>(build: (n: number) => T, run: (input: T) => unknown, n: number, opts: GrowthOptions = {}): Growth {
  const factor = opts.factor ?? GROWTH_FACTOR;
  const repetitions = opts.repetitions ?? 3;
  const limit = 16 * factor;
  const small = new Sample(run, build(n));
  const large = new Sample(run, build(n * factor));
  // Past `repetitions`, keep measuring while the ratio looks too high: noise fades as more
  // samples are kept, real quadratic growth does not.
  for (let i = 0; i < repetitions || (large.best / small.best >= limit && i < MAX_REPETITIONS_FACTOR * repetitions); i++) {
    small.measure();
    small.measure();
    large.measure();
    large.measure();
  }
  void sink;
  return { small: small.best, large: large.best, ratio: large.best / small.best };
}
