/**
 * A store seeded for the report tests: sends and events in two spaces, each send built so the
 * numbers of the aggregate report can be counted by hand (report.test.ts writes them down).
 *
 * Space "alpha" (report range [2026-03-01, 2026-03-04)):
 *   id   received (UTC)            from                  tags               To state
 *   a0   2026-02-28 23:59:59.999   news@shop.example     promo              delivered   (before the range)
 *   a1   2026-03-01 10:00          news@shop.example     promo, spring      delivered
 *   a10  2026-03-01 11:00          alerts@shop.example   -                  suppressed (unsubscribe)
 *   a2   2026-03-01 23:59:59.999   News@SHOP.example     promo              bounced
 *   a3   2026-03-02 00:00:00.000   alerts@shop.example   spring             deferred
 *   a4   2026-03-02 12:00          news@shop.example     -                  suppressed (bounce)
 *   a5   2026-03-02 13:00          alerts@shop.example   promo              suppressed (unsubscribe)
 *   a6   2026-03-03 09:00          news@shop.example     promo, spring, vip delivered (BCC bounced)
 *   a7   2026-03-03 10:00          news@shop.example     spring             delivered (BCC)
 *   a8   2026-03-03 23:00          alerts@shop.example   vip                queued
 *   a9   2026-03-04 00:00:00.000   news@shop.example     promo              bounced     (at `until`: out)
 * Events (person = no machine flag):
 *   a0   opened ×1
 *   a1   delivered; opened ×4, opened machine ×3; clicked ×1, clicked machine ×7; complained (To)
 *   a2   bounced {kind: hard} for the To written in other case; bounced {} (Postfix log line)
 *   a3   deferred {kind: soft}; opened machine ×2
 *   a4   suppressed (recorded with the send, as for a10 and a5)
 *   a6   deferred {} (To); delivered; clicked ×3, clicked machine ×2; complained (To);
 *        bounced {kind: hard} for the BCC (does not count)
 *   a7   bounced {kind: soft} (To); complained for the BCC (does not count); opened ×1; delivered
 *   a8   opened ×1
 *   a9   bounced {kind: hard}
 * Space "beta": b1 (2026-03-01, news@shop.example, promo, delivered, opened ×5, complained),
 * b2 (2026-03-02, news@shop.example, promo, bounced hard) — never in alpha's numbers.
 */
import { hashPassword } from '../../src/lib/password.js';
import type { EventType, RecipientStatus, SendRecipient, Space, Store, User } from '../../src/store/store.js';

export interface Seeded {
  readonly alpha: Space;
  readonly beta: Space;
  readonly userA: User;
  readonly userB: User;
  /** Ids of alpha's sends, newest first (as listSends returns them). */
  readonly alphaIdsNewestFirst: readonly string[];
}

export const PASSWORD_A = 'correct horse alpha';
export const PASSWORD_B = 'correct horse beta';

interface SeedSend {
  id: string;
  at: string;
  from: string;
  tags: string[];
  to: RecipientStatus;
  suppressedBy?: 'bounce' | 'unsubscribe';
  bcc?: RecipientStatus;
  events?: [EventType, 'to' | 'TO' | 'bcc', Record<string, unknown>, number?][];
}

const person = {};
const machine = { machine: true };

const ALPHA: SeedSend[] = [
  { id: 'a0', at: '2026-02-28T23:59:59.999Z', from: 'news@shop.example', tags: ['promo'], to: 'delivered', events: [['opened', 'to', person]] },
  {
    id: 'a1',
    at: '2026-03-01T10:00:00.000Z',
    from: 'news@shop.example',
    tags: ['promo', 'spring'],
    to: 'delivered',
    events: [
      ['delivered', 'to', {}],
      ['opened', 'to', person, 4],
      ['opened', 'to', machine, 3],
      ['clicked', 'to', person, 1],
      ['clicked', 'to', machine, 7],
      ['complained', 'to', { feedbackType: 'abuse' }],
    ],
  },
  { id: 'a10', at: '2026-03-01T11:00:00.000Z', from: 'alerts@shop.example', tags: [], to: 'suppressed', suppressedBy: 'unsubscribe' },
  {
    id: 'a2',
    at: '2026-03-01T23:59:59.999Z',
    from: 'News@SHOP.example',
    tags: ['promo'],
    to: 'bounced',
    events: [
      ['bounced', 'TO', { kind: 'hard', status: '5.1.1' }],
      ['bounced', 'to', { dsn: '5.1.1' }],
    ],
  },
  {
    id: 'a3',
    at: '2026-03-02T00:00:00.000Z',
    from: 'alerts@shop.example',
    tags: ['spring'],
    to: 'deferred',
    events: [
      ['deferred', 'to', { kind: 'soft', status: '4.2.2' }],
      ['opened', 'to', machine, 2],
    ],
  },
  { id: 'a4', at: '2026-03-02T12:00:00.000Z', from: 'news@shop.example', tags: [], to: 'suppressed', suppressedBy: 'bounce' },
  { id: 'a5', at: '2026-03-02T13:00:00.000Z', from: 'alerts@shop.example', tags: ['promo'], to: 'suppressed', suppressedBy: 'unsubscribe' },
  {
    id: 'a6',
    at: '2026-03-03T09:00:00.000Z',
    from: 'news@shop.example',
    tags: ['promo', 'spring', 'vip'],
    to: 'delivered',
    bcc: 'bounced',
    events: [
      ['deferred', 'to', { dsn: '4.4.1' }],
      ['delivered', 'to', {}],
      ['clicked', 'to', person, 3],
      ['clicked', 'to', machine, 2],
      ['complained', 'to', { feedbackType: 'abuse' }],
      ['bounced', 'bcc', { kind: 'hard', status: '5.1.1' }],
    ],
  },
  {
    id: 'a7',
    at: '2026-03-03T10:00:00.000Z',
    from: 'news@shop.example',
    tags: ['spring'],
    to: 'delivered',
    bcc: 'delivered',
    events: [
      ['bounced', 'to', { kind: 'soft', status: '4.2.2' }],
      ['complained', 'bcc', { feedbackType: 'abuse' }],
      ['opened', 'to', person, 1],
      ['delivered', 'to', {}],
    ],
  },
  { id: 'a8', at: '2026-03-03T23:00:00.000Z', from: 'alerts@shop.example', tags: ['vip'], to: 'queued', events: [['opened', 'to', person, 1]] },
  { id: 'a9', at: '2026-03-04T00:00:00.000Z', from: 'news@shop.example', tags: ['promo'], to: 'bounced', events: [['bounced', 'to', { kind: 'hard' }]] },
];

const BETA: SeedSend[] = [
  {
    id: 'b1',
    at: '2026-03-01T10:00:00.000Z',
    from: 'news@shop.example',
    tags: ['promo'],
    to: 'delivered',
    events: [
      ['opened', 'to', person, 5],
      ['complained', 'to', {}],
    ],
  },
  { id: 'b2', at: '2026-03-02T10:00:00.000Z', from: 'news@shop.example', tags: ['promo'], to: 'bounced', events: [['bounced', 'to', { kind: 'hard' }]] },
];

async function record(store: Store, space: Space, user: User, s: SeedSend): Promise<void> {
  const to = `r-${s.id}@example.net`;
  const bcc = s.bcc === undefined ? null : `bcc-${s.id}@example.org`;
  const recipients: SendRecipient[] = [
    { address: to, role: 'to', status: s.to, suppressedBy: s.suppressedBy ?? null, detail: null },
    ...(bcc === null || s.bcc === undefined ? [] : [{ address: bcc, role: 'bcc' as const, status: s.bcc, suppressedBy: null, detail: null }]),
  ];
  await store.recordSend({
    id: s.id,
    spaceId: space.id,
    userId: user.id,
    mailFrom: s.from,
    envelopeSender: `trx-${space.id}-${s.id}-x@bounce.example`,
    from: s.from,
    to,
    bcc,
    discarded: [],
    tags: s.tags,
    flags: 3,
    flagsSource: 'default',
    receivedAt: new Date(s.at),
    recipients,
  });
  let minute = 0;
  for (const [type, who, detail, times] of s.events ?? []) {
    const recipient = who === 'bcc' ? (bcc ?? '') : who === 'TO' ? to.toUpperCase() : to;
    for (let i = 0; i < (times ?? 1); i++) {
      minute++;
      await store.addEvent({ sendId: s.id, recipient, type, at: new Date(Date.parse(s.at) + minute * 60_000), detail });
    }
  }
}

export async function seedReports(store: Store): Promise<Seeded> {
  const alpha = await store.createSpace({ name: 'alpha' });
  const beta = await store.createSpace({ name: 'beta' });
  const userA = await store.createUser({ spaceId: alpha.id, email: 'user@alpha.example', passwordHash: await hashPassword(PASSWORD_A) });
  const userB = await store.createUser({ spaceId: beta.id, email: 'user@beta.example', passwordHash: await hashPassword(PASSWORD_B) });
  for (const s of ALPHA) await record(store, alpha, userA, s);
  for (const s of BETA) await record(store, beta, userB, s);
  const alphaIdsNewestFirst = [...ALPHA].sort((x, y) => Date.parse(y.at) - Date.parse(x.at)).map((s) => s.id);
  return { alpha, beta, userA, userB, alphaIdsNewestFirst };
}
