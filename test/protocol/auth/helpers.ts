/**
 * Independent builders for Dovecot auth-protocol test traffic: lines are written out by
 * hand here (template strings, Buffer base64), never with the production serialisers, so a
 * bug in the codec cannot hide in the expectations.
 */
import type { AuthRequestMeta, AuthVerifier, VerifyResult } from '../../../src/auth/session.js';

/** A client line: fields joined by TAB, LF-terminated. */
export function line(...fields: (string | number)[]): string {
  return fields.join('\t') + '\n';
}

export function b64(data: string | Uint8Array): string {
  return Buffer.from(data).toString('base64');
}

/** RFC 4616 PLAIN message, base64. */
export function plain(authzid: string, authcid: string, password: string): string {
  return b64(`${authzid}\0${authcid}\0${password}`);
}

/** What Postfix 3.7 sends right after connecting (xsasl_dovecot_server_connect). */
export const POSTFIX_HELLO = 'VERSION\t1\t0\nCPID\t4242\n';

/** An AUTH line exactly as Postfix 3.7 writes it (xsasl_dovecot_server_first). */
export function postfixAuth(
  id: number,
  mechanism: string,
  opts: { resp?: string; secured?: boolean; rip?: string; lip?: string } = {},
): string {
  let s = `AUTH\t${id}\t${mechanism}\tservice=smtp\tnologin\tlip=${opts.lip ?? '127.0.0.1'}\trip=${opts.rip ?? '192.0.2.10'}`;
  if (opts.secured ?? true) s += '\tsecured';
  if (opts.resp !== undefined) s += `\tresp=${opts.resp}`;
  return s + '\n';
}

export const IDENTITY = { spid: 777, cuid: 5, cookie: '0123456789abcdef0123456789abcdef' };

/** The handshake we expect for PLAIN+LOGIN, written out literally. */
export function handshake(id: { spid: number; cuid: number; cookie: string } = IDENTITY, mechs = ['PLAIN', 'LOGIN']): string {
  return (
    'VERSION\t1\t2\n' +
    mechs.map((m) => `MECH\t${m}\tplaintext\n`).join('') +
    `SPID\t${id.spid}\nCUID\t${id.cuid}\nCOOKIE\t${id.cookie}\nDONE\n`
  );
}

export const USERNAME_PROMPT = 'VXNlcm5hbWU6'; // base64("Username:")
export const PASSWORD_PROMPT = 'UGFzc3dvcmQ6'; // base64("Password:")

export interface VerifyCall {
  readonly login: string;
  readonly password: string;
  readonly meta: AuthRequestMeta;
}

/**
 * A fake credential store: joe@example.com / "s3cret pass" (canonical user joe@example.com,
 * any letter case of the login), temp@example.com → tempfail, boom@example.com → throws.
 */
export function fakeVerify(calls: VerifyCall[]): AuthVerifier {
  return (login, password, meta) => {
    calls.push({ login, password, meta });
    const key = login.toLowerCase();
    if (key === 'boom@example.com') return Promise.reject(new Error('store exploded'));
    if (key === 'temp@example.com') return Promise.resolve<VerifyResult>({ status: 'tempfail' });
    if (key === 'joe@example.com' && password === PASSWORD) return Promise.resolve<VerifyResult>({ status: 'ok', user: 'joe@example.com' });
    return Promise.resolve<VerifyResult>({ status: 'fail' });
  };
}
export const PASSWORD = 's3cret pass';
