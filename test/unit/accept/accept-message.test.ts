/**
 * The accept step (src/accept/accept-message.ts) without root or Postfix: a real SQLite file,
 * the capture sink standing in for Postfix's re-injection listener (it answers "queued as"
 * like Postfix), real spools in a temporary directory. The store failures are the one fault
 * made by hand (a wrapper whose method throws TransientError, as the SQLite backend does when
 * the database is locked), said so where used.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import libqp from 'libqp';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { acceptMessage, REF_HEADER, type AcceptFacts, type AcceptOutcome } from '../../../src/accept/accept-message.js';
import { loadAccount, type Account } from '../../../src/accept/account.js';
import type { AcceptPorts } from '../../../src/accept/ports.js';
import { DomainSetups } from '../../../src/accept/domain-setups.js';
import { applyEditsToFields } from '../../../src/mail/header-block.js';
import { addActiveDkimKeys } from '../../helpers/dkim-keys.js';
import { pythonVerifyMany } from '../../helpers/dkim-python.js';
import { reinjectTo } from '../../../src/accept/reinject.js';
import { decodeBounceAddress, encodeBounceAddress } from '../../../src/bounce/bounce-address.js';
import type { HeaderField } from '../../../src/core/types.js';
import { RejectError, TransientError } from '../../../src/lib/errors.js';
import { MAX_MIME_NODES } from '../../../src/lib/limits.js';
import { silentLogger } from '../../../src/lib/logger.js';
import { Spool } from '../../../src/lib/spool.js';
import { createMetrics, type TrxMetrics } from '../../../src/metrics/metrics.js';
import { CaptureSink } from '../../../src/postfix/capture-sink.js';
import { openStore } from '../../../src/store/open-store.js';
import type { Store } from '../../../src/store/store.js';
import { TrackingLinks } from '../../../src/tracking/links.js';
import { unsubscribeUrl, verifyUnsubscribeToken } from '../../../src/tracking/unsubscribe-token.js';
import { decodeUnsubscribeAddress, encodeUnsubscribeAddress } from '../../../src/bounce/unsubscribe-address.js';

const KEYS = [{ id: 'k1', secret: 'accept-step-test-secret-0123456789' }];
const BOUNCE_DOMAIN = 'bounces.relay.example';
const NOW = new Date('2026-12-01T10:00:00.000Z');

let dir: string;
let store: Store;
let sink: CaptureSink;
let account: Account;
let spoolDir: string;
let metrics: TrxMetrics;
let seq = 0;

const HTML_BODY = Buffer.from('<html><body><p>Hello <a href="https://shop.example/item?id=7">item</a></p></body></html>\r\n');

function headers(to = 'Reader <reader@example.net>', extra: HeaderField[] = []): HeaderField[] {
  return [
    { name: 'From', value: 'News <someone@elsewhere.example>' },
    { name: 'To', value: to },
    { name: 'Subject', value: 'Hello' },
    { name: 'MIME-Version', value: '1.0' },
    { name: 'Content-Type', value: 'text/html; charset=utf-8' },
    ...extra,
  ];
}

async function bodySpool(bytes: Buffer): Promise<Spool> {
  // The caller's spool (the milter's): in memory, so the spool directory holds only what the
  // accept step writes.
  const s = new Spool(tmpdir());
  await s.write(bytes);
  await s.end();
  return s;
}

function ports(over: Partial<AcceptPorts> = {}): AcceptPorts {
  return {
    store,
    bounceAddress: (spaceId, sendId, host) => encodeBounceAddress({ spaceId, sendId }, KEYS, host ?? BOUNCE_DOMAIN),
    domainSetup: new DomainSetups(store, KEYS).get,
    tracking: { links: new TrackingLinks('https://t.relay.example', KEYS), reinject: reinjectTo({ kind: 'tcp', host: '127.0.0.1', port: sink.port }) },
    // Every rendered copy goes to a file (memory limit 0), so leftovers are visible on disk.
    newSpool: () => new Spool(spoolDir, 0),
    clock: () => NOW,
    metrics,
    logger: silentLogger,
    ...over,
  };
}

async function facts(over: Partial<AcceptFacts> = {}): Promise<AcceptFacts> {
  return {
    account,
    sendId: `4jTEST${++seq}Q`,
    mailFrom: 'news@shop.example',
    rcptTo: ['reader@example.net', 'archive@example.org'],
    headers: headers(),
    headerLeadingSpace: false,
    body: await bodySpool(HTML_BODY),
    ...over,
  };
}

type AcceptStore = AcceptPorts['store'];

/** The real store, with `over` in place of some methods. */
function storeWith(over: Partial<AcceptStore>): AcceptStore {
  return {
    getFromDefault: (...a) => store.getFromDefault(...a),
    lookupSuppression: (...a) => store.lookupSuppression(...a),
    recordSend: (...a) => store.recordSend(...a),
    forgetSend: (...a) => store.forgetSend(...a),
    updateRecipientStatus: (...a) => store.updateRecipientStatus(...a),
    reserveSending: (...a) => store.reserveSending(...a),
    ...over,
  };
}

/** A store whose `method` fails like a locked database (a fault made by hand). */
function failing(method: keyof AcceptStore): AcceptStore {
  return storeWith({ [method]: () => Promise.reject(new TransientError('EBUSY', 'database is locked')) });
}

function spoolFiles(): string[] {
  return readdirSync(spoolDir);
}

async function readAll(s: Spool): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of s.read()) parts.push(c);
  return Buffer.concat(parts).toString('utf8');
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'trxmail-accept-'));
  store = await openStore({ driver: 'sqlite', path: path.join(dir, 'trxmail.db') });
  // Unsigned mail allowed until the signing test adds keys (the refusal has its own test).
  const space = await store.createSpace({ name: 'Shop', allowUnsigned: true });
  await store.addDomain(space.id, 'shop.example');
  await store.createUser({ spaceId: space.id, email: 'app@shop.example', passwordHash: 'unused-in-this-test' });
  const a = await loadAccount(store, 'app@shop.example');
  if (!a) throw new Error('no account');
  account = a;
  sink = new CaptureSink({ dir: null, reply: 'queued' });
  await sink.listen();
});

afterAll(async () => {
  await sink.close();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  spoolDir = mkdtempSync(path.join(dir, 'spool-'));
  metrics = createMetrics();
  sink.messages.length = 0;
});

afterEach(() => {
  rmSync(spoolDir, { recursive: true, force: true });
});

function accepted(o: AcceptOutcome): Extract<AcceptOutcome, { kind: 'accept' }> {
  if (o.kind !== 'accept') throw new Error(`expected accept, got ${o.kind}`);
  return o;
}

describe('acceptMessage', () => {
  it('records the send before it answers, with the tracked To copy and the BCC copy already re-injected', async () => {
    const f = await facts();
    let sinkAtRecord = -1;
    const recording = storeWith({
      recordSend: async (send) => {
        sinkAtRecord = sink.messages.length;
        await store.recordSend(send);
      },
    });
    const o = accepted(await acceptMessage(f, ports({ store: recording })));
    // The send is recorded before the BCC copy is handed over (a failed record never leaves a
    // copy behind), and both happen before the answer.
    expect(sinkAtRecord).toBe(0);
    expect(sink.messages).toHaveLength(1);
    const send = await store.getSend(f.sendId, account.space.id);
    expect(send).toMatchObject({ id: f.sendId, to: 'reader@example.net', bcc: 'archive@example.org', from: 'news@shop.example', receivedAt: NOW });
    expect(send?.recipients.find((r) => r.role === 'bcc')?.detail).toBe('separate untracked copy, queued as CAPT1');
    // The outcome: bounce address as envelope sender, the BCC taken out, edits, a tracked body.
    expect(decodeBounceAddress(o.envelopeSender, KEYS, BOUNCE_DOMAIN)).toMatchObject({ ok: true });
    expect(o.removeRecipients).toEqual(['archive@example.org']);
    expect(o.headerEdits).toContainEqual({ op: 'set', name: 'From', value: 'News <news@shop.example>' });
    expect(o.headerEdits.at(-1)).toEqual({ op: 'set', name: REF_HEADER, value: o.envelopeSender.slice(0, o.envelopeSender.indexOf('@')) });
    // The single-part 8bit-less HTML root is written as quoted-printable: reported as an edit.
    expect(o.headerEdits).toContainEqual({ op: 'set', name: 'Content-Transfer-Encoding', value: 'quoted-printable' });
    expect(o.body).not.toBeNull();
    const toBody = libqp.decode(await readAll(o.body!)).toString('utf8');
    expect(toBody).toContain('https://t.relay.example/o/');
    expect(toBody).toContain('https://t.relay.example/c/');
    // The BCC copy: untracked, its own bounce address and reference, the same rewritten From.
    const bcc = sink.messages[0]!;
    expect(bcc.rcptTo).toEqual(['archive@example.org']);
    expect(decodeBounceAddress(bcc.mailFrom, KEYS, BOUNCE_DOMAIN)).toMatchObject({ ok: true, sendId: `${f.sendId}_b` });
    const raw = bcc.raw.toString('utf8');
    expect(raw).toContain('From: News <news@shop.example>');
    expect(raw).toContain(`${REF_HEADER}: ${bcc.mailFrom.slice(0, bcc.mailFrom.indexOf('@'))}`);
    expect(libqp.decode(raw.slice(raw.indexOf('\r\n\r\n'))).toString('utf8')).toContain('<a href="https://shop.example/item?id=7">item</a>');
    expect(raw).not.toContain('t.relay.example');
    expect(metrics.accepted.get()).toBe(1);
    await o.release();
    expect(spoolFiles()).toEqual([]);
  });

  it('keeps the BCC in the same transaction and the body untouched when the plan has no tracking (X-Mxm-Flags: 0)', async () => {
    const f = await facts({ headers: headers(undefined, [{ name: 'X-Mxm-Flags', value: '0' }]) });
    const o = accepted(await acceptMessage(f, ports()));
    expect(o.body).toBeNull();
    expect(o.removeRecipients).toEqual([]);
    expect(o.headerEdits).toContainEqual({ op: 'delete', name: 'X-Mxm-Flags' });
    expect(sink.messages).toHaveLength(0);
    expect(spoolFiles()).toEqual([]);
  });

  it('records the message\'s Message-ID with the send (searchable), and none when it has none or an invalid one', async () => {
    const withId = await facts({ headers: headers(undefined, [{ name: 'Message-ID', value: ' <hello.1@shop.example>' }]) });
    accepted(await acceptMessage(withId, ports()));
    expect((await store.getSend(withId.sendId, account.space.id))?.messageId).toBe('hello.1@shop.example');
    expect((await store.listSends({ spaceId: account.space.id, messageId: '<hello.1@shop.example>' })).map((s) => s.id)).toEqual([withId.sendId]);
    for (const extra of [[], [{ name: 'Message-ID', value: ' <no id here>' }]]) {
      const f = await facts({ headers: headers(undefined, extra) });
      accepted(await acceptMessage(f, ports()));
      const send = await store.getSend(f.sendId, account.space.id);
      expect(send).not.toBeNull();
      expect(send?.messageId).toBeUndefined();
    }
  });

  it(`refuses more than MAX_MIME_NODES (${MAX_MIME_NODES}) MIME parts with 552 5.3.4 also without tracking (X-Mxm-Flags: 0), recording nothing`, async () => {
    const multipart = (parts: number): Buffer => Buffer.from(`${'--b\r\nContent-Type: text/plain\r\n\r\npart\r\n'.repeat(parts)}--b--\r\n`);
    const mixed = [
      { name: 'From', value: 'News <someone@elsewhere.example>' },
      { name: 'To', value: 'Reader <reader@example.net>' },
      { name: 'Subject', value: 'Hello' },
      { name: 'MIME-Version', value: '1.0' },
      { name: 'Content-Type', value: 'multipart/mixed; boundary="b"' },
      { name: 'X-Mxm-Flags', value: '0' },
    ];
    // The root counts: MAX_MIME_NODES - 1 parts fit, one more does not.
    const fits = await facts({ headers: mixed, body: await bodySpool(multipart(MAX_MIME_NODES - 1)) });
    expect((await acceptMessage(fits, ports())).kind).toBe('accept');
    const over = await facts({ headers: mixed, body: await bodySpool(multipart(MAX_MIME_NODES)) });
    const err = await acceptMessage(over, ports()).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RejectError);
    expect((err as RejectError).reply).toEqual({ code: 552, enhanced: '5.3.4', text: 'Message has too many MIME parts' });
    expect(await store.getSend(over.sendId, account.space.id)).toBeNull();
    expect(spoolFiles()).toEqual([]);
  });

  it('discards when every recipient is suppressed, and still records the send', async () => {
    await store.addListEntry({ spaceId: account.space.id, list: 'bounce', address: 'gone@example.net', reason: 'hard bounce 5.1.1', addedAt: NOW });
    await store.addListEntry({ spaceId: account.space.id, list: 'bounce', address: 'gone-too@example.org', reason: 'hard bounce 5.1.1', addedAt: NOW });
    const f = await facts({ rcptTo: ['gone@example.net', 'gone-too@example.org'], headers: headers('gone@example.net') });
    const o = await acceptMessage(f, ports());
    expect(o).toEqual({ kind: 'discard', sendId: f.sendId });
    const send = await store.getSend(f.sendId, account.space.id);
    expect(send?.recipients.map((r) => [r.address, r.status, r.suppressedBy])).toEqual([
      ['gone@example.net', 'suppressed', 'bounce'],
      ['gone-too@example.org', 'suppressed', 'bounce'],
    ]);
    expect(sink.messages).toHaveLength(0);
    expect(spoolFiles()).toEqual([]);
    // Each suppressed recipient is an event of the send's timeline, with its list.
    expect((await store.listEvents(f.sendId)).map((e) => [e.type, e.recipient, e.detail['list']])).toEqual([
      ['suppressed', 'gone@example.net', 'bounce'],
      ['suppressed', 'gone-too@example.org', 'bounce'],
    ]);
  });

  it("rejects with core's reply and records nothing", async () => {
    const f = await facts({ headers: headers('stranger@example.com') });
    const o = await acceptMessage(f, ports());
    expect(o).toMatchObject({ kind: 'reject', rejection: { reason: 'to-not-in-rcpt', code: 554, enhanced: '5.7.1' } });
    expect(await store.getSend(f.sendId, account.space.id)).toBeNull();
    expect(metrics.rejected.get({ stage: 'eom', reason: 'to-not-in-rcpt' })).toBe(1);
    expect(spoolFiles()).toEqual([]);
  });

  it('answers auth-required (530 5.7.0) without an account', async () => {
    const o = await acceptMessage(await facts({ account: null }), ports());
    expect(o).toMatchObject({ kind: 'reject', rejection: { reason: 'auth-required', code: 530, enhanced: '5.7.0', text: 'Authentication required' } });
  });

  it('a store failure at record time is a temporary failure; the rendered copies are removed', async () => {
    // Fault made by hand: recordSend throws as a locked SQLite database does.
    const f = await facts();
    await expect(acceptMessage(f, ports({ store: failing('recordSend') }))).rejects.toBeInstanceOf(TransientError);
    expect(await store.getSend(f.sendId, account.space.id)).toBeNull();
    // No BCC copy left behind: the client's retry will not give the BCC recipient a second one.
    expect(sink.messages).toHaveLength(0);
    expect(metrics.tempfailed.get()).toBe(1);
    expect(spoolFiles()).toEqual([]);
  });

  it('client retries after store failures never give the BCC recipient a second copy', async () => {
    // Fault made by hand: five attempts meet a locked store, the sixth gets through.
    const raw = await facts();
    for (let i = 0; i < 5; i++) {
      await expect(acceptMessage({ ...raw, sendId: `4jRETRY${i}Q`, body: await bodySpool(HTML_BODY) }, ports({ store: failing('recordSend') }))).rejects.toBeInstanceOf(TransientError);
    }
    const o = accepted(await acceptMessage({ ...raw, sendId: '4jRETRY5Q', body: await bodySpool(HTML_BODY) }, ports()));
    expect(sink.messages.filter((m) => m.rcptTo.includes('archive@example.org'))).toHaveLength(1);
    await o.release();
  });

  it('once the BCC copy is handed over, a store that cannot note its queue id does not turn the send into a 4xx', async () => {
    const f = await facts();
    const o = accepted(await acceptMessage(f, ports({ store: failing('updateRecipientStatus') })));
    expect(o.removeRecipients).toEqual(['archive@example.org']);
    expect(sink.messages).toHaveLength(1);
    const bcc = (await store.getSend(f.sendId, account.space.id))?.recipients.find((r) => r.role === 'bcc');
    expect(bcc?.detail).toBe('separate untracked copy, being handed to Postfix');
    await o.release();
  });

  it('a store failure before the verdict is a temporary failure with nothing re-injected', async () => {
    // Fault made by hand: the suppression lookup throws as a locked SQLite database does.
    const f = await facts();
    await expect(acceptMessage(f, ports({ store: failing('lookupSuppression') }))).rejects.toBeInstanceOf(TransientError);
    expect(sink.messages).toHaveLength(0);
    expect(spoolFiles()).toEqual([]);
  });

  it('a re-injection failure (listener down) is a temporary failure; nothing recorded, spools removed', async () => {
    const closed = new CaptureSink({ dir: null, reply: 'queued' });
    const port = await closed.listen();
    await closed.close();
    const f = await facts();
    const p = ports({ tracking: { links: new TrackingLinks('https://t.relay.example', KEYS), reinject: reinjectTo({ kind: 'tcp', host: '127.0.0.1', port }, 5_000) } });
    const err = await acceptMessage(f, p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientError);
    expect((err as TransientError).code).toBe('EREINJECT');
    expect(await store.getSend(f.sendId, account.space.id)).toBeNull();
    expect(spoolFiles()).toEqual([]);
  });

  it("uses the sender domain's return-path host for the envelope sender of both copies", async () => {
    await store.setReturnPath(account.space.id, 'shop.example', 'bounces.shop.example');
    try {
      const f = await facts();
      const o = accepted(await acceptMessage(f, ports()));
      expect(o.envelopeSender.endsWith('@bounces.shop.example')).toBe(true);
      expect(decodeBounceAddress(o.envelopeSender, KEYS, 'bounces.shop.example')).toMatchObject({ ok: true, sendId: f.sendId });
      expect(sink.messages[0]?.mailFrom.endsWith('@bounces.shop.example')).toBe(true);
      await o.release();
    } finally {
      await store.setReturnPath(account.space.id, 'shop.example', null);
    }
  });

  it('defers (TransientError, a 4xx) a domain without an active DKIM key unless the space allows unsigned mail', async () => {
    await store.updateSpace(account.space.id, { allowUnsigned: false });
    try {
      const strict = { ...account, space: { ...account.space, allowUnsigned: false } };
      const f = await facts({ account: strict });
      const err = await acceptMessage(f, ports()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TransientError);
      expect((err as TransientError).code).toBe('ENODKIMKEY');
      expect(await store.getSend(f.sendId, account.space.id)).toBeNull();
      expect(sink.messages).toHaveLength(0);
      expect(spoolFiles()).toEqual([]);
    } finally {
      await store.updateSpace(account.space.id, { allowUnsigned: true });
    }
  });

  it('signs the To copy over its final headers and body, and the BCC copy as a whole; a later change fails', async () => {
    const records = await addActiveDkimKeys(store, account.space.id, 'shop.example', KEYS, { rsa: 'acceptr', ed25519: 'accepte' });
    const f = await facts();
    const o = accepted(await acceptMessage(f, ports()));
    expect(o.signatures.map((s) => s.name)).toEqual(['DKIM-Signature', 'DKIM-Signature']);
    // The To copy as Postfix will hold it: signatures on top, every edit applied, the rendered body.
    const head = [...o.signatures, ...applyEditsToFields(f.headers, false, o.headerEdits)].map((h) => `${h.name}:${h.value}\r\n`).join('');
    const toCopy = Buffer.concat([Buffer.from(`${head}\r\n`), Buffer.from(await readAll(o.body!))]);
    const bcc = sink.messages[0]!.raw;
    const [toVerdicts, bccVerdicts, tampered] = pythonVerifyMany([toCopy, bcc, Buffer.from(toCopy.toString('latin1').replace('Subject: Hello', 'Subject: Hellp'), 'latin1')], records);
    expect(toVerdicts?.map((v) => [v.algorithm, v.domain, v.pass])).toEqual([
      ['rsa-sha256', 'shop.example', true],
      ['ed25519-sha256', 'shop.example', true],
    ]);
    expect(bccVerdicts?.map((v) => v.pass)).toEqual([true, true]);
    expect(tampered?.map((v) => v.pass)).toEqual([false, false]);
    await o.release();
  });

  it('renders nothing for plain text: no spool, no BCC copy, one transaction', async () => {
    const plain = headers().map((h) => (h.name === 'Content-Type' ? { name: h.name, value: 'text/plain; charset=utf-8' } : h));
    const o = accepted(await acceptMessage(await facts({ headers: plain, body: await bodySpool(Buffer.from('See https://shop.example/\r\n')) }), ports()));
    expect(o.body).toBeNull();
    expect(o.removeRecipients).toEqual([]);
    expect(sink.messages).toHaveLength(0);
    expect(spoolFiles()).toEqual([]);
  });

  describe('one-click unsubscribe (X-Mxm-Unsubscribe: one-click)', () => {
    const withUnsubscribe = (): AcceptPorts['tracking'] => ({
      links: new TrackingLinks('https://t.relay.example', KEYS),
      reinject: reinjectTo({ kind: 'tcp', host: '127.0.0.1', port: sink.port }),
      unsubscribeUrl: (c) => unsubscribeUrl('https://t.relay.example', c, KEYS),
    });
    const setValue = (o: { headerEdits: readonly { op: string; name: string; value?: string }[] }, name: string): string | undefined =>
      o.headerEdits.find((e) => e.op === 'set' && e.name === name)?.value;
    const plain = (extra: HeaderField[]): HeaderField[] =>
      headers(undefined, extra).map((h) => (h.name === 'Content-Type' ? { name: h.name, value: 'text/plain; charset=utf-8' } : h));

    it("the To copy gets the signed URL and List-Unsubscribe-Post; the BCC copy, handed over apart, gets neither, even without tracking", async () => {
      const f = await facts({
        headers: plain([{ name: 'X-Mxm-Unsubscribe', value: 'one-click' }, { name: 'List-Unsubscribe', value: '<mailto:client@shop.example>' }]),
        body: await bodySpool(Buffer.from('Plain text\r\n')),
      });
      const o = accepted(await acceptMessage(f, ports({ tracking: withUnsubscribe() })));
      const value = setValue(o, 'List-Unsubscribe') ?? '';
      const m = /^<https:\/\/t\.relay\.example\/u\/([A-Za-z0-9_-]+)>$/.exec(value);
      expect(m, value).not.toBeNull();
      expect(verifyUnsubscribeToken(m?.[1], KEYS)).toEqual({ spaceId: account.space.id, sendId: f.sendId, recipient: 'reader@example.net' });
      expect(setValue(o, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
      expect(o.headerEdits).toContainEqual({ op: 'delete', name: 'X-Mxm-Unsubscribe' });
      // The client's own List-Unsubscribe is replaced in the To copy (set replaces the first, drops the rest).
      expect(applyEditsToFields(f.headers, false, o.headerEdits).filter((h) => h.name === 'List-Unsubscribe')).toEqual([{ name: 'List-Unsubscribe', value: ` ${value}` }]);
      expect(o.body).toBeNull();
      expect(o.removeRecipients).toEqual(['archive@example.org']);
      expect(sink.messages).toHaveLength(1);
      const bcc = sink.messages[0]!.raw.toString('utf8');
      expect(bcc).not.toContain('/u/');
      expect(bcc).not.toContain('List-Unsubscribe-Post');
      expect(bcc).toContain('List-Unsubscribe: <mailto:client@shop.example>');
      expect(bcc).not.toContain('X-Mxm-Unsubscribe');
      await o.release();
      expect(spoolFiles()).toEqual([]);
    });

    it('with tracking too: the tracked To copy has the fields, the untracked BCC copy not', async () => {
      const f = await facts({ headers: headers(undefined, [{ name: 'X-Mxm-Unsubscribe', value: 'one-click' }]) });
      const o = accepted(await acceptMessage(f, ports({ tracking: withUnsubscribe() })));
      expect(setValue(o, 'List-Unsubscribe')).toMatch(/^<https:\/\/t\.relay\.example\/u\//);
      expect(o.body).not.toBeNull();
      expect(sink.messages[0]!.raw.toString('utf8')).not.toContain('List-Unsubscribe');
      await o.release();
    });

    it('HTML without tracking (flags 0): the separate BCC copy keeps the body and its transfer encoding byte for byte', async () => {
      const f = await facts({ headers: headers(undefined, [{ name: 'X-Mxm-Flags', value: '0' }, { name: 'X-Mxm-Unsubscribe', value: 'one-click' }]) });
      const o = accepted(await acceptMessage(f, ports({ tracking: withUnsubscribe() })));
      expect(o.body).toBeNull();
      const bcc = sink.messages[0]!.raw.toString('utf8');
      expect(bcc.slice(bcc.indexOf('\r\n\r\n') + 4)).toBe(HTML_BODY.toString('utf8'));
      expect(bcc).not.toMatch(/Content-Transfer-Encoding/i);
      await o.release();
    });

    it('not asked for: no fields, and no separate BCC copy for a message without tracking', async () => {
      const o = accepted(await acceptMessage(await facts({ headers: plain([]), body: await bodySpool(Buffer.from('x\r\n')) }), ports({ tracking: withUnsubscribe() })));
      expect(setValue(o, 'List-Unsubscribe')).toBeUndefined();
      expect(o.removeRecipients).toEqual([]);
      expect(sink.messages).toHaveLength(0);
    });

    it('asked for without the unsubscribe port (no http.baseUrl): sent without the fields, one transaction', async () => {
      const f = await facts({ headers: plain([{ name: 'X-Mxm-Unsubscribe', value: 'one-click' }]), body: await bodySpool(Buffer.from('x\r\n')) });
      const o = accepted(await acceptMessage(f, ports()));
      expect(setValue(o, 'List-Unsubscribe-Post')).toBeUndefined();
      expect(o.removeRecipients).toEqual([]);
      expect(sink.messages).toHaveLength(0);
    });

    it('with the unsubscribe address port: the URL first, then the mailto: of the send\'s signed unsubscribe address in its bounce domain', async () => {
      const hosts: Array<string | null> = [];
      const tracking: AcceptPorts['tracking'] = {
        ...withUnsubscribe()!,
        unsubscribeAddress: (spaceId, sendId, host) => {
          hosts.push(host);
          return encodeUnsubscribeAddress({ spaceId, sendId }, KEYS, host ?? 'bounces.relay.example');
        },
      };
      const f = await facts({ headers: plain([{ name: 'X-Mxm-Unsubscribe', value: 'one-click' }]), body: await bodySpool(Buffer.from('x\r\n')) });
      const o = accepted(await acceptMessage(f, ports({ tracking })));
      const value = setValue(o, 'List-Unsubscribe') ?? '';
      const m = /^<https:\/\/t\.relay\.example\/u\/[A-Za-z0-9_-]+>, <mailto:([^?>]+)\?subject=unsubscribe>$/.exec(value);
      expect(m, value).not.toBeNull();
      expect(hosts).toEqual([null]);
      expect(decodeUnsubscribeAddress(m?.[1], KEYS, 'bounces.relay.example')).toMatchObject({ ok: true, spaceId: account.space.id, sendId: f.sendId });
      // Signed by DKIM with the rest: the edits the signature was computed over carry it.
      expect(o.headerEdits).toContainEqual({ op: 'set', name: 'List-Unsubscribe', value });
      await o.release();
    });

    describe('defaults of the space and of the From address (precedence: header > From address > space > off)', () => {
      /** The account as loaded after the space's default is set (the milter loads it at MAIL). */
      async function withSpaceDefault(value: 'one-click' | 'none' | null): Promise<Account> {
        await store.updateSpace(account.space.id, { unsubscribe: value });
        const a = await loadAccount(store, 'app@shop.example');
        if (!a) throw new Error('no account');
        return a;
      }
      afterEach(async () => {
        await store.updateSpace(account.space.id, { unsubscribe: null });
        await store.setFromUnsubscribe(account.space.id, 'news@shop.example', null);
      });

      it('a space default one-click: the To copy gets the fields without the header; the BCC copy not', async () => {
        const a = await withSpaceDefault('one-click');
        const f = await facts({ account: a, headers: plain([]), body: await bodySpool(Buffer.from('x\r\n')) });
        const o = accepted(await acceptMessage(f, ports({ tracking: withUnsubscribe() })));
        const m = /^<https:\/\/t\.relay\.example\/u\/([A-Za-z0-9_-]+)>$/.exec(setValue(o, 'List-Unsubscribe') ?? '');
        expect(verifyUnsubscribeToken(m?.[1], KEYS)).toEqual({ spaceId: a.space.id, sendId: f.sendId, recipient: 'reader@example.net' });
        expect(setValue(o, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
        expect(o.removeRecipients).toEqual(['archive@example.org']);
        expect(sink.messages[0]!.raw.toString('utf8')).not.toContain('List-Unsubscribe');
        await o.release();
      });

      it('X-Mxm-Unsubscribe: none turns the space default off for the message', async () => {
        const a = await withSpaceDefault('one-click');
        const f = await facts({ account: a, headers: plain([{ name: 'X-Mxm-Unsubscribe', value: 'none' }]), body: await bodySpool(Buffer.from('x\r\n')) });
        const o = accepted(await acceptMessage(f, ports({ tracking: withUnsubscribe() })));
        expect(setValue(o, 'List-Unsubscribe')).toBeUndefined();
        expect(setValue(o, 'List-Unsubscribe-Post')).toBeUndefined();
        expect(o.headerEdits).toContainEqual({ op: 'delete', name: 'X-Mxm-Unsubscribe' });
        expect(o.removeRecipients).toEqual([]);
        expect(sink.messages).toHaveLength(0);
      });

      it("the From address's default beats the space's, either way; the header beats both", async () => {
        const off = await withSpaceDefault('one-click');
        await store.setFromUnsubscribe(off.space.id, 'News@Shop.example', 'none');
        const o1 = accepted(await acceptMessage(await facts({ account: off, headers: plain([]), body: await bodySpool(Buffer.from('x\r\n')) }), ports({ tracking: withUnsubscribe() })));
        expect(setValue(o1, 'List-Unsubscribe')).toBeUndefined();
        expect(o1.removeRecipients).toEqual([]);

        const on = await withSpaceDefault('none');
        await store.setFromUnsubscribe(on.space.id, 'news@shop.example', 'one-click');
        const o2 = accepted(await acceptMessage(await facts({ account: on, headers: plain([]), body: await bodySpool(Buffer.from('x\r\n')) }), ports({ tracking: withUnsubscribe() })));
        expect(setValue(o2, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
        await o2.release();

        const f3 = await facts({ account: on, headers: plain([{ name: 'X-Mxm-Unsubscribe', value: 'none' }]), body: await bodySpool(Buffer.from('x\r\n')) });
        const o3 = accepted(await acceptMessage(f3, ports({ tracking: withUnsubscribe() })));
        expect(setValue(o3, 'List-Unsubscribe')).toBeUndefined();
        // Another From address of the space falls back to the space default (none here).
        const f4 = await facts({ account: on, mailFrom: 'other@shop.example', headers: plain([]), body: await bodySpool(Buffer.from('x\r\n')) });
        const o4 = accepted(await acceptMessage(f4, ports({ tracking: withUnsubscribe() })));
        expect(setValue(o4, 'List-Unsubscribe')).toBeUndefined();
      });

      it('reads the From defaults in the one store call it made for the From flags', async () => {
        const a = await withSpaceDefault('one-click');
        await store.setFromFlags(a.space.id, 'news@shop.example', 0);
        let calls = 0;
        const counting = storeWith({
          getFromDefault: (...args) => {
            calls++;
            return store.getFromDefault(...args);
          },
        });
        const o = accepted(await acceptMessage(await facts({ account: a, headers: plain([]), body: await bodySpool(Buffer.from('x\r\n')) }), ports({ store: counting, tracking: withUnsubscribe() })));
        expect(calls).toBe(1);
        expect(setValue(o, 'List-Unsubscribe-Post')).toBe('List-Unsubscribe=One-Click');
        await o.release();
        await store.setFromFlags(a.space.id, 'news@shop.example', null);
      });
    });
  });
});
