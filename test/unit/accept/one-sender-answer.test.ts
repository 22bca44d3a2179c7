/**
 * One sender answer for both adapters (issue 11 item 7): the milter's MAIL check (the real
 * rules handler, given the path as the client typed it) and the policy service's RCPT check
 * (the real decider, given `sender=` in Postfix's internal form, local part unquoted, as
 * Postfix 3.7 sends it — seen in test/e2e/address-rules.test.ts) over a real SQLite store.
 *
 * On old main the policy refused every quoted local part that is not a dot-atom
 * (`john smith@shop.example` → 553 5.1.7 "not a valid address") while the milter accepted it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainSetups } from '../../../src/accept/domain-setups.js';
import { encodeBounceAddress } from '../../../src/bounce/bounce-address.js';
import { smtpPathFromPostfixInternal } from '../../../src/core/envelope-address.js';
import { silentLogger } from '../../../src/lib/logger.js';
import { Spool } from '../../../src/lib/spool.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { MilterMacros } from '../../../src/milter/macros.js';
import { createRulesHandler } from '../../../src/milter/rules-handler.js';
import { createRulesDecider } from '../../../src/policy/rules-decider.js';
import { openStore } from '../../../src/store/open-store.js';
import type { Store } from '../../../src/store/store.js';

const KEYS = [{ id: 'k1', secret: 'one-answer-test-secret-0123456789' }];
const LOGIN = 'app@shop.example';
const PEER = { id: 1, transport: 'unix', remote: '/test' } as const;

let dir: string;
let store: Store;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'trxmail-one-answer-'));
  store = await openStore({ driver: 'sqlite', path: path.join(dir, 'trxmail.db') });
  const space = await store.createSpace({ name: 'Shop', allowUnsigned: true });
  await store.addDomain(space.id, 'shop.example');
  await store.createUser({ spaceId: space.id, email: LOGIN, passwordHash: 'unused-in-this-test' });
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * Postfix's internal form of a path as the client typed it, written here independently of
 * production code: brackets off, a quoted local part unquoted (quoted-pairs resolved).
 */
function postfixInternal(typed: string): string {
  const s = typed.replace(/^<|>$/g, '');
  const m = /^"((?:[^"\\]|\\.)*)"(@.*)$/.exec(s);
  return m ? m[1]!.replace(/\\(.)/g, '$1') + m[2]! : s;
}

async function milterAnswer(typed: string): Promise<string> {
  const handler = createRulesHandler({
    accounts: store,
    store,
    bounceAddress: (spaceId, sendId, host) => encodeBounceAddress({ spaceId, sendId }, KEYS, host ?? 'bounces.relay.example'),
    domainSetup: new DomainSetups(store, KEYS).get,
    tracking: null,
    newSpool: () => new Spool(dir),
    newBodySpool: () => new Spool(dir),
    isBounceDomain: () => false,
    clock: () => new Date('2026-12-01T10:00:00.000Z'),
    metrics: createMetrics(),
    logger: silentLogger,
  })(PEER);
  if (!handler.mail) throw new Error('the rules handler has no MAIL step');
  const reply = await handler.mail(typed, [], new MilterMacros([['{auth_authen}', LOGIN]]));
  await handler.close?.();
  if (!reply) throw new Error('no reply at MAIL');
  return reply.kind === 'continue' ? 'accept' : reply.kind === 'custom' ? `${reply.code} ${reply.enhanced}` : reply.kind;
}

async function policyAnswer(internal: string): Promise<string> {
  const answer = await createRulesDecider(store)({ request: 'smtpd_access_policy', protocol_state: 'RCPT', sasl_username: LOGIN, sender: internal });
  return answer === 'DUNNO' ? 'accept' : answer.split(' ').slice(0, 2).join(' ');
}

describe('the sender check: the milter at MAIL and the policy service at RCPT agree', () => {
  it.each([
    ['<"john smith"@shop.example>', 'accept'],
    ['<"john"@shop.example>', 'accept'],
    ['<john.smith@shop.example>', 'accept'],
    ['<"a@b"@shop.example>', 'accept'],
    ['<"a\\"b"@shop.example>', 'accept'],
    ['<".john"@shop.example>', 'accept'],
    ['<"john smith"@elsewhere.example>', '553 5.7.1'],
    ['<"john smith"@shop.example.evil.test>', '553 5.7.1'],
    ['<>', '553 5.1.7'],
  ])('%s → %s', async (typed, expected) => {
    expect(await milterAnswer(typed)).toBe(expected);
    expect(await policyAnswer(postfixInternal(typed))).toBe(expected);
  });
});

describe('what the policy service never sees', () => {
  it('an unquoted local part that is no dot-atom is refused by the milter at MAIL, before any RCPT', async () => {
    // Postfix's internal form cannot tell `john..smith@d` from `"john..smith"@d` (which is
    // valid); the milter's MAIL answer comes first, so the client is told once, at MAIL.
    expect(await milterAnswer('<john..smith@shop.example>')).toBe('553 5.1.7');
    expect(await milterAnswer('<"john..smith"@shop.example>')).toBe('accept');
    expect(await policyAnswer('john..smith@shop.example')).toBe('accept');
  });
});

describe('smtpPathFromPostfixInternal', () => {
  it.each([
    ['john smith@shop.example', '"john smith"@shop.example'],
    ['john@shop.example', 'john@shop.example'],
    ['a@b@shop.example', '"a@b"@shop.example'],
    ['a"b@shop.example', '"a\\"b"@shop.example'],
    ['a\\b@shop.example', '"a\\\\b"@shop.example'],
    ['.john@shop.example', '".john"@shop.example'],
    ['jürgen@bücher.example', 'jürgen@bücher.example'],
    ['', ''],
    ['postmaster', 'postmaster'],
    ['@shop.example', '@shop.example'],
  ])('%j → %j', (internal, smtp) => {
    expect(smtpPathFromPostfixInternal(internal)).toBe(smtp);
  });
});
