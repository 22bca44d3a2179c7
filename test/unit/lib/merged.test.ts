import { describe, expect, it } from 'vitest';
import { merged } from '../../../src/lib/merged.js';

describe('merged', () => {
  it('is { ...a, ...b }: a new object, later keys win, the inputs untouched', () => {
    const a = { x: 1, y: 'a', z: [1] };
    const b = { y: null, w: true };
    const m = merged(a, b);
    expect(m).toEqual({ x: 1, y: null, z: [1], w: true });
    expect(m).not.toBe(a);
    expect(a).toEqual({ x: 1, y: 'a', z: [1] });
    expect(b).toEqual({ y: null, w: true });
    expect(Object.keys(m)).toEqual(['x', 'y', 'z', 'w']);
  });
});
