import { describe, expect, it } from 'vitest';
import { MAX_POLICY_ATTRIBUTES, MAX_POLICY_LINE, MAX_POLICY_QUEUED_REQUESTS } from '../../../src/lib/limits.js';
import { POLICY_ERROR, type PolicyRequest } from '../../../src/policy/codec.js';
import { PolicySession, type PolicyDecider } from '../../../src/policy/session.js';
import { captureLogger, deferred, expectSplitInvariant, feed } from '../helpers.js';
import { RCPT_ATTRIBUTES, RCPT_REQUEST, asRecord, reply, request, withValues } from './helpers.js';

interface Outcome {
  out: string;
  decided: Record<string, string>[];
  error: string | null;
  dropped: string | null;
}

/** Decides from the recipient: alice → DUNNO, bob → a 5xx, anything else → OK. */
const byRecipient: PolicyDecider = (req) => {
  const recipient = req['recipient'];
  if (recipient === 'alice@example.net') return Promise.resolve('DUNNO');
  if (recipient === 'bob@example.net') return Promise.resolve('550 5.7.1 Recipient <bob@example.net> refused');
  return Promise.resolve('OK');
};

async function run(chunks: readonly Buffer[], decide: PolicyDecider = byRecipient): Promise<Outcome> {
  const out: string[] = [];
  const decided: Record<string, string>[] = [];
  let dropped: string | null = null;
  const session = new PolicySession({
    decide: (req: PolicyRequest) => {
      decided.push({ ...req });
      return decide(req);
    },
    send: (d) => out.push(d),
    drop: (err) => {
      dropped = err.message;
    },
  });
  const error = feed(session, chunks);
  await session.whenSettled();
  return { out: out.join(''), decided, error, dropped };
}

const runText = (text: string, decide?: PolicyDecider): Promise<Outcome> => run([Buffer.from(text)], decide);

describe('Postfix 3.7 transcripts, split at every byte offset', () => {
  it('a full RCPT request', async () => {
    const o = await expectSplitInvariant(RCPT_REQUEST, run);
    expect(o.out).toBe(reply('DUNNO'));
    expect(o.decided).toEqual([asRecord(RCPT_ATTRIBUTES)]);
    expect(o.error).toBeNull();
    expect(o.dropped).toBeNull();
  });
  it('two requests on one connection, answered in order', async () => {
    const second = withValues({ recipient: 'bob@example.net', instance: '3a1f.6560f1c2.3e8f1.0' });
    const o = await expectSplitInvariant(RCPT_REQUEST + request(second), run);
    expect(o.out).toBe(reply('DUNNO') + reply('550 5.7.1 Recipient <bob@example.net> refused'));
    expect(o.decided.map((r) => r['recipient'])).toEqual(['alice@example.net', 'bob@example.net']);
  });
  it('a request with "=" inside values', async () => {
    const pairs = withValues({ ccert_subject: 'CN=client.example,O=Example', policy_context: 'tier=gold', recipient: 'x=y@example.net' });
    const o = await expectSplitInvariant(request(pairs), run);
    expect(o.out).toBe(reply('OK'));
    expect(o.decided[0]).toMatchObject({ ccert_subject: 'CN=client.example,O=Example', policy_context: 'tier=gold', recipient: 'x=y@example.net' });
  });
});

describe('malformed requests drop the connection without a reply', () => {
  const many = (() => {
    let s = 'request=smtpd_access_policy\n';
    for (let i = 1; i <= MAX_POLICY_ATTRIBUTES; i++) s += `a${i}=${i}\n`;
    return s + '\n';
  })();
  const cases: [string, string, string][] = [
    ['over-long line', 'request=smtpd_access_policy\nsender=' + 'a'.repeat(MAX_POLICY_LINE) + '\n\n', POLICY_ERROR.LINE_TOO_LONG],
    ['too many attributes', many, POLICY_ERROR.TOO_MANY_ATTRIBUTES],
    ['line without "="', 'request=smtpd_access_policy\nprotocol_state RCPT\n\n', POLICY_ERROR.BAD_LINE],
    ['wrong request type', 'request=smtpd_other_policy\nsender=a@b\n\n', POLICY_ERROR.BAD_REQUEST],
    ['missing request type', 'sender=a@b\n\n', POLICY_ERROR.BAD_REQUEST],
    ['duplicate attribute', 'request=smtpd_access_policy\nrequest=smtpd_access_policy\n\n', POLICY_ERROR.DUPLICATE_ATTRIBUTE],
    ['NUL byte', 'request=smtpd_access_policy\nsender=a\0@b\n\n', POLICY_ERROR.NUL_BYTE],
    ['good request, then a bad one', RCPT_REQUEST + 'oops\n\n', POLICY_ERROR.BAD_LINE],
  ];
  it.each(cases)('%s', async (_name, input, code) => {
    const o = await runText(input);
    expect(o.error).toBe(code);
    expect(o.out).toBe('');
  });
  it.each(cases.filter(([name]) => ['line without "="', 'wrong request type', 'missing request type', 'NUL byte'].includes(name)))(
    '%s: same outcome at every split',
    async (_name, input, code) => {
      const bytes = Buffer.from(input);
      for (let k = 0; k <= bytes.length; k++) {
        const o = await run([bytes.subarray(0, k), bytes.subarray(k)]);
        expect([k, o.error, o.out, o.decided]).toEqual([k, code, '', []]);
      }
    },
  );
  it(`answers ${MAX_POLICY_QUEUED_REQUESTS + 1} pipelined requests in order; one more is an error`, async () => {
    const n = MAX_POLICY_QUEUED_REQUESTS + 1;
    const recipients = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 'alice@example.net' : 'bob@example.net'));
    const text = recipients.map((r) => request(withValues({ recipient: r }))).join('');
    const ok = await runText(text);
    expect(ok.error).toBeNull();
    expect(ok.decided.map((r) => r['recipient'])).toEqual(recipients);
    expect(ok.out).toBe(recipients.map((r) => reply(r === 'bob@example.net' ? '550 5.7.1 Recipient <bob@example.net> refused' : 'DUNNO')).join(''));
    const over = await runText(text + RCPT_REQUEST);
    expect(over.error).toBe(POLICY_ERROR.TOO_MANY_QUEUED);
    expect(over.out).toBe('');
  });
});

describe('decisions', () => {
  it('decides one request at a time', async () => {
    const first = deferred<string>();
    const calls: string[] = [];
    const out: string[] = [];
    const session = new PolicySession({
      decide: (req) => {
        calls.push(req['recipient']!);
        return calls.length === 1 ? first.promise : Promise.resolve('OK');
      },
      send: (d) => out.push(d),
      drop: () => undefined,
    });
    session.receive(Buffer.from(RCPT_REQUEST + request(withValues({ recipient: 'carol@example.net' }))));
    await new Promise((r) => setImmediate(r));
    expect(calls).toEqual(['alice@example.net']);
    expect(session.busy).toBe(true);
    expect(session.queued).toBe(1);
    first.resolve('DUNNO');
    await session.whenSettled();
    expect(calls).toEqual(['alice@example.net', 'carol@example.net']);
    expect(out.join('')).toBe(reply('DUNNO') + reply('OK'));
  });
  it.each<[string, PolicyDecider]>([
    ['decide() rejects', () => Promise.reject(new Error('store down'))],
    ['decide() throws synchronously', () => {
      throw new Error('bug');
    }],
    ['decide() returns an action with LF', () => Promise.resolve('OK\naction=DUNNO')],
    ['decide() returns an empty action', () => Promise.resolve('')],
    ['decide() returns a non-string', () => Promise.resolve(undefined as unknown as string)],
  ])('%s → logged, dropped without reply, later requests ignored', async (_name, decide) => {
    const { logger, records } = captureLogger();
    let dropped = 0;
    const out: string[] = [];
    let calls = 0;
    const session = new PolicySession({
      decide: (req) => {
        calls++;
        return decide(req);
      },
      send: (d) => out.push(d),
      drop: () => {
        dropped++;
      },
      logger,
    });
    session.receive(Buffer.from(RCPT_REQUEST + RCPT_REQUEST));
    await new Promise((r) => setImmediate(r));
    await session.whenSettled();
    session.receive(Buffer.from(RCPT_REQUEST));
    await session.whenSettled();
    expect(out).toEqual([]);
    expect(dropped).toBe(1);
    expect(calls).toBe(1);
    expect(records.some((r) => r.includes('"level":"error"'))).toBe(true);
  });
  it('close() while deciding: the late decision is not sent', async () => {
    const pending = deferred<string>();
    const out: string[] = [];
    const session = new PolicySession({ decide: () => pending.promise, send: (d) => out.push(d), drop: () => undefined });
    session.receive(Buffer.from(RCPT_REQUEST));
    session.close();
    pending.resolve('OK');
    await pending.promise;
    await new Promise((r) => setImmediate(r));
    expect(out).toEqual([]);
  });
});
