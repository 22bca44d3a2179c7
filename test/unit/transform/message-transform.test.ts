import { describe, expect, it } from 'vitest';
import type { HeaderField } from '../../../src/core/types.js';
import { rewriteMessage } from '../../../src/transform/message-transform.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'utf8');

describe('rewriteMessage', () => {
  it('passes a message through byte-for-byte when there are no edits', async () => {
    const msg = crlf('From: A <a@x.example>\nSubject: hi\n there\n\nbody line\n');
    const out = await rewriteMessage(msg, { onHeaders: () => [] });
    expect(out.equals(msg)).toBe(true);
  });

  it('gives the root fields to onHeaders and applies set/delete in place', async () => {
    const msg = crlf('From: A <a@x.example>\nTo: b@y.example\nCc: c@z.example,\n d@z.example\nSubject: hi\n\nbody\n');
    let seen: readonly HeaderField[] = [];
    const out = await rewriteMessage(msg, {
      onHeaders: (f) => {
        seen = f;
        return [
          { op: 'set', name: 'From', value: 'A <new@x.example>' },
          { op: 'delete', name: 'CC' },
        ];
      },
    });
    expect(seen).toEqual([
      { name: 'From', value: ' A <a@x.example>' },
      { name: 'To', value: ' b@y.example' },
      { name: 'Cc', value: ' c@z.example,\r\n d@z.example' },
      { name: 'Subject', value: ' hi' },
    ]);
    expect(out.toString()).toBe('From: A <new@x.example>\r\nTo: b@y.example\r\nSubject: hi\r\n\r\nbody\r\n');
  });
});
