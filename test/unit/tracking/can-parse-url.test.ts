/**
 * tracking/can-parse-url.ts answers exactly as URL.canParse, also when the same string is asked
 * again right after (the remembered answer) and when a different one follows.
 */
import { describe, expect, it } from 'vitest';
import { canParseUrl } from '../../../src/tracking/can-parse-url.js';

const URLS = ['https://a.example/x', 'http://', 'https://a.example/x', 'not a url', 'not a url', 'https://[::1]/', 'https://[::1/', '', 'http://b.example:99999/'];

describe('canParseUrl', () => {
  it('answers as URL.canParse, asked once or twice in a row', () => {
    for (const u of [...URLS, ...URLS.reverse()]) {
      expect(canParseUrl(u)).toBe(URL.canParse(u));
      expect(canParseUrl(u)).toBe(URL.canParse(u));
    }
  });
});
