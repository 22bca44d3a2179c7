/**
 * The Postfix configuration pieces shipped in `postfix/` (main.cf, master.cf), filled in.
 *
 * Templates use `{{name}}` placeholders. Rendering fails with ConfigError on a placeholder
 * without a value (never emits a half-filled file) and on a value containing a newline
 * (which would inject configuration lines).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../lib/errors.js';
import { merged } from '../lib/merged.js';

export interface PostfixTemplateValues {
  readonly tls_cert_file: string;
  readonly tls_key_file: string;
  /**
   * trxmail's endpoints as Postfix names them (endpoints.ts): `inet:host:port`, `unix:/path`, or
   * `unix:private/name` relative to the queue directory; auth as smtpd_sasl_path takes it
   * (`private/trxmail-auth`).
   */
  readonly auth_endpoint: string;
  readonly policy_endpoint: string;
  readonly milter_endpoint: string;
  /** trxmail's socketmap (listen.socketmap): relay_domains / transport_maps / the bounce MX ask it for return-path hosts. */
  readonly socketmap_endpoint: string;
  readonly bounce_domain: string;
  /** transport:nexthop for the bounce domain: `lmtp:` + listen.lmtp as Postfix names it (e.g. lmtp:unix:private/trxmail-lmtp), or `trxmail-bounce:` (pipe) */
  readonly bounce_transport: string;
  /** master.cf service names: `smtp`, `submission`, `smtps` or `127.0.0.1:2525` forms */
  readonly smtp_listen: string;
  readonly submission_listen: string;
  readonly smtps_listen: string;
  /**
   * The first master.cf columns (service type private) of the re-injection smtpd, from
   * endpoints.ts reinjectService: `trxmail-reinject unix  -` (a socket in private/) or
   * `127.0.0.1:10026 inet  n`.
   */
  readonly reinject_service: string;
  /**
   * master.cf service name of an optional separate MX listener for the bounce domains (plain
   * SMTP with optional STARTTLS, bounce domains only), e.g. `203.0.113.7:smtp` — an address of
   * its own. Absent: the service is left out (port 25 takes the bounces).
   */
  readonly bounce_mx_listen?: string;
  /** message_size_limit in bytes (trxmail.yaml messageSizeLimit), as a decimal string. */
  readonly message_size_limit: string;
  /** The `trxmail` command with its --config, for the commented pipe(8) service, e.g. `/usr/local/bin/trxmail --config /etc/trxmail/trxmail.yaml`. */
  readonly trxmail_command: string;
  /** The user pipe(8) runs `trxmail bounce` as (not root, not postfix), e.g. `trxmail`. */
  readonly pipe_user: string;
}

/** The directory holding the shipped main.cf/master.cf (works from src/ and dist/). */
export function postfixTemplateDir(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // src/postfix/ and dist/postfix/ are both two levels below the package root.
  return path.resolve(here, '..', '..', 'postfix');
}

export function renderTemplate(text: string, values: Readonly<Record<string, string>>, name: string): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_m, key: string) => {
    const v = values[key];
    if (v === undefined) throw new ConfigError(`${name}: no value for {{${key}}}`);
    if (/[\r\n]/.test(v)) throw new ConfigError(`${name}: value for {{${key}}} contains a line break`);
    return v;
  });
}

/** Stands in for the bounce-MX service name when there is none (the service is then removed). */
const NO_BOUNCE_MX = 'trxmail-no-bounce-mx';

/** Removes the master.cf service `name` and its continuation lines (those starting with white space). */
export function dropService(masterCf: string, name: string): string {
  const out: string[] = [];
  let dropping = false;
  for (const line of masterCf.split('\n')) {
    if (dropping && /^[ \t]+\S/.test(line)) continue;
    dropping = line.startsWith(`${name} `);
    if (!dropping) out.push(line);
  }
  return out.join('\n');
}

export function renderPostfixConfig(values: PostfixTemplateValues): { mainCf: string; masterCf: string } {
  const dir = postfixTemplateDir();
  const vals = merged(values, { bounce_mx_listen: values.bounce_mx_listen ?? NO_BOUNCE_MX }) as unknown as Record<string, string>;
  const masterCf = renderTemplate(readFileSync(path.join(dir, 'master.cf'), 'utf8'), vals, 'postfix/master.cf');
  return {
    mainCf: renderTemplate(readFileSync(path.join(dir, 'main.cf'), 'utf8'), vals, 'postfix/main.cf'),
    masterCf: values.bounce_mx_listen === undefined ? dropService(masterCf, NO_BOUNCE_MX) : masterCf,
  };
}
