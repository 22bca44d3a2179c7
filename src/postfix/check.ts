/**
 * `trxmail postfix-check`: reads a Postfix configuration (`postconf`, `postconf -M`) and says,
 * line by line, what is missing or wrong for trxmail (the settings of the shipped
 * postfix/main.cf and master.cf, rendered by templates.ts, are what passes).
 *
 * checkPostfix() is pure: it takes the parameters (name → value; a parameter missing from the
 * map has Postfix's default, POSTFIX_DEFAULTS for the ones checked here) and master.cf text
 * (raw, or `postconf -M` output; continuation lines and `-o` overrides understood).
 * runPostfixCheck() runs `postconf [-c DIR]`, `postconf [-c DIR] -M` and (as root) `postfix
 * [-c DIR] check`, calls it, and adds every warning those tools print (e.g. "unused
 * parameter") as an error finding: a configuration Postfix itself complains about is not OK
 * ("overriding earlier entry", what appending our main.cf gives, is a warning finding).
 *
 * Postfix's own tools do not parse restriction lists: smtpd finds a malformed one only when a
 * client reaches it ("unknown smtpd restriction", 451 4.3.5 Server configuration error). So
 * the options of `check_policy_service { endpoint, name=value, { name = value with spaces } }`
 * are checked here the way smtpd reads them (a value with spaces needs its own braces,
 * `name={…}` is not understood).
 *
 * Checks: enable_long_queue_ids; smtpd_milters has trxmail's milter; non_smtpd_milters has
 * not; milter_default_action tempfail; milter_protocol 6; the macros ({auth_authen} at MAIL,
 * i at end of data); SASL (dovecot type, trxmail's auth endpoint, enabled); TLS (certificate,
 * key, security level encrypt, auth only over TLS); relay restrictions; the policy service;
 * bounce domain routing (relay_domains, transport_maps); the re-injection listener exists
 * (a `unix` service for a socket `reinject`), runs no milters and admits loopback only.
 *
 * Throws: runPostfixCheck rejects with TrxError EPOSTCONF when postconf cannot be run.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Config } from '../config/config.js';
import { TrxError } from '../lib/errors.js';
import { postfixEndpoint, postfixSaslPath, reinjectService } from './endpoints.js';

export interface Finding {
  /** `main.cf <parameter>` or `master.cf <service>`. */
  readonly where: string;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  /** What to set, in Postfix syntax, when there is one answer. */
  readonly fix?: string;
}

/** What trxmail expects to find (from trxmail.yaml), as Postfix names it (endpoints.ts). */
export interface PostfixCheckTarget {
  readonly milter: string;
  readonly policy: string;
  /** As smtpd_sasl_path takes it (`private/trxmail-auth`, `inet:host:port`). */
  readonly auth: string;
  readonly bounceDomain: string;
  /** master.cf service name of the re-injection listener: `127.0.0.1:10026` or `trxmail-reinject`. */
  readonly reinject: string;
  /** Its master.cf type; default `inet`. */
  readonly reinjectType?: 'inet' | 'unix';
}

export function checkTargetFromConfig(config: Config): PostfixCheckTarget {
  const queueDir = config.postfix.queueDirectory;
  const [reinject = '', type] = reinjectService(config.reinject, queueDir).split(/\s+/);
  return {
    milter: postfixEndpoint(config.listen.milter, queueDir),
    policy: postfixEndpoint(config.listen.policy, queueDir),
    auth: postfixSaslPath(config.listen.auth, queueDir),
    bounceDomain: config.bounceDomain,
    reinject,
    reinjectType: type === 'unix' ? 'unix' : 'inet',
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

/**
 * The options of each `check_policy_service { endpoint, options }` in a restriction list that
 * smtpd cannot read: each option is `name=value` (no white space, no braces) or
 * `{ name = value }` (the value may hold spaces).
 */
export function badPolicyServiceOptions(restrictions: string): string[] {
  const items = listItems(restrictions);
  const bad: string[] = [];
  for (let i = 0; i + 1 < items.length; i++) {
    if ((items[i] ?? '').toLowerCase() !== 'check_policy_service') continue;
    const group = items[i + 1] ?? '';
    if (!group.startsWith('{')) continue;
    const options = listItems(group.slice(1, group.endsWith('}') ? -1 : undefined)).slice(1);
    for (const option of options) {
      const ok = option.startsWith('{') ? /^\{\s*[A-Za-z_]+\s*=[^{}]*\}$/.test(option) : /^[A-Za-z_]+=[^{}]*$/.test(option);
      if (!ok) bad.push(option.length > 120 ? `${option.slice(0, 117)}...` : option);
    }
  }
  return bad;
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
  // The policy must see authenticated clients too (sender domains): in the recipient
  // restrictions, or in the relay restrictions ahead of permit_sasl_authenticated.
  const policyInRelay = relay.findIndex((r) => r.toLowerCase() === 'check_policy_service');
  const policyAt = `${get('smtpd_recipient_restrictions')} ${policyInRelay !== -1 && (sasl === -1 || policyInRelay < sasl) ? get('smtpd_relay_restrictions') : ''}`.toLowerCase();
  const policyRe = new RegExp(`check_policy_service\\s+(\\{\\s*)?${target.policy.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?=[\\s,}]|$)`);
  if (!policyRe.test(policyAt)) {
    main('smtpd_recipient_restrictions', 'error', `lacks check_policy_service ${target.policy}: unauthenticated clients and foreign senders are only refused after DATA`, `smtpd_recipient_restrictions = reject_non_fqdn_recipient, check_policy_service ${target.policy}`);
  }
  for (const param of ['smtpd_recipient_restrictions', 'smtpd_relay_restrictions']) {
    const bad = badPolicyServiceOptions(get(param));
    if (bad.length > 0) {
      main(
        param,
        'error',
        `check_policy_service option(s) ${bad.map((b) => JSON.stringify(b)).join(', ')} not understood by smtpd (it answers "451 4.3.5 Server configuration error" and logs "unknown smtpd restriction" or "malformed option")`,
        'check_policy_service { inet:host:port, timeout=10s, { default_action = 451 4.3.5 reason text } }',
      );
    }
  }
  const domain = target.bounceDomain.toLowerCase();
  if (!listItems(get('relay_domains').toLowerCase()).includes(domain)) {
    main('relay_domains', 'error', `lacks the bounce domain ${target.bounceDomain}: bounces would be refused`, `relay_domains = ${target.bounceDomain}`);
  }
  const transport = get('transport_maps');
  const inline = /inline:\{([^}]*)\}/i.exec(transport);
  if (inline?.[1] !== undefined) {
    const routed = listItems(inline[1]).some((e) => e.toLowerCase().startsWith(`${domain}=`));
    if (!routed) main('transport_maps', 'error', `does not route the bounce domain ${target.bounceDomain} to trxmail`, `transport_maps = inline:{ ${target.bounceDomain}=lmtp:unix:private/trxmail-lmtp }`);
  } else if (transport.trim() === '') {
    main('transport_maps', 'error', `is empty: the bounce domain ${target.bounceDomain} is not routed to trxmail`);
  } else {
    main('transport_maps', 'warning', `cannot tell whether ${transport} routes ${target.bounceDomain} to trxmail; check with: postmap -q ${target.bounceDomain} <map>`);
  }

  const services = parseMaster(master);
  const reinject = services.find((s) => s.name.toLowerCase() === target.reinject.toLowerCase() && s.type === (target.reinjectType ?? 'inet'));
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

/** Postfix's program that `postfix check` runs through (root only). */
export const POSTFIX_CHECK_BIN = '/usr/sbin/postfix';

/** The `warning: …` lines of a Postfix tool's stderr, program prefix removed, each once. */
export function postfixWarnings(stderr: string): string[] {
  const out = new Set<string>();
  for (const line of stderr.split('\n')) {
    const m = /^(?:\S+:\s+)?warning:\s+(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined) out.add(m[1].trim());
  }
  return [...out];
}

/**
 * Runs postconf (every parameter, defaults included), postconf -M and, as root, postfix check;
 * then checkPostfix, plus one error finding per warning those tools printed.
 */
export async function runPostfixCheck(
  target: PostfixCheckTarget,
  opts: { configDir?: string; postconf?: string; postfix?: string } = {},
): Promise<Finding[]> {
  const bin = opts.postconf ?? POSTCONF_BIN;
  const base = opts.configDir === undefined ? [] : ['-c', opts.configDir];
  const call = async (program: string, args: string[]): Promise<{ stdout: string; stderr: string }> => {
    try {
      return await run(program, [...base, ...args], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
    } catch (err: unknown) {
      const e = err as { stderr?: string; message?: string };
      throw new TrxError('EPOSTCONF', `${program} ${[...base, ...args].join(' ')} failed: ${(e.stderr || e.message || '').trim().slice(0, 300)}`, { cause: err });
    }
  };
  const asRoot = process.getuid?.() === 0;
  const [params, master, check] = await Promise.all([
    call(bin, []),
    call(bin, ['-M']),
    asRoot ? call(opts.postfix ?? POSTFIX_CHECK_BIN, ['check']) : Promise.resolve(null),
  ]);
  const findings = checkPostfix(parsePostconf(params.stdout), master.stdout, target);
  const tools: [string, string][] = [
    ['postconf', `${params.stderr}\n${master.stderr}`],
    ['postfix check', check?.stderr ?? ''],
  ];
  const seen = new Set<string>();
  for (const [where, stderr] of tools) {
    for (const warning of postfixWarnings(stderr)) {
      if (seen.has(warning)) continue;
      seen.add(warning);
      // A setting given twice is what appending trxmail's main.cf (as the README says) does: worth a word, not a failure.
      const severity = /overriding earlier entry/.test(warning) ? 'warning' : 'error';
      findings.push({ where, severity, message: `Postfix warns: ${warning.slice(0, 300)}` });
    }
  }
  return findings;
}

/** One line per finding: `error   main.cf smtpd_milters: ... (fix: ...)`. */
export function formatFindings(findings: readonly Finding[]): string {
  if (findings.length === 0) return 'Postfix configuration OK for trxmail\n';
  return findings.map((f) => `${f.severity.padEnd(7)} ${f.where}: ${f.message}${f.fix === undefined ? '' : `\n        fix: ${f.fix}`}`).join('\n') + '\n';
}
