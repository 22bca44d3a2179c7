/**
 * Every test/fixtures/bounces/<name>.eml through analyseMessage, checked against its
 * <name>.json (the whole expected analysis). Placeholders ({{BOUNCE:…}}, {{REF:…}},
 * {{FORGED:…}}) are substituted in both with addresses generated for the fixture key, so the
 * fixtures stay readable and their checks valid (fixture-helpers.ts).
 *
 * The Postfix fixtures are real Postfix 3.7.11 output (a private instance bouncing against a
 * scripted remote MX); the others are written after real samples of each MTA (see "source").
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseMessage } from '../../../src/bounce/analysis/analyse.js';
import { BOUNCE_DOMAIN, FIXTURE_DIR, FIXTURE_KEYS, loadFixture, substitute } from './fixture-helpers.js';

interface FixtureSpec {
  readonly description: string;
  readonly source: string;
  readonly envelopeRecipient?: string;
  readonly expect: unknown;
}

const names = readdirSync(FIXTURE_DIR)
  .filter((n) => n.endsWith('.eml'))
  .map((n) => n.slice(0, -4))
  .sort();

function spec(name: string): FixtureSpec {
  return JSON.parse(substitute(readFileSync(join(FIXTURE_DIR, `${name}.json`), 'utf8'))) as FixtureSpec;
}

function analyse(name: string, raw: Buffer = loadFixture(`${name}.eml`)): ReturnType<typeof analyseMessage> {
  const s = spec(name);
  return analyseMessage(raw, { keys: FIXTURE_KEYS, bounceDomain: BOUNCE_DOMAIN, envelopeRecipient: s.envelopeRecipient });
}

describe('bounce fixtures', () => {
  it('has at least 20 samples, each with its expectation', () => {
    expect(names.length).toBeGreaterThanOrEqual(20);
    const jsons = readdirSync(FIXTURE_DIR)
      .filter((n) => n.endsWith('.json'))
      .map((n) => n.slice(0, -5))
      .sort();
    expect(jsons).toEqual(names);
  });

  it('covers the shapes the issue asks for', () => {
    const all = names.map((n) => ({ name: n, a: analyse(n) }));
    const some = (pred: (a: ReturnType<typeof analyseMessage>) => boolean): boolean => all.some((x) => pred(x.a));
    expect(some((a) => a.format === 'dsn' && a.recipients.some((r) => r.kind === 'hard'))).toBe(true);
    expect(some((a) => a.recipients.some((r) => r.action === 'delayed'))).toBe(true);
    expect(some((a) => a.recipients.some((r) => r.kind === 'success'))).toBe(true);
    expect(some((a) => a.recipients.some((r) => r.kind === 'hard') && a.recipients.some((r) => r.kind === 'soft'))).toBe(true);
    expect(some((a) => a.format === 'heuristic')).toBe(true);
    expect(some((a) => a.kind === 'complaint')).toBe(true);
    expect(some((a) => a.format === 'arf' && a.kind === 'other')).toBe(true);
    expect(some((a) => a.notes.includes('auto-reply'))).toBe(true);
    expect(some((a) => a.bounceAddress?.ok === false && a.bounceAddress.reason === 'bad-check')).toBe(true);
    expect(some((a) => a.bounceAddress?.ok === false && a.bounceAddress.reason === 'not-ours' && a.kind === 'bounce')).toBe(true);
    expect(some((a) => a.bounceAddress?.ok === true && a.bounceAddress.bccCopy)).toBe(true);
    expect(some((a) => a.recipients.some((r) => /[^\x00-\x7f]/.test(r.recipient)))).toBe(true);
  });

  for (const name of names) {
    const s = spec(name);
    it(`${name}: ${s.description}`, () => {
      expect(analyse(name)).toEqual(s.expect);
    });
  }

  for (const name of names.filter((n) => n !== 'garbage')) {
    it(`${name}: the same analysis with LF and with CRLF line ends`, () => {
      const raw = loadFixture(`${name}.eml`);
      const lf = Buffer.from(raw.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
      const crlf = Buffer.from(lf.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
      const expected = spec(name).expect;
      expect(analyse(name, lf)).toEqual(expected);
      expect(analyse(name, crlf)).toEqual(expected);
    });
  }

  it('every prefix of a fixture is analysed without throwing', () => {
    for (const name of ['postfix-hard-550', 'o365-ndr-dsn', 'arf-yahoo-abuse', 'qmail-bounce', 'exim-failed-via-pipe']) {
      const raw = loadFixture(`${name}.eml`);
      for (let cut = 0; cut <= raw.length; cut += 11) {
        const a = analyse(name, raw.subarray(0, cut));
        expect(['bounce', 'complaint', 'other']).toContain(a.kind);
      }
    }
  });
});
