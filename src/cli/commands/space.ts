/**
 * `trxmail space list|add|set`: customer spaces (tenants), with their default X-Mxm-Flags and
 * whether subdomains of their sender domains are allowed.
 *
 * Throws UsageError: a bad space name, a space that exists already, an unknown space, a bad
 * --flags value, `space set` with nothing to change.
 */
import { Option } from 'commander';
import { displayDomain } from '../../core/domain.js';
import { UsageError } from '../../lib/errors.js';
import type { Column } from '../../lib/table.js';
import { outputFormat, render, withFormat, type CliContext } from '../context.js';
import { flagsText, flagsValue, parseFlagsOption } from '../options.js';

const SPACE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function registerSpaceCommands(ctx: CliContext): void {
  const space = ctx.program.command('space').description('customer spaces (tenants)');
  withFormat(space.command('list').description('list spaces')).action(async (o: { json?: boolean; csv?: boolean }) => {
    const store = await ctx.getStore();
    const spaces = await store.listSpaces();
    const rows = await Promise.all(spaces.map(async (s) => ({ s, domains: await store.listDomains(s.id) })));
    const cols: Column<(typeof rows)[number]>[] = [
      { header: 'NAME', value: (r) => r.s.name },
      { header: 'FLAGS', value: (r) => flagsText(r.s.defaultFlags) },
      { header: 'SUBDOMAINS', value: (r) => (r.s.allowSubdomains ? 'yes' : 'no') },
      { header: 'UNSIGNED', value: (r) => (r.s.allowUnsigned ? 'allowed' : 'no') },
      { header: 'DOMAINS', value: (r) => r.domains.map(displayDomain) },
      { header: 'CREATED', value: (r) => r.s.createdAt },
    ];
    ctx.out(
      render(outputFormat(o), cols, rows, (r) => ({
        name: r.s.name,
        defaultFlags: r.s.defaultFlags,
        allowSubdomains: r.s.allowSubdomains,
        allowUnsigned: r.s.allowUnsigned,
        domains: r.domains,
        createdAt: r.s.createdAt,
      })),
    );
  });
  space
    .command('add <name>')
    .description('create a space')
    .option('--flags <n>', 'default X-Mxm-Flags for the space (0-15, or "default")', parseFlagsOption)
    .option('--allow-subdomains', 'also allow subdomains of the sender domains')
    .action(async (name: string, o: { flags?: number | 'default'; allowSubdomains?: boolean }) => {
      if (!SPACE_NAME_RE.test(name)) throw new UsageError(`space name must be 1-63 letters, digits, ".", "_" or "-", got "${name}"`);
      const store = await ctx.getStore();
      if (await store.getSpaceByName(name)) throw new UsageError(`space "${name}" exists already`);
      await store.createSpace({ name, defaultFlags: flagsValue(o.flags), allowSubdomains: o.allowSubdomains ?? false });
      ctx.out(`space ${name} added\n`);
    });
  space
    .command('set <name>')
    .description('change a space')
    .option('--flags <n>', 'default X-Mxm-Flags (0-15, or "default")', parseFlagsOption)
    .addOption(new Option('--allow-subdomains', 'allow subdomains of the sender domains'))
    .addOption(new Option('--no-allow-subdomains', 'allow only the sender domains themselves'))
    .addOption(new Option('--allow-unsigned', 'send mail of a domain without an active DKIM key unsigned (default: 451 until a key is active)'))
    .addOption(new Option('--no-allow-unsigned', 'refuse mail of a domain without an active DKIM key with 451 (the default)'))
    .action(async (name: string, o: { flags?: number | 'default'; allowSubdomains?: boolean; allowUnsigned?: boolean }) => {
      const s = await ctx.space(name);
      const patch: { defaultFlags?: number | null; allowSubdomains?: boolean; allowUnsigned?: boolean } = {};
      if (o.flags !== undefined) patch.defaultFlags = flagsValue(o.flags);
      if (o.allowSubdomains !== undefined) patch.allowSubdomains = o.allowSubdomains;
      if (o.allowUnsigned !== undefined) patch.allowUnsigned = o.allowUnsigned;
      if (Object.keys(patch).length === 0) throw new UsageError('nothing to change: give --flags, --[no-]allow-subdomains or --[no-]allow-unsigned');
      const u = await (await ctx.getStore()).updateSpace(s.id, patch);
      ctx.out(
        `space ${u.name}: flags ${flagsText(u.defaultFlags)}, subdomains ${u.allowSubdomains ? 'allowed' : 'not allowed'}` +
          `${u.allowUnsigned ? ', unsigned mail allowed' : ''}\n`,
      );
    });
}
