/**
 * `trxmail store copy --from sqlite:PATH --to postgres://…`: a SQLite store holding every
 * kind of row is copied into a new PostgreSQL schema; read back through the Store API both
 * stores answer the same (accounts, domains, DKIM keys, lists with bounce reasons, bounce
 * streaks, sends with node and recipient reasons, events, reports, webhooks and their outbox,
 * cursors per node); ids continue after the copied ones; a target with rows
 * is refused unless --replace.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';
import { cli, tempWorkDir } from './helpers.js';

const T = Date.UTC(2026, 0, 10, 9, 0, 0);
const at = (ms: number): Date => new Date(T + ms);

let db: TestDatabase;
let sqlitePath: string;

beforeAll(async () => {
  db = await createTestDatabase();
  sqlitePath = path.join(tempWorkDir(), 'source.db');
  const s = await openStore({ driver: 'sqlite', path: sqlitePath });
  try {
    await seed(s);
  } finally {
    await s.close();
  }
});

afterAll(async () => {
  await db.drop();
});

async function seed(s: Store): Promise<void> {
  await s.createSpace({ name: 'unused' });
  const a = await s.createSpace({ name: 'Alpha', defaultFlags: 7, allowSubdomains: true });
  await s.updateSpace(a.id, { allowUnsigned: true, unsubscribe: 'one-click' });
  const u = await s.createUser({ spaceId: a.id, email: 'App@Alpha.example', passwordHash: 'scrypt$x' });
  await s.addDomain(a.id, 'alpha.example');
  await s.addDomain(a.id, 'bücher.example');
  await s.addDkimKey({ spaceId: a.id, domain: 'alpha.example', selector: 's1', algorithm: 'rsa-sha256', state: 'active', publicTxt: 'v=DKIM1; p=AAA', wrappedPrivateKey: 'w1', createdAt: at(0) });
  const k2 = await s.addDkimKey({ spaceId: a.id, domain: 'alpha.example', selector: 's2', algorithm: 'ed25519-sha256', state: 'pending', publicTxt: 'v=DKIM1; k=ed25519; p=BBB', wrappedPrivateKey: 'w2', createdAt: at(1) });
  await s.activateDkimKeys(a.id, 'alpha.example', [k2.id], at(2), at(86_400_000));
  await s.setReturnPath(a.id, 'alpha.example', 'bounces.alpha.example');
  await s.setWebhook({ spaceId: a.id, url: 'https://hooks.alpha.example/x', secret: 'whsec_1' });
  await s.recordDomainCheck(a.id, 'alpha.example', { status: 'incomplete', at: at(3), detail: { spf: 'missing', n: 1 } });
  await s.setFromFlags(a.id, 'News@Alpha.example', 9);
  await s.setFromUnsubscribe(a.id, 'News@Alpha.example', 'none');
  await s.setFromUnsubscribe(a.id, 'letters@alpha.example', 'one-click');
  await s.addListEntry({ spaceId: a.id, list: 'bounce', address: 'Gone@Example.net', reason: 'user unknown', bounceReason: 'user-unknown', rule: 'status:5.1.1', addedAt: at(4) });
  await s.addListEntry({ spaceId: a.id, list: 'unsubscribe', address: 'no@example.net', reason: 'asked', addedAt: at(5) });
  await s.noteBounceStreak({ spaceId: a.id, address: 'Full@Example.net', reason: 'mailbox-full', at: at(6) });
  await s.noteBounceStreak({ spaceId: a.id, address: 'full@example.net', reason: 'mailbox-full', at: at(7) });
  for (let i = 0; i < 3; i++) {
    await s.recordSend({
      id: `q${i}`,
      spaceId: a.id,
      userId: u.id,
      mailFrom: 'news@alpha.example',
      envelopeSender: `trx-${a.id}-q${i}-x@bounces.alpha.example`,
      from: 'News@alpha.example',
      to: 'Rcpt@Example.net',
      bcc: i === 0 ? 'copy@example.org' : null,
      discarded: i === 0 ? ['d@example.com'] : [],
      tags: i === 2 ? [] : ['welcome', `t${i}`],
      flags: 3,
      flagsSource: 'default',
      // Two sends in the same millisecond: their order must survive the copy.
      receivedAt: at(i === 2 ? 10_000 : 10_000 + i),
      // q2 was recorded before nodes were named.
      ...(i === 2 ? {} : { node: `node-${i}` }),
      // Only q0's message had a Message-ID.
      ...(i === 0 ? { messageId: 'q0.1@alpha.example' } : {}),
      recipients: [
        { address: 'Rcpt@Example.net', role: 'to', status: i === 1 ? 'suppressed' : 'queued', suppressedBy: i === 1 ? 'unsubscribe' : null, detail: null },
        ...(i === 0
          ? [
              { address: 'copy@example.org', role: 'bcc' as const, status: 'queued' as const, suppressedBy: null, detail: null },
              { address: 'd@example.com', role: 'discarded' as const, status: 'discarded' as const, suppressedBy: null, detail: null },
            ]
          : []),
      ],
    });
  }
  await s.updateRecipientStatus('q0', 'rcpt@example.net', 'delivered', '250 ok');
  await s.updateRecipientStatus('q2', 'rcpt@example.net', 'bounced', '554 5.7.1 blocked', 'blocked');
  await s.addEvent({ sendId: 'q0', recipient: 'Rcpt@Example.net', type: 'opened', at: at(20_000), detail: { machine: true, ua: 'x' } });
  await s.addEvent({ sendId: 'q0', recipient: 'Rcpt@Example.net', type: 'clicked', at: at(20_001), detail: { url: 'https://a.example/' } });
  await s.addEvent({ sendId: 'q2', recipient: 'rcpt@example.net', type: 'bounced', at: at(20_002), detail: { kind: 'soft' } });
  await s.noteSendInLog('q0', at(10_500));
  // Deliveries are queued at the real time: claim as of later than that.
  const [claimed] = await s.claimWebhookDeliveries(new Date(Date.now() + 60_000), 1, 60_000);
  if (claimed === undefined) throw new Error('the seed queued no webhook delivery');
  await s.completeWebhookDelivery(claimed.id, { delivered: true, at: at(30_001) });
  // An old send purged into the daily aggregates (report_days): its numbers must travel too.
  await s.recordSend({
    id: 'old1', spaceId: a.id, userId: u.id, mailFrom: 'news@alpha.example', envelopeSender: `trx-${a.id}-old1-x@bounces.alpha.example`,
    from: 'News@alpha.example', to: 'Old@Example.org', bcc: null, discarded: [], tags: ['welcome'], flags: 3, flagsSource: 'default',
    receivedAt: at(-30 * 86_400_000), recipients: [{ address: 'Old@Example.org', role: 'to', status: 'queued', suppressedBy: null, detail: null }],
  });
  await s.addEvent({ sendId: 'old1', recipient: 'Old@Example.org', type: 'opened', at: at(-29 * 86_400_000), detail: {} });
  expect((await s.purgeSends({ before: at(-10 * 86_400_000) })).sends).toBe(1);
  await s.saveDeliveryCursor({ node: 'node-0', path: '/var/log/mail.log', dev: '2049', ino: '123456789012', offset: 4096, followingSince: at(0), savedAt: at(40_000) });
  // Sending limits, usage and an automatic pause (space_sending, space_usage).
  await s.setSendingLimits(a.id, { minute: 50, day: 1000 });
  await s.reserveSending(a.id, 3, at(50_000));
  await s.noteSendingOutcome(a.id, 'hard-bounce', at(110_000), at(0));
  await s.pauseSpace(a.id, { reason: 'hard-bounce rate 33.3% over 24 h (limit 10%)', at: at(110_000), auto: true });
}

/** Everything the Store API shows, for comparing two stores. */
async function snapshot(s: Store): Promise<unknown> {
  const spaces = await s.listSpaces();
  const perSpace = [];
  for (const sp of spaces) {
    const domains = await s.listDomains(sp.id);
    const keys = [];
    for (const d of domains) keys.push(await s.listDkimKeys(sp.id, d));
    perSpace.push({
      domains,
      keys,
      from: await s.listFromFlags(sp.id),
      bounce: await s.listEntries(sp.id, 'bounce'),
      unsubscribe: await s.listEntries(sp.id, 'unsubscribe'),
      changes: [...(await s.listChanges(sp.id, 'bounce', null, 100)), ...(await s.listChanges(sp.id, 'unsubscribe', null, 100))],
      webhook: await s.getWebhook(sp.id),
      report: await s.report({ spaceId: sp.id }, 'tag'),
      byReason: await s.report({ spaceId: sp.id }, 'reason'),
      byDomain: await s.report({ spaceId: sp.id }, 'domain'),
      byDay: await s.report({ spaceId: sp.id }, 'day'),
      reportDays: await s.listReportDays(sp.id),
    });
  }
  const sends = await s.listSends({});
  const events = [];
  for (const send of sends) events.push(await s.listEvents(send.id));
  return {
    spaces,
    users: await s.listUsers(),
    perSpace,
    domainAuth: await s.listDomainAuth(),
    returnPaths: await s.listReturnPathHosts(),
    sends,
    events,
    counts: await s.eventCounts(sends.map((x) => x.id)),
    deliveries: await s.listWebhookDeliveries({}),
    backlog: await s.webhookBacklog(),
    cursor: await s.getDeliveryCursor('node-0', '/var/log/mail.log'),
    sending: await Promise.all(
      spaces.map(async (sp) => ({ state: await s.getSendingState(sp.id), usage: await s.sendingUsage(sp.id, at(120_000)), outcomes: await s.sendingOutcomes(sp.id, at(0)) })),
    ),
  };
}

describe('trxmail store copy', () => {
  it('copies every table, checks the counts, and the PostgreSQL store answers as the SQLite one did', async () => {
    const url = await db.freshSchemaUrl();
    const cwd = tempWorkDir();
    const r = await cli(cwd, ['store', 'copy', '--from', `sqlite:${sqlitePath}`, '--to', url]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^TABLE\s+READ\s+WRITTEN\n/);
    expect(r.stdout).toMatch(/^sends\s+3\s+3$/m);
    // q1's suppressed recipient is an event too.
    expect(r.stdout).toMatch(/^events\s+4\s+4$/m);
    expect(r.stdout).toMatch(/^dkim_keys\s+2\s+2$/m);
    expect(r.stdout).toMatch(/^bounce_streaks\s+1\s+1$/m);
    expect(r.stdout).toMatch(/^space_sending\s+1\s+1$/m);
    expect(r.stdout).toMatch(/^space_usage\s+2\s+2$/m);
    expect(r.stdout).not.toMatch(/^auth_failures/m);
    expect(r.stdout).toMatch(/^report_days\s+1\s+1$/m);
    expect(r.stdout).toMatch(/^list_changes\s+2\s+2$/m);
    expect(r.stdout).toMatch(/copied \d+ rows in 18 tables\n$/);

    const source = await openStore({ driver: 'sqlite', path: sqlitePath });
    const target = await openStore(db.config(url));
    try {
      const expected = await snapshot(source);
      // The seed holds what the copy must carry: delivered and pending deliveries, a machine open.
      expect(new Set((await source.listWebhookDeliveries({})).map((d) => d.status))).toEqual(new Set(['delivered', 'pending']));
      expect((await source.eventCounts(['q0']))['q0']).toMatchObject({ openedMachine: 1, clicked: 1 });
      // The seed holds the columns added with nodes and bounce reasons.
      expect((await source.getSend('q0', null))?.node).toBe('node-0');
      expect((await source.getSend('q2', null))?.recipients[0]?.reason).toBe('blocked');
      // ... and the Message-ID searched for (migration 8 / 3), found in the target too.
      expect((await source.getSend('q0', null))?.messageId).toBe('q0.1@alpha.example');
      expect((await target.listSends({ messageId: 'q0.1@alpha.example' })).map((x) => x.id)).toEqual(['q0']);
      const alpha = (await source.listSpaces()).find((x) => x.name === 'Alpha')?.id ?? 0;
      expect((await source.report({ spaceId: alpha }, null))[0]?.blocked).toBe(1);
      expect(await snapshot(target)).toEqual(expected);
      // The one-click unsubscribe defaults (SQLite 12 / PostgreSQL 7) went along.
      expect((await target.getSpace(alpha))?.unsubscribe).toBe('one-click');
      expect(await target.listFromFlags(alpha)).toEqual([
        { spaceId: alpha, address: 'letters@alpha.example', flags: null, unsubscribe: 'one-click' },
        { spaceId: alpha, address: 'News@Alpha.example', flags: 9, unsubscribe: 'none' },
      ]);
      // The bounce streak went along: the next bounce continues it.
      expect(await target.noteBounceStreak({ spaceId: alpha, address: 'full@example.net', reason: 'mailbox-full', at: at(8) })).toEqual({
        count: 3,
        firstAt: at(6),
        lastAt: at(8),
      });
      // Identity sequences continue after the copied ids.
      const sp = await target.createSpace({ name: 'new' });
      expect(sp.id).toBe(Math.max(...(await source.listSpaces()).map((x) => x.id)) + 1);
      const ev = await target.addEvent({ sendId: 'q1', recipient: 'rcpt@example.net', type: 'opened', at: at(50_000), detail: {} });
      expect(ev.id).toBe(5);
      expect(await target.removeListEntry(alpha, 'unsubscribe', 'no@example.net')).toBe(true);
      expect((await target.listChanges(alpha, 'unsubscribe', null, 1))[0]?.id).toBe(3);
    } finally {
      await source.close();
      await target.close();
    }

    const again = await cli(cwd, ['store', 'copy', '--from', `sqlite:${sqlitePath}`, '--to', url]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^trxmail: the target store is not empty \(spaces: 3, .*\); give --replace to empty it first\n$/);
    const replaced = await cli(cwd, ['store', 'copy', '--from', `sqlite:${sqlitePath}`, '--to', url, '--replace']);
    expect(replaced.code).toBe(0);
    const check = await openStore(db.config(url));
    try {
      expect((await check.listSpaces()).map((s) => s.name)).toEqual(['unused', 'Alpha']);
    } finally {
      await check.close();
    }
  });

  it('refuses a source that is not a trxmail database and a --to that is not a postgres URL, with one line', async () => {
    const cwd = tempWorkDir();
    const missing = await cli(cwd, ['store', 'copy', '--from', 'sqlite:nowhere.db', '--to', db.url]);
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/^trxmail: cannot open .*nowhere\.db.*\n$/) });
    const badTo = await cli(cwd, ['store', 'copy', '--from', `sqlite:${sqlitePath}`, '--to', 'mysql://u:hunter2@h/db']);
    expect(badTo).toMatchObject({ code: 1, stderr: expect.stringMatching(/^trxmail: --to: expected postgres:/) });
    expect(badTo.stderr).not.toContain('hunter2');
    const badFrom = await cli(cwd, ['store', 'copy', '--from', sqlitePath, '--to', db.url]);
    expect(badFrom).toMatchObject({ code: 1, stderr: 'trxmail: --from: expected sqlite:PATH\n' });
  });
});
