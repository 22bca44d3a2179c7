/**
 * Sending limits and the pause of a space through the real Postfix (issue 16 items 1–2):
 *  - a burst of sequential sends past the per-minute limit: the limit's worth get 250, the
 *    excess gets the 451 4.7.0 at RCPT from the policy service, before DATA;
 *  - hard bounces (the recipient's server refuses with 550 5.1.1, Postfix's log and the DSN
 *    come back) crossing the auto-pause threshold pause the space: the next send gets
 *    451 4.7.1 with the reason at MAIL, a 'space' webhook delivery is queued; `space resume`
 *    (the store call the CLI makes) restores sending.
 * trxmail runs on a frozen clock, so the burst stays in one minute bucket whatever the real
 * time does (no sleeps, no wall-clock limits).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_AUTO_PAUSE } from '../../src/core/sending-limits.js';
import { startStack, submit, type Stack } from './stack.js';

const USER = 'app@limits.example';
const PASSWORD = 'limits password 123';
const NOW = new Date(Math.floor(Date.now() / 60_000) * 60_000 + 30_000);
const refuse = new Set(['gone1@example.org', 'gone2@example.org']);
let stack: Stack;
let spaceId = 0;

/** One send: the final reply, or the refusal with the command it came at. */
async function attempt(to: string, subject: string): Promise<{ ok: boolean; response: string; command: string | null }> {
  const raw = [`From: news@limits.example`, `To: ${to}`, `Subject: ${subject}`, 'X-Mxm-Flags: 0', '', 'hello', ''].join('\r\n');
  try {
    return { ok: true, response: await submit(stack, { user: USER, pass: PASSWORD }, { from: 'news@limits.example', to: [to] }, raw), command: null };
  } catch (err: unknown) {
    const e = err as { response?: string; command?: string; rejectedErrors?: { response?: string; command?: string }[] };
    const first = e.rejectedErrors?.[0];
    return { ok: false, response: first?.response ?? e.response ?? String(err), command: first?.command ?? e.command ?? null };
  }
}

beforeAll(async () => {
  // The automatic pause from 6 recipients at 25 % hard bounces (the default waits for 100).
  stack = await startStack({ refuse, clock: () => NOW, autoPause: { ...DEFAULT_AUTO_PAUSE, minVolume: 6, hardBounceRate: 25 } });
  spaceId = (await stack.addSpace('limits', ['limits.example'], [{ email: USER, password: PASSWORD }])).id;
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('a per-minute sending limit', () => {
  it('a burst of 5 past a limit of 3: three 250s, the excess gets 451 4.7.0 at RCPT', async () => {
    await stack.store.setSendingLimits(spaceId, { minute: 3 });
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await attempt(`reader${i}@example.org`, `burst ${i}`));
    expect(results.slice(0, 3).map((r) => r.ok)).toEqual([true, true, true]);
    for (const r of results.slice(3)) {
      expect(r.ok).toBe(false);
      expect(r.command).toBe('RCPT TO');
      expect(r.response).toMatch(
        /^451 4\.7\.0 <reader\d@example\.org>: Recipient address rejected: Sending limit of 3 messages per minute reached for this space; try again later$/,
      );
    }
    expect(await stack.store.sendingUsage(spaceId, NOW)).toEqual({ minute: 3, hour: 3, day: 3 });
    await stack.sink.waitFor((m) => m.raw.includes('Subject: burst 2'));
    expect(stack.sink.messages.some((m) => m.raw.includes('Subject: burst 3'))).toBe(false);
    // A limit raised: the next send goes out at once.
    await stack.store.setSendingLimits(spaceId, { minute: null });
    expect((await attempt('reader9@example.org', 'after raising')).ok).toBe(true);
  });
});

describe('the automatic pause', () => {
  it('hard bounces past the threshold pause the space; the next send gets 451 4.7.1 with the reason; resume restores it', async () => {
    await stack.store.setWebhook({ spaceId, url: 'https://hooks.example/trx', secret: 'webhook secret' });
    // 4 good sends so far, 2 bounces to come: 2/6 = 33 % ≥ 25 %, once the volume (6) is reached.
    expect((await attempt('gone1@example.org', 'bounce 1')).ok).toBe(true);
    expect((await attempt('gone2@example.org', 'bounce 2')).ok).toBe(true);
    const paused = await stack.logged((l) => l.msg.startsWith('space paused automatically'));
    expect(paused.obj['reason']).toBe('hard-bounce rate 33.3% over 24 h (limit 25%)');
    expect((await stack.store.getSendingState(spaceId)).pause).toMatchObject({ auto: true, reason: 'hard-bounce rate 33.3% over 24 h (limit 25%)' });

    const refused = await attempt('reader10@example.org', 'while paused');
    expect(refused.ok).toBe(false);
    expect(refused.command).toBe('MAIL FROM');
    expect(refused.response).toBe('451 4.7.1 Sending paused for this space: hard-bounce rate 33.3% over 24 h (limit 25%); contact your administrator');
    const hooks = await stack.store.listWebhookDeliveries({ spaceId });
    expect(hooks.filter((h) => h.type === 'space').map((h) => h.detail)).toEqual([
      expect.objectContaining({ state: 'paused', auto: true, reason: 'hard-bounce rate 33.3% over 24 h (limit 25%)' }),
    ]);

    expect(await stack.store.resumeSpace(spaceId, NOW)).toBe(true);
    const after = await attempt('reader11@example.org', 'after resume');
    expect(after).toMatchObject({ ok: true, response: expect.stringMatching(/^250 2\.0\.0 Ok: queued as /) });
  });
});
