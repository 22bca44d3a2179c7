/**
 * `trxmail postfix-check`: reads a Postfix configuration (`postconf`, `postconf -M`) and says,
 * line by line, what is missing or wrong for trxmail (the settings of the shipped
 * postfix/main.cf and master.cf, rendered by templates.ts, are what passes).
 *
 * checkPostfix() is pure: it takes the parameters (name → value; a parameter missing from the
 * map has Postfix's default, POSTFIX_DEFAULTS for the ones checked here) and master.cf text
 * (raw, or `postconf -M` output; continuation lines and `-o` overrides understood).
 * runPostfixCheck() runs `postconf [-c DIR]` and `postconf [-c DIR] -M` and calls it.
 *
 * Checks: enable_long_queue_ids; smtpd_milters has trxmail's milter; non_smtpd_milters has
 * not; milter_default_action tempfail; milter_protocol 6; the macros ({auth_authen} at MAIL,
 * i at end of data); SASL (dovecot type, trxmail's auth endpoint, enabled); TLS (certificate,
 * key, security level encrypt, auth only over TLS); relay restrictions; the policy service;
 * bounce domain routing (relay_domains, transport_maps); the re-injection listener exists,
 * runs no milters and admits loopback only.
 *
 * Throws: runPostfixCheck rejects with TrxError EPOSTCONF when postconf cannot be run.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Config } from '../config/config.js';
import { TrxError } from '../lib/errors.js';

export interface Finding {
  /** `main.cf <parameter>` or `master.cf <service>`. */
  readonly where: string;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** What to set, in Postfix syntax, when there is one answer. */
  readonly fix?: string;
}

/** What trxmail expects to find (from trxmail.yaml). */
export interface PostfixCheckTarget {
  readonly milter: string;
  readonly policy: string;
  readonly auth: string;
  readonly bounceDomain: string;
  /** host:port of the re-injection listener. */
  readonly reinject: string;
}

export function checkTargetFromConfig(config: Config): PostfixCheckTarget {
  return {
    milter: config.listen.milter,
    policy: config.listen.policy,
    auth: config.listen.auth,
    bounceDomain: config.bounceDomain,
    reinject: config.reinject,
  };
}

/** Postfix's defaults (3.x) of the parameters checked here that have a useful one. */
export const POSTFIX_DEFAULTS: Readonly<Record<string, string>> = {
  enable_long_queue_ids: 'no',
  milter_default_action: 'tempfail',
  milter_protocol: '6',
  milter_mail_macros: 'i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}',
  milter_end_of_data_macros: 'i',
  smtpd_sasl_auth_enable: 'no',
  smtpd_sasl_type: 'cyrus',
  smtpd_tls_auth_only: 'no',
  smtpd_tls_security_level: '',
  smtpd_milters: '',
  non_smtpd_milters: '',
  smtpd_relay_restrictions: 'permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination',
  smtpd_recipient_restrictions: '',
  relay_domains: '',
  transport_maps: '',
};

/** Parses `postconf` output or main.cf text (`name = value`; comments and continuation lines understood; later wins). */
export function parsePostconf(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const lines: string[] = [];
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw) || raw.trim() === '') continue;
    if (/^\s/.test(raw) && lines.length > 0) lines[lines.length - 1] += ' ' + raw.trim();
    else lines.push(raw);
  }
  for (const line of lines) {
    const m = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    if (m?.[1] !== undefined) out[m[1]] = (m[2] ?? '').trim();
  }
  return out;
}

export interface MasterService {
  readonly name: string;
  readonly type: string;
  readonly command: string;
  /** `-o name=value` overrides. */
  readonly options: Readonly<Record<string, string>>;
}

/** master.cf (or `postconf -M`) entries: continuation lines joined, comments dropped. */
export function parseMaster(text: string): MasterService[] {
  const logical: string[] = [];
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw) || raw.trim() === '') continue;
    if (/^\s/.test(raw) && logical.length > 0) logical[logical.length - 1] += ' ' + raw.trim();
    else logical.push(raw.trim());
  }
  return logical.map((line) => {
    const fields = line.split(/\s+/);
    const options: Record<string, string> = {};
    const rest = fields.slice(8).join(' ');
    // -o name=value  |  -o { name = value with spaces }
    const re = /-o\s+(?:\{\s*([^=}\s]+)\s*=\s*((?:[^{}]|\{[^{}]*\})*?)\s*\}|([^=\s]+)=(\S*))/g;
    for (const m of rest.matchAll(re)) {
      const name = m[1] ?? m[3];
      if (name !== undefined) options[name] = (m[2] ?? m[4] ?? '').trim();
    }
    return { name: fields[0] ?? '', type: fields[1] ?? '', command: fields[7] ?? '', options };
  });
}

/** The list items of a Postfix list value (commas/space separated, `{ ... }` groups kept whole). */
function listItems(value: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of value) {
    if (ch === '{') depth++;
    if (ch === '}') depth = Math.max(0, depth - 1);
    if (depth === 0 && (ch === ',' || /\s/.test(ch))) {
      if (cur !== '') items.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur !== '') items.push(cur);
  return items;
}

/** Milter list entries: `inet:host:port` or `{ inet:host:port, timeout=... }` → the endpoint. */
function milterEndpoints(value: string): string[] {
  return listItems(value).map((i) => (i.startsWith('{') ? (listItems(i.slice(1, -1))[0] ?? '') : i).toLowerCase());
}

export function checkPostfix(postconf: Readonly<Record<string, string>>, master: string, target: PostfixCheckTarget): Finding[] {
  const findings: Finding[] = [];
  const get = (k: string): string => postconf[k] ?? POSTFIX_DEFAULTS[k] ?? '';
  const main = (param: string, severity: Finding['severity'], message: string, fix?: string): void => {
    findings.push({ where: `main.cf ${param}`, severity, message, ...(fix === undefined ? {} : { fix }) });
  };
  const is = (k: string, want: string): boolean => get(k).trim().toLowerCase() === want;

  if (!is('enable_long_queue_ids', 'yes')) {
    main('enable_long_queue_ids', 'error', 'queue ids are the send ids in every 250 reply and report: they must be unique over time', 'enable_long_queue_ids = yes');
  }
  const milter = target.milter.toLowerCase();
  if (!milterEndpoints(get('smtpd_milters')).includes(milter)) {
    main('smtpd_milters', 'error', `does not contain trxmail's milter ${target.milter}: no rules, no rewrite, no record`, `smtpd_milters = ${target.milter}`);
  }
  if (milterEndpoints(get('non_smtpd_milters')).includes(milter)) {
    main('non_smtpd_milters', 'warning', "contains trxmail's milter: locally submitted mail (and Postfix's own bounces) would be held to the relay rules", 'non_smtpd_milters =');
  }
  if (!is('milter_default_action', 'tempfail')) {
    main('milter_default_action', 'error', `is ${JSON.stringify(get('milter_default_action'))}: when trxmail cannot answer, mail must be refused with a 4xx, never accepted unchecked`, 'milter_default_action = tempfail');
  }
  if (Number(get('milter_protocol')) < 6 || !/^\d+$/.test(get('milter_protocol'))) {
    main('milter_protocol', 'error', 'trxmail speaks milter protocol 6', 'milter_protocol = 6');
  }
  if (!listItems(get('milter_mail_macros')).includes('{auth_authen}')) {
    main('milter_mail_macros', 'error', 'lacks {auth_authen}: the milter cannot see the SASL login at MAIL FROM', 'milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}');
  }
  if (!listItems(get('milter_end_of_data_macros')).includes('i')) {
    main('milter_end_of_data_macros', 'error', 'lacks i: the milter needs the queue id at end of data to record the send', 'milter_end_of_data_macros = i {auth_authen}');
  }
  if (!is('smtpd_sasl_auth_enable', 'yes')) main('smtpd_sasl_auth_enable', 'error', 'SMTP AUTH is off: clients cannot log in', 'smtpd_sasl_auth_enable = yes');
  if (!is('smtpd_sasl_type', 'dovecot')) main('smtpd_sasl_type', 'error', `is ${JSON.stringify(get('smtpd_sasl_type'))}: trxmail authenticates with the Dovecot protocol`, 'smtpd_sasl_type = dovecot');
  if (get('smtpd_sasl_path').trim().toLowerCase() !== target.auth.toLowerCase()) {
    main('smtpd_sasl_path', 'error', `is ${JSON.stringify(get('smtpd_sasl_path'))}, not trxmail's auth endpoint ${target.auth}`, `smtpd_sasl_path = ${target.auth}`);
  }
  if (!is('smtpd_tls_auth_only', 'yes')) main('smtpd_tls_auth_only', 'error', 'passwords could be sent without TLS', 'smtpd_tls_auth_only = yes');
  if (!is('smtpd_tls_security_level', 'encrypt')) {
    main('smtpd_tls_security_level', 'error', `is ${JSON.stringify(get('smtpd_tls_security_level'))}: plain-text transactions must be refused on every port`, 'smtpd_tls_security_level = encrypt');
  }
  for (const k of ['smtpd_tls_cert_file', 'smtpd_tls_key_file']) {
    if (get(k).trim() === '' && (k !== 'smtpd_tls_cert_file' || get('smtpd_tls_chain_files').trim() === '')) {
      main(k, 'error', 'is not set: STARTTLS and port 465 need a certificate and key');
    }
  }
  const relay = listItems(get('smtpd_relay_restrictions'));
  const sasl = relay.indexOf('permit_sasl_authenticated');
  const unauth = relay.findIndex((r) => r === 'reject_unauth_destination' || r === 'defer_unauth_destination' || r === 'reject');
  if (sasl === -1 || unauth === -1 || unauth < sasl || relay.slice(0, unauth).some((r) => r === 'permit' || r === 'permit_mynetworks')) {
    main('smtpd_relay_restrictions', 'error', 'must relay for authenticated clients only (no permit_mynetworks or permit before the refusal)', 'smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination');
  }
  const policyAt = `${get('smtpd_recipient_restrictions')} ${get('smtpd_relay_restrictions')}`.toLowerCase();
  const policyRe = new RegExp(`check_policy_service\\s+(\\{\\s*)?${target.policy.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[\\s,}]|$)`);
  if (!policyRe.test(policyAt)) {
    main('smtpd_recipient_restrictions', 'error', `lacks check_policy_service ${target.policy}: unauthenticated clients and foreign senders are only refused after DATA`, `smtpd_recipient_restrictions = reject_non_fqdn_recipient, check_policy_service ${target.policy}`);
  }
  const domain = target.bounceDomain.toLowerCase();
  if (!listItems(get('relay_domains').toLowerCase()).includes(domain)) {
    main('relay_domains', 'error', `lacks the bounce domain ${target.bounceDomain}: bounces would be refused`, `relay_domains = ${target.bounceDomain}`);
  }
  const transport = get('transport_maps');
  const inline = /inline:\{([^}]*)\}/i.exec(transport);
  if (inline?.[1] !== undefined) {
    const routed = listItems(inline[1]).some((e) => e.toLowerCase().startsWith(`${domain}=`));
    if (!routed) main('transport_maps', 'error', `does not route the bounce domain ${target.bounceDomain} to trxmail`, `transport_maps = inline:{ ${target.bounceDomain}=lmtp:inet:127.0.0.1:8894 }`);
  } else if (transport.trim() === '') {
    main('transport_maps', 'error', `is empty: the bounce domain ${target.bounceDomain} is not routed to trxmail`);
  } else {
    main('transport_maps', 'warning', `cannot tell whether ${transport} routes ${target.bounceDomain} to trxmail; check with: postmap -q ${target.bounceDomain} <map>`);
  }

  const services = parseMaster(master);
  const reinject = services.find((s) => s.name.toLowerCase() === target.reinject.toLowerCase() && s.type === 'inet');
  const svc = (message: string, fix?: string): void => {
    findings.push({ where: `master.cf ${target.reinject}`, severity: 'error', message, ...(fix === undefined ? {} : { fix }) });
  };
  if (!reinject || reinject.command !== 'smtpd') {
    svc(`no smtpd listener on ${target.reinject}: untracked BCC copies cannot be handed back to Postfix`);
  } else {
    const o = reinject.options;
    const milters = o['smtpd_milters'] ?? get('smtpd_milters');
    const noMilters = (o['receive_override_options'] ?? get('receive_override_options')).includes('no_milters');
    if (milterEndpoints(milters).length > 0 && !noMilters) {
      svc('runs milters: re-injected BCC copies would go through trxmail a second time', '-o smtpd_milters= -o receive_override_options=no_milters,...');
    }
    const rcpt = listItems(o['smtpd_recipient_restrictions'] ?? get('smtpd_recipient_restrictions'));
    const relayR = listItems(o['smtpd_relay_restrictions'] ?? get('smtpd_relay_restrictions'));
    if (!relayR.includes('permit_mynetworks') || relayR.includes('permit') || rcpt.includes('permit')) {
      svc('must admit loopback clients only (permit_mynetworks, reject)', '-o smtpd_relay_restrictions=permit_mynetworks,reject -o smtpd_recipient_restrictions=permit_mynetworks,reject');
    }
  }
  return findings;
}

const run = promisify(execFile);

export const POSTCONF_BIN = '/usr/sbin/postconf';

/** Runs postconf (every parameter, defaults included) and postconf -M, then checkPostfix. */
export async function runPostfixCheck(target: PostfixCheckTarget, opts: { configDir?: string; postconf?: string } = {}): Promise<Finding[]> {
  const bin = opts.postconf ?? POSTCONF_BIN;
  const base = opts.configDir === undefined ? [] : ['-c', opts.configDir];
  const call = async (args: string[]): Promise<string> => {
    try {
      const { stdout } = await run(bin, [...base, ...args], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
      return stdout;
    } catch (err: unknown) {
      const e = err as { stderr?: string; message?: string };
      throw new TrxError('EPOSTCONF', `${bin} ${[...base, ...args].join(' ')} failed: ${(e.stderr || e.message || '').trim().slice(0, 300)}`, { cause: err });
    }
  };
  const [params, master] = await Promise.all([call([]), call(['-M'])]);
  return checkPostfix(parsePostconf(params), master, target);
}

/** One line per finding: `error   main.cf smtpd_milters: ... (fix: ...)`. */
export function formatFindings(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'Postfix configuration OK for trxmail\n';
  return findings.map((f) => `${f.severity.padEnd(7)} ${f.where}: ${f.message}${f.fix === undefined ? '' : `\n        fix: ${f.fix}`}`).join('\n') + '\n';
}
