/**
 * The growth check itself (growth.ts): it must tell linear work from quadratic work, or the
 * "stays linear" tests that use it could never fail.
 */
import { describe, expect, it } from 'vitest';
import { LINEAR_RATIO_LIMIT, measureGrowth } from './growth.js';

const text = (n: number): string => 'ab'.repeat(n / 2);

/** One pass over the text. */
function linear(s: string): number {
  let sum = 0;
  for (let i = 0; i < s.length; i++) sum += s.charCodeAt(i);
  return sum;
}

/** Every pair of positions, as a naive rescan from every offset would. */
function quadratic(s: string): number {
  let same = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    for (let j = i + 1; j < s.length; j++) if (s.charCodeAt(j) === c) same++;
  }
  return same;
}

describe('measureGrowth', () => {
  it('passes linear work', () => {
    const g = measureGrowth(text, linear, 4_000);
    expect(g.small).toBeGreaterThan(0);
    expect(g.ratio).toBeLessThan(LINEAR_RATIO_LIMIT);
  });

  it('catches quadratic work', () => {
    const g = measureGrowth(text, quadratic, 150);
    // About GROWTH_FACTOR², four times the limit.
    expect(g.ratio).toBeGreaterThanOrEqual(LINEAR_RATIO_LIMIT);
  });
});
