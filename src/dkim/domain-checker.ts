/**
 * The scheduled DNS check of every customer sender domain, run by `serve`.
 *
 * start(): once, ensureDomainKeys (domain-keys.ts) — domains added before DKIM existed get an
 * active key pair, each logged with what to do next ("publish them: trxmail domain dns …") —
 * then, every `dns.checkIntervalMinutes` (0: never; the first run one interval after start),
 * one run:
 *   1. retireDkimKeys(now): retiring keys past their overlap are retired (unpublished);
 *   2. checkAndActivate for every domain, one after the other: the result is recorded with
 *      the domain, a published pending pair starts signing, and a status change is logged
 *      (info: from → to, what is missing) — the store queues the 'domain' webhook event with
 *      it, in the same transaction.
 * Runs never overlap: the next is scheduled when one ends, and runOnce() during a run returns
 * that run. A failing domain (store or DNS) is a warn log line and the next run tries again; a
 * DNS that does not answer records nothing (domain-keys.ts). Nothing here throws into `serve`.
 * Timers are unref'd: they never keep the process alive. stop() cancels the timer, lets the
 * domain in flight finish (bounded by the resolver's deadline) and skips the rest.
 *
 * Throws nothing: start, runOnce and stop never reject.
 */
import type { Config } from '../config/config.js';
import { createResolver, type DnsResolver } from '../dns/resolver.js';
import type { HmacKey } from '../lib/hmac-keys.js';
import { errorForLog, type Logger } from '../lib/logger.js';
import type { DomainCheckProblem, DomainCheckStatus, Store } from '../store/store.js';
import { checkAndActivate, ensureDomainKeys, type CheckStore, type KeyStore } from './domain-keys.js';
import { merged } from '../lib/merged.js';

const MINUTE_MS = 60_000;

export interface DomainCheckerOptions {
  readonly store: CheckStore & KeyStore & Pick<Store, 'listDomainAuth' | 'retireDkimKeys'>;
  readonly config: Pick<Config, 'dns' | 'dkim'>;
  /** The keys that wrap new private keys (hmacKeysInForce). */
  readonly hmacKeys: readonly HmacKey[];
  readonly logger: Logger;
  /** Default: createResolver over `config.dns.resolvers` (the system's when empty). */
  readonly resolver?: DnsResolver;
  readonly clock?: () => Date;
}

/** A domain whose status changed in a run. */
export interface DomainStatusChange {
  readonly spaceId: number;
  readonly domain: string;
  readonly from: DomainCheckStatus;
  readonly to: DomainCheckStatus;
  readonly missing: readonly DomainCheckProblem[];
}

export interface DomainCheckRun {
  /** Domains checked and recorded. */
  readonly checked: number;
  readonly changed: readonly DomainStatusChange[];
  /** Keys that started signing. */
  readonly activated: number;
  /** Keys retired by retireDkimKeys. */
  readonly retired: number;
  /** Domains that could not be checked (store failure, or the DNS did not answer). */
  readonly failed: number;
}

function problemsText(missing: readonly DomainCheckProblem[]): string {
  return missing.map((p) => `${p.type} ${p.name} ${p.status}`).join(', ');
}

export class DomainChecker {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<DomainCheckRun> | null = null;
  private starting: Promise<void> | null = null;
  private stopped = true;
  /** stop() was called: a run in flight skips the domains it has not reached. */
  private halted = false;
  private readonly clock: () => Date;

  constructor(private readonly opts: DomainCheckerOptions) {
    this.clock = opts.clock ?? (() => new Date());
  }

  private get intervalMs(): number {
    return this.opts.config.dns.checkIntervalMinutes * MINUTE_MS;
  }

  /** Runs ensureDomainKeys, then starts the timer (when the interval is not 0). Idempotent; never rejects. */
  start(): Promise<void> {
    if (!this.stopped) return this.starting ?? Promise.resolve();
    this.stopped = false;
    this.halted = false;
    this.starting = this.ensureKeys().then(() => {
      this.starting = null;
      this.schedule();
    });
    return this.starting;
  }

  /** Cancels the timer and waits for the key creation or run in flight. Never rejects. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.halted = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.starting;
    await this.running;
  }

  private schedule(): void {
    if (this.stopped || this.intervalMs <= 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.runOnce().then(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }

  private async ensureKeys(): Promise<void> {
    const { store, hmacKeys, logger } = this.opts;
    try {
      const created = await ensureDomainKeys(store, hmacKeys, this.clock(), (d, err) =>
        logger.warn({ space: d.spaceId, domain: d.domain, err: errorForLog(err, false) }, 'domain keys: could not create a DKIM key pair; next start tries again'),
      );
      for (const c of created) {
        logger.info(
          { space: c.spaceId, domain: c.domain, selectors: c.keys.map((k) => k.selector).join(', ') },
          `domain keys: ${c.domain} got an active DKIM key pair; publish them: trxmail domain dns --space <space> ${c.domain}`,
        );
      }
    } catch (err: unknown) {
      logger.warn({ err: errorForLog(err, false) }, 'domain keys: could not list the sender domains; next start tries again');
    }
  }

  /** One run (see the header); during a run, that run. Never rejects. */
  runOnce(now?: Date): Promise<DomainCheckRun> {
    if (this.running) return this.running;
    const run = this.run(now ?? this.clock()).finally(() => {
      this.running = null;
    });
    this.running = run;
    return run;
  }

  private async run(now: Date): Promise<DomainCheckRun> {
    const { store, config, logger } = this.opts;
    const result = { checked: 0, changed: [] as DomainStatusChange[], activated: 0, retired: 0, failed: 0 };
    let resolver: DnsResolver;
    let domains: Awaited<ReturnType<Store['listDomainAuth']>>;
    try {
      resolver = this.opts.resolver ?? createResolver(config.dns.resolvers.length > 0 ? { servers: config.dns.resolvers } : {});
      result.retired = await store.retireDkimKeys(now);
      domains = await store.listDomainAuth();
    } catch (err: unknown) {
      logger.warn({ err: errorForLog(err, false) }, 'domain check: could not start a run; the next run tries again');
      return result;
    }
    for (const d of domains) {
      // serve is stopping: the rest waits for the next start.
      if (this.halted) break;
      const where = { space: d.spaceId, domain: d.domain };
      try {
        const out = await checkAndActivate(store, config, resolver, d.spaceId, d.domain, now);
        if (!out.recorded) {
          result.failed += 1;
          logger.warn(merged(where, { missing: problemsText(out.missing) }), `domain check: ${d.domain}: the DNS did not answer; the next run tries again`);
          continue;
        }
        result.checked += 1;
        result.activated += out.activated.length;
        if (out.activated.length > 0) {
          logger.info(merged(where, { selectors: out.activated.map((k) => k.selector).join(', ') }), `domain check: ${d.domain}: new DKIM keys published, they sign from now on`);
        }
        if (out.changed) {
          result.changed.push({ spaceId: d.spaceId, domain: d.domain, from: out.previous, to: out.status, missing: out.missing });
          logger.info(
            merged(where, { from: out.previous, to: out.status, missing: problemsText(out.missing) }),
            `domain check: ${d.domain}: ${out.previous} → ${out.status}`,
          );
        }
      } catch (err: unknown) {
        result.failed += 1;
        logger.warn(merged(where, { err: errorForLog(err, false) }), `domain check: ${d.domain} failed; the next run tries again`);
      }
    }
    return result;
  }
}
