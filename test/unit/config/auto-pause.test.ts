/** trxmail.yaml `autoPause` (core/sending-limits.ts): defaults, partial values, errors naming the key. */
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../../../src/config/config.js';
import { DEFAULT_AUTO_PAUSE, MAX_AUTO_PAUSE_WINDOW_HOURS } from '../../../src/core/sending-limits.js';

const load = (yaml: string) => parseConfig(parse(yaml) ?? {}, { file: 'trxmail.yaml', env: {}, baseDir: '/etc/trxmail' });

describe('autoPause', () => {
  it('defaults near SES: 24 h, from 100 recipients, 10 % hard bounces, 0.5 % complaints', () => {
    expect(load('{}\n').autoPause).toEqual({ enabled: true, windowHours: 24, minVolume: 100, hardBounceRate: 10, complaintRate: 0.5 });
    expect(load('autoPause: {}\n').autoPause).toEqual(DEFAULT_AUTO_PAUSE);
  });

  it('takes each key alone', () => {
    expect(load('autoPause:\n  minVolume: 20\n  hardBounceRate: 5\n').autoPause).toEqual({ ...DEFAULT_AUTO_PAUSE, minVolume: 20, hardBounceRate: 5 });
    expect(load('autoPause:\n  enabled: false\n').autoPause.enabled).toBe(false);
    expect(load(`autoPause:\n  windowHours: ${MAX_AUTO_PAUSE_WINDOW_HOURS}\n`).autoPause.windowHours).toBe(MAX_AUTO_PAUSE_WINDOW_HOURS);
  });

  it.each([
    [`autoPause:\n  windowHours: ${MAX_AUTO_PAUSE_WINDOW_HOURS + 1}\n`, /trxmail\.yaml: autoPause\.windowHours: /],
    ['autoPause:\n  windowHours: 0\n', /autoPause\.windowHours: /],
    ['autoPause:\n  minVolume: 0\n', /autoPause\.minVolume: /],
    ['autoPause:\n  hardBounceRate: 0\n', /autoPause\.hardBounceRate: /],
    ['autoPause:\n  complaintRate: 101\n', /autoPause\.complaintRate: /],
    ['autoPause:\n  enabled: "yes"\n', /autoPause\.enabled: /],
    ['autoPause:\n  bounceRate: 5\n', /autoPause/],
  ])('refuses %j naming the key', (yaml, re) => {
    expect(() => load(yaml)).toThrow(re);
  });
});
