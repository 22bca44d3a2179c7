/**
 * `trxmail domain check --space <space> <domain> [--resolver host:port]... [--json]`: asks the DNS
 * whether the records of `domain dns` are published, says so per record and what it means for
 * DMARC alignment, records the result with the domain, and activates a pending DKIM pair whose
 * records are all published (the previous pair retiring for `dkim.overlapDays`).
 *
 * Output, one line per record, then the alignment:
 *   OK       TXT   trx20261202r._domainkey.shop.example.
 *   MISSING  TXT   _dmarc.shop.example.
 *            NXDOMAIN: the name does not exist
 *   WRONG    CNAME bounces.shop.example.
 *            expected: bounces.relay.example.
 *            found:    bounces.other.example.
 *   ERROR    TXT   …                 (the DNS did not answer)
 *   DKIM aligned: yes|no (…)   SPF aligned: yes|no (why)   DMARC: present, p=…|missing
 *   status: ok|incomplete|not checked (…)
 * Exit status: 0 when the status is ok, 1 when it is incomplete or the DNS did not answer
 * (then nothing is recorded). Resolvers: --resolver (repeatable), else trxmail.yaml
 * `dns.resolvers`, else the system's.
 *
 * Throws UsageError: unknown space or domain, a bad --resolver.
 */
import type { Command } from 'commander';
import { checkAndActivate, type CheckOutcome } from '../../dkim/domain-keys.js';
import { createResolver } from '../../dns/resolver.js';
import type { DomainAlignment, RecordCheck } from '../../dns/types.js';
import { dkimKeyJson } from '../../reports/domain-json.js';
import { EXIT_ERROR, EXIT_OK, type CliContext } from '../context.js';
import { spaceAction } from '../space-option.js';
import { collect } from '../options.js';
import { spaceDomain } from './domain-common.js';

const STATUS_WIDTH = 'MISSING'.length;
const TYPE_WIDTH = 'CNAME'.length;
const INDENT = ' '.repeat(STATUS_WIDTH + 2);

function recordLines(c: RecordCheck): string[] {
  const by = c.record.publishedBy === 'relay' ? ' (published by the relay)' : '';
  const lines = [`${c.status.toUpperCase().padEnd(STATUS_WIDTH)}  ${c.record.type.padEnd(TYPE_WIDTH)} ${c.record.name}${by}`];
  if (c.status === 'wrong') {
    lines.push(`${INDENT}expected: ${c.expected}`);
    const found = c.found.length === 0 ? ['(nothing)'] : c.found;
    found.forEach((f, i) => lines.push(`${INDENT}${i === 0 ? 'found:   ' : '         '} ${f}`));
  }
  if (c.status !== 'ok') lines.push(`${INDENT}${c.detail}`);
  return lines;
}

function alignmentLines(a: DomainAlignment, o: CheckOutcome, rp: { space: string; domain: string; host: string | null; bounceDomain: string }): string[] {
  if (o.status === 'error') {
    const unknown = 'unknown (the DNS did not answer)';
    return [`DKIM aligned: ${unknown}`, `SPF aligned:  ${unknown}`, `DMARC:        ${unknown}`];
  }
  const dkim = a.dkim
    ? `yes (signed with d=${rp.domain} by a published active key)`
    : o.check.records.some((r) => r.record.purpose === 'dkim')
      ? "no (the active key's record is not published as expected)"
      : `no (no DKIM key: create one with trxmail domain dkim rotate --space ${rp.space} ${rp.domain} --force)`;
  let spf: string;
  if (rp.host === null) {
    spf =
      `no (no return-path host: the envelope sender is in the relay's domain ${rp.bounceDomain}; ` +
      `set one with trxmail domain set --space ${rp.space} ${rp.domain} --return-path bounces.${rp.domain})`;
  } else {
    spf = a.spf ? `yes (the envelope sender is in ${rp.host}, which the relay may send for)` : `no (the return-path host ${rp.host}: its CNAME or the SPF behind it is not as expected)`;
  }
  const dmarc = a.dmarc === 'present' ? `present, p=${a.dmarcPolicy ?? '(none given)'}` : 'missing';
  return [`DKIM aligned: ${dkim}`, `SPF aligned:  ${spf}`, `DMARC:        ${dmarc}`];
}

function statusLine(o: CheckOutcome): string {
  const bad = o.check.records.filter((r) => r.status !== 'ok').length;
  const was = o.changed ? ` (was ${o.previous})` : '';
  switch (o.status) {
    case 'ok':
      return `status: ok${was} — every record is published`;
    case 'incomplete':
      return `status: incomplete${was} — ${bad} of ${o.check.records.length} records not as expected` + (bad === 0 ? ', no DKIM key' : '');
    case 'error':
      return `status: not checked — the DNS did not answer for ${bad} record(s); the recorded status (${o.previous}) stays, try again`;
  }
}

export function registerDomainCheckCommand(ctx: CliContext, domain: Command): void {
  spaceAction<{ resolver?: string[]; json?: boolean }>(
    ctx,
    domain
      .command('check <domain>')
      .description(
        'check in the DNS that the records of `domain dns` are published, show DMARC alignment, record the result, ' +
          'and activate a pending DKIM pair whose records are published. Exit status 0 when everything is published (status ok), ' +
          '1 when something is missing or wrong (incomplete) or the DNS did not answer',
      )
      .option('--resolver <host:port>', 'DNS server to ask (repeatable; default trxmail.yaml dns.resolvers, else the system resolver)', collect)
      .option('--json', 'print JSON'),
    { min: 1, max: 1 },
    async (spaceName, [d = ''], o) => {
      const config = ctx.getConfig();
      const servers = o.resolver ?? config.dns.resolvers;
      const resolver = createResolver(servers.length > 0 ? { servers } : {});
      const { space, domain: name } = await spaceDomain(ctx, spaceName, d);
      const store = await ctx.getStore();
      const outcome = await checkAndActivate(store, config, resolver, space.id, name, new Date());
      const auth = await store.getDomainAuth(space.id, name);
      ctx.exitCode = outcome.status === 'ok' ? EXIT_OK : EXIT_ERROR;
      if (o.json) {
        ctx.out(
          JSON.stringify(
            {
              domain: name,
              status: outcome.status,
              recorded: outcome.recorded,
              previous: outcome.previous,
              changed: outcome.changed,
              records: outcome.check.records.map((r) => ({
                status: r.status,
                type: r.record.type,
                name: r.record.name,
                publishedBy: r.record.publishedBy,
                expected: r.expected,
                found: r.found,
                detail: r.detail,
              })),
              alignment: outcome.check.alignment,
              missing: outcome.missing,
              activated: outcome.activated.map(dkimKeyJson),
              retiring: outcome.retiring.map(dkimKeyJson),
            },
            null,
            2,
          ) + '\n',
        );
        return;
      }
      const lines = outcome.check.records.flatMap(recordLines);
      lines.push('', ...alignmentLines(outcome.check.alignment, outcome, { space: space.name, domain: name, host: auth.returnPath, bounceDomain: config.bounceDomain }));
      if (outcome.activated.length > 0) {
        lines.push(`activated: ${outcome.activated.map((k) => k.selector).join(', ')} sign from now on`);
        const until = outcome.retiring[0]?.retireAfter?.toISOString();
        if (until !== undefined) lines.push(`retiring: ${outcome.retiring.map((k) => k.selector).join(', ')} (keep their records published until ${until})`);
      }
      lines.push(statusLine(outcome));
      ctx.out(lines.join('\n') + '\n');
    },
  );
}
