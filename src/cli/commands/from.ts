/**
 * `trxmail from set|list`: per-From-address default X-Mxm-Flags of a space (between the
 * header and the space default in precedence).
 *
 * Throws UsageError: an unknown space, a bad flags value.
 */
import type { Column } from '../../lib/table.js';
import { outputFormat, render, withFormat, type CliContext } from '../context.js';
import { flagsValue, parseFlagsOption } from '../options.js';

export function registerFromCommands(ctx: CliContext): void {
  const from = ctx.program.command('from').description('per-from-address default flags');
  from
    .command('set <space> <address> <flags>')
    .description('set the default X-Mxm-Flags for a From address (0-15, or "default" to remove)')
    .action(async (spaceName: string, address: string, flags: string) => {
      const s = await ctx.space(spaceName);
      const f = flagsValue(parseFlagsOption(flags));
      await (await ctx.getStore()).setFromFlags(s.id, address, f);
      ctx.out(f === null ? `default flags for ${address} removed\n` : `default flags for ${address}: ${f}\n`);
    });
  withFormat(from.command('list <space>').description('list per-from-address defaults')).action(
    async (spaceName: string, o: { json?: boolean; csv?: boolean }) => {
      const s = await ctx.space(spaceName);
      const rows = await (await ctx.getStore()).listFromFlags(s.id);
      const cols: Column<(typeof rows)[number]>[] = [
        { header: 'ADDRESS', value: (r) => r.address },
        { header: 'FLAGS', value: (r) => r.flags },
      ];
      ctx.out(render(outputFormat(o), cols, rows, (r) => ({ address: r.address, flags: r.flags })));
    },
  );
}
