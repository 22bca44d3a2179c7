/**
 * The domains bounce addresses live in, kept current for the synchronous checks of the bounce
 * intake, the LMTP listener and the maillog follower: the relay's bounce domain plus every
 * customer return-path host (src/store/domain-auth-store.ts), read from the store at start and
 * again every BOUNCE_DOMAINS_REFRESH_MS (the CLI that sets a return-path host runs in another
 * process). A failed refresh keeps the last set and is logged; it is retried at the next tick.
 *
 * Throws: refresh() throws what the store throws (the first load at start must succeed).
 */
import { normaliseDomain } from '../core/domain.js';
import { errorForLog, type Logger } from '../lib/logger.js';
import type { Store } from '../store/store.js';
import type { BounceDomains } from './bounce-address.js';

/** How often serve re-reads the return-path hosts (ms): a new host is honoured within this. */
export const BOUNCE_DOMAINS_REFRESH_MS = 30_000;

export class BounceDomainSet implements BounceDomains {
  readonly primary: string;
  #hosts: ReadonlySet<string> = new Set();
  #timer: NodeJS.Timeout | null = null;

  constructor(
    bounceDomain: string,
    private readonly store: Pick<Store, 'listReturnPathHosts'>,
    private readonly logger: Logger,
  ) {
    this.primary = normaliseDomain(bounceDomain) ?? bounceDomain;
  }

  has(domain: string): boolean {
    return domain === this.primary || this.#hosts.has(domain);
  }

  /** Every domain, the bounce domain first. */
  list(): string[] {
    return [this.primary, ...[...this.#hosts].filter((h) => h !== this.primary)];
  }

  async refresh(): Promise<void> {
    this.#hosts = new Set(await this.store.listReturnPathHosts());
  }

  /** Loads now, then every `everyMs` until stop(). */
  async start(everyMs = BOUNCE_DOMAINS_REFRESH_MS): Promise<void> {
    await this.refresh();
    this.#timer = setInterval(() => {
      this.refresh().catch((err: unknown) => this.logger.warn({ err: errorForLog(err, false) }, 'could not re-read the return-path hosts; keeping the last set'));
    }, everyMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
