/**
 * What the accept step (accept-message.ts) needs from the world, injected by whoever runs it
 * (src/server/runtime.ts for the milter; the unit suite with a real SQLite file and a
 * capture sink): the store, re-injection into Postfix, spools, a clock, metrics, the tracking
 * link signer and a logger. Types only.
 */
import type { Readable } from 'node:stream';
import type { SigningKey } from '../dkim/signer.js';
import type { Logger } from '../lib/logger.js';
import type { Spool } from '../lib/spool.js';
import type { TrxMetrics } from '../metrics/metrics.js';
import type { Store } from '../store/store.js';
import type { TrackingLinks } from '../tracking/links.js';
import type { UnsubscribeClaims } from '../tracking/unsubscribe-token.js';

/** A whole message to hand to Postfix as a separate transaction (the untracked BCC copy). */
export interface ReinjectMessage {
  readonly from: string;
  readonly to: readonly string[];
  /** The whole message (headers and body), CRLF lines. */
  readonly raw: Readable;
  /** ENVID for DSNs, optional. */
  readonly envid?: string | undefined;
}

/**
 * Hands a message to Postfix; resolves with Postfix's queue id for it once Postfix answered
 * 250, throws TransientError otherwise (the client then gets a 4xx for the whole message).
 */
export type Reinject = (msg: ReinjectMessage) => Promise<string>;

/** Open/click tracking and the untracked BCC copy; absent when tracking is not configured. */
export interface TrackingPorts {
  readonly links: TrackingLinks;
  readonly reinject: Reinject;
  /**
   * The signed one-click unsubscribe URL (tracking/unsubscribe-token.ts) of a space's send to
   * a recipient, or null when it cannot be signed; absent: one-click unsubscribe is not offered.
   */
  readonly unsubscribeUrl?: (claims: UnsubscribeClaims) => string | null;
  /**
   * The signed unsubscribe address (bounce/unsubscribe-address.ts) of a space's send in `host`,
   * or in the relay's bounce domain when `host` is null; null when it cannot be made. Offered
   * as List-Unsubscribe's mailto: URI after the URL; absent: the URL alone.
   */
  readonly unsubscribeAddress?: (spaceId: number, sendId: string, host: string | null) => string | null;
}

/** The instruments the accept step counts with (src/metrics/metrics.ts). */
export type AcceptMetrics = Pick<TrxMetrics, 'accepted' | 'rejected' | 'tempfailed' | 'eomLatency'>;

/** Where bounces go and what signs, for one configured sender domain of a space. */
export interface DomainSetup {
  /** The customer's return-path host (the envelope sender's domain), or null: the relay's bounce domain. */
  readonly returnPath: string | null;
  /** The domain's active DKIM keys (d= the domain); empty: the message leaves unsigned. */
  readonly signingKeys: readonly SigningKey[];
}

export interface AcceptPorts {
  readonly store: Pick<Store, 'getFromDefault' | 'lookupSuppression' | 'recordSend' | 'forgetSend' | 'updateRecipientStatus' | 'reserveSending'>;
  /**
   * The HMAC-signed bounce address of a send (src/bounce/bounce-address.ts) in `host`, or in
   * the relay's bounce domain when `host` is null.
   */
  readonly bounceAddress: (spaceId: number, sendId: string, host: string | null) => string;
  /** The setup of the space's sender domain that allowed MAIL FROM (core senderDomainOf). */
  readonly domainSetup: (spaceId: number, domain: string) => Promise<DomainSetup>;
  /** Null turns tracking (and so the separate BCC copy) off. */
  readonly tracking: TrackingPorts | null;
  /** A new, empty spool (memory, then a file in the spool directory). */
  readonly newSpool: () => Spool;
  readonly clock: () => Date;
  /** This node's name (config `node.name`), kept with each send; absent: none kept. */
  readonly node?: string;
  readonly metrics: AcceptMetrics;
  readonly logger: Logger;
}
