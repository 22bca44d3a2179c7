/**
 * Mail without a SASL login, as the milter handler and the policy decider see it (issue 12
 * item 2: one port 25 for clients and for other servers' bounces). Through Postfix the shipped
 * restrictions refuse foreign recipients first (test/e2e/one-address.test.ts); here the
 * handler's own backstop and the policy's TLS distinction are checked directly.
 *
 * Fail on old main: the handler refused every message without login at MAIL, the policy
 * answered "Authentication required" in plain text as well.
 */
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/lib/logger.js';
import { Spool } from '../../../src/lib/spool.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import type { MilterMessageContext } from '../../../src/milter/handler.js';
import { MilterMacros } from '../../../src/milter/macros.js';
import { createRulesHandler, type RulesHandlerDeps } from '../../../src/milter/rules-handler.js';
import { createRulesDecider } from '../../../src/policy/rules-decider.js';
import type { Store } from '../../../src/store/store.js';

/** The store is never asked without a login: any call fails the test. */
const noStore = new Proxy({} as Store, {
  get: (_t, prop) => () => {
    throw new Error(`store.${String(prop)} called`);
  },
});

const BOUNCE_DOMAINS = new Set(['bounces.example', 'rp.shop.example']);

function handler() {
  // Only what a message without login reaches; the accept step's ports are never used.
  const deps = {
    accounts: noStore,
    store: noStore,
    isBounceDomain: (d: string) => BOUNCE_DOMAINS.has(d),
    logger: silentLogger,
    metrics: createMetrics(),
    newBodySpool: () => new Spool(),
    newSpool: () => new Spool(),
  } as unknown as RulesHandlerDeps;
  return createRulesHandler(deps)({ id: 1, transport: 'tcp', remote: '127.0.0.1:1' });
}

function ctx(recipients: string[]): MilterMessageContext {
  return {
    connect: null,
    helo: 'mx.remote.example',
    sender: { raw: '<>', address: '', args: [] },
    recipients: recipients.map((r) => ({ raw: `<${r}>`, address: r, args: [] })),
    headers: [],
    macros: new MilterMacros(),
    queueId: 'Q1',
    authUser: null,
    actions: 0x1ff,
    headerLeadingSpace: false,
  };
}

const mx = new MilterMacros([['{daemon_name}', 'relay.example']]);
const submission = new MilterMacros([['{daemon_name}', 'ORIGINATING']]);

describe('milter: a message without login', () => {
  it('on a submission service (ORIGINATING): 530 5.7.0 Authentication required at MAIL, as before', async () => {
    expect(await handler().mail?.('', [], submission)).toEqual({ kind: 'custom', code: 530, enhanced: '5.7.0', text: 'Authentication required' });
  });

  it('elsewhere (port 25): MAIL continues; every recipient in a bounce domain → passed on without any edit', async () => {
    const h = handler();
    expect(await h.mail?.('', [], mx)).toEqual({ kind: 'continue' });
    await h.body?.(Buffer.from('a bounce'));
    expect(await h.eom(ctx(['trx-1-a-b@Bounces.Example', 'x@rp.shop.example']))).toEqual({ edits: [], reply: { kind: 'continue' } });
  });

  it.each([[['someone@example.org']], [['trx-1-a-b@bounces.example', 'someone@example.org']], [['x@sub.bounces.example']], [['bounces.example']], [[]]])(
    'any recipient outside the bounce domains (%j) → 530 5.7.0 Authentication required at end of message',
    async (rcpts) => {
      const h = handler();
      await h.mail?.('', [], mx);
      expect(await h.eom(ctx(rcpts))).toEqual({ edits: [], reply: { kind: 'custom', code: 530, enhanced: '5.7.0', text: 'Authentication required' } });
    },
  );
});

describe('policy: a client without login', () => {
  const decide = createRulesDecider(noStore);

  it('in plain text (no encryption_protocol): 530 5.7.0 Must issue a STARTTLS command first', async () => {
    expect(await decide({ request: 'smtpd_access_policy', sasl_username: '', encryption_protocol: '' })).toBe('530 5.7.0 Must issue a STARTTLS command first');
    expect(await decide({ request: 'smtpd_access_policy' })).toBe('530 5.7.0 Must issue a STARTTLS command first');
  });

  it('after STARTTLS: 530 5.7.0 Authentication required', async () => {
    expect(await decide({ request: 'smtpd_access_policy', sasl_username: '', encryption_protocol: 'TLSv1.3', sender: 'a@b.example' })).toBe(
      '530 5.7.0 Authentication required',
    );
  });
});
