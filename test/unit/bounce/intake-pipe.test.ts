import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BounceIntake } from '../../../src/bounce/intake.js';
import { EX_OK, EX_TEMPFAIL, readBounded, runBounceCommand } from '../../../src/bounce/pipe.js';
import { ConfigError, TransientError } from '../../../src/lib/errors.js';
import { MAX_BOUNCE_BYTES } from '../../../src/lib/limits.js';
import { silentLogger } from '../../../src/lib/logger.js';
import type { Store } from '../../../src/store/store.js';
import { BOUNCE_DOMAIN, KEYS, autoReply, bounceAddress, clock, failingStore, postfixDsn, seedStore, type Seeded } from './intake.helpers.js';

let db: Seeded;
beforeEach(async () => {
  db = await seedStore();
});
afterEach(async () => {
  await db.cleanup();
});

const intakeOn = (store: Store = db.store) => (): Promise<BounceIntake> => Promise.resolve(new BounceIntake({ store, keys: KEYS, bounceDomain: BOUNCE_DOMAIN, logger: silentLogger, clock }));
/** stdin in chunks, as a pipe delivers it. */
const stdin = (buf: Buffer, chunk = 1000): Readable => Readable.from((function* () {
  for (let i = 0; i < buf.length; i += chunk) yield buf.subarray(i, i + chunk);
})());

describe('trxmail bounce (pipe(8) command)', () => {
  it('exit 0 and one line once the bounce is stored', async () => {
    await db.send('Pipe1', 'gone@example.org');
    const to = bounceAddress(db.space.id, 'Pipe1');
    const msg = postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'gone@example.org', action: 'failed', status: '5.1.1', diagnostic: '550 5.1.1 user unknown' }] });
    const r = await runBounceCommand(stdin(msg), { sender: '', recipient: to }, intakeOn());
    expect(r).toEqual({ exitCode: EX_OK, line: 'trxmail: recorded bounce for send Pipe1: gone@example.org bounced 5.1.1 user-unknown listed' });
    expect((await db.store.getSend('Pipe1', db.space.id))?.status).toBe('bounced');
  });

  it('exit 0 for mail that is not a bounce (never a bounce of the bounce)', async () => {
    const to = bounceAddress(db.space.id, 'Pipe2');
    const r = await runBounceCommand(stdin(autoReply(to)), { sender: 'someone@example.org', recipient: to }, intakeOn());
    expect(r).toEqual({ exitCode: EX_OK, line: 'trxmail: ignored other: not-a-bounce' });
  });

  it('exit 0 without --sender and --recipient (the bounce address then comes from the headers)', async () => {
    await db.send('Pipe3', 'gone@example.org');
    const to = bounceAddress(db.space.id, 'Pipe3');
    const msg = postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'gone@example.org', action: 'failed', status: '5.1.1', diagnostic: '550 no' }] });
    expect((await runBounceCommand(stdin(msg), {}, intakeOn())).exitCode).toBe(EX_OK);
    expect((await db.store.getSend('Pipe3', db.space.id))?.status).toBe('bounced');
  });

  it.each([
    ['the store is down (TransientError)', 'store', /^trxmail: try again later: ESTORE_IO: injected: store down$/],
    ['the configuration cannot be loaded', 'config', /^trxmail: try again later: ECONFIG: trxmail\.yaml: listen\.lmtp: bad$/],
    ['stdin fails', 'stdin', /^trxmail: try again later: .*broken pipe/],
    ['a bug', 'bug', /^trxmail: try again later: boom$/],
  ] as const)('exit 75 (EX_TEMPFAIL) when %s', async (_name, what, line) => {
    await db.send('Pipe4', 'gone@example.org');
    const to = bounceAddress(db.space.id, 'Pipe4');
    const msg = postfixDsn({ to, queueId: 'Q', recipients: [{ address: 'gone@example.org', action: 'failed', status: '5.1.1', diagnostic: '550 no' }] });
    const input =
      what === 'stdin'
        ? new Readable({
            read() {
              this.destroy(new Error('broken pipe'));
            },
          })
        : stdin(msg);
    const open =
      what === 'store'
        ? intakeOn(failingStore(db.store, new Set(['getSend']), () => new TransientError('ESTORE_IO', 'injected: store down')))
        : what === 'config'
          ? () => Promise.reject(new ConfigError('trxmail.yaml: listen.lmtp: bad'))
          : what === 'bug'
            ? () => Promise.resolve({ process: () => Promise.reject(new Error('boom')) })
            : intakeOn();
    const r = await runBounceCommand(input, { sender: '', recipient: to }, open);
    expect(r.exitCode).toBe(EX_TEMPFAIL);
    expect(r.line).toMatch(line);
    // pipe(8) lets output that begins with a status code override the exit status: never.
    expect(r.line).not.toMatch(/^[245]\.\d/);
    expect(r.line).not.toContain('\n');
    expect((await db.store.getSend('Pipe4', db.space.id))?.status).toBe('queued');
  });

  it(`readBounded keeps MAX_BOUNCE_BYTES (${MAX_BOUNCE_BYTES}) + 1 bytes and reads the rest to its end`, async () => {
    const total = MAX_BOUNCE_BYTES + 100_000;
    let served = 0;
    const input = new Readable({
      read() {
        if (served >= total) {
          this.push(null);
          return;
        }
        const n = Math.min(65_536, total - served);
        served += n;
        this.push(Buffer.alloc(n, 0x61));
      },
    });
    const got = await readBounded(input);
    expect(got.length).toBe(MAX_BOUNCE_BYTES + 1);
    expect(served).toBe(total);
    expect(input.readableEnded).toBe(true);
    expect((await readBounded(stdin(Buffer.from('short')), 10)).toString()).toBe('short');
    expect((await readBounded(stdin(Buffer.from('0123456789abc'), 3), 10)).toString()).toBe('0123456789a');
  });
});
