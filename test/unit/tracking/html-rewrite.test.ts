import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_TRACKED_LINKS } from '../../../src/lib/limits.js';
import { htmlEdits, rewriteHtml, rewriteHtmlDetailed, trackableUrl, type HtmlRewriteOptions } from '../../../src/tracking/html-rewrite.js';

const PIXEL = '<img src="https://t.example/o/1" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" />';

/** clickUrl that records its argument and answers T<n>. */
function rec(): { seen: string[]; opts: HtmlRewriteOptions } {
  const seen: string[] = [];
  return {
    seen,
    opts: {
      pixelUrl: null,
      clickUrl: (u) => {
        seen.push(u);
        return `https://t.example/T${seen.length}`;
      },
    },
  };
}

const T = (n: number): string => `"https://t.example/T${n}"`;

/** Rewrite one document with a recording clickUrl; returns output and what clickUrl saw. */
function links(html: string): { html: string; seen: string[]; n: number } {
  const r = rec();
  const out = rewriteHtml(html, r.opts);
  return { html: out.html, seen: r.seen, n: out.linksRewritten };
}

describe('click tracking: href shapes', () => {
  it.each<[string, string, string, string[]]>([
    ['double-quoted', '<a href="https://x.example/">x</a>', `<a href=${T(1)}>x</a>`, ['https://x.example/']],
    ['single-quoted', "<a href='https://x.example/'>x</a>", `<a href=${T(1)}>x</a>`, ['https://x.example/']],
    ['unquoted', '<a href=https://x.example/p?q=1>x</a>', `<a href=${T(1)}>x</a>`, ['https://x.example/p?q=1']],
    ['unquoted before />', '<a href=https://x.example/ />', `<a href=${T(1)} />`, ['https://x.example/']],
    ['unquoted ending in / (the / is part of the value)', '<a href=https://x.example/p/>', `<a href=${T(1)}>`, ['https://x.example/p/']],
    ['upper-case tag and attribute', '<A HREF="HTTP://X.EXAMPLE/P">x</A>', `<A HREF=${T(1)}>x</A>`, ['HTTP://X.EXAMPLE/P']],
    ['mixed case', '<A hReF="https://x.example/">x</A>', `<A hReF=${T(1)}>x</A>`, ['https://x.example/']],
    ['spaces around =', '<a href = "https://x.example/" >x</a>', `<a href = ${T(1)} >x</a>`, ['https://x.example/']],
    ['newlines between attributes', '<a\nclass="c"\r\nhref="https://x.example/"\ttarget=_blank>x</a>', `<a\nclass="c"\r\nhref=${T(1)}\ttarget=_blank>x</a>`, ['https://x.example/']],
    ['area', '<map><area shape="rect" href="https://x.example/a" alt=""></map>', `<map><area shape="rect" href=${T(1)} alt=""></map>`, ['https://x.example/a']],
    ['AREA upper case', '<AREA HREF=https://x.example/a>', `<AREA HREF=${T(1)}>`, ['https://x.example/a']],
    ['first of duplicate hrefs counts', '<a href="https://one.example/" href="https://two.example/">x</a>', `<a href=${T(1)} href="https://two.example/">x</a>`, ['https://one.example/']],
    ['a quoted > in another attribute', '<a title="a > b" href="https://x.example/">x</a>', `<a title="a > b" href=${T(1)}>x</a>`, ['https://x.example/']],
    ['markup inside another attribute', '<a title=\'<a href="https://fake.example/">\' href="https://real.example/">x</a>', `<a title='<a href="https://fake.example/">' href=${T(1)}>x</a>`, ['https://real.example/']],
    ['whitespace around the URL', '<a href="  \n https://x.example/p \t">x</a>', `<a href=${T(1)}>x</a>`, ['https://x.example/p']],
    ['a line break inside the URL (a browser drops it)', '<a href="https://x.example/very/\nlong">x</a>', `<a href=${T(1)}>x</a>`, ['https://x.example/very/long']],
    ['entity-encoded scheme', '<a href="&#104;ttps://x.example/">x</a>', `<a href=${T(1)}>x</a>`, ['https://x.example/']],
    ['self-closing a', '<a href="https://x.example/"/>', `<a href=${T(1)}/>`, ['https://x.example/']],
    ['attribute without value before href', '<a download href="https://x.example/f.pdf">x</a>', `<a download href=${T(1)}>x</a>`, ['https://x.example/f.pdf']],
  ])('%s', (_label, input, output, seen) => {
    const r = links(input);
    expect(r.html).toBe(output);
    expect(r.seen).toEqual(seen);
    expect(r.n).toBe(seen.length);
  });

  it('table layout: every link in every cell, the rest of the markup untouched', () => {
    const row = (i: number): string =>
      `<tr>\n  <td width="50%" valign=top><a href="https://x.example/${i}" style="color:#333;text-decoration:none">Item ${i}</a></td>\n  <td align=right>&euro;${i},00</td>\n</tr>\n`;
    const html = `<table width="600" cellpadding="0" cellspacing="0" border="0">\n${[1, 2, 3].map(row).join('')}</table>`;
    const r = links(html);
    expect(r.seen).toEqual(['https://x.example/1', 'https://x.example/2', 'https://x.example/3']);
    let n = 0;
    expect(r.html).toBe(html.replace(/href="https:\/\/x\.example\/\d"/g, () => `href=${T(++n)}`));
  });
});

describe('click tracking: the URL clickUrl receives is the original, exactly', () => {
  it.each<[string, string, string]>([
    ['percent-encoding kept', 'https://x.example/a%2Fb%20c?p=%2F', 'https://x.example/a%2Fb%20c?p=%2F'],
    ['query order kept', 'https://x.example/?b=2&amp;a=1', 'https://x.example/?b=2&a=1'],
    ['fragment kept', 'https://x.example/p?q=1#x', 'https://x.example/p?q=1#x'],
    ['&amp; decoded', 'https://x.example/?a=1&amp;b=2&amp;c=3', 'https://x.example/?a=1&b=2&c=3'],
    ['numeric &#38; and &#x26; decoded', 'https://x.example/?a=1&#38;b=2&#x26;c=3', 'https://x.example/?a=1&b=2&c=3'],
    ['&quot; decoded', 'https://x.example/?q=&quot;hi&quot;', 'https://x.example/?q="hi"'],
    ['nested URL in a parameter', 'https://r.example/?u=https%3A%2F%2Fx&amp;v=1', 'https://r.example/?u=https%3A%2F%2Fx&v=1'],
    ['nested URL not encoded', 'https://r.example/?u=https://x.example/?a=1&amp;b=2', 'https://r.example/?u=https://x.example/?a=1&b=2'],
    ['a bare & that is not a reference', 'https://x.example/?a=1&b=2&copy=3&amp=4', 'https://x.example/?a=1&b=2&copy=3&amp=4'],
    ['case of scheme and host kept', 'HTTPS://X.Example:443/A/../B', 'HTTPS://X.Example:443/A/../B'],
    ['no trailing slash added', 'https://x.example', 'https://x.example'],
    ['non-ASCII kept as text', 'https://m\u00fcnchen.example/stra\u00dfe?q=\u00fc', 'https://m\u00fcnchen.example/stra\u00dfe?q=\u00fc'],
    ['IPv6 host', 'http://[::1]:8080/p', 'http://[::1]:8080/p'],
    ['user info kept', 'https://user:pw@x.example/', 'https://user:pw@x.example/'],
  ])('%s', (_label, href, original) => {
    const r = links(`<a href="${href}">x</a>`);
    expect(r.seen).toEqual([original]);
  });
});

describe('click tracking: left alone', () => {
  it.each<[string, string]>([
    ['mailto:', '<a href="mailto:a@x.example?subject=Hi%20there">m</a>'],
    ['tel:', '<a href="tel:+441234567890">t</a>'],
    ['sms:', '<a href="sms:+441234567890">s</a>'],
    ['javascript:', '<a href="javascript:alert(1)">j</a>'],
    ['ftp:', '<a href="ftp://x.example/f">f</a>'],
    ['data:', '<a href="data:text/html,hi">d</a>'],
    ['#fragment', '<a href="#section-2">s</a>'],
    ['empty', '<a href="">e</a>'],
    ['no value', '<a href>e</a>'],
    ['missing value', '<a href=>e</a>'],
    ['no href', '<a name="top">e</a>'],
    ['relative without a base', '<a href="/path?x=1">r</a>'],
    ['protocol-relative without a base', '<a href="//x.example/p">r</a>'],
    ['http:foo (no //)', '<a href="http:x.example">h</a>'],
    ['http:\\\\ backslashes', '<a href="http:\\\\x.example\\">h</a>'],
    ['not a valid URL', '<a href="https://exa mple.com/">h</a>'],
    ['no host', '<a href="https://">h</a>'],
    ['another tag with href', '<link rel="stylesheet" href="https://x.example/s.css"><div href="https://x.example/">d</div>'],
    ['an unknown entity stays as written (not a link change)', '<a href="mailto:x&unknownentity;">m</a>'],
    ['a tag never closed', 'text <a href="https://x.example/"'],
    ['a quote never closed', 'text <a href="https://x.example/>x</a>'],
  ])('%s', (_label, html) => {
    const r = links(html);
    expect(r.html).toBe(html);
    expect(r.seen).toEqual([]);
  });

  it.each<[string, string]>([
    ['HTML comment', '<!-- <a href="https://x.example/">x</a> -->'],
    ['conditional comment', '<!--[if mso]><table><tr><td><a href="https://x.example/">x</a></td></tr></table><![endif]-->'],
    ['conditional comment, upper case', '<!--[if gte mso 9]><A HREF="https://x.example/">x</A><![endif]-->'],
    ['comment with -- inside', '<!-- a -- b <a href="https://x.example/"> -- c -->'],
    ['comment closed by --!>', '<!-- <a href="https://x.example/"> --!>'],
    ['comment never closed', '<p>x</p><!-- <a href="https://x.example/">'],
    ['script', '<script>var a = \'<a href="https://x.example/">\';</script>'],
    ['SCRIPT upper case with attributes', '<SCRIPT type="text/javascript">document.write("<a href=\'https://x.example/\'>")</SCRIPT>'],
    ['script containing </scriptx', '<script>x = "</scriptx><a href=\\"https://x.example/\\">";</script>'],
    ['style', '<style>a[href="https://x.example/"]{color:red}</style>'],
    ['title', '<title><a href="https://x.example/">t</a></title>'],
    ['textarea', '<textarea><a href="https://x.example/">t</a></textarea>'],
    ['CDATA', '<svg><![CDATA[ <a href="https://x.example/"> ]]></svg>'],
    ['processing instruction', '<?xml version="1.0" <a href="https://x.example/"?>'],
    ['doctype', '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1.dtd">'],
    ['plaintext', '<plaintext><a href="https://x.example/">x</a>'],
  ])('inside %s', (_label, html) => {
    const r = links(html);
    expect(r.html).toBe(html);
    expect(r.seen).toEqual([]);
  });

  it('tracks links after a comment, conditional comment or script ends', () => {
    const html =
      '<!--[if mso]><a href="https://mso.example/">o</a><![endif]--><a href="https://1.example/">1</a>' +
      '<script>"<a href=\'https://js.example/\'>"</script ><a href="https://2.example/">2</a>' +
      '<!--[if !mso]><!--><a href="https://3.example/">3</a><!--<![endif]-->' +
      '<!--><a href="https://4.example/">4</a><!---><a href="https://5.example/">5</a>';
    const r = links(html);
    expect(r.seen).toEqual(['https://1.example/', 'https://2.example/', 'https://3.example/', 'https://4.example/', 'https://5.example/']);
  });

  it('a clickUrl answering null leaves the link as written', () => {
    const r = rewriteHtml('<a href="https://x.example/">x</a>', { pixelUrl: null, clickUrl: () => null });
    expect(r).toEqual({ html: '<a href="https://x.example/">x</a>', linksRewritten: 0, pixelInserted: false });
  });
});

describe('<base href>', () => {
  it('resolves relative hrefs against it and tracks the resolved URL', () => {
    const html =
      '<head><BASE HREF="https://base.example/dir/page.html?x=1"></head>' +
      '<a href="other.html?b=2&amp;a=1#f">1</a><a href="/root">2</a><a href="//cdn.example/p">3</a>' +
      '<a href="?q=1">4</a><a href="https://abs.example/Keep%2F">5</a><a href="#frag">6</a><a href="mailto:a@b">7</a>';
    const r = links(html);
    expect(r.seen).toEqual([
      'https://base.example/dir/other.html?b=2&a=1#f',
      'https://base.example/root',
      'https://cdn.example/p',
      'https://base.example/dir/page.html?q=1',
      'https://abs.example/Keep%2F',
    ]);
    expect(r.n).toBe(5);
  });

  it('only the first <base> with an href counts, wherever it stands', () => {
    const r = links('<a href="p">1</a><base target="_blank"><base href="https://one.example/"><base href="https://two.example/">');
    expect(r.seen).toEqual(['https://one.example/p']);
  });

  it.each([
    ['a relative base', '<base href="/dir/">'],
    ['a non-http base', '<base href="ftp://x.example/">'],
    ['a base inside a comment', '<!-- <base href="https://x.example/"> -->'],
  ])('ignores %s: relative hrefs are left alone', (_label, base) => {
    const html = `${base}<a href="p.html">x</a>`;
    const r = links(html);
    expect(r.html).toBe(html);
    expect(r.seen).toEqual([]);
  });
});

describe('opt-out attribute data-trx-notrack', () => {
  it.each<[string, string, string]>([
    ['before href', '<a data-trx-notrack href="https://x.example/">x</a>', '<a href="https://x.example/">x</a>'],
    ['after href, with a value', '<a href="https://x.example/" data-trx-notrack="yes">x</a>', '<a href="https://x.example/">x</a>'],
    ['upper case, unquoted value', '<A HREF=https://x.example/ DATA-TRX-NOTRACK=1>x</A>', '<A HREF=https://x.example/>x</A>'],
    ['twice', '<a data-trx-notrack href="https://x.example/" data-trx-notrack>x</a>', '<a href="https://x.example/">x</a>'],
    ['on area', '<area data-trx-notrack href="https://x.example/">', '<area href="https://x.example/">'],
    ['on a mailto link', '<a href="mailto:a@b" data-trx-notrack>m</a>', '<a href="mailto:a@b">m</a>'],
    ['on a link without href', '<a data-trx-notrack name="n">m</a>', '<a name="n">m</a>'],
  ])('%s: left alone, attribute removed', (_label, input, output) => {
    const r = links(input);
    expect(r.html).toBe(output);
    expect(r.seen).toEqual([]);
  });

  it('is removed with click tracking off too, and only on a/area', () => {
    const html = '<div data-trx-notrack>d</div><a data-trx-notrack href="https://x.example/">x</a>';
    const r = rewriteHtmlDetailed(html, { pixelUrl: null, clickUrl: null });
    expect(r.html).toBe('<div data-trx-notrack>d</div><a href="https://x.example/">x</a>');
    expect(r.optOuts).toBe(1);
  });

  it('with all tracking off, in any ASCII case, and nothing changed without it (the shortcut that skips the scan)', () => {
    const off = { pixelUrl: null, clickUrl: null };
    const r = rewriteHtmlDetailed('<p>x</p>\n<A HREF="https://x.example/" Data-Trx-NoTrack>x</A>', off);
    expect(r.html).toBe('<p>x</p>\n<A HREF="https://x.example/">x</A>');
    expect(r.optOuts).toBe(1);
    // a non-ASCII letter that lower-cases to an ASCII one does not make the name (asciiLower)
    const kelvin = '<a data-trx-notrac\u212a href="https://x.example/">x</a>';
    expect(rewriteHtmlDetailed(kelvin, off)).toEqual({ html: kelvin, linksRewritten: 0, pixelInserted: false, linksOverCap: 0, optOuts: 0 });
  });

  it('a similar attribute name is not the opt-out', () => {
    const r = links('<a data-trx-notracking href="https://x.example/">x</a>');
    expect(r.html).toBe(`<a data-trx-notracking href=${T(1)}>x</a>`);
  });
});

describe('htmlEdits (the edits, for the quoted-printable splice)', () => {
  it('marks a tracking URL plain only when it has nothing to escape and no "=" or control', () => {
    const urls = ['https://t.example/c/AbC-d_9', 'https://t.example/c?u=1', 'https://t.example/c/a&b', 'https://t.example/c/\u00e9', 'https://t.example/c/a"b', 'https://t.example/c/a\tb'];
    let i = 0;
    const html = urls.map((_u, k) => `<a href="https://x.example/${k}">x</a>`).join('');
    const r = htmlEdits(html, { pixelUrl: null, clickUrl: () => urls[i++]! }, (raw) => raw);
    expect(r.edits.map((e) => [e.text, e.plain === true])).toEqual([
      ['"https://t.example/c/AbC-d_9"', true],
      ['"https://t.example/c?u=1"', false],
      ['"https://t.example/c/a&amp;b"', false],
      ['"https://t.example/c/&#xE9;"', false],
      ['"https://t.example/c/a&quot;b"', false],
      ['"https://t.example/c/a\tb"', false],
    ]);
  });
});

describe('open pixel', () => {
  const pixel = (html: string): string => rewriteHtml(html, { pixelUrl: 'https://t.example/o/1', clickUrl: null }).html;

  it.each<[string, string, string]>([
    ['before </body>', '<html><body><p>x</p></body></html>', `<html><body><p>x</p>${PIXEL}</body></html>`],
    ['before </BODY > in any case', '<HTML><BODY>x</BODY ></HTML>', `<HTML><BODY>x${PIXEL}</BODY ></HTML>`],
    ['before the LAST </body>', '<body>a</body><body>b</body>\n', `<body>a</body><body>b${PIXEL}</body>\n`],
    ['not before a </body> in a comment', '<body>a</body><!-- </body> -->', `<body>a${PIXEL}</body><!-- </body> -->`],
    ['not before a </body> in a conditional comment', '<body>a</body><!--[if mso]></body><![endif]-->', `<body>a${PIXEL}</body><!--[if mso]></body><![endif]-->`],
    ['not before a </body> in a script', '<body>a</body><script>"</body>"</script>', `<body>a${PIXEL}</body><script>"</body>"</script>`],
    ['appended when there is no </body>', '<p>fragment</p>', `<p>fragment</p>${PIXEL}`],
    ['appended before trailing line breaks', '<p>fragment</p>\r\n\r\n', `<p>fragment</p>${PIXEL}\r\n\r\n`],
    ['appended to an empty document', '', PIXEL],
    ['a </bodyx> is not </body>', '<p>x</bodyx>', `<p>x</bodyx>${PIXEL}`],
  ])('%s', (_label, input, output) => {
    expect(pixel(input)).toBe(output);
  });

  it('escapes the pixel URL in the attribute', () => {
    const r = rewriteHtml('<body></body>', { pixelUrl: 'https://t.example/o?a=1&b="2"&c=\u00e9', clickUrl: null });
    expect(r.html).toBe('<body><img src="https://t.example/o?a=1&amp;b=&quot;2&quot;&amp;c=&#xE9;" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0" /></body>');
    expect(r.pixelInserted).toBe(true);
  });

  it('pixel and links together', () => {
    const r = rewriteHtml('<body><a href="https://x.example/">x</a></body>', {
      pixelUrl: 'https://t.example/o/1',
      clickUrl: () => 'https://t.example/c?a=1&b=2',
    });
    expect(r).toEqual({
      html: `<body><a href="https://t.example/c?a=1&amp;b=2">x</a>${PIXEL}</body>`,
      linksRewritten: 1,
      pixelInserted: true,
    });
  });
});

describe('volume', () => {
  it('rewrites 5,000 links', () => {
    const html = `<html><body>${Array.from({ length: 5000 }, (_, i) => `<p><a href="https://x.example/${i}?a=1&amp;b=${i}">${i}</a></p>`).join('\n')}</body></html>`;
    const r = rec();
    const out = rewriteHtml(html, r.opts);
    expect(out.linksRewritten).toBe(5000);
    expect(r.seen[0]).toBe('https://x.example/0?a=1&b=0');
    expect(r.seen[4999]).toBe('https://x.example/4999?a=1&b=4999');
    let n = 0;
    expect(out.html).toBe(html.replace(/href="[^"]*"/g, () => `href=${T(++n)}`));
  });

  it(`rewrites MAX_TRACKED_LINKS (${MAX_TRACKED_LINKS}) links and leaves the next one alone`, () => {
    const html = Array.from({ length: MAX_TRACKED_LINKS + 1 }, (_, i) => `<a href="https://x.example/${i}">x</a>`).join('');
    const r = rec();
    const out = rewriteHtmlDetailed(html, r.opts);
    expect(out.linksRewritten).toBe(MAX_TRACKED_LINKS);
    expect(out.linksOverCap).toBe(1);
    expect(r.seen).toHaveLength(MAX_TRACKED_LINKS);
    expect(out.html.endsWith(`<a href=${T(MAX_TRACKED_LINKS)}>x</a><a href="https://x.example/${MAX_TRACKED_LINKS}">x</a>`)).toBe(true);
  });
});

function isSubsequence(small: string, big: string): boolean {
  let j = 0;
  for (let i = 0; i < big.length && j < small.length; i++) if (big[i] === small[j]) j++;
  return j === small.length;
}

describe('keeps every character it does not change (property)', () => {
  const piece = fc.oneof(
    fc.constantFrom(
      '<a href="https://x.example/?a=1&amp;b=2">', "<A HREF='http://y.example/'>", '<a href=https://z.example/p>', '</a>', '<area href="https://w.example/">',
      '<!--', '-->', '<!--[if mso]>', '<![endif]-->', '<script>', '</script>', '<style>', '</style>', '<base href="https://b.example/d/">',
      '<a href="rel/p">', '<a href="mailto:x@y">', '</body>', '</BODY>', '<body>', '<![CDATA[', ']]>', '<', '>', '"', "'", '=', '&amp;', ' ', '\n',
      '<p class=x>', '<title>', '</title>', '<a data-x="1" href=\'https://q.example/\'>',
    ),
    fc.string({ maxLength: 8 }),
  );
  const doc = fc.array(piece, { maxLength: 40 }).map((a) => a.join(''));

  it('with tracking off, output equals input (no opt-out attribute in the input)', () => {
    fc.assert(
      fc.property(doc, (html) => {
        expect(rewriteHtml(html, { pixelUrl: null, clickUrl: null }).html).toBe(html);
      }),
      { numRuns: 500 },
    );
  });

  it('with tracking on, every tracked value is a whole attribute value and the rest of the input stays in order', () => {
    fc.assert(
      fc.property(doc, (html) => {
        const originals: string[] = [];
        const out = rewriteHtmlDetailed(html, {
          pixelUrl: 'https://t.example/PIXEL',
          clickUrl: (u) => {
            originals.push(u);
            return `https://t.example/LINK${originals.length - 1}`;
          },
        });
        expect(out.linksRewritten).toBe(originals.length);
        const pixel = out.html.indexOf('<img src="https://t.example/PIXEL"');
        expect(pixel).toBeGreaterThanOrEqual(0);
        // remove the pixel; every tracked value must be a whole attribute value in the output
        const noPixel = out.html.replace(/<img src="https:\/\/t\.example\/PIXEL"[^>]*\/>/, '');
        const found = [...noPixel.matchAll(/"https:\/\/t\.example\/LINK(\d+)"/g)];
        expect(found.map((m) => Number(m[1]))).toEqual(originals.map((_, i) => i));
        // in place: without the edited values, the output is the input with only the original values taken out
        const stripped = noPixel.replace(/"https:\/\/t\.example\/LINK\d+"/g, '');
        expect(isSubsequence(stripped, html)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (html) => {
        const r = rewriteHtml(html, { pixelUrl: 'https://t.example/p', clickUrl: () => 'https://t.example/c' });
        expect(r.pixelInserted).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('trackableUrl', () => {
  const base = new URL('https://b.example/d/');
  it.each<[string, URL | null, string | null]>([
    ['https://x.example/', null, 'https://x.example/'],
    ['\u0000 https://x.example/ \u001f', null, 'https://x.example/'],
    ['p', base, 'https://b.example/d/p'],
    ['p', null, null],
    ['#x', base, null],
    ['', base, null],
    ['   ', base, null],
    ['javascript:x', base, null],
    ['//other.example/', base, 'https://other.example/'],
    ['https://[bad', null, null],
  ])('%j with base %s → %j', (value, b, expected) => {
    expect(trackableUrl(value, b)).toBe(expected);
  });
});
