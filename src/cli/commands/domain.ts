/**
 * `trxmail domain`: a space's allowed sender domains and their authentication in the DNS.
 * Domains are given as U-label or A-label; stored (and compared) as the lower-case A-label;
 * listed with both forms.
 *
 * Every command names its space with `--space S` (src/cli/space-option.ts; the space as first
 * positional argument still works for one release, with a notice on stderr).
 *   domain add --space S <domain...>     allow domains; a domain without keys gets an active
 *                                        DKIM pair (RSA-2048 + Ed25519); one added again
 *                                        keeps its keys
 *   domain remove --space S <domain>     its keys are retired (neither sign nor are published)
 *   domain list --space S [--json|--csv] A-label, Unicode, return-path host, last check, keys
 *                                        (table/CSV: keys not retired; JSON: every key)
 *   domain dns --space S <domain> [--json] the records to publish, as zone-file text
 *   domain set --space S <domain> --return-path <host> | --no-return-path
 *   domain check …                       domain-check.ts
 *   domain dkim rotate …                 domain-dkim.ts
 * Private keys are never printed, not even wrapped.
 *
 * Throws UsageError: an unknown space, not a domain name, a domain not of the space, a
 * return-path host the store refuses; ConfigError: no secret to wrap keys with.
 */
import { displayDomain } from '../../core/domain.js';
import { hmacKeysInForce } from '../../config/secrets.js';
import { createKeyPair, domainDnsFacts, isLiveKey } from '../../dkim/domain-keys.js';
import { formatZone, recordsFor, zoneLine } from '../../dns/records.js';
import { UsageError } from '../../lib/errors.js';
import { domainJson } from '../../reports/domain-json.js';
import type { Column } from '../../lib/table.js';
import type { DkimKey, DomainAuth } from '../../store/store.js';
import { outputFormat, render, withFormat, type CliContext } from '../context.js';
import { spaceAction } from '../space-option.js';
import { registerDomainCheckCommand } from './domain-check.js';
import { domainArg, keysText, selectorsText, spaceDomain } from './domain-common.js';
import { registerDomainDkimCommands } from './domain-dkim.js';

interface DomainRow {
  readonly auth: DomainAuth;
  readonly keys: readonly DkimKey[];
}

export function registerDomainCommands(ctx: CliContext): void {
  const domain = ctx.program.command('domain').description("a space's sender domains and their DNS authentication (DKIM, return-path, DMARC)");
  spaceAction(
    ctx,
    domain.command('add <domain...>').description('allow sender domains (U-label or A-label); each gets an active DKIM key pair (RSA-2048 and Ed25519)'),
    { min: 1, max: Infinity },
    async (spaceName, domains) => {
      const s = await ctx.space(spaceName);
      const normalised = domains.map(domainArg);
      const store = await ctx.getStore();
      for (const d of normalised) await store.addDomain(s.id, d);
      const out: string[] = [];
      for (const d of normalised) {
        const live = (await store.listDkimKeys(s.id, d)).filter(isLiveKey);
        if (live.length > 0) {
          out.push(`domain ${d} allowed for ${s.name} (DKIM keys kept: ${selectorsText(live)})\n`);
          continue;
        }
        const keys = await createKeyPair(store, hmacKeysInForce(ctx.getConfig()), { spaceId: s.id, domain: d, state: 'active', now: new Date() });
        out.push(
          `domain ${d} allowed for ${s.name}\n` +
            `  DKIM keys (active): ${selectorsText(keys)}\n` +
            `  next: publish its DNS records (trxmail domain dns --space ${s.name} ${d}), then run trxmail domain check --space ${s.name} ${d}\n`,
        );
      }
      ctx.out(out.join(''));
    },
  );
  spaceAction(ctx, domain.command('remove <domain>').description('stop allowing a sender domain; its DKIM keys are retired'), { min: 1, max: 1 }, async (spaceName, [d = '']) => {
    const s = await ctx.space(spaceName);
    const n = domainArg(d);
    if (!(await (await ctx.getStore()).removeDomain(s.id, n))) throw new UsageError(`domain ${n} is not allowed for ${s.name}`);
    ctx.out(`domain ${n} removed from ${s.name} (its DKIM keys are retired)\n`);
    });
  spaceAction<{ json?: boolean; csv?: boolean }>(
    ctx,
    withFormat(
      domain.command('list').description('list sender domains: return-path host, last DNS check, DKIM keys (table and CSV: keys not retired; JSON: every key)'),
    ),
    { min: 0, max: 0 },
    async (spaceName, _args, o) => {
      const fmt = outputFormat(o);
      const s = await ctx.space(spaceName);
      const store = await ctx.getStore();
      const rows: DomainRow[] = [];
      for (const d of await store.listDomains(s.id)) {
        rows.push({ auth: await store.getDomainAuth(s.id, d), keys: await store.listDkimKeys(s.id, d) });
      }
      const cols: Column<DomainRow>[] = [
        { header: 'DOMAIN', value: (r) => r.auth.domain },
        { header: 'UNICODE', value: (r) => displayDomain(r.auth.domain) },
        { header: 'RETURN-PATH', value: (r) => r.auth.returnPath ?? '' },
        { header: 'CHECK', value: (r) => r.auth.checkStatus },
        { header: 'CHECKED', value: (r) => r.auth.checkedAt?.toISOString() ?? '' },
        { header: 'KEYS', value: (r) => keysText(r.keys.filter((k) => k.state !== 'retired')) },
      ];
      ctx.out(
        render(fmt, cols, rows, (r) => domainJson(r.auth, r.keys)),
      );
    },
  );
  spaceAction<{ json?: boolean }>(
    ctx,
    domain
      .command('dns <domain>')
      .description('the DNS records to publish for a sender domain (zone-file text): DKIM keys, return-path CNAME, DMARC')
      .option('--json', 'print the records as JSON'),
    { min: 1, max: 1 },
    async (spaceName, [d = ''], o) => {
      const { space, domain: name } = await spaceDomain(ctx, spaceName, d);
      const records = recordsFor(await domainDnsFacts(await ctx.getStore(), ctx.getConfig(), space.id, name));
      if (o.json) {
        ctx.out(
          JSON.stringify(
            records.map((r) => ({ name: r.name, type: r.type, value: r.value, purpose: r.purpose, publishedBy: r.publishedBy, note: r.note })),
            null,
            2,
          ) + '\n',
        );
        return;
      }
      ctx.out(formatZone(records));
    },
  );
  spaceAction<{ returnPath?: string | false }>(
    ctx,
    domain
      .command('set <domain>')
      .description('set or clear the return-path host (envelope sender domain, e.g. bounces.<domain>): with it SPF aligns with the domain')
      .option('--return-path <host>', 'the host; the customer publishes a CNAME from it to the relay')
      .option('--no-return-path', "no return-path host: mail leaves with the relay's bounce address"),
    { min: 1, max: 1 },
    async (spaceName, [d = ''], o) => {
      if (o.returnPath === undefined) throw new UsageError('nothing to change: give --return-path HOST or --no-return-path');
      const { space, domain: name } = await spaceDomain(ctx, spaceName, d);
      const store = await ctx.getStore();
      const before = await store.getDomainAuth(space.id, name);
      const auth = await store.setReturnPath(space.id, name, o.returnPath === false ? null : o.returnPath);
      if (auth.returnPath === null) {
        ctx.out(
          `${name} has no return-path host: mail leaves with the relay's bounce address, so SPF does not align (DMARC relies on DKIM)\n` +
            (before.returnPath === null ? '' : `the CNAME at ${before.returnPath} is no longer needed\n`),
        );
        return;
      }
      const records = recordsFor(await domainDnsFacts(store, ctx.getConfig(), space.id, name));
      const rp = records.filter((r) => r.purpose === 'return-path' && r.publishedBy === 'customer');
      ctx.out(
        `return-path host of ${name}: ${auth.returnPath}\n` +
          `publish (bounces come back to the relay, SPF aligns with ${name}):\n` +
          rp.map((r) => `${zoneLine(r)}\n`).join('') +
          `then run trxmail domain check --space ${space.name} ${name}\n`,
      );
    },
  );
  registerDomainCheckCommand(ctx, domain);
  registerDomainDkimCommands(ctx, domain);
}
