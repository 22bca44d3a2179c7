/**
 * The failure bookkeeping of the SASL/API throttle (credentials.ts explains the rules): a
 * window of failure times per key in a bounded LRU, and the keys — a client address (IPv4 as
 * is, IPv6 by its /64, an IPv4-mapped IPv6 address as IPv4) and a (login, address) pair.
 *
 * Limits: the LRU holds at most the `maxKeys` given (MAX_AUTH_THROTTLE_KEYS); an address key
 * is at most MAX_ADDRESS_KEY characters. Pure but for the LRU; throws nothing.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { LRUCache } from 'lru-cache';

/** Longest client address kept as a throttle key (an IPv6 text form is at most 45). */
const MAX_ADDRESS_KEY = 64;

/**
 * Timestamps of recent failures per key, in an LRU kept in least-recently-failed-first order
 * (only add() refreshes a key) so eviction and expiry sweeping both work from the front.
 */
export class FailureLog {
  readonly #entries: LRUCache<string, number[]>;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    maxKeys: number,
  ) {
    this.#entries = new LRUCache({ max: maxKeys });
  }

  get size(): number {
    return this.#entries.size;
  }

  #live(key: string, now: number): number[] | undefined {
    const times = this.#entries.peek(key);
    if (times === undefined) return undefined;
    const cutoff = now - this.windowMs;
    let drop = 0;
    while (drop < times.length && (times[drop] ?? now) <= cutoff) drop++;
    if (drop > 0) times.splice(0, drop);
    if (times.length === 0) {
      this.#entries.delete(key);
      return undefined;
    }
    return times;
  }

  blocked(key: string, now: number): boolean {
    return this.count(key, now) >= this.limit;
  }

  /** Attempts of `key` in the window ending at `now`. */
  count(key: string, now: number): number {
    return this.#live(key, now)?.length ?? 0;
  }

  add(key: string, now: number): void {
    const times = this.#live(key, now) ?? [];
    times.push(now);
    // At the bound this evicts the least recently failed key, which the sweep would drop
    // first anyway: the same keys go as with "sweep, then evict".
    this.#entries.set(key, times);
    this.#sweep(now);
  }

  /** Take back one attempt recorded at `at`. */
  remove(key: string, at: number): void {
    const times = this.#entries.peek(key);
    if (times === undefined) return;
    const i = times.lastIndexOf(at);
    if (i >= 0) times.splice(i, 1);
    if (times.length === 0) this.#entries.delete(key);
  }

  clear(key: string): void {
    this.#entries.delete(key);
  }

  /** Drop keys at the front whose newest failure has left the window (amortised O(1)). */
  #sweep(now: number): void {
    const cutoff = now - this.windowMs;
    const expired: string[] = [];
    for (const key of this.#entries.rkeys()) {
      const times = this.#entries.peek(key) ?? [];
      const newest = times[times.length - 1];
      if (newest !== undefined && newest > cutoff) break;
      expired.push(key);
    }
    // Deleted after the walk: lru-cache's iterators do not promise to survive deletion.
    for (const key of expired) this.#entries.delete(key);
  }
}

/** Throttle key of a client address: IPv4 as is, IPv6 by its /64, anything else truncated. */
export function addressThrottleKey(rip: string): string {
  const ip = rip.trim().toLowerCase();
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/.exec(ip);
  if (mapped?.[1] !== undefined && isIPv4(mapped[1])) return mapped[1];
  if (isIPv4(ip)) return ip;
  if (isIPv6(ip) && !ip.includes('%')) {
    const groups = expandIPv6(ip);
    if (groups !== null) return `${groups.slice(0, 4).join(':')}::/64`;
  }
  return ip.slice(0, MAX_ADDRESS_KEY);
}

/**
 * Throttle key of a (login, client address) pair: the login's store key and the address's
 * throttle key. Attempts without an address share the pair of the login with no address.
 */
export function pairThrottleKey(loginKey: string, addressKey: string | null): string {
  return `${addressKey ?? ''}\u0000${loginKey}`;
}

/** The eight 16-bit groups of a valid IPv6 text form (embedded IPv4 allowed), or null. */
function expandIPv6(ip: string): string[] | null {
  let text = ip;
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = halves[0] === '' || halves[0] === undefined ? [] : halves[0].split(':');
  const tail = halves.length === 2 && halves[1] !== '' && halves[1] !== undefined ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(missing).fill('0'), ...tail].map((g) => g.replace(/^0+(?=.)/, ''));
  return groups.length === 8 ? groups : null;
}

