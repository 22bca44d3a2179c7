/**
 * `trxmail space list|add|set|pause|resume`: customer spaces (tenants), with their default
 * X-Mxm-Flags and one-click unsubscribe default (X-Mxm-Unsubscribe), whether subdomains of their sender domains are allowed, their sending limits
 * (`--limit minute=100`, per minute, hour and day) with the current usage, and whether they
 * are paused (by an operator or automatically, core/sending-limits.ts).
 *
 * Throws UsageError: a bad space name, a space that exists already, an unknown space, a bad
 * --flags, --unsubscribe or --limit value, `space set` with nothing to change, a pause without --reason.
 */
import { Option } from 'commander';
import { displayDomain } from '../../core/domain.js';
import { UsageError } from '../../lib/errors.js';
import type { Column } from '../../lib/table.js';
import { outputFormat, render, withFormat, type CliContext } from '../context.js';
import type { UnsubscribeDefault } from '../../core/unsubscribe.js';
import type { SpaceSettings } from '../../store/account-store.js';
import { flagsText, flagsValue, parseFlagsOption, parseUnsubscribeOption, unsubscribeText, unsubscribeValue } from '../options.js';
import { LIMIT_WINDOWS, type LimitWindow } from '../../core/sending-limits.js';
import type { SendingLimits, SendingState, SendingUsage } from '../../store/store.js';
import { merged } from '../../lib/merged.js';

/** `--limit window=n` (repeatable; n "none" removes the limit): the patch so far plus this one. */
function parseLimitOption(value: string, previous: Partial<Record<LimitWindow, number | null>> = {}): Partial<Record<LimitWindow, number | null>> {
  const m = /^(minute|hour|day)=(none|\d{1,9})$/.exec(value.trim());
  if (!m) throw new UsageError(`--limit: expected minute=N, hour=N or day=N (N a whole number, or "none"), got "${value}"`);
  const window = m[1] as LimitWindow;
  return merged(previous, { [window]: m[2] === 'none' ? null : Number(m[2]) });
}

function limitsText(limits: SendingLimits, usage: SendingUsage | null): string {
  const parts = LIMIT_WINDOWS.filter((w) => limits[w] !== null || (usage !== null && usage[w] > 0)).map((w) =>
    usage === null ? `${String(limits[w])}/${w}` : `${usage[w]}/${limits[w] === null ? '-' : String(limits[w])} per ${w}`,
  );
  return parts.length === 0 ? 'none' : parts.join(', ');
}

function pauseText(state: SendingState): string {
  const p = state.pause;
  return p === null ? 'no' : `${p.auto ? 'auto' : 'operator'} since ${p.since.toISOString()}: ${p.reason}`;
}

const UNSUBSCRIBE_HELP =
  'default X-Mxm-Unsubscribe for the space: one-click (the To copy gets List-Unsubscribe and List-Unsubscribe-Post), none, or "default" (off)';

interface SpaceSetOptions {
  flags?: number | 'default';
  unsubscribe?: UnsubscribeDefault | 'default';
  allowSubdomains?: boolean;
  allowUnsigned?: boolean;
  limit?: Partial<Record<LimitWindow, number | null>>;
}

const SPACE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export function registerSpaceCommands(ctx: CliContext): void {
  const space = ctx.program.command('space').description('customer spaces (tenants)');
  withFormat(space.command('list').description('list spaces')).action(async (o: { json?: boolean; csv?: boolean }) => {
    const store = await ctx.getStore();
    const spaces = await store.listSpaces();
    const now = new Date();
    const rows = await Promise.all(
      spaces.map(async (s) => ({ s, domains: await store.listDomains(s.id), sending: await store.getSendingState(s.id), usage: await store.sendingUsage(s.id, now) })),
    );
    const cols: Column<(typeof rows)[number]>[] = [
      { header: 'NAME', value: (r) => r.s.name },
      { header: 'FLAGS', value: (r) => flagsText(r.s.defaultFlags) },
      { header: 'UNSUBSCRIBE', value: (r) => unsubscribeText(r.s.unsubscribe) },
      { header: 'SUBDOMAINS', value: (r) => (r.s.allowSubdomains ? 'yes' : 'no') },
      { header: 'UNSIGNED', value: (r) => (r.s.allowUnsigned ? 'allowed' : 'no') },
      { header: 'DOMAINS', value: (r) => r.domains.map(displayDomain) },
      { header: 'SENT/LIMIT', value: (r) => limitsText(r.sending.limits, r.usage) },
      { header: 'PAUSED', value: (r) => pauseText(r.sending) },
      { header: 'CREATED', value: (r) => r.s.createdAt },
    ];
    ctx.out(
      render(outputFormat(o), cols, rows, (r) => ({
        name: r.s.name,
        defaultFlags: r.s.defaultFlags,
        unsubscribe: r.s.unsubscribe,
        allowSubdomains: r.s.allowSubdomains,
        allowUnsigned: r.s.allowUnsigned,
        domains: r.domains,
        limits: r.sending.limits,
        usage: r.usage,
        paused: r.sending.pause,
        createdAt: r.s.createdAt,
      })),
    );
  });
  space
    .command('add <name>')
    .description('create a space')
    .option('--flags <n>', 'default X-Mxm-Flags for the space (0-15, or "default")', parseFlagsOption)
    .option('--unsubscribe <value>', UNSUBSCRIBE_HELP, parseUnsubscribeOption)
    .option('--allow-subdomains', 'also allow subdomains of the sender domains')
    .action(async (name: string, o: { flags?: number | 'default'; unsubscribe?: UnsubscribeDefault | 'default'; allowSubdomains?: boolean }) => {
      if (!SPACE_NAME_RE.test(name)) throw new UsageError(`space name must be 1-63 letters, digits, ".", "_" or "-", got "${name}"`);
      const store = await ctx.getStore();
      if (await store.getSpaceByName(name)) throw new UsageError(`space "${name}" exists already`);
      await store.createSpace({
        name,
        defaultFlags: flagsValue(o.flags),
        unsubscribe: o.unsubscribe === undefined ? null : unsubscribeValue(o.unsubscribe),
        allowSubdomains: o.allowSubdomains ?? false,
      });
      ctx.out(`space ${name} added\n`);
    });
  space
    .command('set <name>')
    .description('change a space')
    .option('--flags <n>', 'default X-Mxm-Flags (0-15, or "default")', parseFlagsOption)
    .option('--unsubscribe <value>', UNSUBSCRIBE_HELP, parseUnsubscribeOption)
    .addOption(new Option('--allow-subdomains', 'allow subdomains of the sender domains'))
    .addOption(new Option('--no-allow-subdomains', 'allow only the sender domains themselves'))
    .addOption(new Option('--allow-unsigned', 'send mail of a domain without an active DKIM key unsigned (default: 451 until a key is active)'))
    .addOption(new Option('--no-allow-unsigned', 'refuse mail of a domain without an active DKIM key with 451 (the default)'))
    .option('--limit <window=n>', 'sending limit: minute=N, hour=N or day=N recipients (repeatable; N "none" removes it)', parseLimitOption)
    .action(async (name: string, o: SpaceSetOptions) => {
      const s = await ctx.space(name);
      if (o.limit !== undefined) {
        const state = await (await ctx.getStore()).setSendingLimits(s.id, o.limit);
        ctx.out(`space ${s.name}: sending limits ${limitsText(state.limits, null)}\n`);
        if (o.flags === undefined && o.unsubscribe === undefined && o.allowSubdomains === undefined && o.allowUnsigned === undefined) return;
      }
      const patch: SpaceSettings = {};
      if (o.flags !== undefined) patch.defaultFlags = flagsValue(o.flags);
      if (o.unsubscribe !== undefined) patch.unsubscribe = unsubscribeValue(o.unsubscribe);
      if (o.allowSubdomains !== undefined) patch.allowSubdomains = o.allowSubdomains;
      if (o.allowUnsigned !== undefined) patch.allowUnsigned = o.allowUnsigned;
      if (Object.keys(patch).length === 0) {
        throw new UsageError('nothing to change: give --flags, --unsubscribe, --[no-]allow-subdomains, --[no-]allow-unsigned or --limit');
      }
      const u = await (await ctx.getStore()).updateSpace(s.id, patch);
      ctx.out(
        `space ${u.name}: flags ${flagsText(u.defaultFlags)}, unsubscribe ${unsubscribeText(u.unsubscribe)}, subdomains ${u.allowSubdomains ? 'allowed' : 'not allowed'}` +
          `${u.allowUnsigned ? ', unsigned mail allowed' : ''}\n`,
      );
    });
  space
    .command('pause <name>')
    .description('pause a space: new mail gets 451 4.7.1 with the reason until `space resume`')
    .requiredOption('--reason <text>', 'why (shown to the clients in the 451 reply)')
    .action(async (name: string, o: { reason: string }) => {
      const s = await ctx.space(name);
      const changed = await (await ctx.getStore()).pauseSpace(s.id, { reason: o.reason, at: new Date(), auto: false });
      ctx.out(changed ? `space ${s.name} paused\n` : `space ${s.name} was paused already\n`);
    });
  space
    .command('resume <name>')
    .description('resume a paused space (the automatic pause counts afresh from now)')
    .action(async (name: string) => {
      const s = await ctx.space(name);
      const changed = await (await ctx.getStore()).resumeSpace(s.id, new Date());
      ctx.out(changed ? `space ${s.name} resumed\n` : `space ${s.name} was not paused\n`);
    });
}
