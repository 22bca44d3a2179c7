/**
 * Several Postfix + trxmail nodes on one store (issue 14 item 5): two private Postfix
 * instances, two trxmail runtimes (each with its own listeners, HTTP service, maillog
 * follower, LMTP intake and webhook dispatcher), one shared store. What a second node must not
 * break:
 *  - sends accepted on either node are seen from either node (store, reports API);
 *  - a click on node B for node A's send is recorded;
 *  - a bounce arriving on node B for node A's send lists the address, and the next send
 *    through node A is suppressed;
 *  - each webhook event is delivered once, though both nodes' dispatchers run;
 *  - each node marks only its own sends, and keeps its own maillog position;
 *  - stopping node A's trxmail in the middle of a burst loses nothing that was answered 250.
 * The store is a PostgreSQL database of its own on the test server (test/helpers/postgres.ts),
 * as several nodes use in production; TRX_E2E_STORE=sqlite runs the same on one shared SQLite
 * file instead.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBounceAddress } from '../../src/bounce/bounce-address.js';
import type { Config } from '../../src/config/config.js';
import { BOUNCE_DOMAIN, TEST_KEYS, remoteSmtp, startStack, submit, userUnknownDsn, type Stack } from './stack.js';
import { promisify } from 'node:util';
import { hashPassword } from '../../src/lib/password.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

const run = promisify(execFile);

const USER = 'app@nodes.example';
const PASSWORD = 'two nodes password 123';
let a: Stack;
let b: Stack;
let spaceId = 0;

interface Hook {
  readonly id: number;
  readonly type: string;
  readonly sendId?: string;
}
const hooks: Hook[] = [];
let receiver: Server;

let database: TestDatabase | null = null;

async function sharedStore(dir: string): Promise<Config['store']> {
  if (process.env['TRX_E2E_STORE'] === 'sqlite') return { driver: 'sqlite', path: path.join(dir, 'shared.db') };
  database = await createTestDatabase();
  return { driver: 'postgres', url: database.url, poolSize: 5, statementTimeoutMs: 5000, connectTimeoutMs: 5000 };
}

async function send(node: Stack, to: string, subject: string, flags = 0): Promise<string> {
  const raw = [`From: News <news@nodes.example>`, `To: ${to}`, `Subject: ${subject}`, `X-Mxm-Flags: ${flags}`, 'Content-Type: text/html', '', `<p>${subject} <a href="https://shop.example/offer">offer</a></p>`, ''].join('\r\n');
  const response = await submit(node, { user: USER, pass: PASSWORD }, { from: 'news@nodes.example', to: [to] }, raw);
  const id = /^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$/.exec(response)?.[1];
  if (!id) throw new Error(`not queued: ${response}`);
  return id;
}

/**
 * Waits until the sink has a message containing `marker`, asking Postfix to retry its deferred
 * mail meanwhile: what it deferred while trxmail (its socketmap) was away is retried now, not
 * after the queue's backoff (postqueue has no "wait for delivery": poll it).
 */
async function delivered(node: Stack, marker: string): Promise<void> {
  const has = (): boolean => node.sink.messages.some((m) => m.raw.toString('utf8').includes(marker));
  for (let i = 0; i < 60 && !has(); i++) {
    await run('postqueue', ['-c', node.postfix.confDir, '-f']);
    await new Promise((r) => setTimeout(r, 1000));
  }
  expect(has(), `${marker} delivered`).toBe(true);
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
  });
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    void body(req).then((text) => {
      hooks.push(JSON.parse(text) as Hook);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-nodes-'));
  const store = await sharedStore(dir);
  a = await startStack({ store, nodeName: 'node-a' });
  b = await startStack({ store, nodeName: 'node-b' });
  // As `domain add` does (DKIM keys that sign at once), through node a: node b sees it too.
  const space = await a.addSpace('nodes', ['nodes.example'], [{ email: USER, password: PASSWORD }]);
  spaceId = space.id;
  await a.store.setWebhook({ spaceId: space.id, url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, secret: 'whsec_two_nodes' });
}, 240_000);

afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await new Promise((r) => receiver?.close(r));
  await database?.drop();
});

describe('two nodes on one store', () => {
  let fromA = '';
  let fromB = '';

  it('accepts on both nodes; each node sees both sends and knows which node took each', async () => {
    fromA = await send(a, 'reader-a@example.org', 'through node a', 2);
    fromB = await send(b, 'reader-b@example.org', 'through node b', 2);
    for (const node of [a, b]) {
      const ids = (await node.store.listSends({ spaceId })).map((s) => s.id);
      expect(ids).toEqual(expect.arrayContaining([fromA, fromB]));
    }
    expect((await b.store.getSend(fromA, spaceId))?.node).toBe('node-a');
    expect((await a.store.getSend(fromB, spaceId))?.node).toBe('node-b');
    // The reports API of node b lists node a's send.
    const auth = 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    const res = await fetch(`${b.config.http.baseUrl}/api/v1/sends?limit=10`, { headers: { authorization: auth } });
    expect(res.status).toBe(200);
    const listed = ((await res.json()) as { sends: Array<{ id: string }> }).sends.map((s) => s.id);
    expect(listed).toEqual(expect.arrayContaining([fromA, fromB]));
  });

  it("records a click on node b for node a's send", async () => {
    const delivered = await a.sink.waitFor((m) => m.raw.toString('utf8').includes('through node a'));
    const text = delivered.raw.toString('utf8').replace(/=\r?\n/g, '');
    const click = /https?:\/\/127\.0\.0\.1:\d+\/c\/[A-Za-z0-9_-]+/.exec(text)?.[0];
    expect(click).toBeDefined();
    const onB = click!.replace(/^https?:\/\/127\.0\.0\.1:\d+/, b.config.http.baseUrl);
    const res = await fetch(onB, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' } });
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('https://shop.example/offer');
    const events = await a.store.listEvents(fromA);
    expect(events.filter((e) => e.type === 'clicked')).toHaveLength(1);
  });

  it("lists the address when node b's intake gets a bounce for node a's send; node a suppresses the next send", async () => {
    const target = 'gone@example.org';
    const id = await send(a, target, 'will bounce elsewhere');
    const bounceAddress = encodeBounceAddress({ spaceId, sendId: id }, TEST_KEYS, BOUNCE_DOMAIN);
    // Another mail server hands the DSN to node b's bounce MX (plain SMTP), which routes it to
    // node b's LMTP intake.
    const intake = b.logged((l) => l.msg.startsWith('bounce intake: ') && l.obj['sendId'] === id);
    const transcript = await remoteSmtp(b, b.ports.bounceMx, ['--from', '<>', '--to', bounceAddress], userUnknownDsn(bounceAddress, target));
    expect(transcript).toMatch(/^<[-~] +250 2\.0\.0 Ok: queued/m);
    expect((await intake).msg).toBe('bounce intake: recorded');
    const listed = (await a.store.listEntries(spaceId, 'bounce')).map((e) => e.address.toLowerCase());
    expect(listed).toContain(target);
    const next = await send(a, target, 'after the bounce on node b', 4);
    expect((await a.store.getSend(next, spaceId))?.recipients.find((r) => r.role === 'to')).toMatchObject({ status: 'suppressed', suppressedBy: 'bounce' });
  });

  it('delivers each webhook event once, though both nodes run a dispatcher', async () => {
    // Events so far: two deliveries, a click, a bounce, a suppression; wait until the
    // delivered events of both sends have come.
    await a.sink.waitFor((m) => m.raw.toString('utf8').includes('through node a'));
    await b.sink.waitFor((m) => m.raw.toString('utf8').includes('through node b'));
    for (let i = 0; i < 300 && !(hooks.some((h) => h.sendId === fromA && h.type === 'delivered') && hooks.some((h) => h.sendId === fromB && h.type === 'delivered')); i++) {
      // The dispatchers poll the outbox; there is no event to wait for from here.
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(hooks.some((h) => h.sendId === fromA && h.type === 'delivered')).toBe(true);
    const ids = hooks.map((h) => h.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('keeps one maillog position per node', async () => {
    const pa = await a.store.getDeliveryCursor('node-a', a.config.maillog!);
    const pb = await a.store.getDeliveryCursor('node-b', b.config.maillog!);
    expect(pa?.node).toBe('node-a');
    expect(pb?.node).toBe('node-b');
  });

  it('a sending limit counts the sends of both nodes: sequential and concurrent bursts stop at the limit', async () => {
    // An hourly limit (the real clock: a rolling hour holds the whole test) 4 above what the
    // earlier tests sent: two through each node pass, the fifth through either is refused at RCPT.
    const used = (await a.store.sendingUsage(spaceId, new Date())).hour;
    await a.store.setSendingLimits(spaceId, { hour: used + 4 });
    const limitText = `Sending limit of ${used + 4} messages per hour reached for this space; try again later`;
    for (const [i, node] of [a, b, a, b].entries()) await send(node, `limit${i}@example.org`, `limit ${i}`);
    for (const node of [a, b]) {
      await expect(send(node, 'over@example.org', 'over the limit')).rejects.toMatchObject({
        message: expect.stringContaining(`451 4.7.0 <over@example.org>: Recipient address rejected: ${limitText}`),
      });
    }
    expect((await b.store.sendingUsage(spaceId, new Date())).hour).toBe(used + 4);
    // Concurrent: 8 sends at once, 4 through each node, against 3 left: exactly 3 pass. A send
    // that passed RCPT while the others were in flight is refused at the end of the message
    // with the same reply (the count is taken in the store transaction that checks it).
    await a.store.setSendingLimits(spaceId, { hour: used + 7 });
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, (_, i) => send(i % 2 === 0 ? a : b, `race${i}@example.org`, `race ${i}`).then(() => 'ok', (err: unknown) => String(err))),
    );
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(3);
    for (const o of outcomes.filter((x) => x !== 'ok')) expect(o).toContain(`451 4.7.0`);
    for (const o of outcomes.filter((x) => x !== 'ok')) expect(o).toContain(`Sending limit of ${used + 7} messages per hour reached for this space; try again later`);
    expect((await a.store.sendingUsage(spaceId, new Date())).hour).toBe(used + 7);
    await a.store.setSendingLimits(spaceId, { hour: null });
  });

  it("stopping node a's trxmail in the middle of a burst loses nothing that was answered 250", async () => {
    // Twelve sends in flight; trxmail on node a stops once three have been answered 250.
    let answered = 0;
    const stop: { done: Promise<void> | null } = { done: null };
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, async (_, i) => {
        try {
          const id = await send(a, `burst${i}@example.org`, `burst ${i}`);
          if (++answered === 3) stop.done = a.stopTrxmail();
          return { i, id };
        } catch (err: unknown) {
          return { i, error: String(err) };
        }
      }),
    );
    await stop.done;
    await a.startTrxmail();
    const accepted = outcomes.filter((o): o is { i: number; id: string } => 'id' in o);
    for (const o of outcomes) if ('error' in o) expect(o.error).toMatch(/\b4\d\d\b/);
    for (const o of accepted) {
      expect((await b.store.getSend(o.id, spaceId))?.to).toBe(`burst${o.i}@example.org`);
      await delivered(a, `Subject: burst ${o.i}\r`);
    }
    expect(accepted.length).toBeGreaterThan(0);
  }, 180_000);

  it('a password change, a removed sender domain and a removed user on node a hold on node b at once', async () => {
    const NEW = 'a new password for node b 456';
    await a.store.setPasswordHash(USER, await hashPassword(NEW));
    const msg = ['From: news@nodes.example', 'To: later@example.org', 'Subject: after the change', '', 'x', ''].join('\r\n');
    const envelope = { from: 'news@nodes.example', to: ['later@example.org'] };
    await expect(submit(b, { user: USER, pass: PASSWORD }, envelope, msg)).rejects.toMatchObject({ responseCode: 535 });
    expect(await submit(b, { user: USER, pass: NEW }, envelope, msg)).toMatch(/^250 /);
    await a.store.removeDomain(spaceId, 'nodes.example');
    await expect(submit(b, { user: USER, pass: NEW }, envelope, msg)).rejects.toMatchObject({ responseCode: 553 });
    await a.store.removeUser(USER);
    await expect(submit(b, { user: USER, pass: NEW }, envelope, msg)).rejects.toMatchObject({ responseCode: 535 });
  });
});
