import { describe, expect, it } from 'vitest';
import { evaluate } from '../../../src/core/evaluate.js';
import type { Facts, HeaderField, Verdict } from '../../../src/core/types.js';
import { listUnsubscribeValue, unsubscribeOption } from '../../../src/core/unsubscribe.js';

const hdrs = (...pairs: [string, string][]): HeaderField[] => pairs.map(([name, value]) => ({ name, value }));
const base = (...extra: [string, string][]): HeaderField[] => hdrs(['From', ' news@example.com'], ['To', ' bob@x.org'], ...extra);

function facts(headers: HeaderField[], o: Partial<Facts> = {}): Facts {
  return {
    space: { id: 7, name: 'acme', domains: ['example.com'], allowSubdomains: false, defaultFlags: null },
    user: 'user@example.com',
    mailFrom: 'news@example.com',
    rcptTo: ['bob@x.org', 'archive@example.com'],
    headers,
    fromAddressFlags: null,
    suppression: {},
    bounceAddress: 'trx-7-1-abc@bounce.test',
    ...o,
  };
}
function oneClick(v: Verdict): boolean {
  if (v.kind !== 'accept') throw new Error(`expected accept, got ${v.reason}`);
  return v.oneClickUnsubscribe;
}

describe('X-Mxm-Unsubscribe', () => {
  it('one-click and none, any case, folded and padded; only the first field counts', () => {
    expect(unsubscribeOption(hdrs(['X-Mxm-Unsubscribe', ' one-click']), null, null)).toEqual({ ok: true, oneClick: true, source: 'header' });
    expect(unsubscribeOption(hdrs(['x-mxm-unsubscribe', '\r\n\tOne-Click  ']), null, null)).toMatchObject({ ok: true, oneClick: true });
    expect(unsubscribeOption(hdrs(['X-Mxm-Unsubscribe', ' NONE'], ['X-Mxm-Unsubscribe', ' one-click']), true, true)).toEqual({ ok: true, oneClick: false, source: 'header' });
  });

  it('every other value is invalid and names itself', () => {
    for (const bad of ['', 'yes', '1', 'one click', 'one-click, none', 'oneclick']) {
      expect(unsubscribeOption(hdrs(['X-Mxm-Unsubscribe', ` ${bad}`]), null, null)).toEqual({ ok: false, value: bad });
    }
  });

  it('precedence: header > From address > space > off', () => {
    expect(unsubscribeOption([], true, false)).toEqual({ ok: true, oneClick: true, source: 'from-address' });
    expect(unsubscribeOption([], false, true)).toEqual({ ok: true, oneClick: false, source: 'from-address' });
    expect(unsubscribeOption([], null, true)).toEqual({ ok: true, oneClick: true, source: 'space' });
    expect(unsubscribeOption([], null, null)).toEqual({ ok: true, oneClick: false, source: 'default' });
  });

  it('evaluate: an invalid value is a 554 5.6.0 that echoes it', () => {
    const v = evaluate(facts(base(['X-Mxm-Unsubscribe', ' please'])));
    expect(v).toMatchObject({ kind: 'reject', reason: 'invalid-unsubscribe', code: 554, enhanced: '5.6.0' });
    if (v.kind === 'reject') expect(v.text).toContain('"please"');
  });

  it('evaluate: asked for, the To copy gets it and the header is removed', () => {
    const v = evaluate(facts(base(['X-Mxm-Unsubscribe', ' one-click'])));
    expect(oneClick(v)).toBe(true);
    if (v.kind === 'accept') expect(v.headerEdits).toContainEqual({ op: 'delete', name: 'X-Mxm-Unsubscribe' });
    expect(oneClick(evaluate(facts(base())))).toBe(false);
    expect(oneClick(evaluate(facts(base(), { unsubscribeDefaults: { fromAddress: null, space: true } })))).toBe(true);
  });

  it('evaluate: not when the To recipient is suppressed (nobody to unsubscribe in that copy)', () => {
    const v = evaluate(facts(base(['X-Mxm-Unsubscribe', ' one-click']), { suppression: { 'bob@x.org': { bounce: { reason: 'hard bounce' } } } }));
    expect(oneClick(v)).toBe(false);
  });

  it('listUnsubscribeValue: angle brackets; refuses what a header cannot carry', () => {
    expect(listUnsubscribeValue('https://t.example/u/abc_-')).toBe('<https://t.example/u/abc_->');
    for (const bad of ['https://t.example/u/a b', 'https://t.example/u/a>b', 'mailto:x@y', 'https://t.example/ü', 'https://t\r\n']) {
      expect(listUnsubscribeValue(bad)).toBeNull();
    }
  });

  it('listUnsubscribeValue: the https URL first, then the mailto: URI (RFC 2369 list); a mailto: a header cannot carry is left out', () => {
    const m = 'mailto:unsub-1-abc-def@b.example?subject=unsubscribe';
    expect(listUnsubscribeValue('https://t.example/u/abc', m)).toBe(`<https://t.example/u/abc>, <${m}>`);
    expect(listUnsubscribeValue('https://t.example/u/abc', null)).toBe('<https://t.example/u/abc>');
    for (const bad of ['mailto:a b@x', 'mailto:a>b@x', 'mailto:a,b@x', 'mailto:ü@x', 'https://x.example/']) {
      expect(listUnsubscribeValue('https://t.example/u/abc', bad)).toBe('<https://t.example/u/abc>');
    }
    expect(listUnsubscribeValue('https://t.example/u/a b', m)).toBeNull();
  });
});
