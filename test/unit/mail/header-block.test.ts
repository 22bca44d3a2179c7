import { describe, expect, it } from 'vitest';
import type { HeaderEdit } from '../../../src/core/types.js';
import { InvariantError } from '../../../src/lib/errors.js';
import { HEADER_FOLD_AT, MAX_HEADER_LINE_OCTETS } from '../../../src/lib/limits.js';
import { applyHeaderEdits, decodeFieldBytes, formatHeaderField, parseHeaderBlock } from '../../../src/mail/header-block.js';

const block = (s: string): Buffer => Buffer.from(s, 'utf8');
const edit = (s: string, edits: readonly HeaderEdit[]): string => applyHeaderEdits(parseHeaderBlock(block(s)), edits).toString('utf8');
const lines = (s: string): string[] => s.split('\r\n');

describe('parseHeaderBlock', () => {
  it('reports fields in order with the body after the colon, folding kept', () => {
    const p = parseHeaderBlock(block('From: a@x\r\nSubject: one\r\n\ttwo\r\n three\r\nX-Empty:\r\n\r\n'));
    expect(p.fields).toEqual([
      { name: 'From', value: ' a@x' },
      { name: 'Subject', value: ' one\r\n\ttwo\r\n three' },
      { name: 'X-Empty', value: '' },
    ]);
  });

  it('keeps the case of names and accepts whitespace before the colon (obsolete syntax)', () => {
    expect(parseHeaderBlock(block('sUbJeCt : hi\r\n\r\n')).fields).toEqual([{ name: 'sUbJeCt', value: ' hi' }]);
  });

  it.each([
    ['no colon', 'just text\r\n'],
    ['mbox line', 'From someone@example.com Mon Jan  1 00:00:00 2024\r\n'],
    ['space in name', 'Bad Name: x\r\n'],
    ['8-bit name', 'Na\u00efme: x\r\n'],
    ['empty name', ': x\r\n'],
    ['leading whitespace, no colon', ' orphan x\r\n'],
  ])('does not report a junk line (%s), and keeps it on output', (_label, junk) => {
    const src = `${junk}To: b@y\r\n\r\n`;
    const p = parseHeaderBlock(block(src));
    expect(p.fields).toEqual([{ name: 'To', value: ' b@y' }]);
    expect(edit(src, [{ op: 'set', name: 'To', value: 'c@y' }])).toBe(`${junk}To: c@y\r\n\r\n`);
  });

  it('reads a first line that starts with whitespace as a field, so edits reach it', () => {
    const src = '\tFrom: hidden@x\r\n more\r\nTo: b@y\r\n\r\n';
    expect(parseHeaderBlock(block(src)).fields).toEqual([
      { name: 'From', value: ' hidden@x\r\n more' },
      { name: 'To', value: ' b@y' },
    ]);
    expect(edit(src, [{ op: 'set', name: 'From', value: 'new@x' }])).toBe('From: new@x\r\nTo: b@y\r\n\r\n');
  });

  it('decodes UTF-8, falls back to Latin-1 for bytes that are not UTF-8', () => {
    const utf8 = Buffer.concat([Buffer.from('Subject: '), Buffer.from('caf\u00e9 \u2713', 'utf8'), Buffer.from('\r\n\r\n')]);
    expect(parseHeaderBlock(utf8).fields[0]?.value).toBe(' caf\u00e9 \u2713');
    const latin1 = Buffer.concat([Buffer.from('Subject: caf'), Buffer.from([0xe9]), Buffer.from('\r\n\r\n')]);
    expect(parseHeaderBlock(latin1).fields[0]?.value).toBe(' caf\u00e9');
    expect(decodeFieldBytes(Buffer.from([0xef, 0xbf, 0xbd]))).toBe('\ufffd');
  });

  it('handles a block without the empty line and a last line without line ending', () => {
    const p = parseHeaderBlock(block('A: 1\r\nB: 2'));
    expect(p.fields).toEqual([
      { name: 'A', value: ' 1' },
      { name: 'B', value: ' 2' },
    ]);
    expect(edit('A: 1\r\nB: 2', [{ op: 'set', name: 'C', value: '3' }])).toBe('A: 1\r\nB: 2\r\nC: 3\r\n');
    expect(edit('A: 1\r\nB: 2', [{ op: 'set', name: 'A', value: 'x' }])).toBe('A: x\r\nB: 2');
  });
});

describe('applyHeaderEdits', () => {
  const src = 'Received: one\r\nFrom: "A" <a@x>\r\nTo: b@y\r\nCc: c@z,\r\n d@z\r\nSubject: s\r\nCC: e@z\r\nX-Mxm-Tag: a\r\nX-Mxm-Tag: b\r\n\r\n';

  it('returns the very same buffer when there are no edits', () => {
    const p = parseHeaderBlock(block(src));
    expect(applyHeaderEdits(p, [])).toBe(p.block);
  });

  it('set replaces the first field in place (case-insensitive) and keeps other bytes', () => {
    expect(lines(edit(src, [{ op: 'set', name: 'from', value: '"A" <new@x>' }]))).toEqual([
      'Received: one',
      'from: "A" <new@x>',
      'To: b@y',
      'Cc: c@z,',
      ' d@z',
      'Subject: s',
      'CC: e@z',
      'X-Mxm-Tag: a',
      'X-Mxm-Tag: b',
      '',
      '',
    ]);
  });

  it('set deletes the later fields of that name, folded ones whole', () => {
    expect(lines(edit(src, [{ op: 'set', name: 'Cc', value: 'only@z' }]))).toEqual([
      'Received: one',
      'From: "A" <a@x>',
      'To: b@y',
      'Cc: only@z',
      'Subject: s',
      'X-Mxm-Tag: a',
      'X-Mxm-Tag: b',
      '',
      '',
    ]);
  });

  it('set on an absent field appends it at the end of the header block', () => {
    expect(edit('A: 1\r\nB: 2\r\n\r\n', [{ op: 'set', name: 'Bcc', value: 'x@y' }])).toBe('A: 1\r\nB: 2\r\nBcc: x@y\r\n\r\n');
  });

  it('delete removes every field of the name, with continuation lines, several names at once', () => {
    expect(
      edit(src, [
        { op: 'delete', name: 'CC' },
        { op: 'delete', name: 'x-mxm-tag' },
        { op: 'delete', name: 'Absent' },
      ]),
    ).toBe('Received: one\r\nFrom: "A" <a@x>\r\nTo: b@y\r\nSubject: s\r\n\r\n');
  });

  it('applies edits in order', () => {
    expect(
      edit('A: 1\r\n\r\n', [
        { op: 'set', name: 'B', value: 'first' },
        { op: 'delete', name: 'B' },
        { op: 'set', name: 'C', value: '1' },
        { op: 'set', name: 'c', value: '2' },
      ]),
    ).toBe('A: 1\r\nc: 2\r\n\r\n');
  });

  it('checks every edit, even one that matches nothing', () => {
    expect(() => edit('A: 1\r\n\r\n', [{ op: 'delete', name: 'bad name' }])).toThrow(InvariantError);
  });
});

describe('formatHeaderField', () => {
  it('writes short fields on one line as UTF-8', () => {
    expect(formatHeaderField('To', 'j\u00f6rg@b\u00fccher.example').toString('utf8')).toBe('To: j\u00f6rg@b\u00fccher.example\r\n');
  });

  it.each([
    ['CR', 'a\rb'],
    ['LF', 'a\nb'],
    ['CRLF', 'a\r\nBcc: evil@x'],
    ['NUL', 'a\0b'],
    ['trailing LF', 'a\n'],
  ])('refuses a value with %s (no header injection)', (_l, value) => {
    expect(() => formatHeaderField('Subject', value)).toThrow(InvariantError);
    expect(() => edit('A: 1\r\n\r\n', [{ op: 'set', name: 'Subject', value }])).toThrow(InvariantError);
  });

  it.each(['', 'Bad Name', 'a:b', 'N\u00e4me', 'Tab\tName', 'New\r\nLine'])('refuses the field name %j', (name) => {
    expect(() => formatHeaderField(name, 'x')).toThrow(InvariantError);
  });

  it('folds a long value at whitespace, each line at most HEADER_FOLD_AT when possible', () => {
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const out = formatHeaderField('Subject', words).toString('utf8');
    const ls = out.split('\r\n');
    expect(ls.at(-1)).toBe('');
    ls.pop();
    expect(ls.length).toBeGreaterThan(1);
    for (const l of ls) expect(Buffer.byteLength(l)).toBeLessThanOrEqual(HEADER_FOLD_AT);
    for (const l of ls.slice(1)) expect(l).toMatch(/^ \S/);
    expect(out.replace(/\r\n(?=[ \t])/g, '')).toBe(`Subject: ${words}\r\n`);
  });

  it('never folds inside an encoded word, a quoted string or an <address>', () => {
    const ew = '=?UTF-8?B?' + 'QUJD'.repeat(15) + '?=';
    const value = `${ew} ${ew} "Very Long Quoted Display Name With Many Words In It" <some.long.address@sub.domain.example> , <x @ y>`;
    const out = formatHeaderField('To', value).toString('utf8');
    const ls = out.split('\r\n');
    expect(ls.some((l) => l.includes(ew))).toBe(true);
    expect(ls.filter((l) => l.includes(ew))).toHaveLength(2);
    expect(ls.some((l) => l.includes('"Very Long Quoted Display Name With Many Words In It"'))).toBe(true);
    expect(ls.some((l) => l.includes('<some.long.address@sub.domain.example>'))).toBe(true);
    expect(ls.some((l) => l.includes('<x @ y>'))).toBe(true);
    expect(out.replace(/\r\n(?=[ \t])/g, '')).toBe(`To: ${value}\r\n`);
  });

  it('does not fold after the colon nor leave a whitespace-only line', () => {
    const long = 'x'.repeat(120);
    expect(formatHeaderField('Subject', long).toString()).toBe(`Subject: ${long}\r\n`);
    const trailing = formatHeaderField('Subject', `${'a'.repeat(70)} ${'b'.repeat(20)}   `).toString();
    for (const l of trailing.split('\r\n').slice(0, -1)) expect(l.trim()).not.toBe('');
  });

  it(`writes an unbreakable line of exactly ${MAX_HEADER_LINE_OCTETS} octets, refuses one octet more`, () => {
    const fits = 'v'.repeat(MAX_HEADER_LINE_OCTETS - 'X-A: '.length);
    expect(formatHeaderField('X-A', fits).length).toBe(MAX_HEADER_LINE_OCTETS + 2);
    expect(() => formatHeaderField('X-A', fits + 'v')).toThrow(InvariantError);
    // the same token after whitespace is folded onto its own line, which must fit as well
    expect(() => formatHeaderField('X-A', `a ${'v'.repeat(MAX_HEADER_LINE_OCTETS)}`)).toThrow(InvariantError);
    expect(formatHeaderField('X-A', `a ${'v'.repeat(MAX_HEADER_LINE_OCTETS - 1)}`).toString()).toBe(
      `X-A: a\r\n ${'v'.repeat(MAX_HEADER_LINE_OCTETS - 1)}\r\n`,
    );
  });

  it('measures line length in UTF-8 octets', () => {
    const word = '\u00e9'.repeat(30); // 60 octets
    const out = formatHeaderField('Subject', `${word} ${word}`).toString('utf8');
    expect(out.split('\r\n')).toHaveLength(3);
  });
});
