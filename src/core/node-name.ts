/**
 * The name of a trxmail node (one Postfix + trxmail host among several on one store): kept with
 * each send it accepts and with its maillog position, so that each node reads only its own
 * Postfix's log for its own sends. Default: the host name (config.ts).
 *
 * Limits: MAX_NODE_NAME_LENGTH characters of [A-Za-z0-9._-], starting with a letter or digit.
 * Pure; throws nothing.
 */

/** Longest node name (a DNS label's length). */
export const MAX_NODE_NAME_LENGTH = 63;

const NODE_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Whether `name` is a valid node name. */
export function isNodeName(name: string): boolean {
  return name.length <= MAX_NODE_NAME_LENGTH && NODE_NAME_RE.test(name);
}

/**
 * A node name made from a host name: anything outside the alphabet replaced by '-', leading
 * punctuation dropped, cut to the limit; 'node' when nothing usable is left.
 */
export function nodeNameFromHost(host: string): string {
  const cleaned = host.replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[._-]+/, '').slice(0, MAX_NODE_NAME_LENGTH);
  return isNodeName(cleaned) ? cleaned : 'node';
}
