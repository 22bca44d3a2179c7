import { describe, expect, it } from 'vitest';
import { InvariantError, TransientError } from '../../../src/lib/errors.js';
import { MAX_SOCKETMAP_QUEUED_REQUESTS, MAX_SOCKETMAP_REPLY, MAX_SOCKETMAP_REQUEST } from '../../../src/lib/limits.js';
import { SOCKETMAP_ERROR } from '../../../src/socketmap/codec.js';
import { domainMapsLookup } from '../../../src/socketmap/domain-maps.js';
import { SocketmapSession, type SocketmapLookup } from '../../../src/socketmap/session.js';
import { captureLogger, deferred, expectSplitInvariant, feed } from '../helpers.js';
import { POSTFIX_37_REQUESTS, notFound, ok, request, temp } from './helpers.js';

interface Outcome {
  out: string;
  looked: string[];
  error: string | null;
}

/** A table lookup: `relay` knows two domains, `transport` one address; other maps know nothing. */
const table: SocketmapLookup = (map, key) => {
  if (map === 'relay' && (key === 'bounces.shop.example' || key === 'vm')) return Promise.resolve('yes');
  if (map === 'transport' && key === 'Trx-1-A@Bounces.Shop.Example') return Promise.resolve('lmtp:inet:127.0.0.1:8894');
  return Promise.resolve(null);
};

async function run(chunks: readonly Buffer[], lookup: SocketmapLookup = table): Promise<Outcome> {
  const out: string[] = [];
  const looked: string[] = [];
  const session = new SocketmapSession({
    lookup: (map, key) => {
      looked.push(`${map} ${key}`);
      return lookup(map, key);
    },
    send: (d) => out.push(d),
  });
  const error = feed(session, chunks);
  await session.whenSettled();
  return { out: out.join(''), looked, error };
}

const runText = (text: string, lookup?: SocketmapLookup): Promise<Outcome> => run([Buffer.from(text)], lookup);

describe('Postfix 3.7 transcripts, split at every byte offset', () => {
  it('one request, one reply', async () => {
    const o = await expectSplitInvariant(request('relay', 'bounces.shop.example'), run);
    expect(o).toEqual({ out: ok('yes'), looked: ['relay bounces.shop.example'], error: null });
  });
  it('the first requests of a trivial-rewrite connection, pipelined (as many as may queue)', async () => {
    const first = POSTFIX_37_REQUESTS.slice(0, MAX_SOCKETMAP_QUEUED_REQUESTS + 1);
    const o = await expectSplitInvariant(first.map(([m, k]) => request(m, k)).join(''), run);
    expect(o.error).toBeNull();
    expect(o.looked).toEqual(first.map(([m, k]) => `${m} ${k}`));
    expect(o.out).toBe([notFound(), notFound(), ok('yes'), notFound(), ok('yes')].join(''));
  });
  it('a whole trivial-rewrite connection in lock-step, as Postfix talks: every request split at every offset', async () => {
    const replies = [notFound(), notFound(), ok('yes'), notFound(), ok('yes'), ok('lmtp:inet:127.0.0.1:8894'), notFound(), notFound(), ok('yes'), notFound()];
    expect(await lockstep(table)).toEqual(replies);
  });
  it('the same connection answered by domainMapsLookup', async () => {
    const lookup = domainMapsLookup({
      isReturnPathDomain: (d) => Promise.resolve(d === 'bounces.shop.example'),
      bounceDomain: 'bounces.trxmail.test',
      bounceTransport: 'lmtp:inet:127.0.0.1:8894',
    });
    const lmtp = ok('lmtp:inet:127.0.0.1:8894');
    const relayed = ok('bounces.shop.example');
    // *, *, vm, root@vm, domain, address, subdomain, address in subdomain, domain, quoted address
    expect(await lockstep(lookup)).toEqual([notFound(), notFound(), notFound(), notFound(), relayed, lmtp, notFound(), notFound(), relayed, lmtp]);
  });
});

/**
 * Plays POSTFIX_37_REQUESTS on one session the way Postfix does (the next request only after
 * the reply), once for every split offset of each request; returns the replies, which must be
 * the same at every offset.
 */
async function lockstep(lookup: SocketmapLookup): Promise<string[]> {
  let expected: string[] | null = null;
  const longest = Math.max(...POSTFIX_37_REQUESTS.map(([m, k]) => Buffer.byteLength(request(m, k))));
  for (let k = 0; k <= longest; k++) {
    const out: string[] = [];
    const session = new SocketmapSession({ lookup, send: (d) => out.push(d) });
    const replies: string[] = [];
    for (const [map, key] of POSTFIX_37_REQUESTS) {
      const bytes = Buffer.from(request(map, key));
      expect(feed(session, [bytes.subarray(0, k), bytes.subarray(k)])).toBeNull();
      await session.whenSettled();
      replies.push(out.splice(0).join(''));
    }
    if (expected === null) expected = replies;
    expect({ k, replies }).toEqual({ k, replies: expected });
  }
  return expected ?? [];
}

describe('answers', () => {
  it('an unknown map is NOTFOUND (the lookup resolves null for it)', async () => {
    const o = await runText(request('virtual', 'bounces.shop.example'));
    expect(o.out).toBe(notFound());
    expect(o.looked).toEqual(['virtual bounces.shop.example']);
  });
  it('a TransientError is TEMP with its message (escaped); the connection goes on', async () => {
    const { logger, records } = captureLogger();
    const out: string[] = [];
    let calls = 0;
    const session = new SocketmapSession({
      lookup: () => {
        calls++;
        return calls === 1 ? Promise.reject(new TransientError('ESTORE_IO', 'store down\nnow')) : Promise.resolve('yes');
      },
      send: (d) => out.push(d),
      logger,
    });
    session.receive(Buffer.from(request('relay', 'a.example') + request('relay', 'b.example')));
    await session.whenSettled();
    expect(out.join('')).toBe(temp('store down\\x0anow') + ok('yes'));
    expect(records.some((r) => r.includes('"level":"warn"') && r.includes('ESTORE_IO') && r.includes('a.example'))).toBe(true);
  });
  it('a long TransientError message is cut', async () => {
    const o = await runText(request('relay', 'a.example'), () => Promise.reject(new TransientError('ESTORE_IO', 'x'.repeat(5000))));
    expect(o.out).toBe(temp('x'.repeat(200) + '...'));
  });
  it.each<[string, SocketmapLookup]>([
    ['the lookup rejects with a plain Error', () => Promise.reject(new Error('secret detail'))],
    ['the lookup throws synchronously', () => {
      throw new InvariantError('secret detail');
    }],
    ['the lookup resolves an empty string', () => Promise.resolve('')],
    ['the lookup resolves undefined', () => Promise.resolve(undefined as unknown as null)],
    ['the lookup resolves a number', () => Promise.resolve(7 as unknown as string)],
    ['the lookup resolves a value with NUL', () => Promise.resolve('a\0b')],
    ['the lookup resolves a value over MAX_SOCKETMAP_REPLY', () => Promise.resolve('v'.repeat(MAX_SOCKETMAP_REPLY))],
  ])('%s → TEMP internal error, logged as an error, never NOTFOUND; the next request is answered', async (_name, lookup) => {
    const { logger, records } = captureLogger();
    const out: string[] = [];
    let calls = 0;
    const session = new SocketmapSession({
      lookup: (map, key) => (++calls === 1 ? lookup(map, key) : Promise.resolve('yes')),
      send: (d) => out.push(d),
      logger,
    });
    session.receive(Buffer.from(request('relay', 'a.example') + request('relay', 'b.example')));
    await session.whenSettled();
    expect(out.join('')).toBe(temp('internal error') + ok('yes'));
    expect(out.join('')).not.toContain('secret');
    expect(records.some((r) => r.includes('"level":"error"'))).toBe(true);
  });
});

describe('one request at a time', () => {
  it('looks the next request up only once the previous one is answered', async () => {
    const first = deferred<string | null>();
    const calls: string[] = [];
    const out: string[] = [];
    const session = new SocketmapSession({
      lookup: (_map, key) => {
        calls.push(key);
        return calls.length === 1 ? first.promise : Promise.resolve(null);
      },
      send: (d) => out.push(d),
    });
    session.receive(Buffer.from(request('relay', 'a.example') + request('relay', 'b.example')));
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['a.example']);
    expect(session.busy).toBe(true);
    expect(session.queued).toBe(1);
    expect(out).toEqual([]);
    first.resolve('yes');
    await session.whenSettled();
    expect(calls).toEqual(['a.example', 'b.example']);
    expect(out.join('')).toBe(ok('yes') + notFound());
  });
  it(`answers ${MAX_SOCKETMAP_QUEUED_REQUESTS + 1} pipelined requests in order; one more is an error without replies`, async () => {
    const n = MAX_SOCKETMAP_QUEUED_REQUESTS + 1;
    const keys = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'bounces.shop.example' : `d${i}.example`));
    const text = keys.map((k) => request('relay', k)).join('');
    const fine = await runText(text);
    expect(fine.error).toBeNull();
    expect(fine.out).toBe(keys.map((k) => (k === 'bounces.shop.example' ? ok('yes') : notFound())).join(''));
    const over = await runText(text + request('relay', 'one.more.example'));
    expect(over.error).toBe(SOCKETMAP_ERROR.TOO_MANY_QUEUED);
    expect(over.out).toBe('');
  });
  it('close() while looking up: the late answer is not sent, later bytes are ignored', async () => {
    const pending = deferred<string | null>();
    const out: string[] = [];
    let calls = 0;
    const session = new SocketmapSession({
      lookup: () => {
        calls++;
        return pending.promise;
      },
      send: (d) => out.push(d),
    });
    session.receive(Buffer.from(request('relay', 'a.example')));
    session.close();
    pending.resolve('yes');
    await pending.promise;
    await new Promise((r) => setImmediate(r));
    session.receive(Buffer.from(request('relay', 'b.example')));
    await session.whenSettled();
    expect(out).toEqual([]);
    expect(calls).toBe(1);
  });
  it('close() while a failing lookup runs: nothing is sent or logged as an answer', async () => {
    const { logger, records } = captureLogger();
    const out: string[] = [];
    let reject!: (e: Error) => void;
    const session = new SocketmapSession({
      lookup: () => new Promise((_res, rej) => (reject = rej)),
      send: (d) => out.push(d),
      logger,
    });
    session.receive(Buffer.from(request('relay', 'a.example')));
    session.close();
    reject(new TransientError('ESTORE_IO', 'down'));
    await new Promise((r) => setImmediate(r));
    expect(out).toEqual([]);
    expect(records.filter((r) => r.includes('answered'))).toEqual([]);
  });
});

describe('malformed requests drop the connection without a reply', () => {
  const cases: [string, string, string][] = [
    ['bad length digits', '8x:relay vm,', SOCKETMAP_ERROR.BAD_LENGTH],
    ['missing comma', '8:relay vm.', SOCKETMAP_ERROR.MISSING_COMMA],
    ['over-cap length', `${MAX_SOCKETMAP_REQUEST + 1}:relay `, SOCKETMAP_ERROR.TOO_LONG],
    ['empty map name', '3: vm,', SOCKETMAP_ERROR.EMPTY_MAP_NAME],
    ['NUL byte', '9:relay \0vm,', SOCKETMAP_ERROR.NUL_BYTE],
    ['no space', '7:relayvm,', SOCKETMAP_ERROR.BAD_REQUEST],
  ];
  it.each(cases)('%s: same outcome at every split', async (_name, input, code) => {
    const bytes = Buffer.from(input);
    for (let k = 0; k <= bytes.length; k++) {
      const o = await run([bytes.subarray(0, k), bytes.subarray(k)]);
      expect([k, o.error, o.out, o.looked]).toEqual([k, code, '', []]);
    }
  });
  it('a good request followed by a bad one in the same read: no reply for either', async () => {
    const o = await runText(request('relay', 'bounces.shop.example') + '3: vm,');
    expect(o.error).toBe(SOCKETMAP_ERROR.EMPTY_MAP_NAME);
    expect(o.out).toBe('');
    expect(o.looked).toEqual([]);
  });
});
