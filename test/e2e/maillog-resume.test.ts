/**
 * Delivery status for mail Postfix delivered while trxmail was down (issue 11 item 5): the
 * maillog follower resumes at the position it saved in the store, not at the end of the log.
 *
 * Through the real private Postfix: a send is accepted while `defer_transports = smtp` holds
 * it in the queue (the follower records 'deferred'); trxmail is stopped; the transport is
 * released (and the socketmap lookups, which fail while trxmail is down, taken out of
 * relay_domains and transport_maps) and the queue flushed, so Postfix delivers it while
 * nobody reads the log; trxmail
 * starts again. A second send, delivered after the restart, shows the follower has read up to
 * it (its lines come after the first one's): by then the first send must be 'delivered'.
 * Before the position was kept, the restarted follower began at the end of the log and the
 * first send stayed 'deferred' for ever.
 */
import { execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessedLine } from '../../src/delivery/maillog-follower.js';
import { firstMatch } from '../helpers/events.js';
import { startStack, submit, type Stack } from './stack.js';

const run = promisify(execFile);
const USER = 'app@resume.example';
const PASSWORD = 'resume password 123';
let stack: Stack;
let spaceId = 0;

async function send(to: string, subject: string): Promise<string> {
  const raw = [`From: news@resume.example`, `To: ${to}`, `Subject: ${subject}`, '', 'hello', ''].join('\r\n');
  const response = await submit(stack, { user: USER, pass: PASSWORD }, { from: 'news@resume.example', to: [to] }, raw);
  const id = /^250 2\.0\.0 Ok: queued as ([0-9A-Za-z]+)$/.exec(response)?.[1];
  if (!id) throw new Error(`not queued: ${response}`);
  return id;
}

const processed: ProcessedLine[] = [];
let follower: EventEmitter = new EventEmitter();
function follow(): void {
  const f = stack.runtime?.maillogFollower;
  if (!f) throw new Error('the stack runs no maillog follower');
  follower = f;
  f.on('processed', (p: ProcessedLine) => processed.push(p));
}
const deliveryLine = (queueId: string, status: 'sent' | 'deferred'): Promise<ProcessedLine> =>
  firstMatch(processed, follower, 'processed', (p) => p.record?.kind === 'delivery' && p.record.queueId === queueId && p.record.status === status);

beforeAll(async () => {
  stack = await startStack({ extraMain: { defer_transports: 'smtp' } });
  spaceId = (await stack.addSpace('resume', ['resume.example'], [{ email: USER, password: PASSWORD }])).id;
  follow();
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

describe('maillog position across a restart of trxmail', () => {
  it('records delivered for a send Postfix delivered while trxmail was stopped', async () => {
    const held = await send('held@example.org', 'held while down');
    await deliveryLine(held, 'deferred');
    expect((await stack.store.getSend(held, spaceId))?.status).toBe('deferred');

    await stack.stopTrxmail();
    const conf = stack.postfix.confDir;
    // Postfix routes through trxmail's socketmap (relay_domains, transport_maps); with trxmail
    // stopped the lookups fail and nothing is delivered, so the socketmap parts are dropped
    // for the rest of this file's stack (the bounce domain keeps its inline route).
    const withoutSocketmap = async (key: string): Promise<string> =>
      `${key} = ${(await run('postconf', ['-c', conf, '-h', key])).stdout
        .trim()
        .split(/,\s*/)
        .filter((v) => !v.startsWith('socketmap:'))
        .join(', ')}`;
    await run('postconf', ['-c', conf, '-e', 'defer_transports =', await withoutSocketmap('relay_domains'), await withoutSocketmap('transport_maps')]);
    await run('postfix', ['-c', conf, 'reload']);
    await run('postqueue', ['-c', conf, '-f']);
    await stack.sink.waitFor((m) => m.raw.toString('utf8').includes('held while down'), 60_000);
    expect((await stack.store.getSend(held, spaceId))?.status).toBe('deferred');

    await stack.startTrxmail();
    follow();
    const after = await send('after@example.org', 'after the restart');
    await deliveryLine(after, 'sent');
    const s = await stack.store.getSend(held, spaceId);
    expect(s?.status).toBe('delivered');
    const events = await stack.store.listEvents(held);
    expect(events.map((e) => [e.type, e.detail['source']])).toEqual([
      ['deferred', 'maillog'],
      ['delivered', 'maillog'],
    ]);
  }, 120_000);
});
