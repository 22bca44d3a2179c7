/**
 * `trxmail from set|list`: per-From-address default X-Mxm-Flags of a space (between the
 * header and the space default in precedence).
 *
 * Throws UsageError: an unknown space, a bad flags value.
 */
import type { Column } from '../../lib/table.js';
import { outputFormat, render, withFormat, type CliContext } from '../context.js';
import { flagsValue, parseFlagsOption } from '../options.js';
import { spaceAction } from '../space-option.js';

export function registerFromCommands(ctx: CliContext): void {
  const from = ctx.program.command('from').description('per-from-address default flags');
  spaceAction(
    ctx,
    from.command('set <address> <flags>').description('set the default X-Mxm-Flags for a From address (0-15, or "default" to remove)'),
    { min: 2, max: 2 },
    async (spaceName, [address = '', flags = '']) => {
      const s = await ctx.space(spaceName);
      const f = flagsValue(parseFlagsOption(flags));
      await (await ctx.getStore()).setFromFlags(s.id, address, f);
      ctx.out(f === null ? `default flags for ${address} removed\n` : `default flags for ${address}: ${f}\n`);
    },
  );
  spaceAction<{ json?: boolean; csv?: boolean }>(ctx, withFormat(from.command('list').description('list per-from-address defaults')), { min: 0, max: 0 },
    async (spaceName, _args, o) => {
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
