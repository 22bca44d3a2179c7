/**
 * `trxmail domain add|remove|list`: a space's allowed sender domains. Given as U-label or
 * A-label; stored (and compared) as the lower-case A-label; listed with both forms.
 *
 * Throws UsageError: an unknown space, not a domain name, removing a domain not allowed.
 */
import { displayDomain, normaliseDomain } from '../../core/domain.js';
import { UsageError } from '../../lib/errors.js';
import type { Column } from '../../lib/table.js';
import { outputFormat, render, withFormat, type CliContext } from '../context.js';

function domainArg(value: string): string {
  const d = normaliseDomain(value);
  if (!d) throw new UsageError(`not a domain name: "${value}"`);
  return d;
}

export function registerDomainCommands(ctx: CliContext): void {
  const domain = ctx.program.command('domain').description("a space's allowed sender domains");
  domain
    .command('add <space> <domain...>')
    .description('allow sender domains (U-label or A-label)')
    .action(async (spaceName: string, domains: string[]) => {
      const s = await ctx.space(spaceName);
      const normalised = domains.map(domainArg);
      const store = await ctx.getStore();
      for (const d of normalised) await store.addDomain(s.id, d);
      ctx.out(normalised.map((d) => `domain ${d} allowed for ${s.name}\n`).join(''));
    });
  domain
    .command('remove <space> <domain>')
    .description('stop allowing a sender domain')
    .action(async (spaceName: string, d: string) => {
      const s = await ctx.space(spaceName);
      const n = domainArg(d);
      if (!(await (await ctx.getStore()).removeDomain(s.id, n))) throw new UsageError(`domain ${n} is not allowed for ${s.name}`);
      ctx.out(`domain ${n} removed from ${s.name}\n`);
    });
  withFormat(domain.command('list <space>').description('list sender domains')).action(
    async (spaceName: string, o: { json?: boolean; csv?: boolean }) => {
      const s = await ctx.space(spaceName);
      const rows = await (await ctx.getStore()).listDomains(s.id);
      const cols: Column<string>[] = [
        { header: 'DOMAIN', value: (d) => d },
        { header: 'UNICODE', value: (d) => displayDomain(d) },
      ];
      ctx.out(render(outputFormat(o), cols, rows, (d) => ({ domain: d, unicode: displayDomain(d) })));
    },
  );
}
