/**
 * Sending limits and pause where the adapters ask (real SQLite store, fixed clock):
 *  - the policy service at RCPT: one more recipient within the limits → DUNNO, past one →
 *    451 4.7.0 naming it; a paused space → 451 4.7.1 with the reason (the milter at MAIL too);
 *  - the accept step at end of message: the delivered recipients (To and BCC, not suppressed)
 *    are counted, a message that does not fit is refused whole and counts nothing, nor is it
 *    recorded;
 *  - the delivery recorder's automatic pause: hard bounces counted once per send and recipient
 *    (the log line and the DSN), sender-side bounces never, the pause once the rate is reached.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { acceptMessage } from '../../../src/accept/accept-message.js';
import { loadAccount, type Account } from '../../../src/accept/account.js';
import { DomainSetups } from '../../../src/accept/domain-setups.js';
import { encodeBounceAddress } from '../../../src/bounce/bounce-address.js';
import { DEFAULT_AUTO_PAUSE } from '../../../src/core/sending-limits.js';
import { AutoPause } from '../../../src/delivery/auto-pause.js';
import { DeliveryRecorder, type Outcome } from '../../../src/delivery/recorder.js';
import { silentLogger } from '../../../src/lib/logger.js';
import { Spool } from '../../../src/lib/spool.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { MilterMacros } from '../../../src/milter/macros.js';
import { createRulesHandler } from '../../../src/milter/rules-handler.js';
import { createRulesDecider } from '../../../src/policy/rules-decider.js';
import { openStore } from '../../../src/store/open-store.js';
import type { Space, Store } from '../../../src/store/store.js';

const KEYS = [{ id: 'k1', secret: 'sending-limits-test-secret-0123456789' }];
const NOW = new Date('2026-12-01T10:00:30.000Z');
let dir: string;
let store: Store;
let seq = 0;

async function spaceWithUser(name: string): Promise<{ space: Space; login: string; account: Account }> {
  const space = await store.createSpace({ name, allowUnsigned: true });
  await store.addDomain(space.id, `${name}.example`);
  const login = `app@${name}.example`;
  await store.createUser({ spaceId: space.id, email: login, passwordHash: 'unused-in-this-test' });
  const account = await loadAccount(store, login);
  if (!account) throw new Error('no account');
  return { space, login, account };
}

const decide = (login: string, sender: string) =>
  createRulesDecider(store, () => NOW)({ request: 'smtpd_access_policy', protocol_state: 'RCPT', sasl_username: login, sender, encryption_protocol: 'TLSv1.3' });

function ports() {
  return {
    store,
    bounceAddress: (spaceId: number, sendId: string, host: string | null) => encodeBounceAddress({ spaceId, sendId }, KEYS, host ?? 'bounces.relay.example'),
    domainSetup: new DomainSetups(store, KEYS).get,
    tracking: null,
    newSpool: () => new Spool(dir),
    clock: () => NOW,
    metrics: createMetrics(),
    logger: silentLogger,
  };
}

function message(account: Account, rcptTo: string[]) {
  const from = `news@${account.space.name}.example`;
  return acceptMessage(
    {
      account,
      sendId: `4jLIMIT${++seq}Q`,
      mailFrom: from,
      rcptTo,
      headers: [
        { name: 'From', value: ` ${from}` },
        { name: 'To', value: ` ${rcptTo[0] ?? ''}` },
        { name: 'Subject', value: ' hello' },
      ],
      headerLeadingSpace: true,
      body: null,
    },
    ports(),
  );
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'trxmail-limits-'));
  store = await openStore({ driver: 'sqlite', path: path.join(dir, 'trxmail.db') });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the policy service at RCPT', () => {
  it('DUNNO within the limits, 451 4.7.0 naming the limit once the recorded usage fills it', async () => {
    const { space, login } = await spaceWithUser('policy');
    expect(await decide(login, 'news@policy.example')).toBe('DUNNO');
    await store.setSendingLimits(space.id, { minute: 5, hour: 2 });
    await store.reserveSending(space.id, 1, NOW);
    expect(await decide(login, 'news@policy.example')).toBe('DUNNO');
    await store.reserveSending(space.id, 1, NOW);
    expect(await decide(login, 'news@policy.example')).toBe('451 4.7.0 Sending limit of 2 messages per hour reached for this space; try again later');
    // A sender outside the space's domains still gets its permanent refusal first.
    expect(await decide(login, 'news@elsewhere.example')).toMatch(/^553 5\.7\.1 /);
  });

  it('a paused space: 451 4.7.1 with the reason at RCPT (policy) and at MAIL (milter); resumed: accepted', async () => {
    const { space, login } = await spaceWithUser('paused');
    await store.pauseSpace(space.id, { reason: 'invoice overdue', at: NOW, auto: false });
    const reply = '451 4.7.1 Sending paused for this space: invoice overdue; contact your administrator';
    expect(await decide(login, 'news@paused.example')).toBe(reply);
    const handler = createRulesHandler({ ...ports(), accounts: store, isBounceDomain: () => false, newBodySpool: () => new Spool(dir) })({ id: 1, transport: 'unix', remote: '/test' });
    const atMail = await handler.mail?.('<news@paused.example>', [], new MilterMacros([['{auth_authen}', login]]));
    expect(atMail).toMatchObject({ kind: 'custom', code: 451, enhanced: '4.7.1', text: 'Sending paused for this space: invoice overdue; contact your administrator' });
    await handler.close?.();
    await store.resumeSpace(space.id, NOW);
    expect(await decide(login, 'news@paused.example')).toBe('DUNNO');
  });
});

describe('the accept step at end of message', () => {
  it('counts the To and the BCC; a message that does not fit is refused whole, counts nothing and is not recorded', async () => {
    const { space, account } = await spaceWithUser('eom');
    await store.setSendingLimits(space.id, { minute: 3 });
    const first = await message(account, ['a@example.net', 'b@example.net', 'discarded@example.net']);
    expect(first.kind).toBe('accept');
    expect(await store.sendingUsage(space.id, NOW)).toEqual({ minute: 2, hour: 2, day: 2 });
    const second = await message(account, ['c@example.net', 'd@example.net']);
    expect(second).toEqual({
      kind: 'reject',
      rejection: { kind: 'reject', reason: 'sending-limit', code: 451, enhanced: '4.7.0', text: 'Sending limit of 3 messages per minute reached for this space; try again later' },
    });
    expect(await store.sendingUsage(space.id, NOW)).toEqual({ minute: 2, hour: 2, day: 2 });
    expect(await store.listSends({ spaceId: space.id })).toHaveLength(1);
    // A suppressed recipient costs nothing: the To is on the Bounce list, only the BCC counts.
    await store.addListEntry({ spaceId: space.id, list: 'bounce', address: 'gone@example.net', reason: 'hard bounce', addedAt: NOW });
    expect((await message(account, ['gone@example.net', 'e@example.net'])).kind).toBe('accept');
    expect(await store.sendingUsage(space.id, NOW)).toEqual({ minute: 3, hour: 3, day: 3 });
  });
});

describe('the automatic pause', () => {
  it('counts each hard bounce once (log line and DSN), never a blocked one, and pauses at the threshold', async () => {
    const { space, account } = await spaceWithUser('autopause');
    await store.setWebhook({ spaceId: space.id, url: 'https://hooks.example/x', secret: 'secret' });
    const recorder = new DeliveryRecorder(store, { autoPause: new AutoPause(store, { ...DEFAULT_AUTO_PAUSE, minVolume: 3, hardBounceRate: 60 }) });
    const ids: string[] = [];
    for (const to of ['x1@example.net', 'x2@example.net', 'x3@example.net']) {
      const o = await message(account, [to]);
      if (o.kind !== 'accept') throw new Error(o.kind);
      ids.push(o.sendId);
    }
    const bounce = async (id: string, source: Outcome['source'], reason: 'user-unknown' | 'blocked') => {
      const send = await store.getSend(id, space.id);
      const recipient = send?.recipients[0];
      if (!send || !recipient) throw new Error('no send');
      return recorder.record({ send, recipient, result: 'bounced', kind: 'hard', status: reason === 'blocked' ? '5.7.1' : '5.1.1', diagnostic: null, reason, reasonRule: null, source, at: NOW });
    };
    await bounce(ids[0]!, 'maillog', 'user-unknown');
    await bounce(ids[0]!, 'dsn', 'user-unknown');
    await bounce(ids[1]!, 'maillog', 'blocked');
    const since = new Date(NOW.getTime() - 3_600_000);
    expect(await store.sendingOutcomes(space.id, since)).toEqual({ sent: 3, hardBounced: 1, complained: 0 });
    expect((await store.getSendingState(space.id)).pause).toBeNull();
    await bounce(ids[2]!, 'dsn', 'user-unknown');
    expect((await store.getSendingState(space.id)).pause).toEqual({ reason: 'hard-bounce rate 66.7% over 24 h (limit 60%)', since: NOW, auto: true });
    const hooks = (await store.listWebhookDeliveries({ spaceId: space.id })).filter((h) => h.type === 'space');
    expect(hooks.map((h) => h.detail['state'])).toEqual(['paused']);
    // The next message is refused with the reason.
    const refused = await message(account, ['x4@example.net']);
    expect(refused.kind === 'reject' && refused.rejection.text).toBe('Sending paused for this space: hard-bounce rate 66.7% over 24 h (limit 60%); contact your administrator');
  });
});
