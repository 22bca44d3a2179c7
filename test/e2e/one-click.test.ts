/**
 * One-click unsubscribe (RFC 8058) end to end through the real Postfix: a message sent with
 * `X-Mxm-Unsubscribe: one-click` reaches the To recipient with List-Unsubscribe (the signed
 * URL) and List-Unsubscribe-Post, both covered by the DKIM signature (h=, checked by the
 * independent verifier, Debian's python3-dkim); the BCC copy has neither. A GET of the URL
 * changes nothing; the POST exactly as Gmail sends it puts the recipient on the Unsubscribe
 * list, and the next send with X-Mxm-Flags: 4 is suppressed. The mailto: form: a mail from
 * another server to the field's unsub- address, on Postfix's port 25 without TLS, does the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CapturedMessage } from '../../src/postfix/capture-sink.js';
import { addActiveDkimKeys } from '../helpers/dkim-keys.js';
import { pythonVerifyMany } from '../helpers/dkim-python.js';
import { remoteSmtp, startStack, submit, TEST_KEYS, type Stack } from './stack.js';

const DOMAIN = 'unsub.example';
const USER = 'app@unsub.example';
const PASSWORD = 'one-click password 1';
let stack: Stack;
let spaceId = 0;
const records: Record<string, string> = {};

async function send(to: string[], subject: string, extra: string[]): Promise<string> {
  const raw = [
    'From: News <news@unsub.example>',
    `To: ${to[0] ?? ''}`,
    `Subject: ${subject}`,
    'Date: Wed, 02 Dec 2026 10:00:00 +0000',
    `Message-ID: <${subject.replace(/\W/g, '')}@unsub.example>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    ...extra,
    '',
    'A plain text newsletter.',
    '',
  ].join('\r\n');
  const response = await submit(stack, { user: USER, pass: PASSWORD }, { from: `news@${DOMAIN}`, to }, raw);
  const id = /^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$/.exec(response)?.[1];
  if (!id) throw new Error(`not queued: ${response}`);
  return id;
}

/** The unfolded header fields of a delivered message, name lower-cased. */
function fields(m: CapturedMessage): Array<[string, string]> {
  const text = m.raw.toString('latin1');
  const head = text.slice(0, text.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
  return head.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()] as [string, string]);
}
const field = (m: CapturedMessage, name: string): string[] => fields(m).filter(([n]) => n === name).map(([, v]) => v);

beforeAll(async () => {
  stack = await startStack();
  spaceId = (await stack.addSpace('unsub', [], [{ email: USER, password: PASSWORD }])).id;
  await stack.store.addDomain(spaceId, DOMAIN);
  Object.assign(records, await addActiveDkimKeys(stack.store, spaceId, DOMAIN, TEST_KEYS));
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('one-click unsubscribe through Postfix', () => {
  it('signed header on the To copy only, GET changes nothing, the Gmail POST unsubscribes, the next flag-4 send is suppressed', async () => {
    const firstId = await send(['reader@example.org', 'archive@example.org'], 'weekly news', ['X-Mxm-Unsubscribe: one-click', 'X-Mxm-Flags: 0']);
    const has = (rcpt: string) => (m: CapturedMessage) => m.rcptTo.includes(rcpt) && m.raw.includes('Subject: weekly news');
    const [to, bcc] = await Promise.all([stack.sink.waitFor(has('reader@example.org'), 120_000), stack.sink.waitFor(has('archive@example.org'), 120_000)]);
    expect(to.rcptTo).toEqual(['reader@example.org']);
    expect(bcc.rcptTo).toEqual(['archive@example.org']);

    // The To copy: one List-Unsubscribe with the signed URL, the RFC 8058 Post field; no instruction header.
    const [lu, ...more] = field(to, 'list-unsubscribe');
    expect(more).toEqual([]);
    const url = /^<(http:\/\/127\.0\.0\.1:\d+\/u\/[A-Za-z0-9_-]+)>, <mailto:unsub-[0-9a-z-]+@[^?>]+\?subject=unsubscribe>$/.exec(lu ?? '')?.[1];
    expect(url, lu).toBeDefined();
    expect(url?.startsWith(`${stack.config.http.baseUrl}/u/`)).toBe(true);
    expect(field(to, 'list-unsubscribe-post')).toEqual(['List-Unsubscribe=One-Click']);
    expect(field(to, 'x-mxm-unsubscribe')).toEqual([]);
    // The BCC copy: neither field.
    expect(field(bcc, 'list-unsubscribe')).toEqual([]);
    expect(field(bcc, 'list-unsubscribe-post')).toEqual([]);

    // DKIM: h= names both fields, dkimpy verifies, and a changed List-Unsubscribe fails.
    for (const sig of field(to, 'dkim-signature')) {
      const h = /(?:^|;)\s*h=([^;]+)/.exec(sig)?.[1]?.replace(/\s+/g, '').toLowerCase().split(':') ?? [];
      expect(h).toContain('list-unsubscribe');
      expect(h).toContain('list-unsubscribe-post');
    }
    const forged = Buffer.from(to.raw.toString('latin1').replace(/\/u\/([A-Za-z0-9_-]{8})/, '/u/AAAAAAAA'), 'latin1');
    const [verdicts, bccVerdicts, forgedVerdicts] = pythonVerifyMany([to.raw, bcc.raw, forged], records);
    expect(verdicts?.map((v) => [v.algorithm, v.domain, v.pass])).toEqual([
      ['rsa-sha256', DOMAIN, true],
      ['ed25519-sha256', DOMAIN, true],
    ]);
    expect(bccVerdicts?.map((v) => v.pass)).toEqual([true, true]);
    expect(forgedVerdicts?.map((v) => v.pass)).toEqual([false, false]);

    // A GET (a link scanner, a preview) changes nothing.
    const page = await fetch(url!, { headers: { 'user-agent': 'Mozilla/5.0 (compatible; LinkScanner)' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    expect(await stack.store.listEntries(spaceId, 'unsubscribe')).toEqual([]);

    // The POST exactly as Gmail sends it (RFC 8058 section 3.2).
    const post = await fetch(url!, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'Mozilla/5.0 (compatible; Google-One-Click-Unsubscribe)' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(post.status).toBe(200);
    expect(await stack.store.listEntries(spaceId, 'unsubscribe')).toMatchObject([{ address: 'reader@example.org', source: 'unsubscribe-link' }]);
    expect((await stack.store.listEvents(firstId)).filter((e) => e.type === 'unsubscribed')).toMatchObject([{ recipient: 'reader@example.org', detail: { via: 'one-click' } }]);

    // The next send with flag 4 (check the Unsubscribe list) is suppressed: 250 and an id, nothing delivered.
    const nextId = await send(['reader@example.org'], 'next week', ['X-Mxm-Flags: 4']);
    const next = await stack.store.getSend(nextId, spaceId);
    expect(next?.status).toBe('suppressed');
    expect(next?.recipients.find((r) => r.role === 'to')).toMatchObject({ status: 'suppressed', suppressedBy: 'unsubscribe' });
    // A marker sent afterwards arrives: Postfix would have delivered the suppressed one by then.
    await send(['marker@example.org'], 'marker after', ['X-Mxm-Flags: 0']);
    await stack.sink.waitFor((m) => m.rcptTo.includes('marker@example.org'), 120_000);
    expect(stack.sink.messages.filter((m) => m.raw.includes('Subject: next week'))).toEqual([]);
  });

  it('the mailto: form: a mail from another server to the signed unsub- address unsubscribes the To recipient once; the next flag-4 send is suppressed', async () => {
    const firstId = await send(['mailer@example.org'], 'mailto news', ['X-Mxm-Unsubscribe: one-click', 'X-Mxm-Flags: 0']);
    const to = await stack.sink.waitFor((m) => m.rcptTo.includes('mailer@example.org') && m.raw.includes('Subject: mailto news'), 120_000);
    const [lu] = field(to, 'list-unsubscribe');
    const address = /^<https?:\/\/[^>]+\/u\/[A-Za-z0-9_-]+>, <mailto:(unsub-[0-9a-z-]+@[^?>]+)\?subject=unsubscribe>$/.exec(lu ?? '')?.[1];
    expect(address, lu).toBeDefined();
    expect(address!.split('@')[0]!.length).toBeLessThanOrEqual(64);
    expect(address!.endsWith(`@${stack.config.bounceDomain}`)).toBe(true);
    // dkimpy verifies the field with the mailto: in it; editing the mailto: breaks the signature.
    const edited = Buffer.from(to.raw.toString('latin1').replace('?subject=unsubscribe', '?subject=unsubscribx'), 'latin1');
    const [verdicts, editedVerdicts] = pythonVerifyMany([to.raw, edited], records);
    expect(verdicts?.map((v) => v.pass)).toEqual([true, true]);
    expect(editedVerdicts?.map((v) => v.pass)).toEqual([false, false]);

    // Another mail server (or the reader's mail client's server) sends the request: port 25, no TLS, no AUTH.
    const request = (n: number): string[] => ['From: Reader <mailer@example.org>', `To: ${address!}`, 'Subject: unsubscribe', `Message-ID: <unsub${n}@example.org>`, '', 'unsubscribe', ''];
    const done = stack.logged((l) => l.msg.startsWith('unsubscribe by mail: ') && l.obj['sendId'] === firstId);
    const transcript = await remoteSmtp(stack, stack.ports.smtp, ['--from', 'mailer@example.org', '--to', address!], request(1));
    expect(transcript).toMatch(/<- +250 [^\n]*queued as/);
    expect((await done).msg).toBe('unsubscribe by mail: unsubscribed');
    const entry = (await stack.store.listEntries(spaceId, 'unsubscribe')).filter((e) => e.address === 'mailer@example.org');
    expect(entry).toMatchObject([{ source: 'unsubscribe-link', reason: `one-click unsubscribe (send ${firstId})` }]);
    expect((await stack.store.listEvents(firstId)).filter((e) => e.type === 'unsubscribed')).toMatchObject([{ recipient: 'mailer@example.org', detail: { via: 'mailto' } }]);

    // A second mail changes nothing.
    const again = stack.logged((l) => l.msg === 'unsubscribe by mail: already on the Unsubscribe list' && l.obj['sendId'] === firstId);
    await remoteSmtp(stack, stack.ports.smtp, ['--from', 'mailer@example.org', '--to', address!], request(2));
    await again;
    expect((await stack.store.listEvents(firstId)).filter((e) => e.type === 'unsubscribed')).toHaveLength(1);

    const nextId = await send(['mailer@example.org'], 'mailto next', ['X-Mxm-Flags: 4']);
    expect((await stack.store.getSend(nextId, spaceId))?.recipients.find((r) => r.role === 'to')).toMatchObject({ status: 'suppressed', suppressedBy: 'unsubscribe' });
  });
});
