/**
 * The one date grammar of report filters (src/reports/date-bound.ts), in both its uses: the
 * CLI (`--since`/`--until`, a space allowed between date and time) and the reports API
 * (`since`/`until`, "T" only). The callers' own wording is tested in test/cli and
 * test/http/reports-api.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseApiDate } from '../../src/reports/api-query.js';
import { parseDateBound } from '../../src/reports/date-bound.js';
import { parseDateOption } from '../../src/cli/options.js';
import { UsageError } from '../../src/lib/errors.js';

const CLI = { allowSpace: true } as const;
const API = { allowSpace: false } as const;

describe('parseDateBound', () => {
  it('a plain date is its UTC midnight as since, the next midnight as until', () => {
    for (const o of [CLI, API]) {
      expect(parseDateBound('2026-11-22', { ...o, endOfDay: false })?.toISOString()).toBe('2026-11-22T00:00:00.000Z');
      expect(parseDateBound('2026-11-22', { ...o, endOfDay: true })?.toISOString()).toBe('2026-11-23T00:00:00.000Z');
      expect(parseDateBound('2026-12-31', { ...o, endOfDay: true })?.toISOString()).toBe('2027-01-01T00:00:00.000Z');
      expect(parseDateBound('2028-02-29', { ...o, endOfDay: false })?.toISOString()).toBe('2028-02-29T00:00:00.000Z');
    }
  });

  it('a date-time is that instant whatever the bound (zone required)', () => {
    for (const o of [CLI, API]) {
      for (const endOfDay of [false, true]) {
        expect(parseDateBound('2026-11-22T10:00Z', { ...o, endOfDay })?.toISOString()).toBe('2026-11-22T10:00:00.000Z');
        expect(parseDateBound('2026-11-22T10:00:00.5+01:00', { ...o, endOfDay })?.toISOString()).toBe('2026-11-22T09:00:00.500Z');
        expect(parseDateBound('2026-11-22T10:00:00-0230', { ...o, endOfDay })?.toISOString()).toBe('2026-11-22T12:30:00.000Z');
      }
    }
  });

  it('a space between date and time only where allowed (the CLI)', () => {
    expect(parseDateBound('2026-11-22 10:00Z', { ...CLI, endOfDay: false })?.toISOString()).toBe('2026-11-22T10:00:00.000Z');
    expect(parseDateBound('2026-11-22 10:00:30+02:00', { ...CLI, endOfDay: true })?.toISOString()).toBe('2026-11-22T08:00:30.000Z');
    expect(parseDateBound('2026-11-22 10:00Z', { ...API, endOfDay: false })).toBeNull();
    expect(parseApiDate('2026-11-22 10:00Z', false)).toBeNull();
    expect(parseDateOption('--since', '2026-11-22 10:00Z', false).toISOString()).toBe('2026-11-22T10:00:00.000Z');
  });

  it('refuses anything else, in both uses', () => {
    const bad = ['', ' ', 'now', 'yesterday', '1709251200', '2026-3-1', '2026-02-29', '2026-02-30', '2026-13-01', '2026-11-22T10:00', '2026-11-22 10:00',
      '2026-11-22T10:00:00', '2026-11-22T24:61Z', '2026-11-22T10Z', '2026-11-22t10:00Z', '2026-11-22  10:00Z', '2026-11-22T10:00:00.1234Z', ' 2026-11-22', '2026-11-22\n'];
    for (const value of bad) {
      for (const o of [CLI, API]) {
        for (const endOfDay of [false, true]) expect(parseDateBound(value, { ...o, endOfDay }), JSON.stringify(value)).toBeNull();
      }
      expect(() => parseDateOption('--until', value, true), JSON.stringify(value)).toThrow(UsageError);
    }
  });

  it("the CLI's error names the option and quotes the value", () => {
    expect(() => parseDateOption('--until', '2026-02-30', true)).toThrow('--until: expected a date like 2026-11-22 or 2026-11-22T10:00:00Z, got "2026-02-30"');
  });
});
