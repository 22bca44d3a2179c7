/**
 * Milter option negotiation: what we answer to the MTA's `O`. Pure.
 *
 * Protocol: Sendmail milter v2..6 as Postfix speaks it (docs/protocols.md §1.2, §1.3).
 * - version: min(offered, SMFI_VERSION); an MTA below SMFI_MIN_VERSION is refused;
 * - actions: the configured SMFIF_* bits the MTA offers (no SETSYMLIST below v6);
 * - protocol: HDR_LEADSPC, a NO* bit for each event the handler has no method for (HELO,
 *   DATA, EOH, body, unknown), an NR_* bit for C/MAIL/RCPT/header when it has no method for
 *   them (NOCONNECT rather than NR_CONN when it does not need the connect information), an
 *   NR_* bit for each event it answers later (`replyLater`) — only bits the MTA offered, or
 *   an older MTA would get out of step;
 * - SETSYMLIST macro lists (default DEFAULT_MACRO_LISTS) when that action was granted.
 * expectsReply() says, under what was settled, whether the MTA waits for a reply to an event.
 *
 * Throws ConfigError from validateNegotiationOptions() (bad actions or macro lists) and
 * ProtocolError EMILTER_VERSION from negotiate().
 */

import { ConfigError, ProtocolError } from '../lib/errors.js';
import {
  DEFAULT_MILTER_ACTIONS,
  SMFIF_SETSYMLIST,
  SMFIM_CONNECT,
  SMFIM_EOH,
  SMFIM_EOM,
  SMFIP_HDR_LEADSPC,
  SMFIP_NOCONNECT,
  SMFIP_NOBODY,
  SMFIP_NODATA,
  SMFIP_NOEOH,
  SMFIP_NOHELO,
  SMFIP_NOUNKNOWN,
  SMFIP_NR_BODY,
  SMFIP_NR_CONN,
  SMFIP_NR_DATA,
  SMFIP_NR_EOH,
  SMFIP_NR_HDR,
  SMFIP_NR_HELO,
  SMFIP_NR_MAIL,
  SMFIP_NR_RCPT,
  SMFIP_NR_UNKN,
  SMFI_MIN_VERSION,
  SMFI_VERSION,
} from './constants.js';
import type { OptnegReply } from './encode.js';
import type { MilterHandler } from './handler.js';

export interface NegotiationOptions {
  /** SMFIF_* actions to ask for (intersected with the MTA's offer). Default DEFAULT_MILTER_ACTIONS. */
  readonly actions?: number;
  /**
   * SETSYMLIST overrides, by SMFIM_* stage: macro names as in main.cf (`i`, `{auth_authen}`).
   * A list replaces Postfix's list for that stage. Default DEFAULT_MACRO_LISTS.
   */
  readonly macroLists?: Readonly<Partial<Record<number, readonly string[]>>>;
}

/** The queue id and the SASL login at end-of-message too (Postfix sends only `i` there by default). */
export const DEFAULT_MACRO_LISTS: Readonly<Partial<Record<number, readonly string[]>>> = {
  [SMFIM_EOM]: ['i', '{auth_authen}', '{auth_type}'],
};

const MACRO_NAME_RE = /^(?:[A-Za-z0-9_]|\{[A-Za-z0-9_]+\})+$/;

/** Checks the options once (the server calls it at start-up). Throws ConfigError. */
export function validateNegotiationOptions(options: NegotiationOptions): void {
  const actions = options.actions ?? DEFAULT_MILTER_ACTIONS;
  if (!Number.isInteger(actions) || actions < 0 || actions > 0x1ff) {
    throw new ConfigError(`milter actions ${String(actions)} is not a set of SMFIF_* bits`);
  }
  for (const [stage, names] of Object.entries(options.macroLists ?? DEFAULT_MACRO_LISTS)) {
    const n = Number(stage);
    if (!Number.isInteger(n) || n < SMFIM_CONNECT || n > SMFIM_EOH) throw new ConfigError(`milter macro stage ${stage} is not 0..6`);
    for (const name of names ?? []) {
      if (!MACRO_NAME_RE.test(name)) throw new ConfigError(`milter macro name ${JSON.stringify(name)} is not valid`);
    }
  }
}

/** The protocol bit we ask for when the handler lacks the method: NO* (do not send) or NR_* (do not wait). */
const BIT_WITHOUT_METHOD: readonly (readonly [keyof MilterHandler, number])[] = [
  ['helo', SMFIP_NOHELO],
  ['data', SMFIP_NODATA],
  ['eoh', SMFIP_NOEOH],
  ['body', SMFIP_NOBODY],
  ['unknown', SMFIP_NOUNKNOWN],
  ['connect', SMFIP_NR_CONN],
  ['mail', SMFIP_NR_MAIL],
  ['rcpt', SMFIP_NR_RCPT],
  ['header', SMFIP_NR_HDR],
];

/** Events that may expect a reply, with the bit that tells the MTA not to wait for one. */
const NO_REPLY_BIT = {
  connect: SMFIP_NR_CONN,
  helo: SMFIP_NR_HELO,
  mail: SMFIP_NR_MAIL,
  rcpt: SMFIP_NR_RCPT,
  data: SMFIP_NR_DATA,
  header: SMFIP_NR_HDR,
  eoh: SMFIP_NR_EOH,
  body: SMFIP_NR_BODY,
  unknown: SMFIP_NR_UNKN,
  eom: 0,
} as const;
export type ReplyEvent = keyof typeof NO_REPLY_BIT;

/** The MTA's offer, as its `O` packet carries it. */
export interface OptnegOffer {
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
}

/** Our `O` reply to `offer`. Throws ProtocolError EMILTER_VERSION for a version below 2. */
export function negotiate(offer: OptnegOffer, options: NegotiationOptions, handler: MilterHandler): Required<OptnegReply> {
  if (offer.version < SMFI_MIN_VERSION) {
    throw new ProtocolError('EMILTER_VERSION', `milter protocol version ${offer.version} is not supported (need 2..6)`);
  }
  const version = Math.min(offer.version, SMFI_VERSION);
  let actions = (options.actions ?? DEFAULT_MILTER_ACTIONS) & offer.actions;
  if (version < 6) actions &= ~SMFIF_SETSYMLIST;
  let want = SMFIP_HDR_LEADSPC;
  for (const [method, bit] of BIT_WITHOUT_METHOD) if (!handler[method]) want |= bit;
  if (!handler.connect && handler.needsConnectInfo === false && (offer.protocol & SMFIP_NOCONNECT) !== 0) {
    want = (want & ~SMFIP_NR_CONN) | SMFIP_NOCONNECT;
  }
  for (const event of handler.replyLater ?? []) if (handler[event]) want |= NO_REPLY_BIT[event];
  const protocol = want & offer.protocol;
  const macroLists: [number, string][] = [];
  if ((actions & SMFIF_SETSYMLIST) !== 0) {
    for (const [stage, names] of Object.entries(options.macroLists ?? DEFAULT_MACRO_LISTS)) {
      if (names !== undefined && names.length > 0) macroLists.push([Number(stage), names.join(' ')]);
    }
  }
  return { version, actions, protocol, macroLists };
}

/** Whether the MTA waits for our reply to `event` under the negotiated `protocol` bits (E: always). */
export function expectsReply(protocol: number, event: ReplyEvent): boolean {
  const bit = NO_REPLY_BIT[event];
  return bit === 0 || (protocol & bit) === 0;
}
