import { generateKeyPairSync } from 'node:crypto';
import { Readable } from 'node:stream';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { beforeAll, describe, expect, it } from 'vitest';
import type { HeaderField } from '../../../src/core/types.js';
import { createBodyHasher, SIGNED_HEADER_NAMES, signatureFields, signMessage, type SigningKey } from '../../../src/dkim/signer.js';
import { InvariantError, RejectError } from '../../../src/lib/errors.js';
import { MAX_HEADER_BLOCK_BYTES } from '../../../src/lib/limits.js';
import { parseHeaderBlock } from '../../../src/mail/header-block.js';
import { pythonVerify, pythonVerifyMany } from '../../helpers/dkim-python.js';
import { DOMAIN, makeTestKeys, MESSAGES, prepend, TIME, type TestKeys } from './fixtures.js';

let keys: TestKeys;

/** mailauth reports the a= tag as `algo` (its .d.ts says `algorithm`). */
const algorithmOf = (r: object): string => String((r as { algo?: unknown }).algo);
beforeAll(async () => {
  keys = await makeTestKeys();
});

/** The tags of a DKIM-Signature value (whitespace removed, as a verifier reads them). */
function tags(value: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of value.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    out.set(part.slice(0, eq).replace(/\s+/g, ''), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return out;
}

const f = (name: string, value: string): HeaderField => ({ name, value });
const BODY_HASH = createBodyHasher().digest();

/** Header fields and body hash of a whole message, through the project's header parser. */
function split(message: Buffer): { headers: readonly HeaderField[]; bodyHash: string } {
  const end = message.indexOf('\r\n\r\n');
  const parsed = parseHeaderBlock(message.subarray(0, end + 4));
  const h = createBodyHasher();
  h.update(message.subarray(end + 4));
  return { headers: parsed.fields, bodyHash: h.digest() };
}

describe('signatureFields: h=', () => {
  it('lists the signed names present, each occurrence, From once more', () => {
    const headers = [
      f('Received', ' from x'),
      f('From', ' a@oxfordstones.example'),
      f('To', ' b@example.net'),
      f('to', ' c@example.net'),
      f('subject', ' hi'),
      f('X-Mailer', ' y'),
      f('Content-Type', ' text/plain'),
      f('List-Unsubscribe-Post', ' List-Unsubscribe=One-Click'),
    ];
    const [sig] = signatureFields({ headers, bodyHash: BODY_HASH, keys: [keys.ed], time: TIME });
    expect(tags(sig!.value).get('h')).toBe('From:From:To:To:Subject:Content-Type:List-Unsubscribe-Post');
  });

  it('over-signs From even when there are two', () => {
    const headers = [f('From', ' a@x.example'), f('From', ' b@x.example')];
    const [sig] = signatureFields({ headers, bodyHash: BODY_HASH, keys: [keys.ed], time: TIME });
    expect(tags(sig!.value).get('h')).toBe('From:From:From');
  });

  it('exports the list it signs from', () => {
    expect(SIGNED_HEADER_NAMES).toEqual([
      'From',
      'To',
      'Subject',
      'Date',
      'Message-ID',
      'MIME-Version',
      'Content-Type',
      'Content-Transfer-Encoding',
      'Reply-To',
      'List-Unsubscribe',
      'List-Unsubscribe-Post',
    ]);
  });
});

describe('signatureFields: the field', () => {
  it('writes the tags of RFC 6376 with relaxed/relaxed, t= from the time, and no l=', () => {
    const { headers, bodyHash } = split(MESSAGES['7bit text']!);
    const [rsa, ed] = signatureFields({ headers, bodyHash, keys: [keys.rsa, keys.ed], time: new Date('2026-12-02T08:30:15.900Z') });
    for (const [field, key] of [
      [rsa!, keys.rsa],
      [ed!, keys.ed],
    ] as const) {
      expect(field.name).toBe('DKIM-Signature');
      const t = tags(field.value);
      expect([...t.keys()]).toEqual(['v', 'a', 'c', 'd', 's', 'q', 't', 'h', 'bh', 'b']);
      expect(t.get('v')).toBe('1');
      expect(t.get('a')).toBe(key.algorithm);
      expect(t.get('c')).toBe('relaxed/relaxed');
      expect(t.get('d')).toBe(DOMAIN);
      expect(t.get('s')).toBe(key.selector);
      expect(t.get('q')).toBe('dns/txt');
      expect(t.get('t')).toBe(String(Date.UTC(2026, 11, 2, 8, 30, 15) / 1000));
      expect(t.get('bh')).toBe(bodyHash);
      expect(t.has('l')).toBe(false);
    }
    // Ed25519 signatures are 64 bytes, RSA-2048 ones 256
    expect(Buffer.from(tags(ed!.value).get('b')!, 'base64')).toHaveLength(64);
    expect(Buffer.from(tags(rsa!.value).get('b')!, 'base64')).toHaveLength(256);
  });

  it('folds with CRLF + SP into lines of at most 78 octets', () => {
    const { headers, bodyHash } = split(MESSAGES['folded headers']!);
    for (const field of signatureFields({ headers, bodyHash, keys: [keys.rsa, keys.ed], time: TIME })) {
      expect(field.value.startsWith(' v=1;')).toBe(true);
      const lines = `${field.name}:${field.value}`.split('\r\n');
      expect(lines.length).toBeGreaterThan(3);
      for (const line of lines) expect(line.length, line).toBeLessThanOrEqual(78);
      for (const line of lines.slice(1)) expect(line).toMatch(/^ \S/);
      expect(field.value).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
    }
  });

  it('returns one field per key, in the order of the keys', () => {
    const { headers, bodyHash } = split(MESSAGES['7bit text']!);
    const out = signatureFields({ headers, bodyHash, keys: [keys.ed, keys.rsa, keys.ed], time: TIME });
    expect(out.map((x) => tags(x.value).get('a'))).toEqual(['ed25519-sha256', 'rsa-sha256', 'ed25519-sha256']);
    expect(signatureFields({ headers, bodyHash, keys: [], time: TIME })).toEqual([]);
  });

  it('is deterministic and equal to what signMessage makes of the whole message', async () => {
    const message = MESSAGES['folded headers']!;
    const fromParts = signatureFields({ ...split(message), keys: [keys.rsa, keys.ed], time: TIME });
    expect(signatureFields({ ...split(message), keys: [keys.rsa, keys.ed], time: TIME })).toEqual(fromParts);
    expect(await signMessage([message], [keys.rsa, keys.ed], TIME)).toEqual(fromParts);
  });

  it('refuses a key of the wrong type: a throw from signatureFields, a rejection from signMessage', async () => {
    const badKeys = [{ ...keys.rsa, privateKey: keys.ed.privateKey }];
    expect(() => signatureFields({ ...split(MESSAGES['7bit text']!), keys: badKeys, time: TIME })).toThrow(/not an rsa private key/);
    const pending = signMessage([MESSAGES['7bit text']!], badKeys, TIME);
    await expect(pending).rejects.toThrow(/not an rsa private key/);
  });

  it('parses and verifies with mailauth dkimVerify', async () => {
    const message = MESSAGES['quoted-printable HTML']!;
    const fields = signatureFields({ ...split(message), keys: [keys.rsa, keys.ed], time: TIME });
    const res = await dkimVerify(prepend(fields, message), { resolver: (name: string) => Promise.resolve([[keys.records[name] ?? '']]) });
    expect(res.results.map((r) => [r.signingDomain, r.selector, algorithmOf(r), r.status.result])).toEqual([
      [DOMAIN, keys.rsa.selector, 'rsa-sha256', 'pass'],
      [DOMAIN, keys.ed.selector, 'ed25519-sha256', 'pass'],
    ]);
  });

  it('writes a U-label domain as its A-label in d=, and dkimpy verifies it', async () => {
    const idn = await makeTestKeys('bücher.example');
    const message = Buffer.from('From: shop@xn--bcher-kva.example\r\nSubject: x\r\n\r\nHi\r\n');
    const fields = signatureFields({ ...split(message), keys: [idn.rsa, idn.ed], time: TIME });
    for (const field of fields) expect(tags(field.value).get('d')).toBe('xn--bcher-kva.example');
    const records = Object.fromEntries(Object.entries(idn.records).map(([k, v]) => [k.replace('bücher', 'xn--bcher-kva'), v]));
    const verdicts = pythonVerify(prepend(fields, message), records);
    expect(verdicts.map((v) => [v.domain, v.pass])).toEqual([
      ['xn--bcher-kva.example', true],
      ['xn--bcher-kva.example', true],
    ]);
  });

  it('takes repeated fields bottom-up: the signature verifies, and fails once they swap places', () => {
    const message = Buffer.from(
      'From: a@oxfordstones.example\r\nTo: one@example.net\r\nSubject: s\r\nTo: two@example.net\r\n\r\nHi\r\n',
    );
    const signed = prepend(signatureFields({ ...split(message), keys: [keys.rsa], time: TIME }), message);
    const swapped = Buffer.from(signed.toString().replace('one@', 'TMP@').replace('two@', 'one@').replace('TMP@', 'two@'));
    const [ok, bad] = pythonVerifyMany([signed, swapped], keys.records);
    expect(ok!.map((v) => v.pass)).toEqual([true]);
    expect(bad!.map((v) => v.pass)).toEqual([false]);
  });

  it.each<[string, (k: SigningKey) => SigningKey]>([
    ['an invalid domain', (k) => ({ ...k, domain: 'not a domain' })],
    ['an invalid selector', (k) => ({ ...k, selector: 'a;b' })],
    ['a key of the other type', (k) => ({ ...k, algorithm: 'rsa-sha256' })],
    ['a public key', (k) => ({ ...k, privateKey: generateKeyPairSync('ed25519').publicKey })],
  ])('refuses %s (a bug in the caller)', (_label, change) => {
    expect(() => signatureFields({ headers: [], bodyHash: BODY_HASH, keys: [change(keys.ed)], time: TIME })).toThrow(InvariantError);
  });

  it('refuses an invalid time or body hash', () => {
    expect(() => signatureFields({ headers: [], bodyHash: BODY_HASH, keys: [keys.ed], time: new Date('x') })).toThrow(InvariantError);
    expect(() => signatureFields({ headers: [], bodyHash: 'a;b', keys: [keys.ed], time: TIME })).toThrow(InvariantError);
  });
});

describe('signMessage', () => {
  const message = MESSAGES['folded headers']!;
  let want: HeaderField[];
  beforeAll(async () => {
    want = await signMessage([message], [keys.rsa, keys.ed], TIME);
  });

  it('gives the same fields whatever the chunking (split at every offset)', async () => {
    for (let i = 0; i <= message.length; i++) {
      expect(await signMessage([message.subarray(0, i), message.subarray(i)], [keys.ed], TIME), `split at ${i}`).toEqual(want.slice(1));
    }
    expect(await signMessage([...message].map((b) => Uint8Array.of(b)), [keys.ed], TIME)).toEqual(want.slice(1));
  });

  it('reads a Readable (as from a spool)', async () => {
    expect(await signMessage(Readable.from([message.subarray(0, 100), message.subarray(100)]), [keys.rsa, keys.ed], TIME)).toEqual(want);
  });

  it('signs header bytes that are not UTF-8 as they stand (dkimpy verifies)', async () => {
    const latin1 = Buffer.from('From: "Gr\xfc\xdfe" <a@oxfordstones.example>\r\nSubject: caf\xe9\r\n\r\nBody\r\n', 'latin1');
    const [verdicts] = pythonVerifyMany([prepend(await signMessage([latin1], [keys.rsa, keys.ed], TIME), latin1)], keys.records);
    expect(verdicts!.map((v) => v.pass)).toEqual([true, true]);
  });

  it('treats a message that ends inside its header as one with an empty body', async () => {
    const headerOnly = Buffer.from('From: a@oxfordstones.example\r\nSubject: s\r\n');
    const [sig] = await signMessage([headerOnly], [keys.ed], TIME);
    expect(tags(sig!.value).get('bh')).toBe(BODY_HASH);
  });

  it('reads a header block that ends with a bare LF blank line', async () => {
    const lf = Buffer.from('From: a@oxfordstones.example\nSubject: s\n\nBody\n');
    const crlf = Buffer.from('From: a@oxfordstones.example\r\nSubject: s\r\n\r\nBody\r\n');
    expect(await signMessage([lf], [keys.ed], TIME)).toEqual(await signMessage([crlf], [keys.ed], TIME));
  });

  it('refuses a header block over MAX_HEADER_BLOCK_BYTES with 552 5.3.4, and accepts one at it', async () => {
    const line = `X-Pad: ${'a'.repeat(1000)}\r\n`;
    const fill = (size: number): Buffer => {
      const head = 'From: a@oxfordstones.example\r\n';
      const pad = size - head.length - 2;
      const lines = line.repeat(Math.floor(pad / line.length));
      const last = pad - lines.length;
      return Buffer.from(`${head}${lines}X-Last: ${'b'.repeat(last - 10)}\r\n\r\nBody\r\n`);
    };
    const atLimit = fill(MAX_HEADER_BLOCK_BYTES);
    expect(atLimit.indexOf('\r\n\r\n') + 4).toBe(MAX_HEADER_BLOCK_BYTES);
    await expect(signMessage([atLimit], [keys.ed], TIME)).resolves.toHaveLength(1);
    const err = await signMessage([fill(MAX_HEADER_BLOCK_BYTES + 1)], [keys.ed], TIME).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RejectError);
    expect((err as RejectError).reply).toEqual({ code: 552, enhanced: '5.3.4', text: 'Message header block too large' });
  });

  it('refuses a stream of strings and returns [] for no keys', async () => {
    await expect(signMessage(Readable.from(['From: a@x\r\n\r\n']), [keys.ed], TIME)).rejects.toThrow(InvariantError);
    expect(await signMessage([message], [], TIME)).toEqual([]);
  });
});
