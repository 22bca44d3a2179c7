/**
 * Tracking end to end: real Postfix, the milter's body rewrite, the untracked BCC copy
 * through the re-injection listener, and the tracking HTTP service over real HTTP.
 */
import { decode as decodeQp } from 'libqp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBounceAddress } from '../../src/bounce/bounce-address.js';
import { verifyTrackingToken } from '../../src/tracking/token.js';
import { BOUNCE_DOMAIN, startStack, submit, TEST_KEYS, type Stack } from './stack.js';

const USER = 'app@track.example';
const PASSWORD = 'tracking password 123';
let stack: Stack;

const send = (raw: string, envelope: { from: string; to: string[] }): Promise<string> => submit(stack, { user: USER, pass: PASSWORD }, envelope, raw);

const queuedId = (r: string): string => /queued as ([0-9A-Za-z]+)$/.exec(r)?.[1] ?? '';

/** Original message: text + HTML (quoted-printable), two tracked links, a mailto, an opt-out link. */
function htmlMessage(to: string, subject: string, flags?: number): string {
  return [
    'From: "Track Shop" <noreply@elsewhere.example>',
    `To: ${to}`,
    `Subject: ${subject}`,
    'Message-ID: <' + subject.replace(/\W/g, '') + '@track.example>',
    ...(flags === undefined ? [] : [`X-Mxm-Flags: ${flags}`]),
    'MIME-Version: 1.0',
    'Content-Type: multipart/alternative; boundary="b1"',
    '',
    '--b1',
    'Content-Type: text/plain; charset=utf-8',
    '',
    'See https://shop.example/offer?b=2&a=1',
    '--b1',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: quoted-printable',
    '',
    '<html><body><p>Hello</p>',
    '<a href=3D"https://shop.example/offer?b=3D2&amp;a=3D1#top">Offer</a>',
    '<a href=3D"https://shop.example/p%2Fq">Path</a>',
    '<a href=3D"mailto:help@shop.example">Mail</a>',
    '<a data-trx-notrack href=3D"https://shop.example/private">Private</a>',
    '</body></html>',
    '--b1--',
    '',
  ].join('\n');
}

/** The decoded HTML part of a captured message. */
function htmlOf(raw: Buffer): string {
  const s = raw.toString('latin1');
  const m = /Content-Type: text\/html[^]*?\r\n\r\n([^]*?)\r\n--b1--/i.exec(s);
  if (!m?.[1]) throw new Error('no HTML part');
  const head = /Content-Type: text\/html[^]*?\r\n\r\n/i.exec(s)?.[0] ?? '';
  return /quoted-printable/i.test(head) ? decodeQp(m[1]).toString('utf8') : m[1];
}

function headerValue(raw: Buffer, name: string): string | undefined {
  const head = raw.toString('utf8').split('\r\n\r\n')[0]!.replace(/\r\n[ \t]/g, ' ');
  return head
    .split('\r\n')
    .find((l) => l.toLowerCase().startsWith(name.toLowerCase() + ':'))
    ?.slice(name.length + 1)
    .trim();
}

beforeAll(async () => {
  stack = await startStack();
  await stack.addSpace('track', ['track.example'], [{ email: USER, password: PASSWORD }]);
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('tracking through the real Postfix', () => {
  let id = '';
  let toCopy: Buffer;
  let bccCopy: Buffer;

  beforeAll(async () => {
    const r = await send(htmlMessage('"Alice" <alice@example.org>', 'tracked one'), {
      from: 'news@track.example',
      to: ['alice@example.org', 'bob-bcc@example.org'],
    });
    id = queuedId(r);
    toCopy = (await stack.sink.waitFor((m) => m.rcptTo.includes('alice@example.org') && m.raw.includes('tracked one'))).raw;
    const bcc = await stack.sink.waitFor((m) => m.rcptTo.includes('bob-bcc@example.org') && m.raw.includes('tracked one'));
    bccCopy = bcc.raw;
    // its own bounce address: the send id with the copy suffix
    expect(decodeBounceAddress(bcc.mailFrom, TEST_KEYS, BOUNCE_DOMAIN)).toMatchObject({ ok: true, sendId: `${id}_b` });
  });

  it('gives the To copy a pixel and tracked links, and leaves mailto and opt-out links alone', () => {
    const html = htmlOf(toCopy);
    const base = stack.config.http.baseUrl;
    expect(html).toContain(`<img src="${base}/o/`);
    const hrefs = [...html.matchAll(/href="([^"]+)"/g)].map((m) => m[1]!);
    expect(hrefs.filter((h) => h.startsWith(`${base}/c/`))).toHaveLength(2);
    expect(hrefs).toContain('mailto:help@shop.example');
    expect(hrefs).toContain('https://shop.example/private');
    expect(html).not.toContain('data-trx-notrack');
  });

  it('sends the BCC a separate copy equal to the To copy except for tracking', () => {
    expect(stack.sink.messages.filter((m) => m.raw.includes('tracked one')).every((m) => m.rcptTo.length === 1)).toBe(true);
    const base = stack.config.http.baseUrl;
    // Undo tracking in the To copy: drop the pixel, put the signed original URLs back.
    const untracked = htmlOf(toCopy)
      .replace(new RegExp(`<img src="${base}/o/[^"]+"[^>]*>`), '')
      .replace(new RegExp(`href="${base}/c/([^"]+)"`, 'g'), (_m, token: string) => {
        const claims = verifyTrackingToken(token, TEST_KEYS);
        if (claims?.kind !== 'click') throw new Error('bad token in the To copy');
        return `href="${claims.url.replace(/&/g, '&amp;')}"`;
      });
    expect(untracked).toBe(htmlOf(bccCopy).replace(' data-trx-notrack', ''));
    expect(htmlOf(bccCopy)).not.toContain(`${base}/`);
    for (const h of ['From', 'To', 'Subject', 'Message-ID', 'MIME-Version', 'Content-Type']) {
      expect(headerValue(bccCopy, h)).toBe(headerValue(toCopy, h));
    }
    expect(headerValue(toCopy, 'From')).toBe('"Track Shop" <news@track.example>');
    // each copy carries its own reference: the main send's, and the BCC copy's (`_b`)
    const toRef = decodeBounceAddress(`${headerValue(toCopy, 'X-Trxmail-Ref')}@${BOUNCE_DOMAIN}`, TEST_KEYS, BOUNCE_DOMAIN);
    const bccRef = decodeBounceAddress(`${headerValue(bccCopy, 'X-Trxmail-Ref')}@${BOUNCE_DOMAIN}`, TEST_KEYS, BOUNCE_DOMAIN);
    expect([toRef, bccRef]).toMatchObject([{ ok: true, sendId: id }, { ok: true, sendId: `${id}_b` }]);
  });

  it('records the BCC copy on the send', async () => {
    const s = await stack.store.getSend(id, null);
    expect(s?.recipients.find((r) => r.role === 'bcc')).toMatchObject({ address: 'bob-bcc@example.org', status: 'queued' });
    expect(s?.recipients.find((r) => r.role === 'bcc')?.detail).toMatch(/^separate untracked copy, queued as [0-9A-Za-z]+$/);
  });

  it('records an open and a click over real HTTP, and the click lands on the exact original URL', async () => {
    const html = htmlOf(toCopy);
    const pixel = /<img src="([^"]+)"/.exec(html)![1]!;
    const links = [...html.matchAll(/href="([^"]+\/c\/[^"]+)"/g)].map((m) => m[1]!.replace(/&amp;/g, '&'));
    const px = await fetch(pixel, { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' } });
    expect(px.status).toBe(200);
    expect(px.headers.get('content-type')).toBe('image/gif');
    expect(px.headers.get('cache-control')).toMatch(/no-store/);
    const click = await fetch(links[0]!, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 Firefox/140.0' } });
    expect(click.status).toBe(302);
    expect(click.headers.get('location')).toBe('https://shop.example/offer?b=2&a=1#top');
    const click2 = await fetch(links[1]!, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 Firefox/140.0' } });
    expect(click2.headers.get('location')).toBe('https://shop.example/p%2Fq');
    const events = await stack.store.listEvents(id);
    expect(events.filter((e) => e.type === 'opened')).toMatchObject([{ recipient: 'alice@example.org' }]);
    expect(events.filter((e) => e.type === 'clicked').map((e) => [e.recipient, e.detail['url']])).toEqual([
      ['alice@example.org', 'https://shop.example/offer?b=2&a=1#top'],
      ['alice@example.org', 'https://shop.example/p%2Fq'],
    ]);
  });

  it('answers an edited or forged token with 404', async () => {
    const html = htmlOf(toCopy);
    const link = [...html.matchAll(/href="([^"]+\/c\/[^"]+)"/g)].map((m) => m[1]!)[0]!;
    // change the third-last character (part of the MAC) to another one: replacing it with 'A'
    // when it already was 'A' left the token as it was (a 1-in-64 flake)
    const edited = link.slice(0, -3) + (link.at(-3) === 'A' ? 'B' : 'A') + link.slice(-2);
    expect(edited).not.toBe(link);
    for (const url of [edited, `${stack.config.http.baseUrl}/c/forged`, `${stack.config.http.baseUrl}/o/AAAA`]) {
      const r = await fetch(url, { redirect: 'manual' });
      expect(r.status).toBe(404);
      expect(r.headers.get('location')).toBeNull();
    }
  });
});

describe('without tracking', () => {
  it('X-Mxm-Flags: 0 — no pixel, no rewritten links, the BCC stays in the same transaction', async () => {
    const r = await send(htmlMessage('carol@example.org', 'untracked one', 0), {
      from: 'news@track.example',
      to: ['carol@example.org', 'dave-bcc@example.org'],
    });
    expect(r).toMatch(/^250 /);
    const m = await stack.sink.waitFor((x) => x.raw.includes('untracked one'));
    expect([...m.rcptTo].sort()).toEqual(['carol@example.org', 'dave-bcc@example.org']);
    expect(htmlOf(m.raw)).not.toContain(stack.config.http.baseUrl);
    expect(htmlOf(m.raw)).toContain('href="https://shop.example/offer?b=2&amp;a=1#top"');
  });
});

describe('the re-injection listener down', () => {
  it('gives the client a 4xx for the whole message and records nothing', async () => {
    await stack.restartTrxmail({ reinject: '127.0.0.1:1' });
    try {
      const err = await send(htmlMessage('erin@example.org', 'reinject down'), {
        from: 'news@track.example',
        to: ['erin@example.org', 'frank-bcc@example.org'],
      }).then(
        (r) => ({ response: r, responseCode: 250 }),
        (e: { response?: string; responseCode?: number }) => e,
      );
      expect(String(err.responseCode)).toMatch(/^4\d\d$/);
      expect((await stack.store.listSends({})).some((s) => s.to === 'erin@example.org')).toBe(false);
    } finally {
      await stack.restartTrxmail({});
    }
  });
});
