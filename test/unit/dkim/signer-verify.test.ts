/**
 * Signatures made by signer.ts checked by two verifiers that share no code with it:
 * Debian's python3-dkim (dkimpy, with PyNaCl for Ed25519) and mailauth's dkimVerify. The DNS
 * records they look up are the TXT values keys.ts produced. Then the same messages changed
 * after signing must fail, and changes that relaxed canonicalisation ignores must not.
 */
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { signMessage } from '../../../src/dkim/signer.js';
import { pythonVerifyMany, type PythonVerdict } from '../../helpers/dkim-python.js';
import { makeTestKeys, MESSAGES, prepend, TIME, type TestKeys } from './fixtures.js';

let keys: TestKeys;

/** mailauth reports the a= tag as `algo` (its .d.ts says `algorithm`). */
const algorithmOf = (r: object): string => String((r as { algo?: unknown }).algo);
const signed = new Map<string, Buffer>();
const python = new Map<string, PythonVerdict[]>();

/** mailauth's verdict per signature, with our records as its DNS. */
async function mailauthResults(message: Buffer): Promise<string[]> {
  const res = await dkimVerify(message, {
    resolver: (name: string) => {
      const record = keys.records[name];
      if (record === undefined) return Promise.reject(Object.assign(new Error(`no TXT for ${name}`), { code: 'ENOTFOUND' }));
      return Promise.resolve([[record]]);
    },
    curTime: TIME,
  });
  return res.results.map((r) => `${algorithmOf(r)}:${r.status.result}`);
}

/** Changes made after signing, with whether the signatures must still verify. */
const TAMPER: Record<string, { edit: (m: string) => string; pass: boolean }> = {
  'one body byte changed': { edit: (m) => m.replace('It ships today.', 'It ships todaY.'), pass: false },
  'Subject edited': { edit: (m) => m.replace('Subject: Your order has shipped', 'Subject: Your order has shipped!'), pass: false },
  // without From over-signed, mailauth passes this one (checked with its own signer); dkimpy
  // always adds an extra "from" of its own, so it fails there either way
  'a second From added above the signed one': {
    edit: (m) => m.replace(/^(DKIM-Signature:[^]*?\r\n)(?=From:)/, '$1From: attacker@evil.example\r\n'),
    pass: false,
  },
  'a second From added below the signed one': {
    edit: (m) => m.replace('\r\nTo: ', '\r\nFrom: attacker@evil.example\r\nTo: '),
    pass: false,
  },
  'a To added although none was signed twice': { edit: (m) => m.replace('\r\nSubject: ', '\r\nTo: other@evil.example\r\nSubject: '), pass: false },
  // controls: what relaxed canonicalisation and h= leave out must not break the signatures
  'an unsigned header added (control)': { edit: (m) => m.replace('\r\nTo: ', '\r\nX-Mailer: later\r\nTo: '), pass: true },
  'whitespace in Subject changed and refolded (control)': {
    edit: (m) => m.replace('Subject: Your order has shipped', 'Subject:  Your order\r\n\thas   shipped  '),
    pass: true,
  },
  'blank lines appended to the body (control)': { edit: (m) => `${m}\r\n\r\n`, pass: true },
};

const tampered = new Map<string, Buffer>();

beforeAll(async () => {
  keys = await makeTestKeys();
  for (const [name, message] of Object.entries(MESSAGES)) {
    signed.set(name, prepend(await signMessage([message], [keys.rsa, keys.ed], TIME), message));
  }
  const base = signed.get('7bit text')!.toString('utf8');
  for (const [name, { edit }] of Object.entries(TAMPER)) {
    const changed = edit(base);
    if (changed === base) throw new Error(`tamper case "${name}" changed nothing`);
    tampered.set(name, Buffer.from(changed, 'utf8'));
  }
  // one run of dkimpy for every message (importing it takes a third of a second)
  const names = [...signed.keys(), ...[...tampered.keys()].map((n) => `tampered: ${n}`)];
  const verdicts = pythonVerifyMany([...signed.values(), ...tampered.values()], keys.records);
  names.forEach((n, i) => python.set(n, verdicts[i]!));
});

describe('signatures verified by dkimpy (python3-dkim)', () => {
  it.each(Object.keys(MESSAGES))('%s: rsa-sha256 and ed25519-sha256 both pass', (name) => {
    const v = python.get(name)!;
    expect(v.map((x) => ({ algorithm: x.algorithm, domain: x.domain, pass: x.pass, error: x.error }))).toEqual([
      { algorithm: 'rsa-sha256', domain: 'oxfordstones.example', pass: true, error: null },
      { algorithm: 'ed25519-sha256', domain: 'oxfordstones.example', pass: true, error: null },
    ]);
  });

  it.each(Object.entries(TAMPER))('after signing, %s', (name, { pass }) => {
    const v = python.get(`tampered: ${name}`)!;
    expect(v).toHaveLength(2);
    for (const x of v) expect(x.pass, `${x.algorithm ?? '?'}: ${x.error ?? ''}`).toBe(pass);
  });
});

describe('signatures verified by mailauth dkimVerify', () => {
  it.each(Object.keys(MESSAGES))('%s: both pass', async (name) => {
    expect(await mailauthResults(signed.get(name)!)).toEqual(['rsa-sha256:pass', 'ed25519-sha256:pass']);
  });

  it.each(Object.entries(TAMPER))('after signing, %s', async (name, { pass }) => {
    const results = await mailauthResults(tampered.get(name)!);
    expect(results).toHaveLength(2);
    for (const r of results) expect(r.endsWith(':pass'), r).toBe(pass);
  });
});
