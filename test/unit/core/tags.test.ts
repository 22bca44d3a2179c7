import { describe, expect, it } from 'vitest';
import { parseTags } from '../../../src/core/tags.js';
import type { HeaderField } from '../../../src/core/types.js';
import { MAX_TAG_LENGTH, MAX_TAGS } from '../../../src/lib/limits.js';

const tags = (...values: string[]): HeaderField[] => values.map((value) => ({ name: 'X-Mxm-Tag', value }));

describe('parseTags', () => {
  it.each<[string, HeaderField[], string[]]>([
    ['none', [], []],
    ['single', tags(' welcome'), ['welcome']],
    ['comma separated, trimmed', tags(' a ,b,  c  '), ['a', 'b', 'c']],
    ['several fields append in order', tags('a, b', 'c', 'd, e'), ['a', 'b', 'c', 'd', 'e']],
    ['empty field and empty pieces dropped', tags('', ' , ,', 'x,,y'), ['x', 'y']],
    ['whitespace only', tags(' \t '), []],
    ['duplicates removed, first kept', tags('b, a, b', 'a, c'), ['b', 'a', 'c']],
    ['case differences are distinct tags', tags('A, a'), ['A', 'a']],
    ['folded value', tags(' a,\r\n b'), ['a', 'b']],
    ['RFC 2047 Q', tags('=?UTF-8?Q?R=C3=BCckruf?='), ['Rückruf']],
    ['RFC 2047 B', tags('=?UTF-8?B?w6l0w6k=?=, x'), ['été', 'x']],
    ['encoded comma splits', tags('=?UTF-8?Q?a=2Cb?='), ['a', 'b']],
    ['broken encoded word kept literally (lenient)', tags('=?utf-8?q?broken'), ['=?utf-8?q?broken']],
    ['raw UTF-8', tags('señal'), ['señal']],
    ['name case-insensitive', [{ name: 'x-mxm-tag', value: 'q' }, { name: 'X-MXM-TAG', value: 'r' }], ['q', 'r']],
    ['other headers ignored', [{ name: 'X-Mxm-Tags', value: 'no' }, { name: 'Subject', value: 'no' }], []],
  ])('%s', (_label, headers, expected) => {
    expect(parseTags(headers)).toEqual({ ok: true, tags: expected });
  });

  const many = (n: number): string => Array.from({ length: n }, (_, i) => `t${i}`).join(',');

  it('accepts exactly MAX_TAGS and refuses one more (counted after de-duplication)', () => {
    expect(parseTags(tags(many(MAX_TAGS)))).toMatchObject({ ok: true });
    expect(parseTags(tags(many(MAX_TAGS), 't0, t1'))).toMatchObject({ ok: true });
    expect(parseTags(tags(many(MAX_TAGS + 1)))).toEqual({ ok: false, problem: 'too-many', count: MAX_TAGS + 1 });
    expect(parseTags(tags(many(10), many(MAX_TAGS + 5)))).toEqual({ ok: false, problem: 'too-many', count: MAX_TAGS + 5 });
  });

  it('accepts a tag of exactly MAX_TAG_LENGTH code points and refuses one more', () => {
    expect(parseTags(tags('x'.repeat(MAX_TAG_LENGTH)))).toMatchObject({ ok: true });
    // astral characters are one code point each (two UTF-16 units)
    expect(parseTags(tags('😀'.repeat(MAX_TAG_LENGTH)))).toMatchObject({ ok: true });
    expect(parseTags(tags('x'.repeat(MAX_TAG_LENGTH + 1)))).toEqual({ ok: false, problem: 'too-long' });
    expect(parseTags(tags('é'.repeat(MAX_TAG_LENGTH + 1)))).toEqual({ ok: false, problem: 'too-long' });
  });

  it('checks the count before the length', () => {
    expect(parseTags(tags(many(MAX_TAGS + 1), 'y'.repeat(MAX_TAG_LENGTH + 1)))).toMatchObject({ problem: 'too-many' });
  });

  // Issue 12 item 6: on old main these were stored with the control character in them.
  it.each<[string, HeaderField[], number]>([
    ['CR LF through RFC 2047 Q', tags('=?UTF-8?Q?a=0D=0Ab?='), 0x0d],
    ['LF through RFC 2047 B', tags(`=?UTF-8?B?${Buffer.from('a\nb').toString('base64')}?=`), 0x0a],
    ['a raw TAB inside a tag', tags('a\tb'), 0x09],
    ['NUL', tags('a\0b'), 0x00],
    ['ESC', tags('x, a\u001b[31mred'), 0x1b],
    ['DEL', tags('a\u007fb'), 0x7f],
    ['C1 NEL', tags('=?UTF-8?Q?a=C2=85b?='), 0x85],
    ['U+2028 LINE SEPARATOR', tags('a\u2028b'), 0x2028],
    ['U+2029 PARAGRAPH SEPARATOR', tags('a\u2029b'), 0x2029],
  ])('refuses a tag with a control character: %s', (_label, headers, codePoint) => {
    expect(parseTags(headers)).toEqual({ ok: false, problem: 'control', codePoint });
  });

  it('leading and trailing whitespace (TAB included) is trimmed, not refused; non-ASCII text is fine', () => {
    expect(parseTags(tags('\ta\t, b ', 'é\u00a0x'))).toEqual({ ok: true, tags: ['a', 'b', 'é\u00a0x'] });
  });

  it('checks count and length before control characters', () => {
    expect(parseTags(tags('a\nb', 'y'.repeat(MAX_TAG_LENGTH + 1)))).toMatchObject({ problem: 'too-long' });
  });
});
