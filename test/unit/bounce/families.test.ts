/**
 * The bounce families of issue 13 (test/fixtures/bounces/families, written by
 * generate-families.ts): each message gives the expected failed recipients with their kind
 * (hard/soft) and reason, auto-replies are 'other' with note 'auto-reply', legacy complaints
 * are complaints about the right reader. Then the share over every fixture (the hand-written
 * and captured ones of test/fixtures/bounces too): recipients found and reasons right, printed,
 * and required to be all of them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyseMessage, type MessageAnalysis } from '../../../src/bounce/analysis/analyse.js';
import { BOUNCE_REASONS } from '../../../src/core/bounce-reason.js';
import { BOUNCE_DOMAIN, FIXTURE_DIR, FIXTURE_KEYS, substitute } from './fixture-helpers.js';

const FAMILY_DIR = join(FIXTURE_DIR, 'families');

interface ExpectedRecipient {
  readonly recipient: string;
  readonly kind: 'hard' | 'soft' | 'success';
  readonly reason: string | null;
}
interface FamilySpec {
  readonly description: string;
  readonly envelopeRecipient?: string;
  readonly expect: {
    readonly kind: MessageAnalysis['kind'];
    readonly format?: MessageAnalysis['format'];
    readonly recipients: readonly ExpectedRecipient[];
    readonly notes?: readonly string[];
    readonly complaintRcpt?: readonly string[];
  };
}

function load(dir: string, name: string): { raw: Buffer; spec: FamilySpec } {
  const raw = Buffer.from(substitute(readFileSync(join(dir, `${name}.eml`)).toString('latin1')), 'latin1');
  const spec = JSON.parse(substitute(readFileSync(join(dir, `${name}.json`), 'utf8'))) as FamilySpec;
  return { raw, spec };
}

const emlNames = (dir: string): string[] =>
  readdirSync(dir)
    .filter((n) => n.endsWith('.eml'))
    .map((n) => n.slice(0, -4))
    .sort();

const analyse = (raw: Buffer, spec: FamilySpec): MessageAnalysis =>
  analyseMessage(raw, { keys: FIXTURE_KEYS, bounceDomain: BOUNCE_DOMAIN, envelopeRecipient: spec.envelopeRecipient });

const families = emlNames(FAMILY_DIR);

describe('bounce families (issue 13)', () => {
  it('has at least 120 family samples and together with the others at least 150', () => {
    expect(families.length).toBeGreaterThanOrEqual(120);
    expect(families.length + emlNames(FIXTURE_DIR).length).toBeGreaterThanOrEqual(150);
  });

  it('the expectations cover every reason, hard and soft, auto-replies and complaints', () => {
    const specs = families.map((n) => load(FAMILY_DIR, n).spec.expect);
    const reasons = new Set(specs.flatMap((s) => s.recipients.map((r) => r.reason)));
    expect(BOUNCE_REASONS.filter((r) => !reasons.has(r))).toEqual([]);
    const kinds = new Set(specs.flatMap((s) => s.recipients.map((r) => r.kind)));
    expect([...kinds].sort()).toEqual(['hard', 'soft']);
    expect(specs.filter((s) => s.notes?.includes('auto-reply')).length).toBeGreaterThanOrEqual(5);
    expect(specs.some((s) => s.kind === 'complaint')).toBe(true);
  });

  for (const name of families) {
    const { raw, spec } = load(FAMILY_DIR, name);
    it(`${name}: ${spec.description}`, () => {
      const a = analyse(raw, spec);
      expect(a.kind).toBe(spec.expect.kind);
      if (spec.expect.format !== undefined) expect(a.format).toBe(spec.expect.format);
      expect(a.recipients.map((r) => ({ recipient: r.recipient, kind: r.kind, reason: r.reason }))).toEqual(spec.expect.recipients);
      for (const note of spec.expect.notes ?? []) expect(a.notes).toContain(note);
      if (spec.expect.complaintRcpt !== undefined) expect(a.complaint?.originalRcptTo).toEqual(spec.expect.complaintRcpt);
      // the bounce address always decodes, and is never reported as a failed recipient
      expect(a.bounceAddress?.ok).toBe(true);
      expect(a.recipients.some((r) => r.recipient.toLowerCase().endsWith(`@${BOUNCE_DOMAIN}`) || r.recipient === 'orders@shop.example.com')).toBe(false);
      for (const r of a.recipients) expect(r.reasonRule).not.toBe('');
      // the same with CRLF line ends (the files are LF; LMTP delivers CRLF)
      const crlf = Buffer.from(raw.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
      expect(analyse(crlf, spec)).toEqual(a);
    });
  }
});

describe('share over every bounce fixture', () => {
  it('finds every failed recipient and classifies every reason', () => {
    let expectedRecipients = 0;
    let found = 0;
    let expectedReasons = 0;
    let reasons = 0;
    let messages = 0;
    const misses: string[] = [];
    const tally = (name: string, a: MessageAnalysis, want: readonly ExpectedRecipient[]): void => {
      messages++;
      for (const w of want) {
        if (w.kind === 'success') continue;
        expectedRecipients++;
        const got = a.recipients.find((r) => r.recipient === w.recipient);
        if (got === undefined) {
          misses.push(`${name}: ${w.recipient} not found`);
          continue;
        }
        found++;
        expectedReasons++;
        if (got.reason === w.reason && got.kind === w.kind) reasons++;
        else misses.push(`${name}: ${w.recipient} ${got.kind}/${String(got.reason)}, expected ${w.kind}/${String(w.reason)}`);
      }
    };
    for (const name of families) {
      const { raw, spec } = load(FAMILY_DIR, name);
      tally(name, analyse(raw, spec), spec.expect.recipients);
    }
    for (const name of emlNames(FIXTURE_DIR)) {
      const { raw, spec } = load(FIXTURE_DIR, name);
      tally(name, analyse(raw, spec), spec.expect.recipients);
    }
    console.log(`bounce fixtures: ${messages} messages, found ${found}/${expectedRecipients} recipients, reasons ${reasons}/${expectedReasons}`);
    expect(misses).toEqual([]);
    expect(found).toBe(expectedRecipients);
    expect(reasons).toBe(expectedReasons);
    expect(expectedRecipients).toBeGreaterThanOrEqual(150);
  });
});
