import { describe, expect, it } from 'vitest';
import { effectiveFlags, parseFlagsValue } from '../../../src/core/flags.js';
import { DEFAULT_FLAGS, MAX_FLAGS, type HeaderField } from '../../../src/core/types.js';
import { InvariantError } from '../../../src/lib/errors.js';

const h = (name: string, value: string): HeaderField => ({ name, value });

describe('parseFlagsValue', () => {
  it.each([
    ['0', 0],
    ['3', 3],
    [' 15 ', 15],
    ['\t7\t', 7],
    ['0003', 3],
    ['00', 0],
    ['000000000000000000015', 15],
    [' 1\r\n 2', null], // unfolds to "1 2": two numbers
    ['1\r\n', 1],
  ])('%j → %j', (value, expected) => {
    expect(parseFlagsValue(value)).toBe(expected);
  });

  it.each(['abc', '-1', '+3', '99', '16', '3 4', '', '  ', '0x3', '3.0', '1e1', '３', '٣', '3,4', '0b11', 'NaN', '15a'])(
    '%j is invalid',
    (value) => {
      expect(parseFlagsValue(value)).toBeNull();
    },
  );

  it('accepts exactly MAX_FLAGS and refuses one more', () => {
    expect(parseFlagsValue(String(MAX_FLAGS))).toBe(MAX_FLAGS);
    expect(parseFlagsValue(String(MAX_FLAGS + 1))).toBeNull();
  });
});

describe('effectiveFlags precedence', () => {
  it('header wins over everything', () => {
    expect(effectiveFlags([h('X-Mxm-Flags', '8')], 1, 2)).toEqual({ ok: true, flags: 8, source: 'header' });
  });
  it('then the per-from-address default', () => {
    expect(effectiveFlags([], 1, 2)).toEqual({ ok: true, flags: 1, source: 'from-address' });
  });
  it('then the space default', () => {
    expect(effectiveFlags([], null, 2)).toEqual({ ok: true, flags: 2, source: 'space' });
  });
  it('then the built-in default, 3', () => {
    expect(DEFAULT_FLAGS).toBe(3);
    expect(effectiveFlags([], null, null)).toEqual({ ok: true, flags: 3, source: 'default' });
  });
  it('a header of 0 is honoured (not treated as absent)', () => {
    expect(effectiveFlags([h('x-mxm-flags', '0')], 5, 6)).toEqual({ ok: true, flags: 0, source: 'header' });
  });
  it('only the first field counts, whatever the second says', () => {
    expect(effectiveFlags([h('X-Mxm-Flags', '4'), h('X-MXM-FLAGS', 'abc')], null, null)).toEqual({
      ok: true,
      flags: 4,
      source: 'header',
    });
    expect(effectiveFlags([h('X-Mxm-Flags', 'abc'), h('X-Mxm-Flags', '4')], null, null)).toEqual({ ok: false, value: 'abc' });
  });
  it('an invalid header is reported with its unfolded, trimmed value', () => {
    expect(effectiveFlags([h('X-Mxm-Flags', ' 3\r\n 4 ')], null, null)).toEqual({ ok: false, value: '3 4' });
  });
  it('configured defaults out of range are a bug', () => {
    expect(() => effectiveFlags([], 16, null)).toThrow(InvariantError);
    expect(() => effectiveFlags([], null, -1)).toThrow(InvariantError);
    expect(() => effectiveFlags([], 1.5, null)).toThrow(InvariantError);
  });
});
