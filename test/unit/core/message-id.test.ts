/**
 * core/message-id.ts: the Message-ID kept with a send and the search term normalised alike.
 */
import { describe, expect, it } from 'vitest';
import { messageIdOf, normalizeMessageId } from '../../../src/core/message-id.js';
import { MAX_MESSAGE_ID_LENGTH } from '../../../src/lib/limits.js';

describe('normalizeMessageId', () => {
  it('takes the text between the brackets, unfolded and trimmed; brackets are optional', () => {
    expect(normalizeMessageId(' <abc.123@shop.example>')).toBe('abc.123@shop.example');
    expect(normalizeMessageId('abc.123@shop.example')).toBe('abc.123@shop.example');
    expect(normalizeMessageId('\r\n <abc@shop.example> (a comment)')).toBe('abc@shop.example');
    expect(normalizeMessageId('<Case@Kept.example>')).toBe('Case@Kept.example');
  });

  it('refuses empty ids, spaces and control characters inside, stray brackets', () => {
    for (const bad of ['', '  ', '<>', '< >', 'a b@c', '<a\tb@c>', 'a\u0000@b', 'a>b@c', '<a<b@c>']) {
      expect(normalizeMessageId(bad), JSON.stringify(bad)).toBeNull();
    }
  });

  it(`keeps ids of at most MAX_MESSAGE_ID_LENGTH (${MAX_MESSAGE_ID_LENGTH}) characters`, () => {
    const longest = `${'x'.repeat(MAX_MESSAGE_ID_LENGTH - 2)}@y`;
    expect(normalizeMessageId(`<${longest}>`)).toBe(longest);
    expect(normalizeMessageId(`<x${longest}>`)).toBeNull();
  });
});

describe('messageIdOf', () => {
  it('reads the first Message-ID field, whatever its case; null without one or with an invalid one', () => {
    expect(messageIdOf([{ name: 'Subject', value: ' hi' }, { name: 'MESSAGE-ID', value: ' <one@x.example>' }, { name: 'Message-ID', value: ' <two@x.example>' }])).toBe('one@x.example');
    expect(messageIdOf([{ name: 'Subject', value: ' hi' }])).toBeNull();
    expect(messageIdOf([{ name: 'Message-Id', value: ' <a b>' }])).toBeNull();
  });
});
