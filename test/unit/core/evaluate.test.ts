import { describe, expect, it } from 'vitest';
import { checkSender, evaluate } from '../../../src/core/evaluate.js';
import { REMOVED_FIELDS } from '../../../src/core/removed-fields.js';
import type {
  Acceptance,
  Facts,
  HeaderEdit,
  HeaderField,
  RejectReason,
  SpaceFacts,
  SuppressionAnswer,
  Verdict,
} from '../../../src/core/types.js';
import { MAX_RECIPIENTS } from '../../../src/lib/limits.js';

const space: SpaceFacts = {
  id: 7,
  name: 'acme',
  domains: ['example.com', 'xn--bcher-kva.example'],
  allowSubdomains: false,
  defaultFlags: null,
};

interface Opts {
  mailFrom?: string;
  rcptTo?: string[];
  space?: Partial<SpaceFacts>;
  fromAddressFlags?: number | null;
  suppression?: Record<string, SuppressionAnswer>;
}

const hdrs = (...pairs: [string, string][]): HeaderField[] => pairs.map(([name, value]) => ({ name, value }));

function facts(headers: HeaderField[], o: Opts = {}): Facts {
  return {
    space: { ...space, ...o.space },
    user: 'user@example.com',
    mailFrom: o.mailFrom ?? 'news@example.com',
    rcptTo: o.rcptTo ?? ['bob@x.org'],
    headers,
    fromAddressFlags: o.fromAddressFlags ?? null,
    suppression: o.suppression ?? {},
    bounceAddress: 'trx-7-1-abc@bounce.test',
  };
}

const base = (...extra: [string, string][]): HeaderField[] =>
  hdrs(['From', ' Acme News <news@example.com>'], ['To', ' Bob <bob@x.org>'], ...extra);

function accept(v: Verdict): Acceptance {
  if (v.kind !== 'accept') throw new Error(`expected accept, got ${v.reason}: ${v.text}`);
  return v;
}
function reason(v: Verdict): RejectReason | 'accept' {
  return v.kind === 'accept' ? 'accept' : v.reason;
}
const setValue = (edits: readonly HeaderEdit[], name: string): string | undefined => {
  const e = edits.find((x) => x.op === 'set' && x.name === name);
  return e?.op === 'set' ? e.value : undefined;
};
const deletes = (edits: readonly HeaderEdit[]): string[] => edits.filter((e) => e.op === 'delete').map((e) => e.name);

describe('checkSender', () => {
  it.each([
    ['news@example.com'],
    ['<news@example.com>'],
    ['News@EXAMPLE.COM'],
    ['news@example.com.'],
    ['info@bücher.example'],
    ['info@BÜCHER.example'],
    ['info@xn--bcher-kva.example'],
    ['jürgen@example.com'],
    ['"john doe"@example.com'],
  ])('allows %j', (mailFrom) => {
    expect(checkSender(space, mailFrom)).toBeNull();
  });

  it('refuses the null sender', () => {
    for (const s of ['', '<>']) {
      expect(checkSender(space, s)).toEqual({
        kind: 'reject',
        reason: 'null-sender',
        code: 553,
        enhanced: '5.1.7',
        text: 'Null sender not allowed: MAIL FROM must be an address in one of your sender domains',
      });
    }
  });

  it.each(['news', 'news@', '@example.com', 'a b@example.com', 'news@example..com', '<news@example.com', 'news@exa mple.com'])(
    'refuses %j as syntax',
    (mailFrom) => {
      const r = checkSender(space, mailFrom);
      expect(r).toMatchObject({ reason: 'sender-syntax', code: 553, enhanced: '5.1.7' });
      expect(r?.text).toMatch(/^Sender address <.*> is not a valid address$/);
    },
  );

  it('echoes a hostile sender safely', () => {
    const r = checkSender(space, 'x\r\n250 ok@example.com' + 'y'.repeat(300));
    expect(r?.text).toMatch(/^[\x20-\x7e]+$/);
    expect(r?.text).toContain('x??250 ok@example.com');
    expect(r?.text).toContain('...>');
  });

  it.each([
    ['news@example.com.evil.test', 'example.com.evil.test'],
    ['news@evil-example.com', 'evil-example.com'],
    ['news@example.co', 'example.co'],
    ['news@examp1e.com', 'examp1e.com'],
    ['news@mail.example.com', 'mail.example.com'],
    ['news@bucher.example', 'bucher.example'],
    ['news@bücher.example.evil', 'xn--bcher-kva.example.evil'],
    ['news@[192.0.2.1]', '[192.0.2.1]'],
    ['news@xn--e1afmkfd.example', 'xn--e1afmkfd.example'], // Cyrillic lookalike, not in the list
  ])('refuses lookalike %j', (mailFrom, shown) => {
    expect(checkSender(space, mailFrom)).toEqual({
      kind: 'reject',
      reason: 'sender-domain-not-allowed',
      code: 553,
      enhanced: '5.7.1',
      text: `Sender domain <${shown}> is not allowed for this account`,
    });
  });

  it('allows subdomains only when the space says so, on whole labels', () => {
    const sub = { ...space, allowSubdomains: true };
    expect(checkSender(sub, 'n@mail.example.com')).toBeNull();
    expect(checkSender(sub, 'n@a.b.bücher.example')).toBeNull();
    expect(checkSender(sub, 'n@evil-example.com')).toMatchObject({ reason: 'sender-domain-not-allowed' });
    expect(checkSender(sub, 'n@example.com.evil.test')).toMatchObject({ reason: 'sender-domain-not-allowed' });
  });

  it('IDN both ways: a space configured with a U-label matches the A-label and back', () => {
    const uSpace = { ...space, domains: ['bücher.example'] };
    expect(checkSender(uSpace, 'a@xn--bcher-kva.example')).toBeNull();
    expect(checkSender(uSpace, 'a@bücher.example')).toBeNull();
    expect(checkSender(space, 'a@Bu\u0308cher.example')).toBeNull(); // decomposed ü
  });
});

describe('evaluate: order of rejection checks', () => {
  const all = hdrs(['X-Mxm-Flags', 'abc'], ['X-Mxm-Tag', 'x'.repeat(101)]); // no To, bad flags, bad tag
  it('sender first', () => {
    expect(reason(evaluate(facts(all, { mailFrom: 'a@evil.test' })))).toBe('sender-domain-not-allowed');
  });
  it('then flags', () => {
    expect(reason(evaluate(facts(all)))).toBe('invalid-flags');
  });
  it('then tags', () => {
    expect(reason(evaluate(facts(all.slice(1))))).toBe('tag-too-long');
  });
  it('then recipients and To', () => {
    expect(reason(evaluate(facts([], { rcptTo: [] })))).toBe('no-recipients');
    expect(reason(evaluate(facts([])))).toBe('no-to');
  });
});

describe('evaluate: rejections, each with its reply', () => {
  const cases: [string, Facts, RejectReason, number, string, string][] = [
    ['null sender', facts(base(), { mailFrom: '' }), 'null-sender', 553, '5.1.7', 'Null sender not allowed: MAIL FROM must be an address in one of your sender domains'],
    ['bad sender', facts(base(), { mailFrom: 'nope' }), 'sender-syntax', 553, '5.1.7', 'Sender address <nope> is not a valid address'],
    ['foreign sender', facts(base(), { mailFrom: 'a@evil.test' }), 'sender-domain-not-allowed', 553, '5.7.1', 'Sender domain <evil.test> is not allowed for this account'],
    ['flags abc', facts(base(['X-Mxm-Flags', 'abc'])), 'invalid-flags', 554, '5.6.0', 'X-Mxm-Flags value "abc" is invalid: expected an integer from 0 to 15'],
    ['flags -1', facts(base(['X-Mxm-Flags', ' -1'])), 'invalid-flags', 554, '5.6.0', 'X-Mxm-Flags value "-1" is invalid: expected an integer from 0 to 15'],
    ['flags 99', facts(base(['X-Mxm-Flags', '99'])), 'invalid-flags', 554, '5.6.0', 'X-Mxm-Flags value "99" is invalid: expected an integer from 0 to 15'],
    ['flags "3 4"', facts(base(['X-Mxm-Flags', '3 4'])), 'invalid-flags', 554, '5.6.0', 'X-Mxm-Flags value "3 4" is invalid: expected an integer from 0 to 15'],
    ['flags empty', facts(base(['X-Mxm-Flags', ''])), 'invalid-flags', 554, '5.6.0', 'X-Mxm-Flags value "" is invalid: expected an integer from 0 to 15'],
    ['flags 0x3', facts(base(['X-Mxm-Flags', '0x3'])), 'invalid-flags', 554, '5.6.0', 'X-Mxm-Flags value "0x3" is invalid: expected an integer from 0 to 15'],
    ['21 tags', facts(base(['X-Mxm-Tag', Array.from({ length: 21 }, (_, i) => `t${i}`).join(',')])), 'too-many-tags', 554, '5.6.0', 'X-Mxm-Tag: too many tags (21, at most 20)'],
    ['long tag', facts(base(['X-Mxm-Tag', 'x'.repeat(101)])), 'tag-too-long', 554, '5.6.0', 'X-Mxm-Tag: a tag is longer than 100 characters'],
    ['tag with CR LF', facts(base(['X-Mxm-Tag', 'ok, =?UTF-8?Q?a=0D=0Ab?='])), 'tag-control-character', 554, '5.6.0', 'X-Mxm-Tag: a tag contains a control character or line break (U+000D)'],
    ['no RCPT', facts(base(), { rcptTo: [] }), 'no-recipients', 554, '5.5.1', 'No valid recipients'],
    ['no To', facts(hdrs(['From', 'news@example.com'])), 'no-to', 554, '5.6.0', 'Message must have a To: header with one recipient address'],
    ['empty To', facts(hdrs(['To', ' '])), 'no-to', 554, '5.6.0', 'Message must have a To: header with one recipient address'],
    ['only empty groups', facts(hdrs(['To', 'undisclosed-recipients:;, Other:;'])), 'no-to', 554, '5.6.0', 'Message must have a To: header with one recipient address'],
    ['To garbage', facts(hdrs(['To', 'bob'])), 'no-to', 554, '5.6.0', 'Message must have a To: header with one recipient address'],
    ['To not in RCPT', facts(hdrs(['To', 'eve@x.org'])), 'to-not-in-rcpt', 554, '5.7.1', 'To: address <eve@x.org> is not one of the RCPT TO recipients'],
  ];
  it.each(cases)('%s', (_label, f, r, code, enhanced, text) => {
    expect(evaluate(f)).toEqual({ kind: 'reject', reason: r, code, enhanced, text });
  });

  it('accepts exactly MAX_RECIPIENTS and refuses one more', () => {
    const rcpts = (n: number): string[] => ['bob@x.org', ...Array.from({ length: n - 1 }, (_, i) => `r${i}@x.org`)];
    expect(evaluate(facts(base(), { rcptTo: rcpts(MAX_RECIPIENTS) })).kind).toBe('accept');
    expect(evaluate(facts(base(), { rcptTo: rcpts(MAX_RECIPIENTS + 1) }))).toMatchObject({
      reason: 'too-many-recipients',
      code: 554,
      enhanced: '5.5.3',
      text: `Too many recipients (${MAX_RECIPIENTS + 1}, at most ${MAX_RECIPIENTS})`,
    });
  });
});

describe('evaluate: a list of bad inputs, each with the right reason', () => {
  const bad: [string, Facts, RejectReason][] = [
    ['MAIL FROM with CRLF', facts(base(), { mailFrom: 'news@example.com\r\nRCPT TO:<x@y>' }), 'sender-syntax'],
    ['MAIL FROM two @', facts(base(), { mailFrom: 'a@b@example.com' }), 'sender-syntax'],
    ['MAIL FROM quoted unterminated', facts(base(), { mailFrom: '"a@example.com' }), 'sender-syntax'],
    ['MAIL FROM local part 65 octets', facts(base(), { mailFrom: 'x'.repeat(65) + '@example.com' }), 'sender-syntax'],
    ['MAIL FROM in a subdomain', facts(base(), { mailFrom: 'a@mail.example.com' }), 'sender-domain-not-allowed'],
    ['MAIL FROM suffix lookalike', facts(base(), { mailFrom: 'a@myexample.com' }), 'sender-domain-not-allowed'],
    ['MAIL FROM address literal', facts(base(), { mailFrom: 'a@[127.0.0.1]' }), 'sender-domain-not-allowed'],
    ['flags repeated, first bad', facts(base(['X-Mxm-Flags', 'x'], ['X-Mxm-Flags', '3'])), 'invalid-flags'],
    ['flags unicode digit', facts(base(['X-Mxm-Flags', '３'])), 'invalid-flags'],
    ['flags 16', facts(base(['x-mxm-flags', '16'])), 'invalid-flags'],
    ['tags over several fields', facts(base(...Array.from({ length: 21 }, (_, i): [string, string] => ['X-Mxm-Tag', `t${i}`]))), 'too-many-tags'],
    ['encoded long tag', facts(base(['X-Mxm-Tag', `=?UTF-8?B?${Buffer.from('é'.repeat(101)).toString('base64')}?=`])), 'tag-too-long'],
    ['To only in Cc', facts(hdrs(['Cc', 'bob@x.org'])), 'no-to'],
    ['To field name misspelt', facts(hdrs(['To-', 'bob@x.org'])), 'no-to'],
    ['first To empty, second has the address', facts(hdrs(['To', ''], ['To', 'bob@x.org'])), 'no-to'],
    ['To is a null path', facts(hdrs(['To', '<>'])), 'no-to'],
    ['To in a Bcc header only', facts(hdrs(['Bcc', 'bob@x.org'])), 'no-to'],
    ['To first mailbox not in RCPT, second is', facts(hdrs(['To', 'eve@x.org, bob@x.org'])), 'to-not-in-rcpt'],
    ['To differs by a dot', facts(hdrs(['To', 'bob.@x.org, b.ob@x.org'])), 'to-not-in-rcpt'],
    ['To lookalike domain', facts(hdrs(['To', 'bob@x.org.evil'])), 'to-not-in-rcpt'],
  ];
  it.each(bad)('%s', (_label, f, r) => {
    expect(reason(evaluate(f))).toBe(r);
  });
});

describe('evaluate: From', () => {
  const fromOf = (fromValue: string | null, o: Opts = {}): Acceptance => {
    const h = hdrs(['To', 'bob@x.org']);
    if (fromValue !== null) h.unshift({ name: 'From', value: fromValue });
    return accept(evaluate(facts(h, o)));
  };

  it('keeps a plain display name and puts MAIL FROM in', () => {
    const a = fromOf(' Acme Support <support@somewhere.test>');
    expect(setValue(a.headerEdits, 'From')).toBe('Acme Support <news@example.com>');
    expect(a.from).toBe('news@example.com');
    expect(a.fromDisplayName).toBe('Acme Support');
  });

  it('keeps an RFC 2047 name byte-for-byte (ISO-8859-1 Q and UTF-8 B)', () => {
    expect(setValue(fromOf(' =?ISO-8859-1?Q?Andr=E9?= Pirard <a@b.c>').headerEdits, 'From')).toBe(
      '=?ISO-8859-1?Q?Andr=E9?= Pirard <news@example.com>',
    );
    const b = fromOf('=?UTF-8?B?SsO8cmdlbg==?= <a@b.c>');
    expect(setValue(b.headerEdits, 'From')).toBe('=?UTF-8?B?SsO8cmdlbg==?= <news@example.com>');
    expect(b.fromDisplayName).toBe('Jürgen');
  });

  it('keeps a quoted name with commas and < as written', () => {
    expect(setValue(fromOf('"Doe, John <boss>" <a@b.c>').headerEdits, 'From')).toBe('"Doe, John <boss>" <news@example.com>');
  });

  it('unfolds a folded name and nothing else', () => {
    expect(setValue(fromOf(' "Very\r\n  Long"\r\n\t<a@b.c>').headerEdits, 'From')).toBe('"Very  Long" <news@example.com>');
  });

  it('RFC 2047-encodes a raw 8-bit name, in encoded words of at most 75 characters', () => {
    const a = fromOf(' "Jürgen, Müller" <a@b.c>');
    expect(setValue(a.headerEdits, 'From')).toBe('=?UTF-8?Q?J=C3=BCrgen=2C_M=C3=BCller?= <news@example.com>');
    const long = fromOf(` ${'Ünïcödé '.repeat(30)}<a@b.c>`);
    const v = setValue(long.headerEdits, 'From') ?? '';
    const words = v.match(/=\?[^?]+\?[QB]\?[^?]*\?=/g) ?? [];
    expect(words.length).toBeGreaterThan(1);
    for (const w of words) expect(w.length).toBeLessThanOrEqual(75);
    expect(v).toMatch(/^[\x20-\x7e]+$/);
    expect(long.fromDisplayName).toBe('Ünïcödé '.repeat(30).trim());
  });

  it('uses the bare address when there is no display name', () => {
    expect(setValue(fromOf(' someone@else.test').headerEdits, 'From')).toBe('news@example.com');
    expect(setValue(fromOf('<someone@else.test>').headerEdits, 'From')).toBe('news@example.com');
  });

  it('takes an old-style comment name as the display name', () => {
    const a = fromOf('someone@else.test (Some One)');
    expect(setValue(a.headerEdits, 'From')).toBe('"Some One" <news@example.com>');
    expect(a.fromDisplayName).toBe('Some One');
  });

  it('sets From when it is missing or unparseable', () => {
    expect(fromOf(null).headerEdits).toContainEqual({ op: 'set', name: 'From', value: 'news@example.com' });
    expect(fromOf('garbage').headerEdits).toContainEqual({ op: 'set', name: 'From', value: 'news@example.com' });
    expect(fromOf('').headerEdits).toContainEqual({ op: 'set', name: 'From', value: 'news@example.com' });
  });

  it('several mailboxes: the first one\'s name is kept and Sender is deleted', () => {
    const h = hdrs(['From', 'Ann <ann@x.test>, Ben <ben@x.test>'], ['Sender', 'ann@x.test'], ['To', 'bob@x.org']);
    const a = accept(evaluate(facts(h)));
    expect(setValue(a.headerEdits, 'From')).toBe('Ann <news@example.com>');
    expect(deletes(a.headerEdits)).toContain('Sender');
  });

  it('deletes Sender whenever present', () => {
    const h = hdrs(['From', 'news@example.com'], ['sender', 'other@x.test'], ['To', 'bob@x.org']);
    expect(accept(evaluate(facts(h))).headerEdits).toEqual([{ op: 'delete', name: 'Sender' }]);
  });

  // Issue 12 item 5: on old main only Sender was deleted.
  it('deletes every field that must not survive the relay (REMOVED_FIELDS), any letter case, and keeps Reply-To', () => {
    const h = hdrs(
      ['From', 'news@example.com'],
      ['To', 'bob@x.org'],
      ['Reply-To', 'help@example.com'],
      ['resent-from', 'a@elsewhere.test'],
      ['Resent-Sender', 'a@elsewhere.test'],
      ['Resent-To', 'c@elsewhere.test'],
      ['Resent-Cc', 'c@elsewhere.test'],
      ['Resent-Bcc', 'c@elsewhere.test'],
      ['ERRORS-TO', 'e@elsewhere.test'],
      ['X-Original-From', 'boss@elsewhere.test'],
      ['DKIM-Signature', 'v=1; a=rsa-sha256; d=elsewhere.test; s=x; h=from; bh=AAAA; b=BBBB'],
      ['Authentication-Results', 'mx.elsewhere.test; dkim=pass'],
      ['Authentication-Results', 'mx2.elsewhere.test; spf=pass'],
      ['Sender', 'a@elsewhere.test'],
      ['Resent-Date', 'Mon, 1 Dec 2026 10:00:00 +0000'],
      ['Resent-Message-ID', '<r1@elsewhere.test>'],
      ['X-Original-To', 'kept@x.org'],
    );
    expect(deletes(accept(evaluate(facts(h))).headerEdits).sort()).toEqual(
      [
        'Authentication-Results',
        'DKIM-Signature',
        'Errors-To',
        'Resent-Bcc',
        'Resent-Cc',
        'Resent-Date',
        'Resent-From',
        'Resent-Message-ID',
        'Resent-Sender',
        'Resent-To',
        'Sender',
        'X-Original-From',
      ].sort(),
    );
    expect([...REMOVED_FIELDS.keys()].sort()).toEqual(deletes(accept(evaluate(facts(h))).headerEdits).sort());
  });

  it('no edit when From already is exactly MAIL FROM; an edit when it differs at all', () => {
    expect(fromOf(' news@example.com').headerEdits).toEqual([]);
    expect(fromOf(' Acme <news@example.com>').headerEdits).toEqual([]);
    expect(fromOf(' =?UTF-8?Q?Acme?=\r\n <news@example.com>').headerEdits).toEqual([]);
    expect(fromOf(' NEWS@example.com').headerEdits).toHaveLength(1);
    expect(fromOf(' news@Example.com').headerEdits).toHaveLength(1);
    expect(fromOf(' news@example.com, x@y.z').headerEdits).toHaveLength(1);
    expect(fromOf(' news@example.com garbage').headerEdits).toHaveLength(1);
    const two = hdrs(['From', 'news@example.com'], ['To', 'bob@x.org'], ['From', 'news@example.com']);
    expect(accept(evaluate(facts(two))).headerEdits).toEqual([{ op: 'set', name: 'From', value: 'news@example.com' }]);
  });

  // Issue 12 item 6: on old main the From was written with the fullwidth / ideographic dot.
  it.each(['news@example\uff0ecom', 'news@example\u3002com', 'news@example\uff61com', '<news@example\uff0ecom>'])(
    'writes a MAIL FROM domain with an IDNA full stop (%j) with ASCII dots',
    (mailFrom) => {
      const a = fromOf(' Acme <news@example\uff0ecom>', { mailFrom });
      expect(a.from).toBe('news@example.com');
      expect(setValue(a.headerEdits, 'From')).toBe('Acme <news@example.com>');
      // ...also when the client's From was already spelled like its MAIL FROM
      const same = fromOf(` ${mailFrom.replace(/[<>]/g, '')}`, { mailFrom });
      expect(setValue(same.headerEdits, 'From')).toBe('news@example.com');
    },
  );

  it('uses MAIL FROM as given: SMTPUTF8 local part and U-label domain', () => {
    const a = fromOf(' Jü <x@y.z>', { mailFrom: 'jürgen@bücher.example' });
    expect(setValue(a.headerEdits, 'From')).toBe('=?UTF-8?Q?J=C3=BC?= <jürgen@bücher.example>');
    expect(a.from).toBe('jürgen@bücher.example');
  });

  it('never lets a hostile display name swallow or fake the address', () => {
    const hostile = [
      ' "unterminated <evil@evil.test>',
      ' a (comment <evil@evil.test>',
      ' evil@evil.test <x@y.z>',
      ' Name <x@y.z> <evil@evil.test>',
      ' =?UTF-8?Q?=22?= <x@y.z>',
      ' x\0y <x@y.z>',
    ];
    for (const v of hostile) {
      const from = setValue(fromOf(v).headerEdits, 'From') ?? '';
      expect(from.endsWith('<news@example.com>') || from === 'news@example.com').toBe(true);
      expect(from).not.toMatch(/[\r\n\0]/);
    }
  });
});

describe('evaluate: To', () => {
  const toOf = (toValues: string[], rcptTo: string[] = ['bob@x.org']): Acceptance =>
    accept(evaluate(facts(hdrs(['From', 'news@example.com'], ...toValues.map((v): [string, string] => ['To', v])), { rcptTo })));

  it('keeps the first mailbox as written and drops the others', () => {
    const a = toOf([' "Bob, B." <bob@x.org>, carol@y.org'], ['bob@x.org', 'carol@y.org']);
    expect(setValue(a.headerEdits, 'To')).toBe('"Bob, B." <bob@x.org>');
    expect(a.to).toBe('bob@x.org');
  });

  it('no edit when To is already exactly that mailbox', () => {
    expect(toOf([' Bob <bob@x.org>']).headerEdits).toEqual([]);
    expect(toOf([' bob@x.org (Bob)']).headerEdits).toEqual([]);
  });

  it('several To fields: the first field counts, the others go', () => {
    const a = toOf(['bob@x.org', 'carol@y.org'], ['bob@x.org', 'carol@y.org']);
    expect(a.headerEdits).toEqual([{ op: 'set', name: 'To', value: 'bob@x.org' }]);
  });

  it('a group: its first member is the To', () => {
    const a = toOf([' Team: Bob <bob@x.org>, carol@y.org;'], ['carol@y.org', 'bob@x.org']);
    expect(setValue(a.headerEdits, 'To')).toBe('Bob <bob@x.org>');
    expect(a.to).toBe('bob@x.org');
    expect(a.bcc).toBe('carol@y.org');
  });

  it('empty groups before the first member do not count', () => {
    expect(setValue(toOf(['undisclosed-recipients:;, bob@x.org']).headerEdits, 'To')).toBe('bob@x.org');
  });

  it('domain case and IDN form may differ from the RCPT; the local part must match apart from letter case', () => {
    expect(toOf(['bob@X.ORG']).to).toBe('bob@x.org');
    expect(toOf(['ann@bücher.example'], ['ann@xn--bcher-kva.example']).to).toBe('ann@xn--bcher-kva.example');
    expect(toOf(['ann@XN--BCHER-KVA.example'], ['ann@Bücher.example']).to).toBe('ann@Bücher.example');
    expect(toOf(['bob@x.org.'], ['bob@x.org']).to).toBe('bob@x.org');
    expect(toOf(['"bob"@x.org'], ['bob@x.org']).to).toBe('bob@x.org');
    expect(toOf(['bob@x.org'], ['<bob@x.org>']).to).toBe('<bob@x.org>');
    expect(evaluate(facts(hdrs(['To', 'bobby@x.org'])))).toMatchObject({ reason: 'to-not-in-rcpt' });
    expect(evaluate(facts(hdrs(['To', 'b.ob@x.org'])))).toMatchObject({ reason: 'to-not-in-rcpt' });
  });

  // Issue 12 item 1: refused with 554 5.7.1 on old main (local parts compared exactly).
  it('the local part compares case-insensitively; the To keeps the header spelling, the RCPT is the recipient', () => {
    const same = toOf(['CaSe@Example.NET'], ['case@example.net']);
    expect(same.to).toBe('case@example.net');
    expect(same.headerEdits).toEqual([]); // the delivered To: stays `CaSe@Example.NET`
    expect(same.deliverTo).toEqual(['case@example.net']);
    const named = toOf([' Bob <BOB@X.org>, carol@y.org'], ['carol@y.org', 'bob@x.org']);
    expect(named.to).toBe('bob@x.org');
    expect(setValue(named.headerEdits, 'To')).toBe('Bob <BOB@X.org>');
    expect(named.bcc).toBe('carol@y.org');
    expect(toOf(['"John Smith"@x.org'], ['"john smith"@x.org']).to).toBe('"john smith"@x.org');
    expect(toOf(['JÜRGEN@bücher.example'], ['jürgen@xn--bcher-kva.example']).to).toBe('jürgen@xn--bcher-kva.example');
  });

  it('an SMTPUTF8 To address stays raw; a raw 8-bit name is encoded', () => {
    const a = toOf([' Jürgen <jü@bücher.example>, x@y.z'], ['jü@bücher.example']);
    expect(setValue(a.headerEdits, 'To')).toBe('=?UTF-8?Q?J=C3=BCrgen?= <jü@bücher.example>');
  });
});

describe('evaluate: recipients', () => {
  const run = (rcptTo: string[], o: Opts = {}): Acceptance => accept(evaluate(facts(base(), { ...o, rcptTo })));

  it('the first other RCPT is the BCC, the rest are discarded', () => {
    const a = run(['carol@y.org', 'bob@x.org', 'dave@z.org', 'erin@w.org']);
    expect(a.to).toBe('bob@x.org');
    expect(a.bcc).toBe('carol@y.org');
    expect(a.discarded).toEqual(['dave@z.org', 'erin@w.org']);
    expect(a.deliverTo).toEqual(['carol@y.org', 'bob@x.org']);
    expect(a.removeRecipients).toEqual(['dave@z.org', 'erin@w.org']);
    expect(a.recipients.map((r) => [r.address, r.role])).toEqual([
      ['carol@y.org', 'bcc'],
      ['bob@x.org', 'to'],
      ['dave@z.org', 'discarded'],
      ['erin@w.org', 'discarded'],
    ]);
    expect(a.envelopeSender).toBe('trx-7-1-abc@bounce.test');
  });

  it('only the To: no BCC', () => {
    const a = run(['bob@x.org']);
    expect(a.bcc).toBeNull();
    expect(a.discarded).toEqual([]);
    expect(a.removeRecipients).toEqual([]);
  });

  it('duplicates of To or BCC are the same recipient, not discarded', () => {
    const a = run(['bob@x.org', 'bob@X.ORG', 'carol@y.org', 'bob@x.org', 'CAROL@y.org', 'carol@Y.org', 'dave@z.org']);
    expect(a.bcc).toBe('carol@y.org'); // CAROL@ is the same mailbox: local parts compare case-insensitively
    expect(a.discarded).toEqual(['dave@z.org']);
    expect(a.recipients.find((r) => r.address === 'CAROL@y.org')?.role).toBe('bcc');
    expect(a.recipients.find((r) => r.address === 'carol@Y.org')?.role).toBe('bcc');
    expect(a.recipients.find((r) => r.address === 'bob@X.ORG')?.role).toBe('to');
    expect(a.recipients).toHaveLength(6); // exact duplicates listed once
  });

  it('Cc and Bcc are deleted, every X-Mxm-* once per name', () => {
    const h = base(
      ['Cc', 'c@y.org'],
      ['X-Mxm-Tag', 'a'],
      ['BCC', 'd@z.org'],
      ['x-mxm-tag', 'b'],
      ['X-Mxm-Flags', '1'],
      ['X-Mxm-Whatever', 'z'],
      ['cc', 'e@y.org'],
    );
    const a = accept(evaluate(facts(h)));
    expect(deletes(a.headerEdits)).toEqual(['Cc', 'Bcc', 'X-Mxm-Tag', 'X-Mxm-Flags', 'X-Mxm-Whatever']);
    expect(a.tags).toEqual(['a', 'b']);
    expect(a.flags).toBe(1);
    expect(a.flagsSource).toBe('header');
  });

  it('no edits at all for a message already in shape', () => {
    expect(accept(evaluate(facts(base(['Subject', 'hi'])))).headerEdits).toEqual([]);
  });
});

describe('evaluate: flags precedence and suppression', () => {
  const bounce = { bounce: { reason: 'hard bounce 550 5.1.1' } };
  const unsub = { unsubscribe: { reason: 'one-click' } };
  const both = { ...bounce, ...unsub };
  const run = (flagsHeader: string | null, suppression: Record<string, SuppressionAnswer>, o: Opts = {}): Acceptance =>
    accept(
      evaluate(
        facts(flagsHeader === null ? base() : base(['X-Mxm-Flags', flagsHeader]), {
          ...o,
          rcptTo: ['bob@x.org', 'carol@y.org'],
          suppression,
        }),
      ),
    );

  it('flags: header > from-address > space > default', () => {
    expect(run('5', {}, { fromAddressFlags: 1, space: { defaultFlags: 2 } })).toMatchObject({ flags: 5, flagsSource: 'header' });
    expect(run(null, {}, { fromAddressFlags: 1, space: { defaultFlags: 2 } })).toMatchObject({ flags: 1, flagsSource: 'from-address' });
    expect(run(null, {}, { space: { defaultFlags: 2 } })).toMatchObject({ flags: 2, flagsSource: 'space' });
    expect(run(null, {})).toMatchObject({ flags: 3, flagsSource: 'default' });
    expect(run('0', {}, { space: { defaultFlags: 2 } })).toMatchObject({ flags: 0, flagsSource: 'header' });
  });

  it('the Bounce list is checked by default', () => {
    const a = run(null, { 'bob@x.org': bounce });
    expect(a.recipients[0]?.suppressed).toEqual({ list: 'bounce', reason: 'hard bounce 550 5.1.1' });
    expect(a.deliverTo).toEqual(['carol@y.org']);
    expect(a.removeRecipients).toEqual(['bob@x.org']);
    expect(a.to).toBe('bob@x.org'); // still the To; the send is accepted
  });

  it('flag 8 ignores the Bounce list', () => {
    const a = run('8', { 'bob@x.org': bounce });
    expect(a.recipients[0]?.suppressed).toBeNull();
    expect(a.deliverTo).toEqual(['bob@x.org', 'carol@y.org']);
  });

  it('the Unsubscribe list only with flag 4', () => {
    expect(run(null, { 'carol@y.org': unsub }).deliverTo).toEqual(['bob@x.org', 'carol@y.org']);
    const a = run('4', { 'carol@y.org': unsub });
    expect(a.recipients[1]?.suppressed).toEqual({ list: 'unsubscribe', reason: 'one-click' });
    expect(a.deliverTo).toEqual(['bob@x.org']);
  });

  it('bounce wins when both apply; with flag 12 the unsubscribe applies', () => {
    expect(run('4', { 'bob@x.org': both }).recipients[0]?.suppressed?.list).toBe('bounce');
    expect(run('12', { 'bob@x.org': both }).recipients[0]?.suppressed?.list).toBe('unsubscribe');
  });

  it('suppression of any spelling removes every spelling', () => {
    const a = accept(
      evaluate(facts(base(), { rcptTo: ['bob@x.org', 'bob@X.org', 'carol@y.org'], suppression: { 'bob@X.org': bounce } })),
    );
    expect(a.removeRecipients).toEqual(['bob@x.org', 'bob@X.org']);
    expect(a.deliverTo).toEqual(['carol@y.org']);
  });

  it('discarded recipients are removed whether or not they are suppressed', () => {
    const a = accept(evaluate(facts(base(), { rcptTo: ['bob@x.org', 'carol@y.org', 'dave@z.org'], suppression: { 'dave@z.org': bounce } })));
    expect(a.recipients[2]).toEqual({ address: 'dave@z.org', role: 'discarded', suppressed: null });
    expect(a.removeRecipients).toEqual(['dave@z.org']);
  });
});

describe('evaluate: header values never carry CR, LF or NUL', () => {
  const hostile = [
    'Evil\r\nBcc: victim@x.test <a@b.c>',
    '"Evil\r\n\r\nbody" <a@b.c>',
    'Evil\nX-Injected: 1\n <a@b.c>',
    'Evil\rX: 1 <a@b.c>',
    '=?UTF-8?Q?a=0D=0Ab?= <a@b.c>',
    '"\0" <a@b.c>',
    'a (\r\n) <a@b.c>',
    '\r\n',
    'Name <a@b.c\r\n>',
  ];
  it.each(hostile)('From %j', (from) => {
    const toValues = [from.replace('a@b.c', 'bob@x.org'), 'x, ' + from.replace('a@b.c', 'bob@x.org')];
    for (const to of toValues) {
      const v = evaluate(facts(hdrs(['From', from], ['To', to], ['X-Mxm-Tag', from])));
      if (v.kind === 'reject') {
        expect(v.text).toMatch(/^[\x20-\x7e]*$/);
        continue;
      }
      for (const e of v.headerEdits) {
        if (e.op === 'set') expect(e.value).not.toMatch(/[\r\n\0]/);
      }
      // Tags are never header values; raw CR and LF are unfolded away, and a tag still holding
      // a control character (decoded, or NUL) is refused (see the tables below).
      for (const tag of v.tags) expect(tag).not.toMatch(/[\x00-\x1f\x7f]/);
    }
  });
});

describe('evaluate: hostile X-Mxm-Tag values', () => {
  // parseTags unfolds (drops every raw CR and LF: they are folding), decodes RFC 2047 words,
  // splits on commas and trims whitespace (String#trim: also CR, LF, VT, FF, NEL and U+2028 at
  // either end). A control character left inside a tag — from an encoded word, or raw — is
  // refused with 554 5.6.0 (issue 12 item 6; old main stored it as it was).
  const b64 = (text: string): string => `=?UTF-8?B?${Buffer.from(text).toString('base64')}?=`;
  it.each<[string, string, string[]]>([
    ['raw CRLF inside', 'Evil\r\nBcc: victim@x.test', ['EvilBcc: victim@x.test']],
    ['raw LF and CR inside', 'a\nX-Injected: 1\rb', ['aX-Injected: 1b']],
    ['raw CRLF only', '\r\n', []],
    ['folded list', 'one,\r\n two', ['one', 'two']],
    ['whitespace controls at the ends', '\t tab \v\f', ['tab']],
  ])('accepted: %s', (_label, value, tags) => {
    const v = accept(evaluate(facts(base(['X-Mxm-Tag', value]))));
    expect(v.tags).toEqual(tags);
    expect(deletes(v.headerEdits)).toContain('X-Mxm-Tag');
  });

  it.each<[string, string, string]>([
    ['Q-encoded CRLF', '=?UTF-8?Q?a=0D=0Ab?=', 'U+000D'],
    ['B-encoded NUL, CRLF and SOH', b64('p\0q\r\nr\x01'), 'U+0000'],
    ['raw NUL', 'a\0b', 'U+0000'],
    ['raw C0 controls and DEL', 'x\x01\x07\x1b[31m\x7f', 'U+0001'],
    ['raw NUL only', '\0', 'U+0000'],
    ['B-encoded U+2028', b64('a\u2028b'), 'U+2028'],
  ])('refused: %s', (_label, value, shown) => {
    expect(evaluate(facts(base(['X-Mxm-Tag', value])))).toEqual({
      kind: 'reject',
      reason: 'tag-control-character',
      code: 554,
      enhanced: '5.6.0',
      text: `X-Mxm-Tag: a tag contains a control character or line break (${shown})`,
    });
  });
});

describe('evaluate: values the transform can always fold', () => {
  it('a display name too long to fold is re-encoded into short words', () => {
    const name = 'x'.repeat(2000);
    for (const from of [` "${name}" <a@b.c>`, ` ${name} <a@b.c>`]) {
      const v = evaluate(facts(hdrs(['From', from], ['To', 'bob@x.org'])));
      const value = v.kind === 'accept' ? (setValue(v.headerEdits, 'From') ?? '') : '';
      expect(value.endsWith(' <news@example.com>')).toBe(true);
      for (const piece of value.split(' ')) expect(piece.length).toBeLessThanOrEqual(75);
    }
  });
  it('the same for a To mailbox', () => {
    const v = evaluate(facts(hdrs(['To', ` "${'y '.repeat(10)}${'y'.repeat(1500)}" <bob@x.org>, c@d.e`])));
    const value = v.kind === 'accept' ? (setValue(v.headerEdits, 'To') ?? '') : '';
    expect(value.endsWith(' <bob@x.org>')).toBe(true);
    for (const piece of value.split(' ')) expect(piece.length).toBeLessThanOrEqual(75);
  });
  it('a name that just fits is kept as written', () => {
    const name = 'z'.repeat(998 - 'From: '.length - 2);
    const v = evaluate(facts(hdrs(['From', ` "${name}" <a@b.c>`], ['To', 'bob@x.org'])));
    expect(v.kind === 'accept' && setValue(v.headerEdits, 'From')).toBe(`"${name}" <news@example.com>`);
    const over = 'z'.repeat(998 - 'From: '.length - 1);
    const w = evaluate(facts(hdrs(['From', ` "${over}" <a@b.c>`], ['To', 'bob@x.org'])));
    expect(w.kind === 'accept' && setValue(w.headerEdits, 'From')).not.toContain('"');
  });
});
