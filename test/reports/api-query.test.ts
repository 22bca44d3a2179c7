/**
 * The reports API's query parsing (pure): dates as in `sends list`, cursors, defaults and the
 * caps (MAX_QUERY_LENGTH, MAX_CURSOR_LENGTH, MAX_TAGS).
 */
import { describe, expect, it } from 'vitest';
import { MAX_MESSAGE_ID_LENGTH, MAX_TAGS } from '../../src/lib/limits.js';
import {
  DEFAULT_API_PAGE_SIZE,
  MAX_CURSOR_LENGTH,
  MAX_CURSOR_SEND_ID,
  MAX_QUERY_LENGTH,
  decodeCursor,
  encodeCursor,
  parseApiDate,
  parseNoQuery,
  parseReportQuery,
  parseSendsQuery,
} from '../../src/reports/api-query.js';

describe('parseApiDate', () => {
  it('takes dates and date-times with Z or an offset; a plain until covers the whole day', () => {
    expect(parseApiDate('2026-03-01', false)?.toISOString()).toBe('2026-03-01T00:00:00.000Z');
    expect(parseApiDate('2026-03-01', true)?.toISOString()).toBe('2026-03-02T00:00:00.000Z');
    expect(parseApiDate('2026-03-01T10:00Z', true)?.toISOString()).toBe('2026-03-01T10:00:00.000Z');
    expect(parseApiDate('2026-03-01T10:00:00.123+02:00', false)?.toISOString()).toBe('2026-03-01T08:00:00.123Z');
    expect(parseApiDate('2026-03-01T10:00:00-0130', false)?.toISOString()).toBe('2026-03-01T11:30:00.000Z');
  });

  it('refuses anything else', () => {
    for (const bad of ['', '2026-3-1', '2026-02-29', '2026-02-30', '2026-03-01T10:00:00', '2026-03-01 10:00Z', '1709251200', 'now', '2026-03-01T24:61Z']) {
      expect(parseApiDate(bad, false), bad).toBeNull();
    }
  });
});

describe('cursor', () => {
  it('round-trips and refuses what it did not make', () => {
    const c = { receivedAt: new Date('2026-03-03T09:00:00.000Z'), id: 'a6' };
    expect(decodeCursor(encodeCursor(c))).toEqual(c);
    const longest = { receivedAt: new Date(0), id: 'x'.repeat(MAX_CURSOR_SEND_ID) };
    expect(encodeCursor(longest).length).toBeLessThanOrEqual(MAX_CURSOR_LENGTH);
    expect(decodeCursor(encodeCursor(longest))).toEqual(longest);
    expect(decodeCursor(encodeCursor({ ...longest, id: 'x'.repeat(MAX_CURSOR_SEND_ID + 1) }))).toBeNull();
    for (const bad of ['', 'a', '====', 'eyJ0Ijox', 'A'.repeat(MAX_CURSOR_LENGTH + 1), Buffer.from('{"t":1.5,"id":"a"}').toString('base64url')]) {
      expect(decodeCursor(bad), bad).toBeNull();
    }
  });
});

describe('parse*Query', () => {
  it('defaults: no dates, no tags, total only, DEFAULT_API_PAGE_SIZE', () => {
    expect(parseReportQuery('')).toEqual({ ok: true, value: { tags: [], by: null } });
    expect(parseSendsQuery('')).toEqual({ ok: true, value: { tags: [], limit: DEFAULT_API_PAGE_SIZE, search: {} } });
    expect(parseNoQuery('')).toEqual({ ok: true, value: null });
  });

  it('reads the search terms of GET /sends (trimmed), and refuses bad ones naming them', () => {
    expect(parseSendsQuery('recipient=+Ann%40Example.net+&messageId=%3Cm1%40x.example%3E&status=bounced&reason=user-unknown&q=4Xyz')).toEqual({
      ok: true,
      value: {
        tags: [],
        limit: DEFAULT_API_PAGE_SIZE,
        search: { recipient: 'Ann@Example.net', messageId: '<m1@x.example>', status: 'bounced', reason: 'user-unknown', text: '4Xyz' },
      },
    });
    expect(parseSendsQuery(`messageId=${'x'.repeat(MAX_MESSAGE_ID_LENGTH - 2)}%40y`)).toMatchObject({ ok: true });
    for (const [q, parameter] of [
      [`messageId=${'x'.repeat(MAX_MESSAGE_ID_LENGTH - 1)}%40y`, 'messageId'],
      ['messageId=a+b', 'messageId'],
      ['status=sent', 'status'],
      ['reason=spam', 'reason'],
      ['q=+', 'q'],
      ['recipient=a%01b', 'recipient'],
    ] as const) {
      expect(parseSendsQuery(q), q).toMatchObject({ ok: false, parameter });
    }
    // Not on the report.
    expect(parseReportQuery('q=x')).toMatchObject({ ok: false, parameter: 'q' });
  });

  it(`takes up to MAX_TAGS (${MAX_TAGS}) tags, in order`, () => {
    const tags = Array.from({ length: MAX_TAGS }, (_, i) => `t${i}`);
    const q = tags.map((t) => `tag=${t}`).join('&');
    expect(parseReportQuery(q)).toMatchObject({ ok: true, value: { tags } });
    expect(parseReportQuery(`${q}&tag=more`)).toMatchObject({ ok: false, parameter: 'tag' });
  });

  it(`refuses a query string longer than MAX_QUERY_LENGTH (${MAX_QUERY_LENGTH})`, () => {
    const fits = `from=${'a'.repeat(MAX_QUERY_LENGTH - 'from='.length)}`;
    expect(parseReportQuery(fits)).toMatchObject({ ok: false, parameter: 'from' }); // too long an address, but parsed
    expect(parseReportQuery(`${fits}x`)).toMatchObject({ ok: false, parameter: null });
  });

  it('decodes percent-escapes and + in values', () => {
    expect(parseReportQuery('from=News%40Shop.example&tag=a+b&tag=%C3%A9')).toMatchObject({
      ok: true,
      value: { from: 'News@Shop.example', tags: ['a b', 'é'] },
    });
  });
});
