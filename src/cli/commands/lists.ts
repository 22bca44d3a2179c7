/**
 * `trxmail unsubscribe add|remove|list` and `trxmail bounces add|remove|list`: the two
 * suppression lists of a space, one command group each, the same three commands.
 *
 * Throws UsageError: an unknown space, removing an address not on the list.
 */
import type { Column } from '../../lib/table.js';
import { UsageError } from '../../lib/errors.js';
import { outputFormat, render, withFormat, type CliContext } from '../context.js';
import { spaceAction } from '../space-option.js';

const LISTS = [
  ['unsubscribe', 'unsubscribe', 'the Unsubscribe list (checked with flag 4)'],
  ['bounces', 'bounce', 'the Bounce list (checked unless flag 8)'],
] as const;

export function registerListCommands(ctx: CliContext): void {
  for (const [cmdName, list, what] of LISTS) {
    const c = ctx.program.command(cmdName).description(what);
    spaceAction<{ reason: string }>(
      ctx,
      c.command('add <address>').description(`put an address on ${what}`).option('-r, --reason <text>', 'why', 'added by operator'),
      { min: 1, max: 1 },
      async (spaceName, [address = ''], o) => {
        const s = await ctx.space(spaceName);
        await (await ctx.getStore()).addListEntry({ spaceId: s.id, list, address, reason: o.reason, addedAt: new Date() });
        ctx.out(`${address} added to the ${list} list of ${s.name}\n`);
      },
    );
    spaceAction(ctx, c.command('remove <address>').description(`take an address off ${what}`), { min: 1, max: 1 }, async (spaceName, [address = '']) => {
      const s = await ctx.space(spaceName);
      if (!(await (await ctx.getStore()).removeListEntry(s.id, list, address))) {
        throw new UsageError(`${address} is not on the ${list} list of ${s.name}`);
      }
      ctx.out(`${address} removed from the ${list} list of ${s.name}\n`);
    });
    spaceAction<{ json?: boolean; csv?: boolean }>(ctx, withFormat(c.command('list').description(`show ${what}`)), { min: 0, max: 0 },
      async (spaceName, _args, o) => {
        const s = await ctx.space(spaceName);
        const rows = await (await ctx.getStore()).listEntries(s.id, list);
        const cols: Column<(typeof rows)[number]>[] = [
          { header: 'ADDRESS', value: (r) => r.address },
          { header: 'ADDED', value: (r) => r.addedAt },
          // The bounce reason (taxonomy, core/bounce-reason.ts) that listed it; '-' for complaints and operators' entries.
          { header: 'CAUSE', value: (r) => r.bounceReason ?? '-' },
          // Who put it there: bounce, complaint, unsubscribe-link, api, operator.
          { header: 'SOURCE', value: (r) => r.source },
          { header: 'REASON', value: (r) => r.reason },
        ];
        ctx.out(
          render(outputFormat(o), cols, rows, (r) => ({ address: r.address, addedAt: r.addedAt, reason: r.reason, source: r.source, bounceReason: r.bounceReason, rule: r.rule })),
        );
      },
    );
  }
}
