/**
 * `trxmail from set|list`: per-From-address defaults of a space: X-Mxm-Flags and
 * X-Mxm-Unsubscribe (between the header and the space default in precedence).
 *
 * Throws UsageError: an unknown space, a bad flags or --unsubscribe value, `from set` with
 * neither flags nor --unsubscribe.
 */
import type { UnsubscribeDefault } from '../../core/unsubscribe.js';
import { UsageError } from '../../lib/errors.js';
import type { Column } from '../../lib/table.js';
import { outputFormat, render, withFormat, type CliContext } from '../context.js';
import { flagsText, flagsValue, parseFlagsOption, parseUnsubscribeOption, unsubscribeText, unsubscribeValue } from '../options.js';
import { spaceAction } from '../space-option.js';

export function registerFromCommands(ctx: CliContext): void {
  const from = ctx.program.command('from').description('per-from-address defaults (flags, one-click unsubscribe)');
  spaceAction<{ unsubscribe?: UnsubscribeDefault | 'default' }>(
    ctx,
    from
      .command('set <address> [flags]')
      .description('set the default X-Mxm-Flags (0-15, or "default" to remove) and/or --unsubscribe default for a From address')
      .option('--unsubscribe <value>', 'default X-Mxm-Unsubscribe for the From address: one-click, none, or "default" to remove', parseUnsubscribeOption),
    { min: 1, max: 2 },
    async (spaceName, [address = '', flags], o) => {
      if (flags === undefined && o.unsubscribe === undefined) throw new UsageError('nothing to set: give flags, --unsubscribe or both');
      const f = flags === undefined ? undefined : flagsValue(parseFlagsOption(flags));
      const s = await ctx.space(spaceName);
      const store = await ctx.getStore();
      if (f !== undefined) {
        await store.setFromFlags(s.id, address, f);
        ctx.out(f === null ? `default flags for ${address} removed\n` : `default flags for ${address}: ${f}\n`);
      }
      if (o.unsubscribe !== undefined) {
        const u = unsubscribeValue(o.unsubscribe);
        await store.setFromUnsubscribe(s.id, address, u);
        ctx.out(u === null ? `unsubscribe default for ${address} removed\n` : `unsubscribe default for ${address}: ${u}\n`);
      }
    },
  );
  spaceAction<{ json?: boolean; csv?: boolean }>(ctx, withFormat(from.command('list').description('list per-from-address defaults')), { min: 0, max: 0 },
    async (spaceName, _args, o) => {
      const s = await ctx.space(spaceName);
      const rows = await (await ctx.getStore()).listFromFlags(s.id);
      const cols: Column<(typeof rows)[number]>[] = [
        { header: 'ADDRESS', value: (r) => r.address },
        { header: 'FLAGS', value: (r) => flagsText(r.flags) },
        { header: 'UNSUBSCRIBE', value: (r) => unsubscribeText(r.unsubscribe) },
      ];
      ctx.out(render(outputFormat(o), cols, rows, (r) => ({ address: r.address, flags: r.flags, unsubscribe: r.unsubscribe })));
    },
  );
}
