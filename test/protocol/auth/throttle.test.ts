/**
 * The authentication throttle through the real Dovecot-protocol server (AuthServer over TCP,
 * a CredentialVerifier as its verify): what Postfix sees. A FAIL becomes
 * `535 5.7.8` at the SMTP client, a dropped connection `454 4.7.0` (docs/protocols.md §4).
 *
 * Issue 11 item 1: failures from one address must never make the right password from another
 * address fail; the throttled client itself gets the temporary answer (the drop), held about
 * as long as a real check.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AuthServer } from '../../../src/auth/server.js';
import { CredentialVerifier } from '../../../src/auth/credentials.js';
import { listKey } from '../../../src/core/domain.js';
import { MAX_AUTH_FAILURES_PER_ADDRESS, MAX_AUTH_FAILURES_PER_LOGIN_ADDRESS } from '../../../src/lib/limits.js';
import type { Store, User } from '../../../src/store/store.js';
import { captureLogger, connectClient } from '../helpers.js';
import { POSTFIX_HELLO, plain, postfixAuth } from './helpers.js';

const VICTIM = 'victim@shop.example';
const OTHER = 'other@shop.example';
const ATTACKER_IP = '203.0.113.66';

/** Users whose hash is "fake$<password>"; the check compares (and counts) without scrypt. */
function setup() {
  const users = new Map<string, User>();
  let id = 1;
  for (const [email, pw] of [
    [VICTIM, 'victim pw'],
    [OTHER, 'other pw'],
  ] as const) {
    users.set(listKey(email)!, { id: id++, spaceId: 1, email, passwordHash: `fake$${pw}`, createdAt: new Date(0) });
  }
  const store: Pick<Store, 'getUserByEmail'> = { getUserByEmail: (e) => Promise.resolve(users.get(listKey(e) ?? '') ?? null) };
  const checks: string[] = [];
  const slept: number[] = [];
  const verifier = new CredentialVerifier(store, {
    checkPassword: (p, h) => {
      checks.push(h);
      return Promise.resolve(h === `fake$${p}`);
    },
    sleep: (ms) => {
      slept.push(ms);
      return Promise.resolve();
    },
  });
  const { logger } = captureLogger();
  const server = new AuthServer({ verify: verifier.authVerifier, logger });
  servers.push(server);
  return { server, checks, slept };
}

const servers: AuthServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close(0)));
});

type Answer = 'OK' | 'FAIL' | 'DROPPED';

/**
 * What Postfix does for one SMTP AUTH on a fresh auth connection: hello, one PLAIN request.
 * OK → 235, FAIL → 535 5.7.8, DROPPED (closed without an answer) → 454 4.7.0.
 */
async function authOnce(port: number, login: string, password: string, rip: string): Promise<Answer> {
  const client = await connectClient({ host: '127.0.0.1', port });
  client.socket.write(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', login, password), rip }));
  try {
    const text = await client.waitFor((t) => /\n(OK|FAIL)\t1\t/.test(t));
    return /\nOK\t1\t/.test(text) ? 'OK' : 'FAIL';
  } catch {
    return 'DROPPED';
  } finally {
    client.socket.destroy();
  }
}

async function listen(server: AuthServer): Promise<number> {
  const bound = await server.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
  if (bound.kind !== 'tcp') throw new Error('expected tcp');
  return bound.port;
}

describe('the throttle as Postfix sees it', () => {
  it('an attacker at one address, at any rate, does not stop the right password from another address; the attacker gets 454 (dropped)', async () => {
    const { server, checks, slept } = setup();
    const port = await listen(server);

    // A burst of pipelined guesses on one connection, as fast as the socket takes them.
    const burst = await connectClient({ host: '127.0.0.1', port });
    const n = 30;
    burst.socket.write(
      POSTFIX_HELLO + Array.from({ length: n }, (_, i) => postfixAuth(i + 1, 'PLAIN', { resp: plain('', VICTIM, `guess ${i}`), rip: ATTACKER_IP })).join(''),
    );
    // Either the server drops the connection, or (old code) it answers every request.
    const allAnswered = (t: string): boolean => t.split('\n').filter((l) => /^(OK|FAIL)\t/.test(l)).length === n;
    const text = await Promise.race([burst.closed, burst.waitFor(allAnswered).catch(() => burst.closed)]);
    burst.socket.destroy();
    const fails = text.split('\n').filter((l) => l.startsWith('FAIL\t'));
    // Exactly the limit got a real answer (535); then the connection was dropped (454).
    expect(fails).toHaveLength(MAX_AUTH_FAILURES_PER_LOGIN_ADDRESS);
    expect(text).not.toMatch(/\nOK\t/);

    // Postfix reconnects for each further AUTH: every attempt of the attacker is dropped,
    // the right password included, without a check, each held for a check's cost.
    const before = checks.length;
    for (let i = 0; i < 10; i++) expect(await authOnce(port, VICTIM, `again ${i}`, ATTACKER_IP)).toBe('DROPPED');
    expect(await authOnce(port, VICTIM, 'victim pw', ATTACKER_IP)).toBe('DROPPED');
    expect(checks.length).toBe(before);
    expect(slept.length).toBeGreaterThanOrEqual(11);

    // The real user, from anywhere else, is let in — between the attacker's attempts too.
    expect(await authOnce(port, VICTIM, 'victim pw', '198.51.100.10')).toBe('OK');
    expect(await authOnce(port, VICTIM, 'wrong', ATTACKER_IP)).toBe('DROPPED');
    expect(await authOnce(port, 'VICTIM@shop.example', 'victim pw', '2001:db8:5::1')).toBe('OK');
    // A wrong password from elsewhere is still a plain 535.
    expect(await authOnce(port, VICTIM, 'wrong', '198.51.100.11')).toBe('FAIL');
  });

  it(`per address across many logins: ${MAX_AUTH_FAILURES_PER_ADDRESS} failures from one address drop every AUTH from it, and nobody else's`, async () => {
    const { server } = setup();
    const port = await listen(server);
    for (let i = 0; i < MAX_AUTH_FAILURES_PER_ADDRESS; i++) {
      expect(await authOnce(port, `user${i}@shop.example`, 'guess', ATTACKER_IP)).toBe('FAIL');
    }
    expect(await authOnce(port, OTHER, 'other pw', ATTACKER_IP)).toBe('DROPPED');
    expect(await authOnce(port, `user0@shop.example`, 'guess', ATTACKER_IP)).toBe('DROPPED');
    expect(await authOnce(port, OTHER, 'other pw', '198.51.100.20')).toBe('OK');
    expect(await authOnce(port, VICTIM, 'victim pw', '198.51.100.21')).toBe('OK');
  });
});
