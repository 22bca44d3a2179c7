import { describe, expect, it } from 'vitest';
import { decodeAttributeValue, escapeAttributeValue } from '../../../src/mail/html-entities.js';

describe('decodeAttributeValue (as a browser decodes an attribute value)', () => {
  it.each<[string, string]>([
    ['a=1&amp;b=2', 'a=1&b=2'],
    ['&amp;&AMP;&lt;&LT;&gt;&GT;&quot;&QUOT;', '&&<<>>""'],
    ['&apos;', "'"],
    ['&#38;&#x26;&#X26;&#0038;', '&&&&'],
    ['&#38&#x26x', '&&x'], // numeric references need no `;`
    ['&#233;&#xE9;&eacute;&Eacute;', '\u00e9\u00e9\u00e9\u00c9'],
    ['&#x1F44B;', '\u{1F44B}'],
    ['&#0;&#xD800;&#x110000;&#99999999999;', '\ufffd\ufffd\ufffd\ufffd'],
    ['&#128;&#x99;&#x81;', '\u20ac\u2122\u0081'], // 0x80-0x9F through windows-1252, holes unchanged
    ['&sol;&colon;&quest;&equals;&num;&percnt;&plus;&commat;', '/:?=#%+@'],
    ['&nbsp;&copy;&reg;&euro;&ndash;&rsquo;', '\u00a0\u00a9\u00ae\u20ac\u2013\u2019'],
    // legacy names without `;`: decoded unless followed by `=` or an alphanumeric
    ['&amp &copy.', '& \u00a9.'],
    ['?a=1&copy=2', '?a=1&copy=2'],
    ['?a=1&amp=2', '?a=1&amp=2'],
    ['?x&ampy', '?x&ampy'],
    ['&notit;', '&notit;'],
    // names that must end with `;`
    ['&apos &sol', '&apos &sol'],
    // not references
    ['& &; &# &#x &#x; &#;', '& &; &# &#x &#x; &#;'],
    ['&unknownname;', '&unknownname;'],
    ['&&amp;', '&&'],
    ['no references', 'no references'],
    ['', ''],
  ])('%j → %j', (raw, decoded) => {
    expect(decodeAttributeValue(raw)).toBe(decoded);
  });
});

describe('escapeAttributeValue', () => {
  it.each<[string, string]>([
    ['https://t.example/c?a=1&b=2', 'https://t.example/c?a=1&amp;b=2'],
    ['say "hi" <now>', 'say &quot;hi&quot; &lt;now&gt;'],
    ["it's", "it's"],
    ['caf\u00e9 \u{1F44B}', 'caf&#xE9; &#x1F44B;'],
    ['plain', 'plain'],
  ])('%j → %j', (text, escaped) => {
    expect(escapeAttributeValue(text)).toBe(escaped);
  });

  it('round-trips through decodeAttributeValue and writes ASCII only', () => {
    const text = 'https://t.example/?a=1&b="x"&c=<y>&d=\u00fc\u20ac\u{1F600}&amp=1&copy=2';
    const escaped = escapeAttributeValue(text);
    expect(escaped).toMatch(/^[\x20-\x7e]*$/);
    expect(decodeAttributeValue(escaped)).toBe(text);
  });
});
