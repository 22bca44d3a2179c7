/**
 * One-click unsubscribe over real HTTP (fetch) against the service on a real SQLite store:
 * the RFC 8058 POST as Gmail sends it, the confirmation page (GET changes nothing), the
 * event and its webhook delivery once, forged and other-kind tokens refused, body limit,
 * the store down is a 503 (nothing claimed), another space untouched.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_UNSUBSCRIBE_BODY_BYTES } from '../../src/lib/limits.js';
import type { Store } from '../../src/store/store.js';
import { TransientError } from '../../src/lib/errors.js';
import { TrackingLinks } from '../../src/tracking/links.js';
import { unsubscribeUrl } from '../../src/tracking/unsubscribe-token.js';
import { UNSUBSCRIBE_CSP } from '../../src/http/unsubscribe.js';
import { KEYS, RCPT, SEND_ID, get, startHarness, type Harness } from './helpers.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const GMAIL_POST: RequestInit = {
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: 'List-Unsubscribe=One-Click',
};

async function harness(): Promise<{ h: Harness; url: string; spaceId: number }> {
  h = await startHarness();
  const space = await h.store.getSpaceByName('shop');
  if (!space) throw new Error('no space');
  const url = unsubscribeUrl(h.base, { spaceId: space.id, sendId: SEND_ID, recipient: RCPT }, KEYS);
  if (url === null) throw new Error('no url');
  return { h, url, spaceId: space.id };
}

describe('one-click unsubscribe', () => {
  it('the RFC 8058 POST puts the recipient on the Unsubscribe list and records one event and one webhook; a repeat changes nothing', async () => {
    const { h, url, spaceId } = await harness();
    await h.store.setWebhook({ spaceId, url: 'https://hooks.shop.example/trx', secret: 'sig' });
    const res = await get(url, GMAIL_POST);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toBe(UNSUBSCRIBE_CSP);
    expect(res.body.toString()).toContain('alice@example.org');
    const entries = await h.store.listEntries(spaceId, 'unsubscribe');
    expect(entries).toMatchObject([{ address: RCPT, source: 'unsubscribe-link', reason: `one-click unsubscribe (send ${SEND_ID})` }]);
    expect((await h.store.lookupSuppression(spaceId, [RCPT]))[RCPT]).toHaveProperty('unsubscribe');
    const again = await get(url, GMAIL_POST);
    expect(again.status).toBe(200);
    const events = (await h.store.listEvents(SEND_ID)).filter((e) => e.type === 'unsubscribed');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ recipient: RCPT, detail: { via: 'one-click' } });
    expect((await h.store.listWebhookDeliveries({ spaceId })).filter((d) => d.type === 'unsubscribed')).toHaveLength(1);
    expect(await h.store.listEntries(spaceId, 'unsubscribe')).toEqual(entries);
  });

  it('GET (and HEAD) shows a page with a button and changes nothing; the button POSTs to the same URL', async () => {
    const { h, url, spaceId } = await harness();
    const page = await get(url, { headers: { 'user-agent': 'Mozilla/5.0 link scanner' } });
    expect(page.status).toBe(200);
    const html = page.body.toString();
    expect(html).toMatch(/<form method="post"><input type="hidden" name="confirm" value="page"><button type="submit">Unsubscribe<\/button><\/form>/);
    expect(html).not.toMatch(/action=/);
    expect(page.headers.get('content-security-policy')).toBe(UNSUBSCRIBE_CSP);
    expect((await get(url, { method: 'HEAD' })).status).toBe(200);
    expect(await h.store.listEntries(spaceId, 'unsubscribe')).toEqual([]);
    expect((await h.store.listEvents(SEND_ID)).filter((e) => e.type === 'unsubscribed')).toEqual([]);
    // What the browser sends for the button.
    const done = await get(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'confirm=page' });
    expect(done.status).toBe(200);
    expect(await h.store.listEntries(spaceId, 'unsubscribe')).toHaveLength(1);
    expect((await h.store.listEvents(SEND_ID)).find((e) => e.type === 'unsubscribed')?.detail).toMatchObject({ via: 'page' });
  });

  it('accepts multipart/form-data and an empty POST too', async () => {
    const { h, url, spaceId } = await harness();
    const form = new FormData();
    form.set('List-Unsubscribe', 'One-Click');
    expect((await get(url, { method: 'POST', body: form })).status).toBe(200);
    expect((await h.store.listEvents(SEND_ID)).find((e) => e.type === 'unsubscribed')?.detail).toMatchObject({ via: 'one-click' });
    await h.store.removeListEntry(spaceId, 'unsubscribe', RCPT);
    expect((await get(url, { method: 'POST' })).status).toBe(200);
    expect(await h.store.listEntries(spaceId, 'unsubscribe')).toHaveLength(1);
  });

  it('refuses forged, edited, other-key and tracking tokens with the one 404, changing nothing', async () => {
    const { h, url, spaceId } = await harness();
    const token = url.slice(url.lastIndexOf('/') + 1);
    const flipped = token.slice(0, 10) + (token[10] === 'A' ? 'B' : 'A') + token.slice(11);
    const links = new TrackingLinks(h.base, KEYS);
    const openToken = links.pixelUrl(SEND_ID, RCPT).split('/').pop();
    const otherKey = unsubscribeUrl(h.base, { spaceId, sendId: SEND_ID, recipient: RCPT }, [{ id: 'h1', secret: 'not the configured secret!!' }]);
    for (const bad of [`${h.base}/u/${flipped}`, `${h.base}/u/${openToken}`, otherKey!, `${h.base}/u/${'A'.repeat(600)}`, `${h.base}/u/`]) {
      expect((await get(bad, GMAIL_POST)).status, bad).toBe(404);
      expect((await get(bad)).status, bad).toBe(404);
    }
    // Nor can an unsubscribe token be used as a pixel or a click.
    expect((await get(`${h.base}/o/${token}`)).status).toBe(404);
    expect((await get(`${h.base}/c/${token}`)).status).toBe(404);
    expect(await h.store.listEntries(spaceId, 'unsubscribe')).toEqual([]);
  });

  it(`a body over MAX_UNSUBSCRIBE_BODY_BYTES (${MAX_UNSUBSCRIBE_BODY_BYTES}) is a 413; at the limit it is fine`, async () => {
    const { h, url, spaceId } = await harness();
    const post = (n: number) => get(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click&x='.padEnd(n, 'x') });
    expect((await post(MAX_UNSUBSCRIBE_BODY_BYTES + 1)).status).toBe(413);
    expect(await h.store.listEntries(spaceId, 'unsubscribe')).toEqual([]);
    expect((await post(MAX_UNSUBSCRIBE_BODY_BYTES)).status).toBe(200);
  });

  it('a token for a space that does not exist is a 404', async () => {
    const { h } = await harness();
    const url = unsubscribeUrl(h.base, { spaceId: 999, sendId: SEND_ID, recipient: RCPT }, KEYS)!;
    expect((await get(url, GMAIL_POST)).status).toBe(404);
  });

  it('the store down is a 503 with Retry-After: nothing is claimed', async () => {
    const { h, url } = await harness();
    await h.service.close();
    const { HttpService } = await import('../../src/http/server.js');
    const down: Pick<Store, 'addEvent' | 'addListEntry' | 'health'> = {
      addEvent: () => Promise.reject(new TransientError('EBUSY', 'locked')),
      addListEntry: () => Promise.reject(new TransientError('EBUSY', 'locked')),
      health: () => Promise.resolve({ ok: false, reason: 'locked' }),
    };
    const service = new HttpService({ store: down, keys: KEYS, logger: h.logger });
    const { port } = await service.listen('127.0.0.1', 0);
    try {
      const res = await get(url.replace(h.base, `http://127.0.0.1:${port}`), GMAIL_POST);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('60');
      expect(res.body.toString()).not.toMatch(/nsubscribed/);
      expect(JSON.stringify(h.logger.lines)).not.toContain(RCPT);
    } finally {
      await service.close();
    }
  });
});
