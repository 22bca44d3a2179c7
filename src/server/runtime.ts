/**
 * `trxmail serve`: every configured listener in one process — the milter, the policy
 * service, the Dovecot-protocol SASL server, the bounce intake (LMTP) and Postfix log
 * follower, the socketmap for return-path hosts, the tracking/reports HTTP service, the
 * metrics listener, the webhook dispatcher, the scheduled DNS check of the sender
 * domains and the retention purge — on one store.
 *
 * start() opens the store and the listeners; stop() stops accepting, lets transactions in
 * flight finish (bounded by each server's close deadline), then closes the store. The
 * SASL server closes last: Postfix's smtpd keeps its auth connection for its whole life.
 *
 * Listeners on unix sockets (the default: Postfix's private/ directory) are given to
 * listen.socketUser:listen.socketGroup with mode 0660, so only Postfix and root connect.
 *
 * Throws ConfigError at start, naming the key, when a listener cannot be opened (address in
 * use, missing directory, unknown socket user, chown not permitted).
 */
import { CredentialVerifier } from '../auth/credentials.js';
import { AuthServer } from '../auth/server.js';
import path from 'node:path';
import { parseHostPort, parseReinject, type Config, type ListenerName } from '../config/config.js';
import { HttpService } from '../http/server.js';
import { BounceIntake } from '../bounce/intake.js';
import { BounceDomainSet } from '../bounce/bounce-domains.js';
import { AutoPause } from '../delivery/auto-pause.js';
import { DeliveryRecorder } from '../delivery/recorder.js';
import { LmtpServer } from '../bounce/lmtp.js';
import { MaillogFollower } from '../delivery/maillog-follower.js';
import { ConfigError } from '../lib/errors.js';
import { metrics } from '../metrics/metrics.js';
import { MetricsServer } from '../metrics/server.js';
import { TrackingLinks } from '../tracking/links.js';
import { unsubscribeUrl } from '../tracking/unsubscribe-token.js';
import { encodeUnsubscribeAddress } from '../bounce/unsubscribe-address.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { hmacKeysInForce } from '../config/secrets.js';
import { encodeBounceAddress } from '../bounce/bounce-address.js';
import { formatEndpoint, formatHostPort, parseEndpoint, type Endpoint } from '../lib/endpoint.js';
import type { Logger } from '../lib/logger.js';
import type { ListenEndpoint } from '../lib/socket-listeners.js';
import { resolveSocketOwner, type SocketOwner } from '../lib/socket-owner.js';
import { postfixEndpoint } from '../postfix/endpoints.js';
import { DomainSetups } from '../accept/domain-setups.js';
import { reinjectTo } from '../accept/reinject.js';
import { SPOOL_MEMORY_BYTES } from '../lib/limits.js';
import { Spool } from '../lib/spool.js';
import { DomainChecker } from '../dkim/domain-checker.js';
import { RetentionPurger } from '../retention/purger.js';
import { createRulesHandler } from '../milter/rules-handler.js';
import { MilterServer } from '../milter/server.js';
import { createRulesDecider } from '../policy/rules-decider.js';
import { PolicyServer } from '../policy/server.js';
import { domainMapsLookup } from '../socketmap/domain-maps.js';
import { SocketmapServer } from '../socketmap/server.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { merged } from '../lib/merged.js';

export interface RuntimeEndpoints {
  readonly milter: string;
  readonly policy: string;
  readonly auth: string;
  /** The bounce intake's LMTP listener. */
  readonly lmtp: string;
  /** The socketmap Postfix asks about return-path hosts. */
  readonly socketmap: string;
  /** host:port of the tracking HTTP service. */
  readonly http: string;
  /** host:port of the Prometheus metrics listener. */
  readonly metrics: string;
}

function hostPort(spec: string, key: string): { host: string; port: number } {
  const hp = parseHostPort(spec);
  if (!hp) throw new ConfigError(`${key}: expected host:port, got ${JSON.stringify(spec)}`);
  return hp;
}

const LISTENERS: readonly ListenerName[] = ['milter', 'policy', 'auth', 'lmtp', 'socketmap'];

/** The reinject target, or a ConfigError naming the key. */
function reinjectTarget(config: Config): Endpoint {
  const ep = parseReinject(config.reinject);
  if (ep === null) throw new ConfigError(`reinject: expected unix:/absolute/path, inet:host:port or host:port, got ${JSON.stringify(config.reinject)}`);
  return ep;
}

/**
 * Listens through `listen` on listen.<name>: a unix socket gets `owner` (listen.socketUser and
 * socketGroup, mode 0660). A ConfigError from the listener is prefixed with the file and key.
 */
async function listenOn(config: Config, name: ListenerName, owner: SocketOwner | undefined, listen: (ep: ListenEndpoint) => Promise<Endpoint>): Promise<Endpoint> {
  const key = `listen.${name}`;
  const where = config.file === null ? key : `${config.file}: ${key}`;
  try {
    const ep = parseEndpoint(config.listen[name], key);
    return await listen(ep.kind === 'unix' && owner !== undefined ? merged(ep, { owner }) : ep);
  } catch (err: unknown) {
    if (err instanceof ConfigError) throw new ConfigError(`${where}: ${err.message}`, { cause: err });
    throw err;
  }
}

export class Runtime {
  private store: Store | null = null;
  private milter: MilterServer | null = null;
  private policy: PolicyServer | null = null;
  private auth: AuthServer | null = null;
  private http: HttpService | null = null;
  private lmtp: LmtpServer | null = null;
  private maillog: MaillogFollower | null = null;
  private bounceDomains: BounceDomainSet | null = null;
  private socketmap: SocketmapServer | null = null;
  private metricsServer: MetricsServer | null = null;
  private webhooks: WebhookDispatcher | null = null;
  private domainChecker: DomainChecker | null = null;
  private retention: RetentionPurger | null = null;
  private removeBacklog: (() => void) | null = null;
  /** Bound endpoints in Postfix notation (real ports when 0 was configured). */
  endpoints: RuntimeEndpoints | null = null;

  /** The Postfix log follower while running (null without `maillog`): its 'processed' events. */
  get maillogFollower(): MaillogFollower | null {
    return this.maillog;
  }

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
    /** A store and a clock (tests: sending-limit windows without waiting) in place of the real ones. */
    private readonly injected?: { store?: Store; clock?: () => Date },
  ) {}

  async start(): Promise<RuntimeEndpoints> {
    const { config, logger } = this;
    const keys = hmacKeysInForce(config);
    const store = this.injected?.store ?? (await openStore(config.store));
    const clock = this.injected?.clock ?? (() => new Date());
    const spoolDir = path.join(config.dataDir, 'spool');
    this.store = store;
    try {
      // Failed logins are kept in the store too: every node on it meets the same limits.
      const credentials = new CredentialVerifier(store, { logger, shared: store });
      this.auth = new AuthServer({ verify: credentials.authVerifier, logger });
      this.policy = new PolicyServer({ decide: createRulesDecider(store, clock), logger });
      // Bounces: DSNs and complaints over LMTP; delivered/deferred/bounced from Postfix's log.
      // Bounce addresses live in the bounce domain and in every customer's return-path host.
      const bounceDomains = new BounceDomainSet(config.bounceDomain, store, logger);
      await bounceDomains.start();
      this.bounceDomains = bounceDomains;
      const links = new TrackingLinks(config.http.baseUrl, keys);
      this.milter = new MilterServer({
        handler: createRulesHandler({
          store,
          accounts: store,
          isBounceDomain: (d) => bounceDomains.has(d),
          logger,
          bounceAddress: (spaceId, sendId, host) => encodeBounceAddress({ spaceId, sendId }, keys, host ?? config.bounceDomain),
          domainSetup: new DomainSetups(store, keys).get,
          tracking: {
            links,
            reinject: reinjectTo(reinjectTarget(config)),
            unsubscribeUrl: (claims) => unsubscribeUrl(links.baseUrl, claims, keys),
            unsubscribeAddress: (spaceId, sendId, host) => encodeUnsubscribeAddress({ spaceId, sendId }, keys, host ?? config.bounceDomain),
          },
          newSpool: () => new Spool(spoolDir),
          newBodySpool: () => new Spool(spoolDir, SPOOL_MEMORY_BYTES, config.messageSizeLimit),
          clock,
          node: config.node.name,
          metrics,
        }),
        logger,
      });
      this.http = new HttpService({
        store,
        keys,
        logger,
        basePath: new URL(config.http.baseUrl).pathname,
        // SMTP AUTH and the reports API share one credential cache and one throttle.
        reports: { store, credentials, trustTlsProxy: config.http.trustTlsProxy },
      });
      const where = config.file === null ? '' : `${config.file}: `;
      // Resolved only when a listener is a unix socket (a TCP-only set-up needs no `postfix` user).
      const owner = LISTENERS.some((n) => config.listen[n].startsWith('unix:'))
        ? await resolveSocketOwner(config.listen.socketUser, config.listen.socketGroup, { user: `${where}listen.socketUser`, group: `${where}listen.socketGroup` })
        : undefined;
      const { auth, policy, milter } = this;
      const a = await listenOn(config, 'auth', owner, (ep) => auth.listen(ep));
      const p = await listenOn(config, 'policy', owner, (ep) => policy.listen(ep));
      const m = await listenOn(config, 'milter', owner, (ep) => milter.listen(ep));
      const recorder = new DeliveryRecorder(store, {
        mailboxFullListAfter: config.bounces.mailboxFullListAfter,
        autoPause: new AutoPause(store, config.autoPause, logger),
      });
      this.lmtp = new LmtpServer({
        intake: new BounceIntake({ store, keys, bounceDomain: bounceDomains, logger, recorder, clock }),
        bounceDomain: bounceDomains,
        logger,
      });
      const lmtp = this.lmtp;
      const l = await listenOn(config, 'lmtp', owner, (ep) => lmtp.listen(ep));
      // Postfix's relay_domains / transport_maps / bounce MX ask which domains are ours: the bounce
      // domain and every return-path host (as current as bounceDomains, BOUNCE_DOMAINS_REFRESH_MS).
      this.socketmap = new SocketmapServer({
        lookup: domainMapsLookup({
          isReturnPathDomain: (d) => Promise.resolve(bounceDomains.has(d)),
          bounceDomain: config.bounceDomain,
          // As Postfix's lmtp(8) must name it: relative to the queue directory (chroot-safe).
          bounceTransport: `lmtp:${postfixEndpoint(config.listen.lmtp, config.postfix.queueDirectory)}`,
        }),
        logger,
      });
      const socketmap = this.socketmap;
      const sm = await listenOn(config, 'socketmap', owner, (ep) => socketmap.listen(ep));
      if (config.maillog !== null) {
        this.maillog = new MaillogFollower({ path: config.maillog, node: config.node.name, store, keys, bounceDomain: bounceDomains, logger, recorder });
        await this.maillog.start();
      }
      const listen = hostPort(config.http.listen, 'http.listen');
      const h = await this.http.listen(listen.host, listen.port);
      this.removeBacklog = metrics.registry.addCollector(async () => {
        const b = await store.webhookBacklog();
        metrics.webhookBacklog.set({ status: 'pending' }, b.pending);
        metrics.webhookBacklog.set({ status: 'expired' }, b.expired);
      });
      this.metricsServer = new MetricsServer(metrics.registry, logger);
      const ml = hostPort(config.metrics.listen, 'metrics.listen');
      const mx = await this.metricsServer.listen(ml.host, ml.port);
      this.webhooks = new WebhookDispatcher({ store, logger });
      this.webhooks.start();
      // DKIM keys for sender domains without any (once), then the scheduled DNS checks.
      this.domainChecker = new DomainChecker({ store, config, hmacKeys: keys, logger });
      void this.domainChecker.start();
      // Retention (retention.sendsDays / webhookDays): old sends into daily aggregates, in small batches.
      this.retention = new RetentionPurger({ store, retention: config.retention, logger });
      this.retention.start();
      this.endpoints = {
        milter: formatEndpoint(m),
        policy: formatEndpoint(p),
        auth: formatEndpoint(a),
        lmtp: formatEndpoint(l),
        socketmap: formatEndpoint(sm),
        http: formatHostPort(h.host, h.port),
        metrics: formatHostPort(mx.host, mx.port),
      };
      logger.info(merged(this.endpoints, { store: config.store.driver }), 'trxmail listening');
      return this.endpoints;
    } catch (err: unknown) {
      await this.stop();
      throw err;
    }
  }

  async stop(): Promise<void> {
    const closing: Promise<unknown>[] = [];
    if (this.milter) closing.push(this.milter.close());
    if (this.policy) closing.push(this.policy.close());
    if (this.http) closing.push(this.http.close());
    if (this.lmtp) closing.push(this.lmtp.close());
    if (this.socketmap) closing.push(this.socketmap.close());
    if (this.maillog) closing.push(Promise.resolve(this.maillog.stop()));
    if (this.webhooks) closing.push(this.webhooks.close());
    if (this.domainChecker) closing.push(this.domainChecker.stop());
    if (this.retention) closing.push(this.retention.stop());
    if (this.metricsServer) closing.push(this.metricsServer.close());
    this.removeBacklog?.();
    this.bounceDomains?.stop();
    this.bounceDomains = null;
    await Promise.allSettled(closing);
    if (this.auth) await this.auth.close().catch(() => undefined);
    if (this.store && !this.injected?.store) await this.store.close();
    this.milter = this.policy = this.auth = null;
    this.http = null;
    this.lmtp = null;
    this.socketmap = null;
    this.maillog = null;
    this.webhooks = null;
    this.domainChecker = null;
    this.retention = null;
    this.metricsServer = null;
    this.removeBacklog = null;
    this.store = null;
  }
}
