/**
 * trxmail's socketmap server against Postfix's own socketmap client (Debian's Postfix 3.7,
 * as root): `postmap -q` (found, not found, TEMP), and a private Postfix whose relay_domains
 * and transport_maps name the server, so that a return-path domain known to the lookup is
 * taken and routed without a reload, and any other domain is refused. Records the keys
 * Postfix actually sends (docs/protocols.md §6.3).
 *
 * Postfix must be installed and the tests must run as root: a missing Postfix FAILS with the
 * install command (as in test/e2e), it is never skipped.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransientError } from '../../src/lib/errors.js';
import { silentLogger } from '../../src/lib/logger.js';
import { CaptureSink } from '../../src/postfix/capture-sink.js';
import { POSTFIX_INSTALL_HINT, PrivatePostfix, postfixInstalled } from '../../src/postfix/instance.js';
import { domainMapsLookup } from '../../src/socketmap/domain-maps.js';
import { SocketmapServer } from '../../src/socketmap/server.js';
import { freePorts } from '../helpers/net.js';
import { RawLmtpClient } from '../protocol/lmtp/helpers.js';

const POSTMAP = '/usr/sbin/postmap';
const BOUNCE_DOMAIN = 'bounces.trxmail.test';
/** isReturnPathDomain() fails with TransientError for this domain (the store is "down"). */
const DOWN_DOMAIN = 'down.example';

function requirePostfix(): void {
  if (!postfixInstalled()) throw new Error(POSTFIX_INSTALL_HINT);
  if (process.getuid?.() !== 0) throw new Error('these tests start a private Postfix and must run as root');
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs postmap with `-c confDir`; resolves with its exit code and output whatever the code. */
function postmap(confDir: string, args: readonly string[], stdin?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(POSTMAP, ['-c', confDir, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : (err as { code?: unknown }).code;
      if (typeof code !== 'number') {
        reject(err ?? new Error('postmap did not exit'));
        return;
      }
      resolve({ code, stdout, stderr });
    });
    child.stdin?.end(stdin ?? '');
  });
}

/** The lookup under test: domainMapsLookup over a mutable set of return-path domains, recording every request. */
function recordingLookup(returnPath: Set<string>, bounceTransport: string) {
  const seen: string[] = [];
  const inner = domainMapsLookup({
    isReturnPathDomain: (d) => {
      if (d === DOWN_DOMAIN) return Promise.reject(new TransientError('ESTORE_IO', 'store down'));
      return Promise.resolve(returnPath.has(d));
    },
    bounceDomain: BOUNCE_DOMAIN,
    bounceTransport,
  });
  return {
    seen,
    lookup: (map: string, key: string) => {
      seen.push(`${map} ${key}`);
      return inner(map, key);
    },
  };
}

describe("postmap -q (Postfix's socketmap client) against SocketmapServer", () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-socketmap-postmap-'));
  const confDir = path.join(dir, 'conf');
  const returnPath = new Set(['bounces.shop.example']);
  const { seen, lookup } = recordingLookup(returnPath, 'lmtp:inet:127.0.0.1:8894');
  const server = new SocketmapServer({ lookup, logger: silentLogger });
  let table = '';
  const map = (name: string): string => `${table}:${name}`;

  beforeAll(async () => {
    requirePostfix();
    // postmap reads main.cf; an empty one is enough.
    mkdirSync(confDir);
    writeFileSync(path.join(confDir, 'main.cf'), '');
    const bound = await server.listen('inet:127.0.0.1:0');
    if (bound.kind !== 'tcp') throw new Error('expected tcp');
    table = `socketmap:inet:127.0.0.1:${bound.port}`;
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('found: exit 0, the value on stdout; postmap sends the key as given (no case folding)', async () => {
    seen.length = 0;
    expect(await postmap(confDir, ['-q', 'Bounces.Shop.Example', map('relay')])).toEqual({ code: 0, stdout: 'bounces.shop.example\n', stderr: '' });
    expect(seen).toEqual(['relay Bounces.Shop.Example']);
  });

  it('found in the transport map: the bounce transport', async () => {
    expect(await postmap(confDir, ['-q', 'Trx-1-A@Bounces.Shop.Example', map('transport')])).toEqual({
      code: 0,
      stdout: 'lmtp:inet:127.0.0.1:8894\n',
      stderr: '',
    });
  });

  it.each([
    ['relay', 'other.example'],
    ['relay', 'x.bounces.shop.example'],
    ['transport', '*'],
    ['transport', 'alice@other.example'],
    ['virtual', 'bounces.shop.example'],
  ])('not found (%s %s): exit 1, no output', async (name, key) => {
    expect(await postmap(confDir, ['-q', key, map(name)])).toEqual({ code: 1, stdout: '', stderr: '' });
  });

  it('TEMP: postmap warns with our reason and ends with a fatal query error, exit 1', async () => {
    const r = await postmap(confDir, ['-q', DOWN_DOMAIN, map('relay')]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`postmap: warning: ${map('relay')} socketmap server temporary error: store down`);
    expect(r.stderr).toMatch(new RegExp(`postmap: fatal: table ${map('relay').replace(/[.]/g, '\\.')}: query error`));
  });

  it('several keys (-q -) go over one connection, one request each, in order', async () => {
    seen.length = 0;
    const r = await postmap(confDir, ['-q', '-', map('relay')], 'bounces.shop.example\nother.example\nBOUNCES.shop.example\n');
    expect(r).toEqual({ code: 0, stdout: 'bounces.shop.example\tbounces.shop.example\nBOUNCES.shop.example\tbounces.shop.example\n', stderr: '' });
    expect(seen).toEqual(['relay bounces.shop.example', 'relay other.example', 'relay BOUNCES.shop.example']);
  });
});

describe('a private Postfix with relay_domains and transport_maps on the socketmap server', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-socketmap-pf-'));
  chmodSync(dir, 0o755);
  const returnPath = new Set(['bounces.shop.example', 'rp.other.example', 'rp.xn--bcher-kva.example']);
  const sink = new CaptureSink({ dir: null });
  let recorder: ReturnType<typeof recordingLookup>;
  let server: SocketmapServer;
  let pf: PrivatePostfix;
  let mxPort = 0;

  /** One SMTP session on the MX listener: EHLO, MAIL FROM:<> (with SMTPUTF8 when asked), one RCPT; returns the RCPT reply. */
  async function rcpt(address: string, smtputf8 = false): Promise<{ code: number; text: string }> {
    const c = await RawLmtpClient.connect({ port: mxPort });
    try {
      expect((await c.reply()).code).toBe(220);
      expect((await c.command('EHLO mx.remote.example')).code).toBe(250);
      expect((await c.command(`MAIL FROM:<>${smtputf8 ? ' SMTPUTF8' : ''}`)).code).toBe(250);
      // The raw client reads latin1; send the command as UTF-8 bytes.
      c.write(Buffer.from(`RCPT TO:<${address}>\r\n`, 'utf8'));
      const reply = await c.reply();
      await c.command('QUIT');
      return { code: reply.code, text: reply.text };
    } finally {
      c.destroy();
    }
  }

  beforeAll(async () => {
    requirePostfix();
    await sink.listen();
    recorder = recordingLookup(returnPath, `smtp:[127.0.0.1]:${sink.port}`);
    server = new SocketmapServer({ lookup: recorder.lookup, logger: silentLogger });
    const bound = await server.listen('inet:127.0.0.1:0');
    if (bound.kind !== 'tcp') throw new Error('expected tcp');
    const table = `socketmap:inet:127.0.0.1:${bound.port}`;
    const [smtp, submission, smtps, reinject, mx] = (await freePorts(5)) as [number, number, number, number, number];
    mxPort = mx;
    pf = new PrivatePostfix({
      dir: path.join(dir, 'postfix'),
      hostname: 'relay.trxmail.test',
      ports: { smtp, submission, smtps, reinject },
      endpoints: { milter: 'inet:127.0.0.1:9', policy: 'inet:127.0.0.1:9', auth: 'inet:127.0.0.1:9' },
      bounceDomain: BOUNCE_DOMAIN,
      bounceTransport: 'lmtp:inet:127.0.0.1:9',
      relayhost: '[127.0.0.1]:9',
      extraMain: {
        relay_domains: `${BOUNCE_DOMAIN}, ${table}:relay`,
        transport_maps: `inline:{ ${BOUNCE_DOMAIN}=lmtp:inet:127.0.0.1:9 }, ${table}:transport`,
        // The default list without relay_domains: else the static $bounce_domain entry takes
        // its subdomains too. trivial-rewrite decides relay_domains from main.cf, so a
        // `-o parent_domain_matches_subdomains=` on the smtpd service does not reach it.
        parent_domain_matches_subdomains:
          'debug_peer_list, fast_flush_domains, mynetworks, permit_mx_backup_networks, qmqpd_authorized_clients, smtpd_access_maps',
      },
      // An MX listener for the bounce and return-path domains, like the shipped bounce-MX
      // service but taking exactly the domains relay_domains knows.
      extraMaster: [
        `127.0.0.1:${mx} inet n - n - - smtpd`,
        '  -o syslog_name=postfix/rp-mx',
        '  -o smtpd_tls_security_level=none',
        '  -o smtpd_sasl_auth_enable=no',
        '  -o smtpd_milters=',
        '  -o receive_override_options=no_milters',
        '  -o smtpd_client_restrictions=',
        '  -o smtpd_helo_restrictions=',
        '  -o smtpd_sender_restrictions=',
        '  -o smtpd_relay_restrictions=',
        '  -o smtpd_recipient_restrictions=permit_auth_destination,reject',
      ].join('\n'),
    });
    await pf.configure();
    await pf.start();
  }, 60_000);
  afterAll(async () => {
    await pf?.stop();
    await server?.close();
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('takes a bounce for a return-path domain and delivers it with the transport the socketmap gave', async () => {
    // nodemailer lower-cases the domain; the RCPT tests below type mixed case themselves.
    const to = 'Trx-1-abc-def@bounces.shop.example';
    const info = await nodemailer
      .createTransport({ host: '127.0.0.1', port: mxPort, ignoreTLS: true, name: 'mx.remote.example' })
      .sendMail({ envelope: { from: '', to: [to] }, raw: `From: MAILER-DAEMON@remote.example\r\nTo: ${to}\r\nSubject: bounce\r\n\r\nbody\r\n` });
    expect(info.accepted).toEqual([to]);
    const got = await sink.waitFor((m) => m.rcptTo.includes(to));
    expect(got.mailFrom).toBe('');
    // relay_domains asks for the domain, case-folded; transport_maps for the address as typed.
    expect(recorder.seen).toContain('relay bounces.shop.example');
    expect(recorder.seen).toContain(`transport ${to}`);
    // The wildcard probe of transport_maps.
    expect(recorder.seen).toContain('transport *');
  });

  it('case: relay_domains asks for the domain case-folded, transport_maps for the address as typed', async () => {
    const before = recorder.seen.length;
    expect((await rcpt('Trx-2-A@Bounces.SHOP.Example')).code).toBe(250);
    const seen = recorder.seen.slice(before);
    expect(seen).toEqual(expect.arrayContaining(['relay bounces.shop.example', 'transport Trx-2-A@Bounces.SHOP.Example']));
    expect(seen.filter((s) => s.includes('SHOP'))).toEqual(['transport Trx-2-A@Bounces.SHOP.Example']);
  });

  it('refuses a domain the lookup does not know (554 5.7.1)', async () => {
    const r = await rcpt('someone@unknown.example');
    expect(r.code).toBe(554);
    expect(r.text).toMatch(/^5\.7\.1 /);
    expect(recorder.seen).toContain('relay unknown.example');
  });

  it('refuses a subdomain of a return-path domain: Postfix asks for the full domain only, no parent domains', async () => {
    const before = recorder.seen.length;
    const r = await rcpt('a@x.rp.other.example');
    expect(r.code).toBe(554);
    // Nothing for rp.other.example or .rp.other.example: Postfix looks up no parent domains in
    // a socketmap (a pattern table), whatever parent_domain_matches_subdomains says.
    expect(recorder.seen.slice(before).filter((s) => s.includes('rp.other.example'))).toEqual([
      'relay x.rp.other.example',
      'transport a@x.rp.other.example',
    ]);
  });

  it('refuses a subdomain of the bounce domain (main.cf keeps relay_domains out of parent_domain_matches_subdomains)', async () => {
    expect((await rcpt('a@x.bounces.trxmail.test')).code).toBe(554);
  });

  it('answers 451 4.3.0 when the lookup cannot tell (TEMP)', async () => {
    expect(await rcpt('a@down.example')).toEqual({ code: 451, text: '4.3.0 <a@down.example>: Temporary lookup failure' });
  });

  it('takes a domain added while Postfix runs, without a reload', async () => {
    const first = await rcpt('a@late.example');
    expect(first.code).toBe(554);
    returnPath.add('late.example');
    // A new address: smtpd caches the resolve result per address (smtpd_resolve.c).
    expect((await rcpt('b@late.example')).code).toBe(250);
  });

  it('sends U-labels as typed (case-folded) under SMTPUTF8; the lookup compares A-labels', async () => {
    const before = recorder.seen.length;
    expect((await rcpt('a@RP.Bücher.example', true)).code).toBe(250);
    expect(recorder.seen.slice(before)).toEqual(expect.arrayContaining(['relay rp.bücher.example', 'transport a@RP.Bücher.example']));
  });
});
