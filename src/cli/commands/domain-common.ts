/**
 * What the `trxmail domain` modules (domain.ts, domain-check.ts, domain-dkim.ts) share: the
 * domain argument, a space's sender domain looked up with one message, and how keys print.
 * Private keys are never printed: keysText names the fields it shows (JSON:
 * src/reports/domain-json.ts), so a new field of DkimKey is not printed by accident.
 *
 * Throws UsageError: not a domain name, a domain that is not one of the space's.
 */
import { normaliseDomain } from '../../core/domain.js';
import { UsageError } from '../../lib/errors.js';
import type { DkimKey, Space } from '../../store/store.js';
import type { CliContext } from '../context.js';

/** The domain argument as the store keeps it (lower-case A-label); UsageError when it is none. */
export function domainArg(value: string): string {
  const d = normaliseDomain(value);
  if (!d) throw new UsageError(`not a domain name: "${value}"`);
  return d;
}

/** The space and the normalised domain; UsageError when the domain is not one of the space's. */
export async function spaceDomain(ctx: CliContext, spaceName: string, domain: string): Promise<{ space: Space; domain: string }> {
  const space = await ctx.space(spaceName);
  const d = domainArg(domain);
  const domains = await (await ctx.getStore()).listDomains(space.id);
  if (!domains.includes(d)) throw new UsageError(`domain ${d} is not allowed for ${space.name} (see: trxmail domain list --space ${space.name})`);
  return { space, domain: d };
}

/** `trx20261202r (rsa-sha256), trx20261202e (ed25519-sha256)` */
export function selectorsText(keys: readonly DkimKey[]): string {
  return keys.map((k) => `${k.selector} (${k.algorithm})`).join(', ');
}

/** Keys in a table cell: `trx20261202r rsa-sha256 active; ...`. */
export function keysText(keys: readonly DkimKey[]): string {
  return keys.map((k) => `${k.selector} ${k.algorithm} ${k.state}`).join('; ');
}
