/**
 * Suppression at send time through the real Postfix: the Bounce list (checked unless flag 8)
 * and the Unsubscribe list (checked only with flag 4). A suppressed recipient gets nothing,
 * the client still gets "250 … queued as <id>", and the send shows why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, submit, type Stack } from './stack.js';

const USER = 'app@supp.example';
const PASSWORD = 'suppression password 1';
let stack: Stack;
let spaceId = 0;

async function send(to: string, subject: string, flags?: number, bcc?: string): Promise<string> {
  const raw = [
    'From: news@supp.example',
    `To: ${to}`,
    `Subject: ${subject}`,
    ...(flags === undefined ? [] : [`X-Mxm-Flags: ${flags}`]),
    '',
    'plain text, nothing to track',
    '',
  ].join('\r\n');
  const response = await submit(stack, { user: USER, pass: PASSWORD }, { from: 'news@supp.example', to: bcc ? [to, bcc] : [to] }, raw);
  const id = /^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$/.exec(response)?.[1];
  if (!id) throw new Error(`not queued: ${response}`);
  return id;
}

/** Sends a marker message afterwards: once it arrived, Postfix would have delivered the earlier one too. */
async function settle(tag: string): Promise<void> {
  await send(`marker-${tag}@example.org`, `marker ${tag}`, 0);
  await stack.sink.waitFor((m) => m.rcptTo.includes(`marker-${tag}@example.org`));
}

const delivered = (subject: string): string[] =>
  stack.sink.messages.filter((m) => m.raw.includes(`Subject: ${subject}\r\n`)).flatMap((m) => [...m.rcptTo]);

beforeAll(async () => {
  stack = await startStack();
  spaceId = (await stack.addSpace('supp', ['supp.example'], [{ email: USER, password: PASSWORD }])).id;
  const at = new Date();
  await stack.store.addListEntry({ spaceId, list: 'bounce', address: 'Gone@Example.org', reason: 'hard bounce 5.1.1', addedAt: at });
  await stack.store.addListEntry({ spaceId, list: 'unsubscribe', address: 'optout@example.org', reason: 'unsubscribed', addedAt: at });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('the Bounce list', () => {
  it('suppresses a listed To (any letter case): 250 with an id, nothing delivered, reported as suppressed', async () => {
    const id = await send('gone@example.org', 'to a bounced address');
    await settle('b1');
    expect(delivered('to a bounced address')).toEqual([]);
    const s = await stack.store.getSend(id, spaceId);
    expect(s?.status).toBe('suppressed');
    expect(s?.recipients.find((r) => r.role === 'to')).toMatchObject({ status: 'suppressed', suppressedBy: 'bounce', detail: 'hard bounce 5.1.1' });
  });

  it('delivers the same send with X-Mxm-Flags: 11 (8 = ignore the Bounce list, plus tracking bits)', async () => {
    const id = await send('gone@example.org', 'ignore the bounce list', 11);
    const m = await stack.sink.waitFor((x) => x.raw.includes('Subject: ignore the bounce list'));
    expect(m.rcptTo).toEqual(['gone@example.org']);
    expect((await stack.store.getSend(id, spaceId))?.status).toBe('queued');
  });

  it('suppresses a listed BCC but still delivers to the To', async () => {
    const id = await send('fine@example.org', 'bcc on the bounce list', undefined, 'gone@example.org');
    const m = await stack.sink.waitFor((x) => x.raw.includes('Subject: bcc on the bounce list'));
    expect(m.rcptTo).toEqual(['fine@example.org']);
    const s = await stack.store.getSend(id, spaceId);
    expect(s?.recipients.find((r) => r.role === 'bcc')).toMatchObject({ address: 'gone@example.org', status: 'suppressed', suppressedBy: 'bounce' });
  });
});

describe('the Unsubscribe list (only with flag 4)', () => {
  it('is not checked without flag 4: delivered', async () => {
    await send('optout@example.org', 'unsubscribed but no flag 4', 3);
    const m = await stack.sink.waitFor((x) => x.raw.includes('Subject: unsubscribed but no flag 4'));
    expect(m.rcptTo).toEqual(['optout@example.org']);
  });

  it('is checked with flag 4: suppressed, 250 with an id, reported', async () => {
    const id = await send('optout@example.org', 'unsubscribed and flag 4', 4);
    await settle('u1');
    expect(delivered('unsubscribed and flag 4')).toEqual([]);
    const s = await stack.store.getSend(id, spaceId);
    expect(s?.recipients.find((r) => r.role === 'to')).toMatchObject({ status: 'suppressed', suppressedBy: 'unsubscribe' });
  });
});
