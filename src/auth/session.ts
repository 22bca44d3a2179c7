/**
 * One Dovecot auth-client connection, server side (docs/protocols.md §4): handshake, PLAIN and
 * LOGIN, several requests in flight at once, result lines. A state machine without I/O:
 * bytes come in through receive(), lines go out through the injected send(), credentials
 * are checked by the injected verify().
 *
 * Handshake. start() sends VERSION 1.2, one MECH line per mechanism, SPID, CUID, COOKIE and
 * DONE at once, without waiting for the client's VERSION — like Dovecot up to 2.3. Postfix
 * sends VERSION+CPID first and then reads our lines, so either order works for it, but
 * clients that wait for the server's greeting first (Exim's dovecot authenticator) would
 * hang if we waited. MECH lines come before SPID because Postfix takes "SPID without MECH"
 * for the auth-master socket. The client's first line must be VERSION with major 1 and its
 * second CPID (Dovecot requires both before any AUTH); otherwise the connection is dropped.
 *
 * Requests (`AUTH\t<id>\t<MECH>\tservice=…\t…[\tresp=…]`, then `CONT`s):
 *  - PLAIN with an initial response is answered at once; without one we send an empty CONT.
 *  - LOGIN sends CONT "Username:", then CONT "Password:" (an initial response is the user name).
 *  - A PLAIN authorisation identity that is neither empty nor equal to the login FAILs with
 *    code=authz_fail: trxmail has no master users, a user acts only as itself.
 *  - Unknown mechanism, bad base64, a malformed PLAIN/LOGIN payload, an empty or over-long
 *    password, a login with control characters: FAIL without calling verify().
 *  - verify() 'ok' → `OK\t<id>\tuser=<canonical name>` — never with nologin or proxy;
 *    'fail' → FAIL; 'tempfail' (store down, or a throttled client: credentials.ts), a
 *    rejected promise or an unusable user name → the connection is dropped when a `drop`
 *    hook is given (the server's case: Postfix then answers 454 4.7.0), else FAIL with
 *    code=temp_fail. (Postfix answers every FAIL with 535 5.7.8 and ignores the code.)
 *  - CONT for an unknown id → FAIL "request timed out" (as Dovecot); CONT while verify() runs
 *    → FAIL "Unexpected continuation" and its result is dropped; CANCEL forgets a request.
 *  - A duplicate id in flight, more than MAX_AUTH_PENDING_REQUESTS open requests, a missing
 *    `service`, or VERSION/CPID again: ProtocolError (Dovecot drops such clients too).
 *
 * Throws ProtocolError from receive() for anything that must drop the connection; after
 * that the session is closed and late verify() results are discarded. Never logs a
 * password, a `resp=` value or CONT data; logins are logged escaped and truncated.
 */
import { InvariantError, ProtocolError } from '../lib/errors.js';
import { MAX_AUTH_PENDING_REQUESTS, MAX_PASSWORD_BYTES } from '../lib/limits.js';
import {
  AUTH_ERROR,
  AUTH_PROTOCOL_MAJOR,
  AUTH_PROTOCOL_MINOR,
  AuthLineReader,
  decodeBase64,
  encodeBase64,
  parseAuthClientLine,
  serialiseAuthServerMessage,
  type AuthAuthMessage,
  type AuthClientMessage,
  type AuthContMessage,
  type AuthFailCode,
  type AuthServerMessage,
} from './codec.js';
import { escapeLogValue, silentLogger, type Logger } from '../lib/logger.js';
import { merged } from '../lib/merged.js';

export type AuthMechanism = 'PLAIN' | 'LOGIN';
export const AUTH_MECHANISMS: readonly AuthMechanism[] = ['PLAIN', 'LOGIN'];

/** What the client (Postfix) told us about the SMTP session being authenticated. */
export interface AuthRequestMeta {
  /** `service=` (Postfix: `smtpd_sasl_service`, normally `smtp`). */
  readonly service: string;
  /** Client IP (`rip=`), if sent. */
  readonly rip?: string;
  /** Server IP the client connected to (`lip=`), if sent. */
  readonly lip?: string;
  /** The SMTP session runs over TLS (`secured`). */
  readonly secured: boolean;
  readonly mechanism: AuthMechanism;
}

export type VerifyResult =
  /** `user` is the canonical login returned to Postfix in `user=` (it becomes sasl_username). */
  | { readonly status: 'ok'; readonly user: string }
  | { readonly status: 'fail' }
  | { readonly status: 'tempfail' };

/** Checks a login and password. Should not throw; a rejection is treated as 'tempfail'. */
export type AuthVerifier = (login: string, password: string, meta: AuthRequestMeta) => Promise<VerifyResult>;

export interface AuthSessionIdentity {
  /** Server process id (SPID). */
  readonly spid: number;
  /** Connection id, unique within this server process (CUID). */
  readonly cuid: number;
  /** 32 lower-case hex digits of randomness (COOKIE). */
  readonly cookie: string;
}

export interface AuthSessionOptions {
  readonly verify: AuthVerifier;
  /** Writes serialised lines to the peer. */
  readonly send: (data: string) => void;
  readonly identity: AuthSessionIdentity;
  /** Mechanisms to offer, in this order. Default: PLAIN, LOGIN. */
  readonly mechanisms?: readonly AuthMechanism[];
  readonly logger?: Logger;
  /**
   * Drop the connection. When given, a temporary failure (store down, verify() rejected)
   * drops the connection instead of answering FAIL: Postfix then tells its client
   * `454 4.7.0 Temporary authentication failure` (seen on 3.7.11), where any FAIL would be
   * a permanent-looking `535 5.7.8`. Postfix reconnects for its next AUTH when its write
   * fails: the server resets TCP connections for that (server.ts).
   */
  readonly drop?: (err: Error) => void;
}

/** Reasons sent in FAIL; Postfix shows them after "535 5.7.8 Error: authentication failed: ". */
export const AUTH_FAIL_REASON = {
  credentials: 'Invalid login or password',
  tempfail: 'Temporary authentication failure, try again later',
  mechanism: 'Unsupported authentication mechanism',
  base64: 'Invalid base64 data',
  plain: 'Invalid PLAIN response',
  login: 'Invalid LOGIN response',
  authz: 'Authorization identity must be empty or equal the login',
  unknown: 'Authentication request timed out',
  unexpected: 'Unexpected continuation',
} as const;

const USERNAME_PROMPT = encodeBase64('Username:');
const PASSWORD_PROMPT = encodeBase64('Password:');
const CONTROL_RE = /[\u0000-\u001f\u007f]/;
const MAX_USER_NAME = 1024;

type RequestState =
  | { readonly step: 'plain'; readonly meta: AuthRequestMeta }
  | { readonly step: 'login-user'; readonly meta: AuthRequestMeta }
  | { readonly step: 'login-password'; readonly meta: AuthRequestMeta; readonly login: string }
  | { readonly step: 'verifying'; readonly meta: AuthRequestMeta; readonly token: object };

type SessionState = 'new' | 'await-version' | 'await-cpid' | 'ready' | 'closed';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null; // not UTF-8: the caller FAILs the request
  }
}

export class AuthSession {
  readonly #verify: AuthVerifier;
  readonly #send: (data: string) => void;
  readonly #drop: ((err: Error) => void) | undefined;
  readonly #identity: AuthSessionIdentity;
  readonly #mechanisms: readonly AuthMechanism[];
  readonly #log: Logger;
  readonly #reader = new AuthLineReader();
  readonly #requests = new Map<number, RequestState>();
  #state: SessionState = 'new';
  #clientPid = 0;
  #inFlight = 0;
  #settledWaiters: (() => void)[] = [];

  constructor(options: AuthSessionOptions) {
    this.#verify = options.verify;
    this.#drop = options.drop;
    this.#send = options.send;
    this.#identity = options.identity;
    this.#mechanisms = options.mechanisms ?? AUTH_MECHANISMS;
    this.#log = options.logger ?? silentLogger;
    if (this.#mechanisms.length === 0) throw new InvariantError('auth session needs at least one mechanism');
  }

  /** Send the server handshake. Call once, before receive(). */
  start(): void {
    if (this.#state !== 'new') throw new InvariantError('auth session started twice');
    const lines: AuthServerMessage[] = [
      { type: 'VERSION', major: AUTH_PROTOCOL_MAJOR, minor: AUTH_PROTOCOL_MINOR },
      ...this.#mechanisms.map((name): AuthServerMessage => ({ type: 'MECH', name, flags: ['plaintext'] })),
      { type: 'SPID', pid: this.#identity.spid },
      { type: 'CUID', id: this.#identity.cuid },
      { type: 'COOKIE', cookie: this.#identity.cookie },
      { type: 'DONE' },
    ];
    this.#state = 'await-version';
    this.#send(lines.map(serialiseAuthServerMessage).join(''));
  }

  /** Feed bytes from the peer. Throws ProtocolError when the connection must be dropped. */
  receive(chunk: Uint8Array): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'new') throw new InvariantError('auth session received data before start()');
    try {
      this.#reader.push(chunk);
      for (let raw = this.#reader.next(); raw !== null; raw = this.#reader.next()) {
        this.#handle(parseAuthClientLine(raw));
      }
    } catch (err: unknown) {
      this.close();
      throw err;
    }
  }

  /** Forget everything; results of verify() calls still running are discarded. */
  close(): void {
    this.#state = 'closed';
    this.#requests.clear();
    this.#wakeSettled();
  }

  /** Client pid from CPID (0 before it arrived). */
  get clientPid(): number {
    return this.#clientPid;
  }

  /** verify() calls whose result is still awaited. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves once no verify() result is awaited (or the session is closed). */
  whenSettled(): Promise<void> {
    if (this.#inFlight === 0 || this.#state === 'closed') return Promise.resolve();
    return new Promise((resolve) => this.#settledWaiters.push(resolve));
  }

  #wakeSettled(): void {
    const waiters = this.#settledWaiters;
    this.#settledWaiters = [];
    for (const wake of waiters) wake();
  }

  #reply(msg: AuthServerMessage): void {
    this.#send(serialiseAuthServerMessage(msg));
  }

  #fail(id: number, reason: string, extra: { code?: AuthFailCode; user?: string } = {}): void {
    this.#reply({ type: 'FAIL', id, reason, ...extra });
  }

  #handle(msg: AuthClientMessage): void {
    switch (this.#state) {
      case 'await-version':
        if (msg.type !== 'VERSION') {
          throw new ProtocolError(AUTH_ERROR.OUT_OF_ORDER, `auth client sent ${msg.type} before VERSION`);
        }
        if (msg.major !== AUTH_PROTOCOL_MAJOR) {
          throw new ProtocolError(AUTH_ERROR.VERSION_MISMATCH, `auth client speaks protocol ${msg.major}.${msg.minor}, we speak ${AUTH_PROTOCOL_MAJOR}.x`);
        }
        this.#state = 'await-cpid';
        return;
      case 'await-cpid':
        if (msg.type !== 'CPID') {
          throw new ProtocolError(AUTH_ERROR.OUT_OF_ORDER, `auth client sent ${msg.type} before CPID`);
        }
        this.#clientPid = msg.pid;
        this.#state = 'ready';
        return;
      case 'ready':
        break;
      case 'new':
      case 'closed':
        return;
    }
    switch (msg.type) {
      case 'VERSION':
      case 'CPID':
        throw new ProtocolError(AUTH_ERROR.OUT_OF_ORDER, `auth client sent ${msg.type} again`);
      case 'AUTH':
        this.#begin(msg);
        return;
      case 'CONT':
        this.#continue(msg);
        return;
      case 'CANCEL':
        this.#requests.delete(msg.id);
        return;
    }
  }

  #begin(msg: AuthAuthMessage): void {
    const { id } = msg;
    if (this.#requests.has(id)) {
      throw new ProtocolError(AUTH_ERROR.DUPLICATE_ID, `auth client reused request id ${id} while it is open`);
    }
    if (this.#requests.size >= MAX_AUTH_PENDING_REQUESTS) {
      throw new ProtocolError(AUTH_ERROR.TOO_MANY_REQUESTS, `auth client opened more than ${MAX_AUTH_PENDING_REQUESTS} requests at once`);
    }
    const service = msg.params.get('service');
    if (service === undefined || service === '') {
      throw new ProtocolError(AUTH_ERROR.BAD_COMMAND, 'auth client sent AUTH without service');
    }
    const mechanism = this.#mechanisms.find((m) => m === msg.mechanism);
    if (mechanism === undefined) {
      this.#log.info({ id, mechanism: escapeLogValue(msg.mechanism, 32) }, 'auth: unsupported mechanism');
      this.#fail(id, AUTH_FAIL_REASON.mechanism);
      return;
    }
    const rip = msg.params.get('rip');
    const lip = msg.params.get('lip');
    const meta: AuthRequestMeta = {
      service,
      secured: msg.flags.has('secured') || msg.params.has('secured'),
      mechanism,
      ...(rip !== undefined && rip !== '' ? { rip } : {}),
      ...(lip !== undefined && lip !== '' ? { lip } : {}),
    };
    this.#log.debug({ id, mechanism, rip: escapeLogValue(rip ?? ''), secured: meta.secured, initial: msg.resp !== null }, 'auth: request');

    if (msg.resp === null) {
      if (mechanism === 'PLAIN') {
        this.#requests.set(id, { step: 'plain', meta });
        this.#reply({ type: 'CONT', id, data: '' });
      } else {
        this.#requests.set(id, { step: 'login-user', meta });
        this.#reply({ type: 'CONT', id, data: USERNAME_PROMPT });
      }
      return;
    }
    const data = decodeBase64(msg.resp);
    if (data === null) {
      this.#fail(id, `${AUTH_FAIL_REASON.base64} in initial response`, { code: 'invalid_base64' });
      return;
    }
    if (mechanism === 'PLAIN') this.#plainResponse(id, meta, data);
    else if (data.length === 0) {
      this.#requests.set(id, { step: 'login-user', meta });
      this.#reply({ type: 'CONT', id, data: USERNAME_PROMPT });
    } else this.#loginUser(id, meta, data);
  }

  #continue(msg: AuthContMessage): void {
    const { id } = msg;
    const request = this.#requests.get(id);
    if (request === undefined) {
      this.#fail(id, AUTH_FAIL_REASON.unknown);
      return;
    }
    this.#requests.delete(id);
    if (request.step === 'verifying') {
      this.#fail(id, AUTH_FAIL_REASON.unexpected);
      return;
    }
    const data = decodeBase64(msg.data);
    if (data === null) {
      this.#fail(id, `${AUTH_FAIL_REASON.base64} in continued response`, { code: 'invalid_base64' });
      return;
    }
    switch (request.step) {
      case 'plain':
        this.#plainResponse(id, request.meta, data);
        return;
      case 'login-user':
        this.#loginUser(id, request.meta, data);
        return;
      case 'login-password':
        this.#loginPassword(id, request.meta, request.login, data);
        return;
    }
  }

  /** RFC 4616: authzid NUL authcid NUL passwd. */
  #plainResponse(id: number, meta: AuthRequestMeta, data: Buffer): void {
    const first = data.indexOf(0);
    const second = first === -1 ? -1 : data.indexOf(0, first + 1);
    if (second === -1 || data.indexOf(0, second + 1) !== -1) {
      this.#fail(id, AUTH_FAIL_REASON.plain);
      return;
    }
    const authzid = decodeUtf8(data.subarray(0, first));
    const login = decodeUtf8(data.subarray(first + 1, second));
    const password = data.subarray(second + 1);
    if (authzid === null || login === null) {
      this.#fail(id, AUTH_FAIL_REASON.plain);
      return;
    }
    if (!this.#usableLogin(id, login, AUTH_FAIL_REASON.plain)) return;
    if (authzid !== '' && authzid !== login) {
      this.#log.info({ id, login: escapeLogValue(login), authzid: escapeLogValue(authzid) }, 'auth: PLAIN authorization identity refused');
      this.#fail(id, AUTH_FAIL_REASON.authz, { code: 'authz_fail', user: login });
      return;
    }
    this.#checkPassword(id, meta, login, password);
  }

  #loginUser(id: number, meta: AuthRequestMeta, data: Buffer): void {
    const login = decodeUtf8(data);
    if (login === null) {
      this.#fail(id, AUTH_FAIL_REASON.login);
      return;
    }
    if (!this.#usableLogin(id, login, AUTH_FAIL_REASON.login)) return;
    this.#requests.set(id, { step: 'login-password', meta, login });
    this.#reply({ type: 'CONT', id, data: PASSWORD_PROMPT });
  }

  #loginPassword(id: number, meta: AuthRequestMeta, login: string, data: Buffer): void {
    if (data.includes(0)) {
      this.#fail(id, AUTH_FAIL_REASON.login, { user: login });
      return;
    }
    this.#checkPassword(id, meta, login, data);
  }

  /** A login must be non-empty, without control characters. FAILs the request and returns false otherwise. */
  #usableLogin(id: number, login: string, reason: string): boolean {
    if (login === '' || CONTROL_RE.test(login)) {
      this.#fail(id, reason);
      return false;
    }
    return true;
  }

  #checkPassword(id: number, meta: AuthRequestMeta, login: string, passwordBytes: Buffer): void {
    const password = decodeUtf8(passwordBytes);
    if (password === null || password === '' || passwordBytes.length > MAX_PASSWORD_BYTES) {
      this.#log.info({ id, mechanism: meta.mechanism, login: escapeLogValue(login), rip: meta.rip ?? '' }, 'auth: unusable password refused');
      this.#fail(id, AUTH_FAIL_REASON.credentials, { user: login });
      return;
    }
    const token = {};
    this.#requests.set(id, { step: 'verifying', meta, token });
    this.#inFlight++;
    const verify = this.#verify;
    void Promise.resolve()
      .then(() => verify(login, password, meta))
      .then(
        (result) => this.#finish(id, token, login, meta, result),
        (err: unknown) => {
          this.#log.error({ id, login: escapeLogValue(login), err }, 'auth: verify() failed; answering temporary failure');
          this.#finish(id, token, login, meta, { status: 'tempfail' });
        },
      )
      .catch((err: unknown) => {
        this.#log.error({ id, err }, 'auth: could not send the result of a request');
      })
      .finally(() => {
        this.#inFlight--;
        if (this.#inFlight === 0) this.#wakeSettled();
      });
  }

  #finish(id: number, token: object, login: string, meta: AuthRequestMeta, result: VerifyResult): void {
    const current = this.#requests.get(id);
    if (this.#state === 'closed' || current?.step !== 'verifying' || current.token !== token) {
      this.#log.debug({ id }, 'auth: result for a request that is gone; dropped');
      return;
    }
    this.#requests.delete(id);
    const logFields = { id, mechanism: meta.mechanism, login: escapeLogValue(login), rip: meta.rip ?? '', secured: meta.secured };
    const status = (result as { status?: unknown } | null)?.status;
    if (status === 'ok') {
      const user = (result as { user?: unknown }).user;
      if (typeof user !== 'string' || user === '' || user.length > MAX_USER_NAME || CONTROL_RE.test(user)) {
        this.#log.error(logFields, 'auth: verify() returned ok without a usable user name; answering temporary failure');
        this.#tempfail(id, login);
        return;
      }
      this.#log.info(merged(logFields, { user: escapeLogValue(user) }), 'auth: success');
      this.#reply({ type: 'OK', id, user });
    } else if (status === 'fail') {
      this.#log.info(logFields, 'auth: failed');
      this.#fail(id, AUTH_FAIL_REASON.credentials, { user: login });
    } else {
      if (status !== 'tempfail') this.#log.error(logFields, 'auth: verify() returned an unknown result; answering temporary failure');
      else this.#log.warn(logFields, 'auth: temporary failure');
      this.#tempfail(id, login);
    }
  }

  #tempfail(id: number, login: string): void {
    if (this.#drop) {
      this.#drop(new ProtocolError('EAUTH_TEMPFAIL', 'temporary authentication failure: dropping the connection so Postfix answers 454'));
      return;
    }
    this.#fail(id, AUTH_FAIL_REASON.tempfail, { code: 'temp_fail', user: login });
  }
}
