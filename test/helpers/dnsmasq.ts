/**
 * A private Debian dnsmasq (package dnsmasq-base, /usr/sbin/dnsmasq) serving given TXT, CNAME
 * and MX records on 127.0.0.1 and a free port, for tests that need a real DNS server.
 *
 * How it is run: a conf file in a temp dir, `dnsmasq --keep-in-foreground --conf-file=…`
 * (no fork, but not --no-daemon's debug mode), with `no-resolv` and `no-hosts` (neither
 * /etc/resolv.conf nor /etc/hosts is read), `no-poll`, `no-ident` (no CHAOS TXT),
 * `listen-address=127.0.0.1` + `bind-interfaces` (only loopback), an empty `pid-file=`, logs
 * (`log-queries`) on stderr (`log-facility=-`), and `user=root` when we are root (so it does
 * not drop to "nobody"; it needs no privilege on a port above 1023). Names under the given
 * `localDomains` are answered from the records only (`local=/d/`): an unknown name there is
 * NXDOMAIN, a known name without the asked type is NODATA. Any other name gets REFUSED (there
 * is no upstream server).
 *
 * CNAME: dnsmasq's `cname=<alias>,<target>` documents that the target must be a name dnsmasq
 * knows itself (hosts, DHCP, another local record), not one from upstream; dnsmasq 2.90
 * answers a CNAME query for an unknown target too, but to stay within the documented rule
 * every CNAME target also gets `host-record=<target>,192.0.2.1` (TEST-NET-1, RFC 5737).
 * A TXT query at the alias then follows the CNAME to the target's TXT.
 *
 * Readiness, without sleeping: wait for dnsmasq's "started" log line (or its exit), then ask
 * a probe TXT record (`ready.dnsmasq-probe.test`) and retry a failed probe at most
 * PROBE_ATTEMPTS times. stop() sends SIGTERM and awaits the exit.
 *
 * If dnsmasq is missing the start fails with the install command (never skips).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Resolver } from 'node:dns/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePorts } from './net.js';

export const DNSMASQ = '/usr/sbin/dnsmasq';
export const DNSMASQ_INSTALL = 'apt-get install -y dnsmasq-base';
/** Most probe queries sent after the "started" line before giving up. */
const PROBE_ATTEMPTS = 20;
/** Per-probe wait for an answer (ms): a lost UDP packet is retried after this. */
const PROBE_TIMEOUT_MS = 1000;
/** Most bytes of dnsmasq's log kept for error messages. */
const MAX_LOG_BYTES = 256 * 1024;
const PROBE_DOMAIN = 'dnsmasq-probe.test';
const PROBE_NAME = `ready.${PROBE_DOMAIN}`;
/** Address given to CNAME targets so that dnsmasq knows them (RFC 5737 TEST-NET-1). */
const CNAME_TARGET_ADDRESS = '192.0.2.1';

export interface DnsmasqZone {
  /** Domains dnsmasq answers from the records alone: NXDOMAIN/NODATA there, REFUSED elsewhere. */
  readonly localDomains: readonly string[];
  /** TXT records: one entry per record, each with its character-strings (each ≤ 255 octets). */
  readonly txt?: readonly { readonly name: string; readonly strings: readonly string[] }[];
  readonly cname?: readonly { readonly name: string; readonly target: string }[];
  readonly mx?: readonly { readonly name: string; readonly exchange: string; readonly preference: number }[];
}

export interface Dnsmasq {
  readonly port: number;
  /** "127.0.0.1:<port>", for createResolver({ servers: [server] }). */
  readonly server: string;
  /** What dnsmasq logged so far (queries included). */
  log(): string;
  stop(): Promise<void>;
}

const NAME_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9])?$/;

function name(n: string): string {
  if (!NAME_RE.test(n)) throw new Error(`dnsmasq helper: ${JSON.stringify(n)} is not a plain DNS name`);
  return n;
}

function txtString(s: string): string {
  if (!/^[\x20-\x7e]*$/.test(s) || /["\\]/.test(s) || Buffer.byteLength(s) > 255) {
    throw new Error(`dnsmasq helper: TXT string ${JSON.stringify(s.slice(0, 40))} needs escaping or is over 255 octets`);
  }
  return `"${s}"`;
}

/** The conf file text for `zone` on `port`. */
export function dnsmasqConf(zone: DnsmasqZone, port: number): string {
  const lines = [
    `port=${port}`,
    'listen-address=127.0.0.1',
    'bind-interfaces',
    'no-resolv',
    'no-hosts',
    'no-poll',
    'no-ident',
    'pid-file=',
    'log-facility=-',
    'log-queries',
    ...(process.getuid?.() === 0 ? ['user=root'] : []),
    `local=/${PROBE_DOMAIN}/`,
    `txt-record=${PROBE_NAME},"ready"`,
    ...zone.localDomains.map((d) => `local=/${name(d)}/`),
    ...(zone.txt ?? []).map((t) => `txt-record=${name(t.name)},${t.strings.map(txtString).join(',')}`),
    ...[...new Set((zone.cname ?? []).map((c) => name(c.target)))].map((t) => `host-record=${t},${CNAME_TARGET_ADDRESS}`),
    ...(zone.cname ?? []).map((c) => `cname=${name(c.name)},${name(c.target)}`),
    ...(zone.mx ?? []).map((m) => `mx-host=${name(m.name)},${name(m.exchange)},${Math.trunc(m.preference)}`),
  ];
  return lines.join('\n') + '\n';
}

function assertInstalled(binary: string): void {
  try {
    accessSync(binary, constants.X_OK);
  } catch {
    throw new Error(`${binary} not found: these tests need Debian's dnsmasq; install it with \`${DNSMASQ_INSTALL}\``);
  }
}

/** Resolves on dnsmasq's "started" log line; rejects when it exits or cannot be spawned first. */
function started(child: ChildProcess, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onData = (): void => {
      if (/dnsmasq\[\d+\]: started, version/.test(log())) done(null);
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      done(new Error(`dnsmasq exited (${code ?? signal ?? '?'}) before it started:\n${log()}`));
    const onError = (err: Error): void => done(new Error(`dnsmasq did not start: ${err.message}`, { cause: err }));
    function done(err: Error | null): void {
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      if (err) reject(err);
      else resolve();
    }
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
    onData();
  });
}

async function probe(server: string, log: () => string): Promise<void> {
  let last: unknown = null;
  for (let attempt = 1; attempt <= PROBE_ATTEMPTS; attempt++) {
    const r = new Resolver({ timeout: PROBE_TIMEOUT_MS, tries: 1 });
    r.setServers([server]);
    try {
      const answer = await r.resolveTxt(PROBE_NAME);
      if (answer.length === 1 && answer[0]?.join('') === 'ready') return;
      last = new Error(`unexpected probe answer ${JSON.stringify(answer)}`);
    } catch (err: unknown) {
      last = err;
    }
  }
  throw new Error(`dnsmasq at ${server} did not answer the probe after ${PROBE_ATTEMPTS} tries (${String(last)}):\n${log()}`, { cause: last });
}

/** Start dnsmasq serving `zone`; resolves once it answers a probe query. `binary` is for the test of the missing case. */
export async function startDnsmasq(zone: DnsmasqZone, binary = DNSMASQ): Promise<Dnsmasq> {
  assertInstalled(binary);
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('no free port');
  const dir = mkdtempSync(path.join(tmpdir(), 'trxmail-dnsmasq-'));
  const conf = path.join(dir, 'dnsmasq.conf');
  writeFileSync(conf, dnsmasqConf(zone, port));
  const child = spawn(binary, ['--keep-in-foreground', `--conf-file=${conf}`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  const append = (chunk: Buffer): void => {
    if (text.length < MAX_LOG_BYTES) text += chunk.toString('utf8');
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const log = (): string => text;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve()); // spawn failed: there is no process to wait for
  });
  const server = `127.0.0.1:${port}`;

  async function stop(): Promise<void> {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }

  try {
    await started(child, log);
    await probe(server, log);
  } catch (err: unknown) {
    await stop();
    throw err;
  }
  return { port, server, log, stop };
}
