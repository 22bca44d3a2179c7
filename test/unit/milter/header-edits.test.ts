import { describe, expect, it } from 'vitest';
import type { HeaderField } from '../../../src/core/types.js';
import { milterHeaderEdits } from '../../../src/milter/header-edits.js';

const f = (name: string, value: string): HeaderField => ({ name, value: ` ${value}` });

describe('milterHeaderEdits', () => {
  const fields = [f('From', 'a@x'), f('To', 'b@y'), f('Cc', 'c1@z'), f('cc', 'c2@z'), f('X-Mxm-Tag', 't'), f('To', 'd@y')];

  it('deletes every occurrence from the highest index down', () => {
    expect(milterHeaderEdits(fields, [{ op: 'delete', name: 'Cc' }])).toEqual([
      { kind: 'chgheader', name: 'Cc', index: 2, value: '' },
      { kind: 'chgheader', name: 'Cc', index: 1, value: '' },
    ]);
  });

  it('sets the first occurrence in place and deletes the others', () => {
    expect(milterHeaderEdits(fields, [{ op: 'set', name: 'To', value: '"B" <b@y>' }])).toEqual([
      { kind: 'chgheader', name: 'To', index: 2, value: '' },
      { kind: 'chgheader', name: 'To', index: 1, value: '"B" <b@y>' },
    ]);
  });

  it('appends a field that is absent, and later edits see earlier ones', () => {
    expect(
      milterHeaderEdits(fields, [
        { op: 'set', name: 'Sender', value: 's@x' },
        { op: 'delete', name: 'sender' },
        { op: 'delete', name: 'Bcc' },
      ]),
    ).toEqual([
      { kind: 'addheader', name: 'Sender', value: 's@x' },
      { kind: 'chgheader', name: 'sender', index: 1, value: '' },
    ]);
  });

  it('folds long values the way the transform does', () => {
    const long = `${'Very Long Display Name '.repeat(4).trim()} <someone@example.org>`;
    const [edit] = milterHeaderEdits(fields, [{ op: 'set', name: 'From', value: long }]);
    expect(edit?.kind).toBe('chgheader');
    const value = (edit as { value: string }).value;
    expect(value.replace(/\r\n(?=[ \t])/g, '')).toBe(long);
    expect(value).toContain('\r\n ');
    for (const line of `From: ${value}`.split('\r\n')) expect(line.length).toBeLessThanOrEqual(78);
  });

  it('sends no change for a field that already reads exactly so (HDR_LEADSPC), only the deletes of the others', () => {
    expect(milterHeaderEdits(fields, [{ op: 'set', name: 'From', value: 'a@x' }])).toEqual([]);
    expect(milterHeaderEdits(fields, [{ op: 'set', name: 'To', value: 'b@y' }])).toEqual([{ kind: 'chgheader', name: 'To', index: 2, value: '' }]);
    // A different spelling of the name, or of the value (spacing), is a change.
    expect(milterHeaderEdits(fields, [{ op: 'set', name: 'FROM', value: 'a@x' }])).toEqual([{ kind: 'chgheader', name: 'FROM', index: 1, value: 'a@x' }]);
    expect(milterHeaderEdits([{ name: 'From', value: '  a@x' }], [{ op: 'set', name: 'From', value: 'a@x' }])).toHaveLength(1);
    // A folded field that reads exactly as formatHeaderField folds it.
    const long = `${'Very Long Display Name '.repeat(4).trim()} <someone@example.org>`;
    const [edit] = milterHeaderEdits(fields, [{ op: 'set', name: 'From', value: long }]);
    const folded = [{ name: 'From', value: ` ${(edit as { value: string }).value}` }];
    expect(milterHeaderEdits(folded, [{ op: 'set', name: 'From', value: long }])).toEqual([]);
  });

  it('without HDR_LEADSPC (values not verbatim) always sends the change; a second set sees the first', () => {
    const bare = fields.map((x) => ({ name: x.name, value: x.value.slice(1) }));
    expect(milterHeaderEdits(bare, [{ op: 'set', name: 'From', value: 'a@x' }], false)).toEqual([{ kind: 'chgheader', name: 'From', index: 1, value: 'a@x' }]);
    expect(
      milterHeaderEdits(fields, [
        { op: 'set', name: 'From', value: 'n@x' },
        { op: 'set', name: 'From', value: 'n@x' },
        { op: 'set', name: 'X-New', value: 'v' },
        { op: 'set', name: 'X-New', value: 'v' },
      ]),
    ).toEqual([
      { kind: 'chgheader', name: 'From', index: 1, value: 'n@x' },
      { kind: 'addheader', name: 'X-New', value: 'v' },
    ]);
  });

  it('refuses a value with a line break (no header injection)', () => {
    expect(() => milterHeaderEdits(fields, [{ op: 'set', name: 'From', value: 'a@x\r\nBcc: evil@x' }])).toThrow();
  });
});
