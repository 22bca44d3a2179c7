import { describe, expect, it } from 'vitest';
import { asciiLower, MAX_SPECIAL_NAME, scanHtml, type HtmlStartTag } from '../../../src/tracking/html-scanner.js';
import { GROWTH_FACTOR, LINEAR_RATIO_LIMIT, measureGrowth } from '../../helpers/growth.js';

const ALL = ['a', 'b', 'i', 'p', 'br', 'img', 'script', 'style', 'title', 'textarea', 'xmp', 'iframe', 'noembed', 'noframes', 'noscript', 'plaintext'];

function scan(html: string, startTagsOf: readonly string[] = ALL, endTagsOf: readonly string[] = ALL): { starts: HtmlStartTag[]; ends: Array<[string, number, number]> } {
  const starts: HtmlStartTag[] = [];
  const ends: Array<[string, number, number]> = [];
  scanHtml(html, {
    startTagsOf: new Set(startTagsOf),
    endTagsOf: new Set(endTagsOf),
    startTag: (t) => starts.push(t),
    endTag: (name, start, end) => ends.push([name, start, end]),
  });
  return { starts, ends };
}

describe('scanHtml', () => {
  it('reports start tags with exact attribute offsets and raw values', () => {
    const html = `<A Href="x&amp;y" title='t>t' rel=nofollow download data-x = "1">`;
    const [tag] = scan(html).starts;
    expect(tag).toMatchObject({ name: 'a', start: 0, end: html.length });
    const attrs = tag!.attributes.map((a) => ({ ...a, text: html.slice(a.start, a.end), value: a.valueStart < 0 ? null : html.slice(a.valueStart, a.end) }));
    expect(attrs).toEqual([
      { name: 'href', start: 3, end: 17, valueStart: 8, rawValue: 'x&amp;y', text: 'Href="x&amp;y"', value: '"x&amp;y"' },
      { name: 'title', start: 18, end: 29, valueStart: 24, rawValue: 't>t', text: "title='t>t'", value: "'t>t'" },
      { name: 'rel', start: 30, end: 42, valueStart: 34, rawValue: 'nofollow', text: 'rel=nofollow', value: 'nofollow' },
      { name: 'download', start: 43, end: 51, valueStart: -1, rawValue: '', text: 'download', value: null },
      { name: 'data-x', start: 52, end: 64, valueStart: 61, rawValue: '1', text: 'data-x = "1"', value: '"1"' },
    ]);
  });

  it('reports only the start and end tags asked for', () => {
    const { starts, ends } = scan('<p class="x"><a href="y"></a></p><div><b>', ['a'], ['p']);
    expect(starts.map((t) => [t.name, t.attributes.length])).toEqual([['a', 1]]);
    expect(ends).toEqual([['p', 29, 33]]);
  });

  it(`does not fold or report tag names longer than MAX_SPECIAL_NAME (${MAX_SPECIAL_NAME})`, () => {
    const long = 'x'.repeat(MAX_SPECIAL_NAME + 1);
    const fits = 'y'.repeat(MAX_SPECIAL_NAME);
    const { starts, ends } = scan(`<${long}><${fits}></${long}></${fits.toUpperCase()}>`, [long, fits], [long, fits]);
    expect(starts.map((t) => t.name)).toEqual([fits]);
    expect(ends.map((e) => e[0])).toEqual([fits]);
  });

  it('reports end tags with the offset of their <, attributes and quotes skipped', () => {
    const html = '<b>x</B ><i></i foo=">"><p></p';
    expect(scan(html).ends).toEqual([
      ['b', 4, 9],
      ['i', 12, 24],
    ]);
  });

  it.each<[string, string, string[]]>([
    ['comment', '<!-- <a> --><a>', ['a']],
    ['empty comments <!--> and <!--->', '<!--><a><!---><a>', ['a', 'a']],
    ['comment ended by --!>', '<!-- <b> --!><a>', ['a']],
    ['comment with --- before >', '<!-- <b> ---><a>', ['a']],
    ['conditional comment', '<!--[if mso]><b><![endif]--><a>', ['a']],
    ['downlevel-revealed conditional comment', '<!--[if !mso]><!--><b><!--<![endif]-->', ['b']],
    ['bogus comment <![if]>', '<![if !mso]><b><![endif]>', ['b']],
    ['CDATA', '<![CDATA[<b>]]><a>', ['a']],
    ['doctype', '<!DOCTYPE html><a>', ['a']],
    ['processing instruction', '<?xml x="<b>"?><a>', ['a']],
    ['</> is nothing', '</><a>', ['a']],
    ['</ + non-letter is a bogus comment', '</ <b>x<a>', ['a']],
    ['< + non-letter is text', '< b><3<a>', ['a']],
    ['script raw text', '<script><b></script><a>', ['script', 'a']],
    ['script ended by </SCRIPT >', '<script><b></SCRIPT ><a>', ['script', 'a']],
    ['</scriptx does not end a script', '<script></scriptx><b></script><a>', ['script', 'a']],
    ['style, title, textarea, xmp, iframe, noembed, noframes', '<style><b></style><title><b></title><textarea><b></textarea><xmp><b></xmp><iframe><b></iframe><noembed><b></noembed><noframes><b></noframes><a>', ['style', 'title', 'textarea', 'xmp', 'iframe', 'noembed', 'noframes', 'a']],
    ['noscript is markup', '<noscript><a></noscript>', ['noscript', 'a']],
    ['plaintext ends markup', '<plaintext><a>', ['plaintext']],
    ['unterminated script', '<script><a>', ['script']],
    ['unterminated tag', '<a href="x"><b', ['a']],
    ['unterminated quoted value', '<a><b title="x>', ['a']],
    ['unterminated comment', '<a><!-- <b>', ['a']],
    ['tag name up to / or whitespace', '<a/><br/><img\nsrc=x>', ['a', 'br', 'img']],
  ])('%s', (_label, html, names) => {
    expect(scan(html).starts.map((t) => t.name)).toEqual(names);
  });

  // Shapes that would make a naive scanner quadratic; the large inputs (GROWTH_FACTOR × 1 600
  // repetitions) total about 1 MB.
  it.each<[string, (n: number) => string]>([
    ['unclosed "<a" prefixes after comment starts', (n) => '<!-- '.repeat(n) + '<a x="'.repeat(n)],
    ['dashes', (n) => '--'.repeat(5 * n)],
    ['almost-ends of a script', (n) => '<script>' + '</scrip'.repeat(n)],
  ])('is linear: %s', (_label, build) => {
    const g = measureGrowth(build, (html) => scan(html), 1_600);
    expect(g.ratio, `${g.large.toFixed(1)} ms for ${GROWTH_FACTOR}n vs ${g.small.toFixed(1)} ms for n`).toBeLessThan(LINEAR_RATIO_LIMIT);
  });
});

describe('asciiLower', () => {
  it.each<[string, string]>([
    ['HREF', 'href'],
    ['Data-TRX-NoTrack', 'data-trx-notrack'],
    ['href', 'href'],
    ['\u00c0A', '\u00c0a'], // only A-Z folds
    ['DATA-TRX-NOTRAC\u212a', 'data-trx-notrac\u212a'], // KELVIN SIGN is not "k"
  ])('%j → %j', (input, output) => {
    expect(asciiLower(input)).toBe(output);
  });
});
