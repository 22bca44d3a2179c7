import { describe, expect, it } from 'vitest';
import { AUTH_ERROR } from '../../../src/auth/codec.js';
import { AuthSession, type AuthVerifier, type VerifyResult } from '../../../src/auth/session.js';
import { ProtocolError } from '../../../src/lib/errors.js';
import { MAX_AUTH_LINE, MAX_AUTH_PENDING_REQUESTS, MAX_PASSWORD_BYTES } from '../../../src/lib/limits.js';
import { captureLogger, deferred, expectSplitInvariant, feed } from '../helpers.js';
import {
  IDENTITY,
  PASSWORD,
  PASSWORD_PROMPT,
  POSTFIX_HELLO,
  USERNAME_PROMPT,
  b64,
  fakeVerify,
  handshake,
  line,
  plain,
  postfixAuth,
  type VerifyCall,
} from './helpers.js';

interface Outcome {
  out: string;
  calls: VerifyCall[];
  error: string | null;
  logs: string[];
}

/** Run a fresh session over `chunks` (fed back to back, as one socket read each), wait for verify() results. */
async function run(chunks: readonly Buffer[], verify?: AuthVerifier): Promise<Outcome> {
  const out: string[] = [];
  const calls: VerifyCall[] = [];
  const { logger, records } = captureLogger();
  const session = new AuthSession({ verify: verify ?? fakeVerify(calls), send: (d) => out.push(d), identity: IDENTITY, logger });
  session.start();
  const error = feed(session, chunks);
  await session.whenSettled();
  return { out: out.join(''), calls, error, logs: records };
}

const runText = (text: string, verify?: AuthVerifier): Promise<Outcome> => run([Buffer.from(text)], verify);

const JOE = 'joe@example.com';
const META = { service: 'smtp', rip: '192.0.2.10', lip: '127.0.0.1', secured: true };

describe('Postfix 3.7 transcripts, split at every byte offset', () => {
  it('PLAIN with an initial response', async () => {
    const o = await expectSplitInvariant(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) }), run);
    expect(o.out).toBe(handshake() + 'OK\t1\tuser=joe@example.com\n');
    expect(o.calls).toEqual([{ login: JOE, password: PASSWORD, meta: { ...META, mechanism: 'PLAIN' } }]);
    expect(o.error).toBeNull();
  });

  it('PLAIN without an initial response (empty CONT challenge)', async () => {
    const o = await expectSplitInvariant(POSTFIX_HELLO + postfixAuth(1, 'PLAIN') + line('CONT', 1, plain('', 'Joe@Example.COM', PASSWORD)), run);
    expect(o.out).toBe(handshake() + 'CONT\t1\t\n' + 'OK\t1\tuser=joe@example.com\n');
    expect(o.calls.map((c) => c.login)).toEqual(['Joe@Example.COM']);
  });

  it('LOGIN (Username:/Password: prompts), not secured', async () => {
    const o = await expectSplitInvariant(
      POSTFIX_HELLO + postfixAuth(1, 'LOGIN', { secured: false }) + line('CONT', 1, b64(JOE)) + line('CONT', 1, b64(PASSWORD)),
      run,
    );
    expect(o.out).toBe(handshake() + `CONT\t1\t${USERNAME_PROMPT}\n` + `CONT\t1\t${PASSWORD_PROMPT}\n` + 'OK\t1\tuser=joe@example.com\n');
    expect(o.calls).toEqual([{ login: JOE, password: PASSWORD, meta: { ...META, secured: false, mechanism: 'LOGIN' } }]);
  });

  it('bad password → FAIL', async () => {
    const o = await expectSplitInvariant(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, 'wrong') }), run);
    expect(o.out).toBe(handshake() + 'FAIL\t1\tuser=joe@example.com\treason=Invalid login or password\n');
  });

  it('temporary failure → FAIL with code=temp_fail', async () => {
    const o = await expectSplitInvariant(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', 'temp@example.com', 'x') }), run);
    expect(o.out).toBe(
      handshake() + 'FAIL\t1\tuser=temp@example.com\tcode=temp_fail\treason=Temporary authentication failure, try again later\n',
    );
  });

  it('two request ids interleaved on one connection', async () => {
    const o = await expectSplitInvariant(
      POSTFIX_HELLO +
        postfixAuth(1, 'PLAIN') +
        postfixAuth(2, 'LOGIN') +
        line('CONT', 2, b64(JOE)) +
        line('CONT', 1, plain(JOE, JOE, PASSWORD)) +
        line('CONT', 2, b64('nope')),
      run,
    );
    expect(o.out).toBe(
      handshake() +
        'CONT\t1\t\n' +
        `CONT\t2\t${USERNAME_PROMPT}\n` +
        `CONT\t2\t${PASSWORD_PROMPT}\n` +
        'OK\t1\tuser=joe@example.com\n' +
        'FAIL\t2\tuser=joe@example.com\treason=Invalid login or password\n',
    );
    expect(o.calls.map((c) => [c.meta.mechanism, c.password])).toEqual([
      ['PLAIN', PASSWORD],
      ['LOGIN', 'nope'],
    ]);
  });

  it('never logs a password or a SASL payload', async () => {
    const secretResp = plain('', JOE, PASSWORD);
    const outcomes = await Promise.all([
      runText(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: secretResp })),
      runText(POSTFIX_HELLO + postfixAuth(1, 'LOGIN') + line('CONT', 1, b64(JOE)) + line('CONT', 1, b64(PASSWORD))),
      runText(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', 'boom@example.com', PASSWORD) })),
    ]);
    for (const o of outcomes) {
      expect(o.logs.length).toBeGreaterThan(0);
      for (const record of o.logs) {
        expect(record).not.toContain(PASSWORD);
        expect(record).not.toContain(secretResp);
        expect(record).not.toContain(b64(PASSWORD));
      }
    }
  });
});

describe('malformed client input drops the connection', () => {
  const ready = POSTFIX_HELLO;
  const cases: [string, string, string][] = [
    ['line over MAX_AUTH_LINE', ready + `AUTH\t1\tPLAIN\tservice=smtp\tresp=${'A'.repeat(MAX_AUTH_LINE)}\n`, AUTH_ERROR.LINE_TOO_LONG],
    ['VERSION major 2', 'VERSION\t2\t0\nCPID\t1\n', AUTH_ERROR.VERSION_MISMATCH],
    ['VERSION major 0', 'VERSION\t0\t9\n', AUTH_ERROR.VERSION_MISMATCH],
    ['malformed VERSION', 'VERSION\tx\n', AUTH_ERROR.BAD_VERSION],
    ['AUTH before VERSION', postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) }), AUTH_ERROR.OUT_OF_ORDER],
    ['CPID before VERSION', 'CPID\t1\nVERSION\t1\t0\n', AUTH_ERROR.OUT_OF_ORDER],
    ['AUTH before CPID', 'VERSION\t1\t0\n' + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) }), AUTH_ERROR.OUT_OF_ORDER],
    ['VERSION twice', ready + 'VERSION\t1\t0\n', AUTH_ERROR.OUT_OF_ORDER],
    ['CPID twice', ready + 'CPID\t1\n', AUTH_ERROR.OUT_OF_ORDER],
    ['unknown command', ready + 'HELLO\n', AUTH_ERROR.UNKNOWN_COMMAND],
    ['unknown handshake command', 'VERSION\t1\t0\nMECH\tPLAIN\n', AUTH_ERROR.UNKNOWN_COMMAND],
    ['NUL byte', ready + 'CONT\t1\tQQ\0==\n', AUTH_ERROR.NUL_BYTE],
    ['AUTH with a bad id', ready + 'AUTH\tone\tPLAIN\tservice=smtp\n', AUTH_ERROR.BAD_COMMAND],
    ['AUTH without service', ready + 'AUTH\t1\tPLAIN\tnologin\n', AUTH_ERROR.BAD_COMMAND],
    ['AUTH with a parameter after resp', ready + 'AUTH\t1\tPLAIN\tservice=smtp\tresp=QQ==\tsecured\n', AUTH_ERROR.BAD_COMMAND],
    ['CONT without data', ready + 'CONT\t1\n', AUTH_ERROR.BAD_COMMAND],
    ['duplicate open id', ready + postfixAuth(3, 'PLAIN') + postfixAuth(3, 'LOGIN'), AUTH_ERROR.DUPLICATE_ID],
  ];
  it.each(cases)('%s', async (_name, input, code) => {
    const o = await runText(input);
    expect(o.error).toBe(code);
    expect(o.out).toBe(handshake() + (code === AUTH_ERROR.DUPLICATE_ID ? 'CONT\t3\t\n' : ''));
    expect(o.calls).toEqual([]);
  });
  it.each(cases.filter(([name]) => !name.startsWith('line over')))('%s: same error at every split', async (_name, input, code) => {
    const bytes = Buffer.from(input);
    for (let k = 0; k <= bytes.length; k++) {
      expect((await run([bytes.subarray(0, k), bytes.subarray(k)])).error).toBe(code);
    }
  });
  it('line over MAX_AUTH_LINE: same error at sampled splits, and before the LF arrives', async () => {
    const bytes = Buffer.from(cases[0]![1]);
    for (const k of [0, 1, 20, 1000, MAX_AUTH_LINE, bytes.length - 1, bytes.length]) {
      expect((await run([bytes.subarray(0, k), bytes.subarray(k)])).error).toBe(AUTH_ERROR.LINE_TOO_LONG);
    }
    expect((await run([bytes.subarray(0, bytes.length - 1)])).error).toBe(AUTH_ERROR.LINE_TOO_LONG);
  });
  it(`allows ${MAX_AUTH_PENDING_REQUESTS} open requests and drops on one more`, async () => {
    let input = POSTFIX_HELLO;
    for (let id = 1; id <= MAX_AUTH_PENDING_REQUESTS; id++) input += postfixAuth(id, 'PLAIN');
    const atCap = await runText(input);
    expect(atCap.error).toBeNull();
    expect(atCap.out.split('\n').filter((l) => l.startsWith('CONT')).length).toBe(MAX_AUTH_PENDING_REQUESTS);
    const over = await runText(input + postfixAuth(MAX_AUTH_PENDING_REQUESTS + 1, 'PLAIN'));
    expect(over.error).toBe(AUTH_ERROR.TOO_MANY_REQUESTS);
  });
  it('ignores input after a protocol error and never answers late verify() results', async () => {
    const out: string[] = [];
    const pending = deferred<VerifyResult>();
    const session = new AuthSession({ verify: () => pending.promise, send: (d) => out.push(d), identity: IDENTITY });
    session.start();
    session.receive(Buffer.from(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) })));
    expect(() => session.receive(Buffer.from('BOGUS\n'))).toThrow(ProtocolError);
    session.receive(Buffer.from(postfixAuth(2, 'PLAIN')));
    pending.resolve({ status: 'ok', user: JOE });
    await pending.promise;
    await session.whenSettled();
    await new Promise((r) => setImmediate(r));
    expect(out.join('')).toBe(handshake());
  });
});

describe('request outcomes that FAIL without dropping the connection', () => {
  const after = (s: string): Promise<Outcome> => runText(POSTFIX_HELLO + s);
  const tail = (o: Outcome): string => o.out.slice(handshake().length);

  it('unknown mechanism', async () => {
    const o = await after(postfixAuth(1, 'CRAM-MD5') + postfixAuth(2, 'plain', { resp: plain('', JOE, PASSWORD) }));
    expect(tail(o)).toBe('FAIL\t1\treason=Unsupported authentication mechanism\nOK\t2\tuser=joe@example.com\n');
    expect(o.calls.length).toBe(1);
  });
  it.each([
    ['bad characters', '%%%%'],
    ['impossible length', 'QUJDR'],
    ['padding in the middle', 'QQ==QQ=='],
  ])('bad base64 in the initial response: %s', async (_name, resp) => {
    const o = await after(postfixAuth(1, 'PLAIN', { resp }));
    expect(tail(o)).toBe('FAIL\t1\tcode=invalid_base64\treason=Invalid base64 data in initial response\n');
    expect(o.calls).toEqual([]);
  });
  it('bad base64 in a continued response', async () => {
    const o = await after(postfixAuth(1, 'LOGIN') + line('CONT', 1, 'am9l ZQ=='));
    expect(tail(o)).toBe(`CONT\t1\t${USERNAME_PROMPT}\nFAIL\t1\tcode=invalid_base64\treason=Invalid base64 data in continued response\n`);
  });
  it('PLAIN with an authorization identity other than the login (no master users)', async () => {
    const o = await after(postfixAuth(1, 'PLAIN', { resp: plain('admin@example.com', JOE, PASSWORD) }));
    expect(tail(o)).toBe('FAIL\t1\tuser=joe@example.com\tcode=authz_fail\treason=Authorization identity must be empty or equal the login\n');
    expect(o.calls).toEqual([]);
  });
  it.each([
    ['one NUL', b64(`${JOE}\0${PASSWORD}`)],
    ['three NULs', b64(`\0${JOE}\0${PASSWORD}\0x`)],
    ['empty login', plain('', '', PASSWORD)],
    ['login with a control character', plain('', 'joe\n@example.com', PASSWORD)],
    ['login that is not UTF-8', b64(Buffer.from([0, 0xff, 0xfe, 0, 0x41]))],
    ['zero-length response (=)', '='],
  ])('malformed PLAIN: %s', async (_name, resp) => {
    const o = await after(postfixAuth(1, 'PLAIN', { resp }));
    expect(tail(o)).toBe('FAIL\t1\treason=Invalid PLAIN response\n');
    expect(o.calls).toEqual([]);
  });
  it.each([
    ['empty password', plain('', JOE, '')],
    ['password that is not UTF-8', b64(Buffer.concat([Buffer.from(`\0${JOE}\0`), Buffer.from([0xc3, 0x28])]))],
    [`password over MAX_PASSWORD_BYTES`, plain('', JOE, 'p'.repeat(MAX_PASSWORD_BYTES + 1))],
  ])('unusable password, not passed to verify(): %s', async (_name, resp) => {
    const o = await after(postfixAuth(1, 'PLAIN', { resp }));
    expect(tail(o)).toBe('FAIL\t1\tuser=joe@example.com\treason=Invalid login or password\n');
    expect(o.calls).toEqual([]);
  });
  it('a password of exactly MAX_PASSWORD_BYTES reaches verify()', async () => {
    const o = await after(postfixAuth(1, 'PLAIN', { resp: plain('', JOE, 'é'.repeat(MAX_PASSWORD_BYTES / 2)) }));
    expect(o.calls.map((c) => Buffer.byteLength(c.password))).toEqual([MAX_PASSWORD_BYTES]);
  });
  it('PLAIN authzid equal to the login is fine; an empty resp= means no initial response', async () => {
    const o = await after(postfixAuth(1, 'PLAIN', { resp: plain(JOE, JOE, PASSWORD) }) + postfixAuth(2, 'PLAIN', { resp: '' }));
    // CONT 2 is sent at once; OK 1 waits for verify().
    expect(tail(o)).toBe('CONT\t2\t\nOK\t1\tuser=joe@example.com\n');
  });
  it('LOGIN: initial response is the user name; "=" asks for it', async () => {
    const o = await after(
      postfixAuth(1, 'LOGIN', { resp: b64(JOE) }) + line('CONT', 1, b64(PASSWORD)) + postfixAuth(2, 'LOGIN', { resp: '=' }),
    );
    expect(tail(o)).toBe(`CONT\t1\t${PASSWORD_PROMPT}\nCONT\t2\t${USERNAME_PROMPT}\nOK\t1\tuser=joe@example.com\n`);
  });
  it('LOGIN: empty user name or a NUL in the password', async () => {
    const o = await after(
      postfixAuth(1, 'LOGIN') + line('CONT', 1, '') + postfixAuth(2, 'LOGIN') + line('CONT', 2, b64(JOE)) + line('CONT', 2, b64('a\0b')),
    );
    expect(tail(o)).toBe(
      `CONT\t1\t${USERNAME_PROMPT}\nFAIL\t1\treason=Invalid LOGIN response\n` +
        `CONT\t2\t${USERNAME_PROMPT}\nCONT\t2\t${PASSWORD_PROMPT}\nFAIL\t2\tuser=joe@example.com\treason=Invalid LOGIN response\n`,
    );
    expect(o.calls).toEqual([]);
  });
  it('CONT for an unknown id', async () => {
    const o = await after(line('CONT', 9, b64('x')));
    expect(tail(o)).toBe('FAIL\t9\treason=Authentication request timed out\n');
  });
  it('CANCEL forgets a request; a later CONT for it is unknown', async () => {
    const o = await after(postfixAuth(1, 'PLAIN') + 'CANCEL\t1\n' + line('CONT', 1, plain('', JOE, PASSWORD)));
    expect(tail(o)).toBe('CONT\t1\t\nFAIL\t1\treason=Authentication request timed out\n');
    expect(o.calls).toEqual([]);
  });
  it('CONT while verify() runs → FAIL, and the late result is dropped', async () => {
    const pending = deferred<VerifyResult>();
    const o = run([Buffer.from(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) }) + line('CONT', 1, ''))], () => pending.promise);
    pending.resolve({ status: 'ok', user: JOE });
    expect(tail(await o)).toBe('FAIL\t1\treason=Unexpected continuation\n');
  });
  it('CANCEL while verify() runs drops the result; the id can then be reused', async () => {
    const results: VerifyResult[] = [{ status: 'ok', user: 'first@example.com' }, { status: 'ok', user: 'second@example.com' }];
    const gates = [deferred<void>(), deferred<void>()];
    let n = 0;
    const verify: AuthVerifier = async () => {
      const i = n++;
      await gates[i]!.promise;
      return results[i]!;
    };
    const out: string[] = [];
    const session = new AuthSession({ verify, send: (d) => out.push(d), identity: IDENTITY });
    session.start();
    session.receive(Buffer.from(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) }) + 'CANCEL\t1\n'));
    session.receive(Buffer.from(postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) })));
    expect(session.inFlight).toBe(2);
    gates[0]!.resolve();
    gates[1]!.resolve();
    await session.whenSettled();
    expect(out.join('').slice(handshake().length)).toBe('OK\t1\tuser=second@example.com\n');
  });
  it.each<[string, () => Promise<VerifyResult>]>([
    ['verify() rejects', () => Promise.reject(new Error('db down'))],
    ['verify() throws synchronously', () => {
      throw new Error('bug');
    }],
    ['ok without a user', () => Promise.resolve({ status: 'ok', user: '' })],
    ['ok with a user holding LF', () => Promise.resolve({ status: 'ok', user: 'joe\nOK\t2\tuser=root' })],
    ['ok with a user that is not a string', () => Promise.resolve({ status: 'ok', user: 42 } as unknown as VerifyResult)],
    ['an unknown status', () => Promise.resolve({ status: 'maybe' } as unknown as VerifyResult)],
    ['undefined', () => Promise.resolve(undefined as unknown as VerifyResult)],
  ])('%s → temporary FAIL, logged', async (_name, verify) => {
    const o = await runText(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) }), verify);
    expect(o.out.slice(handshake().length)).toBe(
      'FAIL\t1\tuser=joe@example.com\tcode=temp_fail\treason=Temporary authentication failure, try again later\n',
    );
    expect(o.logs.some((r) => r.includes('"level":"error"'))).toBe(true);
  });
  it('close() while verify() runs: nothing more is sent', async () => {
    const pending = deferred<VerifyResult>();
    const out: string[] = [];
    const session = new AuthSession({ verify: () => pending.promise, send: (d) => out.push(d), identity: IDENTITY });
    session.start();
    session.receive(Buffer.from(POSTFIX_HELLO + postfixAuth(1, 'PLAIN', { resp: plain('', JOE, PASSWORD) })));
    session.close();
    await session.whenSettled();
    pending.resolve({ status: 'ok', user: JOE });
    await pending.promise;
    await new Promise((r) => setImmediate(r));
    expect(out.join('')).toBe(handshake());
  });
});

describe('options', () => {
  it('offers only the configured mechanisms and refuses the others', async () => {
    const out: string[] = [];
    const calls: VerifyCall[] = [];
    const session = new AuthSession({ verify: fakeVerify(calls), send: (d) => out.push(d), identity: IDENTITY, mechanisms: ['PLAIN'] });
    session.start();
    session.receive(Buffer.from(POSTFIX_HELLO + postfixAuth(1, 'LOGIN')));
    await session.whenSettled();
    expect(out.join('')).toBe(handshake(IDENTITY, ['PLAIN']) + 'FAIL\t1\treason=Unsupported authentication mechanism\n');
  });
  it('refuses to receive before start()', () => {
    const session = new AuthSession({ verify: fakeVerify([]), send: () => undefined, identity: IDENTITY });
    expect(() => session.receive(Buffer.from(POSTFIX_HELLO))).toThrow(/before start/);
  });
});
