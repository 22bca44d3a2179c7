/**
 * Every test/fixtures/<name>.eml through the streaming transform with the core rules, checked
 * against its <name>.json (envelope, optional facts, expected verdict and output headers).
 *
 * Output headers are read back with the small parser below, independent of production code.
 * For every accepted fixture the body (everything after the header block) must be
 * byte-identical to the CRLF-normalised input, and every header field the rules do not touch
 * must come out byte-identical and in the same order.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluate } from '../../src/core/evaluate.js';
import { rejectErrorFor } from '../../src/core/replies.js';
import type { Facts, FlagSource, HeaderField, SuppressionAnswer, Verdict } from '../../src/core/types.js';
import { RejectError } from '../../src/lib/errors.js';
import { rewriteMessage } from '../../src/transform/message-transform.js';

const DIR = join(import.meta.dirname, '..', 'fixtures');

interface FixtureSpec {
  description: string;
  mailFrom: string;
  rcptTo: string[];
  facts?: {
    domains?: string[];
    allowSubdomains?: boolean;
    defaultFlags?: number | null;
    fromAddressFlags?: number | null;
    suppression?: Record<string, SuppressionAnswer>;
  };
  expect:
    | { reject: { reason: string; code: number; enhanced: string } }
    | {
        accept: {
          to: string;
          bcc: string | null;
          discarded: string[];
          flags: number;
          flagsSource: FlagSource;
          tags: string[];
          /** Expected fields after the rewrite, as unfolded `Name:value` lines, all of that name in order. */
          headers: Record<string, string[]>;
          /** Like `headers`, as regular expressions over the single unfolded line. */
          headersMatch?: Record<string, string>;
          /** Field names that must not be in the output's top-level header block. */
          absent: string[];
          removeRecipients?: string[];
          deliverTo?: string[];
          fromDisplayName?: string;
          /** No edits at all: the output equals the CRLF-normalised input. */
          identical?: boolean;
          /** Lines that must still be in the body exactly (headers of an attached message). */
          innerLines?: string[];
        };
      };
}

// --- independent helpers ------------------------------------------------------------------

function crlf(buf: Buffer): Buffer {
  return Buffer.from(buf.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** Header block (with its last CRLF) and body (after the empty line; null when there is none). */
function split(buf: Buffer): { header: Buffer; body: Buffer | null } {
  const i = buf.indexOf('\r\n\r\n');
  if (i < 0) return { header: buf, body: null };
  return { header: buf.subarray(0, i + 2), body: buf.subarray(i + 4) };
}

interface Field {
  name: string;
  /** The whole field, continuation lines included, with line ends. */
  raw: Buffer;
  /** `Name:value` with CRLF removed, decoded as UTF-8. */
  line: string;
}

function fields(header: Buffer): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < header.length) {
    let end = header.indexOf('\r\n', pos);
    end = end < 0 ? header.length : end + 2;
    const first = header[pos];
    const last = out[out.length - 1];
    if ((first === 0x20 || first === 0x09) && last) {
      last.raw = Buffer.concat([last.raw, header.subarray(pos, end)]);
    } else {
      out.push({ name: '', raw: header.subarray(pos, end), line: '' });
    }
    pos = end;
  }
  for (const f of out) {
    f.line = f.raw.toString('utf8').replace(/\r\n/g, '');
    f.name = f.line.slice(0, Math.max(0, f.line.indexOf(':'))).trim();
  }
  return out;
}

const EDITED = /^(from|to|cc|bcc|sender|x-mxm-.*)$/i;

function factsFor(spec: FixtureSpec, headers: readonly HeaderField[]): Facts {
  const f = spec.facts ?? {};
  return {
    space: {
      id: 1,
      name: 'fixtures',
      domains: f.domains ?? ['example.com', 'xn--bcher-kva.example'],
      allowSubdomains: f.allowSubdomains ?? false,
      defaultFlags: f.defaultFlags ?? null,
    },
    user: 'user@example.com',
    mailFrom: spec.mailFrom,
    rcptTo: spec.rcptTo,
    headers,
    fromAddressFlags: f.fromAddressFlags ?? null,
    suppression: f.suppression ?? {},
    bounceAddress: 'trx-1-1-check@bounce.example.net',
  };
}

const names = readdirSync(DIR)
  .filter((n) => n.endsWith('.eml'))
  .map((n) => n.slice(0, -4))
  .sort();

describe('fixtures', () => {
  it('there are at least 32, each with its .json', () => {
    expect(names.length).toBeGreaterThanOrEqual(32);
    const jsons = readdirSync(DIR).filter((n) => n.endsWith('.json'));
    expect(jsons.map((n) => n.slice(0, -5)).sort()).toEqual(names);
  });

  it.each(names)('%s', async (name) => {
    const input = readFileSync(join(DIR, `${name}.eml`));
    const spec = JSON.parse(readFileSync(join(DIR, `${name}.json`), 'utf8')) as FixtureSpec;
    let verdict: Verdict | undefined;
    const run = rewriteMessage(input, {
      onHeaders(headerFields) {
        verdict = evaluate(factsFor(spec, headerFields));
        if (verdict.kind === 'reject') throw rejectErrorFor(verdict);
        return verdict.headerEdits;
      },
    });

    if ('reject' in spec.expect) {
      const want = spec.expect.reject;
      const err: unknown = await run.then(
        () => new Error('expected a rejection'),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RejectError);
      const reply = (err as RejectError).reply;
      expect({ reason: (err as RejectError).code, code: reply.code, enhanced: reply.enhanced }).toEqual(want);
      expect(reply.text).toMatch(/^[\x20-\x7e]+$/);
      expect(verdict?.kind).toBe('reject');
      return;
    }

    const want = spec.expect.accept;
    const output = await run;
    if (verdict?.kind !== 'accept') throw new Error('expected an acceptance');
    expect({
      to: verdict.to,
      bcc: verdict.bcc,
      discarded: verdict.discarded,
      flags: verdict.flags,
      flagsSource: verdict.flagsSource,
      tags: verdict.tags,
    }).toEqual({
      to: want.to,
      bcc: want.bcc,
      discarded: want.discarded,
      flags: want.flags,
      flagsSource: want.flagsSource,
      tags: want.tags,
    });
    if (want.removeRecipients) expect(verdict.removeRecipients).toEqual(want.removeRecipients);
    if (want.deliverTo) expect(verdict.deliverTo).toEqual(want.deliverTo);
    if (want.fromDisplayName !== undefined) expect(verdict.fromDisplayName).toBe(want.fromDisplayName);
    expect(verdict.envelopeSender).toBe('trx-1-1-check@bounce.example.net');

    const normalised = crlf(input);
    expect(/(?<!\r)\n/.test(output.toString('latin1'))).toBe(false); // CRLF only
    if (want.identical) {
      expect(verdict.headerEdits).toEqual([]);
      expect(output.equals(normalised)).toBe(true);
    }

    const inParts = split(normalised);
    const outParts = split(output);
    // Body byte-identical (a message without a body may come out with an empty one).
    expect((outParts.body ?? Buffer.alloc(0)).equals(inParts.body ?? Buffer.alloc(0))).toBe(true);

    const inFields = fields(inParts.header);
    const outFields = fields(outParts.header);
    const byName = (fs: Field[], n: string): Field[] => fs.filter((f) => f.name.toLowerCase() === n.toLowerCase());

    // Exactly one From, carrying MAIL FROM; at most one To.
    expect(byName(outFields, 'From')).toHaveLength(1);
    expect(byName(outFields, 'From')[0]?.line).toContain(verdict.from);
    expect(byName(outFields, 'To').length).toBeLessThanOrEqual(1);

    for (const [n, lines] of Object.entries(want.headers)) {
      expect(byName(outFields, n).map((f) => f.line)).toEqual(lines);
    }
    for (const [n, re] of Object.entries(want.headersMatch ?? {})) {
      const got = byName(outFields, n);
      expect(got).toHaveLength(1);
      expect(got[0]?.line).toMatch(new RegExp(re));
    }
    for (const n of want.absent) expect(byName(outFields, n)).toEqual([]);
    for (const f of outFields) expect(f.name.toLowerCase().startsWith('x-mxm-')).toBe(false);

    // Untouched fields: same bytes, same order.
    const untouched = (fs: Field[]): string[] => fs.filter((f) => !EDITED.test(f.name)).map((f) => f.raw.toString('latin1'));
    expect(untouched(outFields)).toEqual(untouched(inFields));

    for (const line of want.innerLines ?? []) {
      expect(outParts.body?.includes(`\r\n${line}\r\n`)).toBe(true);
    }
  });
});
