import { describe, expect, it } from 'vitest';
import { parseAddressList, unfold } from '../../../src/core/address.js';
import { parseEnvelopeAddress } from '../../../src/core/envelope-address.js';
import { MAX_ADDRESS_LENGTH, MAX_LOCAL_PART_LENGTH } from '../../../src/lib/limits.js';
import { GROWTH_FACTOR, LINEAR_RATIO_LIMIT, measureGrowth } from '../../helpers/growth.js';

/** [address, displayName, displayRaw, raw, group] per mailbox. */
type Row = [string, string | null, string | null, string, string | null];
const rows = (value: string): Row[] =>
  parseAddressList(value).mailboxes.map((m) => [m.address, m.displayName, m.displayRaw, m.raw, m.group]);

describe('parseAddressList: real-world shapes', () => {
  const cases: [string, string, Row[]][] = [
    ['bare addr-spec', 'john@example.com', [['john@example.com', null, null, 'john@example.com', null]]],
    ['angle only', '<john@example.com>', [['john@example.com', null, null, '<john@example.com>', null]]],
    ['name-addr', 'John Doe <john@example.com>', [['john@example.com', 'John Doe', 'John Doe', 'John Doe <john@example.com>', null]]],
    [
      'quoted name with comma and <',
      '"Doe, John <jd>" <john@example.com>',
      [['john@example.com', 'Doe, John <jd>', '"Doe, John <jd>"', '"Doe, John <jd>" <john@example.com>', null]],
    ],
    [
      'quoted name with escaped quote',
      '"The \\"Boss\\"" <b@x.com>',
      [['b@x.com', 'The "Boss"', '"The \\"Boss\\""', '"The \\"Boss\\"" <b@x.com>', null]],
    ],
    [
      'RFC 2047 Q ISO-8859-1',
      '=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>',
      [
        [
          'PIRARD@vm1.ulg.ac.be',
          'André Pirard',
          '=?ISO-8859-1?Q?Andr=E9?= Pirard',
          '=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>',
          null,
        ],
      ],
    ],
    [
      'RFC 2047 B UTF-8, adjacent words joined',
      '=?UTF-8?B?SsO8cmdlbg==?= =?UTF-8?Q?_M=C3=BCller?= <j@x.de>',
      [['j@x.de', 'Jürgen Müller', '=?UTF-8?B?SsO8cmdlbg==?= =?UTF-8?Q?_M=C3=BCller?=', '=?UTF-8?B?SsO8cmdlbg==?= =?UTF-8?Q?_M=C3=BCller?= <j@x.de>', null]],
    ],
    [
      'encoded word inside quotes (lenient)',
      '"=?UTF-8?Q?J=C3=BCrgen?=" <j@x.de>',
      [['j@x.de', 'Jürgen', '"=?UTF-8?Q?J=C3=BCrgen?="', '"=?UTF-8?Q?J=C3=BCrgen?=" <j@x.de>', null]],
    ],
    ['raw UTF-8 name and SMTPUTF8 address', 'Jürgen <jü@bücher.example>', [['jü@bücher.example', 'Jürgen', 'Jürgen', 'Jürgen <jü@bücher.example>', null]]],
    [
      'two mailboxes, second with old-style comment name',
      'a@x.com, jane@example.com (Jane D)',
      [
        ['a@x.com', null, null, 'a@x.com', null],
        ['jane@example.com', 'Jane D', null, 'jane@example.com (Jane D)', null],
      ],
    ],
    [
      'comments everywhere (RFC 5322 A.5)',
      'Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>',
      [['pete@silly.test', 'Pete', 'Pete', 'Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>', null]],
    ],
    [
      'group with members, then a mailbox',
      'Friends: a@x.com, B <b@y.com>;, c@z.com',
      [
        ['a@x.com', null, null, 'a@x.com', 'Friends'],
        ['b@y.com', 'B', 'B', 'B <b@y.com>', 'Friends'],
        ['c@z.com', null, null, 'c@z.com', null],
      ],
    ],
    ['empty group', 'undisclosed-recipients:;', []],
    ['obsolete source route', '<@route1,@route2:user@example.com>', [['user@example.com', null, null, '<@route1,@route2:user@example.com>', null]]],
    ['folded', 'John\r\n Doe <john@\r\n\texample.com>', [['john@example.com', 'John Doe', 'John Doe', 'John Doe <john@\texample.com>', null]]],
    ['LF folding', 'John\n Doe <john@example.com>', [['john@example.com', 'John Doe', 'John Doe', 'John Doe <john@example.com>', null]]],
    ['quoted local part kept quoted when needed', '"john doe"@example.com', [['"john doe"@example.com', null, null, '"john doe"@example.com', null]]],
    ['needless quotes removed', '"john"@example.com', [['john@example.com', null, null, '"john"@example.com', null]]],
    ['empty elements', ',, a@x.com ,,', [['a@x.com', null, null, 'a@x.com', null]]],
    ['[tag] in name', '[EXT] Bob <bob@x.com>', [['bob@x.com', '[EXT] Bob', '[EXT] Bob', '[EXT] Bob <bob@x.com>', null]]],
    ['address as display name', 'a@b.com <c@d.com>', [['c@d.com', 'a@b.com', 'a@b.com', 'a@b.com <c@d.com>', null]]],
    ['dots in name (obsolete)', 'John Q. Public <jqp@x.com>', [['jqp@x.com', 'John Q. Public', 'John Q. Public', 'John Q. Public <jqp@x.com>', null]]],
    ['double dot local part (obsolete)', 'john..doe@docomo.ne.jp', [['john..doe@docomo.ne.jp', null, null, 'john..doe@docomo.ne.jp', null]]],
    ['domain literal', 'x@[192.0.2.1]', [['x@[192.0.2.1]', null, null, 'x@[192.0.2.1]', null]]],
    ['unterminated angle', 'John <john@example.com', [['john@example.com', 'John', 'John', 'John <john@example.com', null]]],
    ['leading comment not part of the name', '(c) John <j@x.com>', [['j@x.com', 'John', 'John', 'John <j@x.com>', null]]],
  ];
  it.each(cases)('%s', (_label, input, expected) => {
    expect(rows(input)).toEqual(expected);
  });

  it('counts groups and errors', () => {
    expect(parseAddressList('undisclosed-recipients:;')).toMatchObject({ groups: 1, errors: 0 });
    expect(parseAddressList('a@x.com, bob, c@y.com')).toMatchObject({ groups: 0, errors: 1 });
    expect(parseAddressList('a@x.com, bob, c@y.com').mailboxes.map((m) => m.address)).toEqual(['a@x.com', 'c@y.com']);
  });
});

describe('parseAddressList: garbage never throws and yields what it can', () => {
  const garbage: [string, string[]][] = [
    ['', []],
    ['   ', []],
    ['bob', []],
    ['@', []],
    ['<>', []],
    ['<<<>>>', []],
    ['"unterminated <a@b.com>', []],
    ['(unterminated <a@b.com>', []],
    ['a@b c@d', []],
    ['a@', []],
    ['@b.com', []],
    ['.a@b.com', []],
    ['a.@b.com', []],
    ['a@b..com', []],
    ['a@.b.com', []],
    [';;;,,,:::', []],
    ['Nested: inner: a@b.com;;', []],
    ['\0\x01\x7f', []],
    ['a@b.com; c@d.com', ['a@b.com']],
    ['x <a@b.com> y, c@d.com', ['a@b.com', 'c@d.com']],
  ];
  it.each(garbage)('%j', (input, addresses) => {
    expect(parseAddressList(input).mailboxes.map((m) => m.address)).toEqual(addresses);
  });

  it('survives every prefix of a tricky header', () => {
    const s = '"A, <b>" (c (d)) <@r,@s:e."f g"@[1.2.3.4]>, G: h@i.j, =?UTF-8?B?w7w=?= <k@l.m>;, n@o.p (q)';
    for (let i = 0; i <= s.length; i++) expect(() => parseAddressList(s.slice(0, i))).not.toThrow();
    expect(parseAddressList(s).mailboxes.map((m) => m.address)).toEqual(['e."f g"@[1.2.3.4]', 'h@i.j', 'k@l.m', 'n@o.p']);
  });

  // Shapes that would make a naive parser quadratic: many unclosed brackets, many colons,
  // many elements, deep comment nesting. The large inputs (GROWTH_FACTOR × 3 200) are about
  // 200 000 characters long.
  it.each<[string, (n: number) => string]>([
    ['unclosed [', (n) => '['.repeat(n)],
    ['unclosed <', (n) => '<'.repeat(n)],
    ['colons', (n) => ':'.repeat(n)],
    ['many elements', (n) => 'a@b.com,'.repeat(n / 4)],
    ['deep comments', (n) => '('.repeat(n) + ')'.repeat(n)],
    ['quotes', (n) => '"'.repeat(n)],
    ['long phrase', (n) => 'x '.repeat(n) + '<a@b.com>'],
    ['encoded-word starts', (n) => '=?UTF-8?Q?'.repeat(n / 4) + ' <a@b.com>'],
  ])('is linear on large hostile input: %s', (_label, build) => {
    const g = measureGrowth(build, parseAddressList, 3_200);
    expect(g.ratio, `${g.large.toFixed(1)} ms for ${GROWTH_FACTOR}n vs ${g.small.toFixed(1)} ms for n`).toBeLessThan(LINEAR_RATIO_LIMIT);
  });

  it('parses every element of a long list', () => {
    expect(parseAddressList('a@b.com,'.repeat(50_000)).mailboxes).toHaveLength(50_000);
  });
});

describe('unfold', () => {
  it('removes CR and LF only', () => {
    expect(unfold(' a\r\n b\n\tc\rd')).toBe(' a b\tcd');
  });
});

describe('parseEnvelopeAddress: IDNA full stops', () => {
  it.each(['\uff0e', '\u3002', '\uff61'])('a domain written with %j has ASCII dots in address and domain', (dot) => {
    expect(parseEnvelopeAddress(`<news@demo${dot}example>`)).toEqual({
      kind: 'address',
      address: 'news@demo.example',
      local: 'news',
      domain: 'demo.example',
      normalisedDomain: 'demo.example',
    });
  });
});

describe('parseEnvelopeAddress', () => {
  it.each([
    ['', { kind: 'null' }],
    ['<>', { kind: 'null' }],
    [' <> ', { kind: 'null' }],
  ])('%j is the null path', (input, expected) => {
    expect(parseEnvelopeAddress(input)).toEqual(expected);
  });

  it.each([
    ['a@b.com', 'a@b.com', 'b.com'],
    ['<a@b.com>', 'a@b.com', 'b.com'],
    ['<@x.org,@y.org:a@b.com>', 'a@b.com', 'b.com'],
    ['"a b"@x.com', '"a b"@x.com', 'x.com'],
    ['"ab"@x.com', 'ab@x.com', 'x.com'],
    ['"a\\"b"@x.com', '"a\\"b"@x.com', 'x.com'],
    ['jü@bücher.example', 'jü@bücher.example', 'xn--bcher-kva.example'],
    ['ü@XN--BCHER-KVA.example', 'ü@XN--BCHER-KVA.example', 'xn--bcher-kva.example'],
    ['a@B.Com.', 'a@B.Com.', 'b.com'],
    ['a@[192.0.2.1]', 'a@[192.0.2.1]', null],
  ])('%j parses', (input, address, normalisedDomain) => {
    expect(parseEnvelopeAddress(input)).toMatchObject({ kind: 'address', address, normalisedDomain });
  });

  const bad = [
    'a',
    'a@',
    '@b.com',
    '<a@b.com',
    'a@b.com>',
    'a@b..com',
    'a b@c.com',
    'a@ b.com',
    '.a@b.com',
    'a.@b.com',
    'a..b@c.com',
    '"a@b.com',
    '"a"b@c.com',
    'a@b@c.com',
    'a\r\n@b.com',
    'a\0@b.com',
    'a@-b.com',
    'a@b_c.com',
    '<@x.org a@b.com>',
    'a@' + 'x'.repeat(64) + '.com',
    'x'.repeat(MAX_LOCAL_PART_LENGTH + 1) + '@b.com',
    'ü'.repeat(MAX_LOCAL_PART_LENGTH / 2 + 1) + '@b.com',
  ];
  it.each(bad)('%j is invalid', (input) => {
    expect(parseEnvelopeAddress(input)).toEqual({ kind: 'invalid' });
  });

  it('enforces the local part limit exactly (octets)', () => {
    expect(parseEnvelopeAddress('x'.repeat(MAX_LOCAL_PART_LENGTH) + '@b.com').kind).toBe('address');
    expect(parseEnvelopeAddress('ü'.repeat(MAX_LOCAL_PART_LENGTH / 2) + '@b.com').kind).toBe('address');
  });

  it('enforces the path limit exactly', () => {
    const label = 'd'.repeat(60);
    const domainOf = (len: number): string => {
      // labels of 60 joined by dots, last label padded to make `len` characters
      let d = '';
      while (d.length + 61 < len) d += label + '.';
      return d + 'e'.repeat(len - d.length);
    };
    const local = 'l'.repeat(64);
    const at = local + '@' + domainOf(MAX_ADDRESS_LENGTH - local.length - 1);
    expect(at.length).toBe(MAX_ADDRESS_LENGTH);
    expect(parseEnvelopeAddress(at).kind).toBe('address');
    const past = local + '@' + domainOf(MAX_ADDRESS_LENGTH - local.length);
    expect(past.length).toBe(MAX_ADDRESS_LENGTH + 1);
    expect(parseEnvelopeAddress(past).kind).toBe('invalid');
  });

  it('never throws on random input', () => {
    const alphabet = 'a@."<>\\[]:,;() \t\r\nü\0';
    let seed = 42;
    for (let n = 0; n < 5000; n++) {
      let s = '';
      const len = n % 30;
      for (let i = 0; i < len; i++) {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        s += alphabet[seed % alphabet.length];
      }
      expect(() => parseEnvelopeAddress(s)).not.toThrow();
      expect(() => parseAddressList(s)).not.toThrow();
    }
  });
});
