/**
 * `trxmail domain dkim rotate --space <space> <domain> [--force]`: the next DKIM key pair of a sender
 * domain (RSA-2048 + Ed25519, src/dkim/domain-keys.ts).
 *
 * Without --force the pair is pending: it is printed to publish, and it starts signing once
 * `trxmail domain check` (or the scheduled check of `serve`) finds both records in the DNS;
 * the old pair then retires, still published for `dkim.overlapDays` so mail signed with it
 * keeps verifying. With --force the new pair signs at once and the old one retires at once
 * (for mail already in flight the receivers must find the new records quickly: publish
 * first). Refused while a pending pair waits (publish it and check, instead of piling up keys).
 *
 * Throws UsageError: unknown space or domain, a pending pair already there; ConfigError: no
 * secret to wrap the keys with.
 */
import type { Command } from 'commander';
import { hmacKeysInForce } from '../../config/secrets.js';
import { createKeyPair, domainDnsFacts } from '../../dkim/domain-keys.js';
import { formatZone, recordsFor } from '../../dns/records.js';
import { UsageError } from '../../lib/errors.js';
import type { CliContext } from '../context.js';
import { spaceAction } from '../space-option.js';
import { selectorsText, spaceDomain } from './domain-common.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export function registerDomainDkimCommands(ctx: CliContext, domain: Command): void {
  const dkim = domain.command('dkim').description("a sender domain's DKIM keys");
  spaceAction<{ force?: boolean }>(
    ctx,
    dkim
      .command('rotate <domain>')
      .description(
        'create the next key pair (pending) and print its records; it signs once `domain check` finds them published, ' +
          'and the old pair stays published for dkim.overlapDays',
      )
      .option('--force', 'sign with the new pair at once (the old pair retiring for the overlap)'),
    { min: 1, max: 1 },
    async (spaceName, [d = ''], o) => {
      const { space, domain: name } = await spaceDomain(ctx, spaceName, d);
      const store = await ctx.getStore();
      const config = ctx.getConfig();
      const pending = (await store.listDkimKeys(space.id, name)).filter((k) => k.state === 'pending');
      if (pending.length > 0) {
        throw new UsageError(
          `${name} has a pending key pair already (${pending.map((k) => k.selector).join(', ')}): publish it (trxmail domain dns --space ${space.name} ${name}) and run trxmail domain check --space ${space.name} ${name}`,
        );
      }
      const now = new Date();
      let keys = await createKeyPair(store, hmacKeysInForce(config), { spaceId: space.id, domain: name, state: 'pending', now });
      const lines: string[] = [];
      if (o.force) {
        const retireAfter = new Date(now.getTime() + config.dkim.overlapDays * DAY_MS);
        const ids = new Set(keys.map((k) => k.id));
        const after = await store.activateDkimKeys(space.id, name, [...ids], now, retireAfter);
        keys = after.filter((k) => ids.has(k.id));
        const retiring = after.filter((k) => k.state === 'retiring' && k.retireAfter?.getTime() === retireAfter.getTime());
        lines.push(`new DKIM key pair for ${name}, signing at once: ${selectorsText(keys)}`);
        if (retiring.length > 0) lines.push(`retiring: ${selectorsText(retiring)} (keep their records published until ${retireAfter.toISOString()})`);
        lines.push('publish these records now: mail is signed with the new keys already');
      } else {
        lines.push(`new DKIM key pair for ${name} (pending): ${selectorsText(keys)}`);
        lines.push(`publish these records, then run trxmail domain check --space ${space.name} ${name}: the new keys sign once the check finds them`);
      }
      const names = new Set(keys.map((k) => `${k.selector}._domainkey.${name}.`));
      const records = recordsFor(await domainDnsFacts(store, config, space.id, name)).filter((r) => names.has(r.name));
      ctx.out(lines.join('\n') + '\n' + formatZone(records));
    },
  );
}
