/**
 * `trxmail serve`: every configured listener in one process — the milter, the policy
 * service, the Dovecot-protocol SASL server, the bounce intake (LMTP) and Postfix log
 * follower, the socketmap for return-path hosts, the tracking/reports HTTP service, the
 * metrics listener, the webhook dispatcher and the scheduled DNS check of the sender
 * domains — on one store.
 *
 * start() opens the store and the listeners; stop() stops accepting, lets transactions in
 * flight finish (bounded by each server's close deadline), then closes the store. The
 * SASL server closes last: Postfix's smtpd keeps its auth connection for its whole life.
 *
 * Throws ConfigError at start when a listener cannot be opened (address in use, bad path).
 */
import { CredentialVerifier } from '../auth/credentials.js';
import { AuthServer } from '../auth/server.js';
import path from 'node:path';
import { parseHostPort, type Config } from '../config/config.js';
import { HttpService } from '../http/server.js';
import { BounceIntake } from '../bounce/intake.js';
import { BounceDomainSet } from '../bounce/bounce-domains.js';
import { DeliveryRecorder } from '../delivery/recorder.js';
import { LmtpServer } from '../bounce/lmtp.js';
import { MaillogFollower } from '../delivery/maillog-follower.js';
import { ConfigError } from '../lib/errors.js';
import { metrics } from '../metrics/metrics.js';
import { MetricsServer } from '../metrics/server.js';
import { TrackingLinks } from '../tracking/links.js';
import { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { hmacKeysInForce } from '../config/secrets.js';
import { encodeBounceAddress } from '../bounce/bounce-address.js';
import { formatEndpoint, formatHostPort, parseEndpoint } from '../lib/endpoint.js';
import type { Logger } from '../lib/logger.js';
import { DomainSetups } from '../accept/domain-setups.js';
import { reinjectTo } from '../accept/reinject.js';
import { Spool } from '../lib/spool.js';
import { DomainChecker } from '../dkim/domain-checker.js';
import { createRulesHandler } from '../milter/rules-handler.js';
import { MilterServer } from '../milter/server.js';
import { createRulesDecider } from '../policy/rules-decider.js';
import { PolicyServer } from '../policy/server.js';
import { domainMapsLookup } from '../socketmap/domain-maps.js';
import { SocketmapServer } from '../socketmap/server.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';

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
    private readonly injected?: { store?: Store },
  ) {}

  async start(): Promise<RuntimeEndpoints> {
    const { config, logger } = this;
    const keys = hmacKeysInForce(config);
    const store = this.injected?.store ?? (await openStore(config.store));
    const spoolDir = path.join(config.dataDir, 'spool');
    this.store = store;
    try {
      const credentials = new CredentialVerifier(store, { logger });
      this.auth = new AuthServer({ verify: credentials.authVerifier, logger });
      this.policy = new PolicyServer({ decide: createRulesDecider(store), logger });
      this.milter = new MilterServer({
        handler: createRulesHandler({
          store,
          accounts: store,
          logger,
          bounceAddress: (spaceId, sendId, host) => encodeBounceAddress({ spaceId, sendId }, keys, host ?? config.bounceDomain),
          domainSetup: new DomainSetups(store, keys).get,
          tracking: {
            links: new TrackingLinks(config.http.baseUrl, keys),
            reinject: reinjectTo(hostPort(config.reinject, 'reinject')),
          },
          newSpool: () => new Spool(spoolDir),
          clock: () => new Date(),
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
      const a = await this.auth.listen(parseEndpoint(config.listen.auth, 'listen.auth'));
      const p = await this.policy.listen(parseEndpoint(config.listen.policy, 'listen.policy'));
      const m = await this.milter.listen(parseEndpoint(config.listen.milter, 'listen.milter'));
      // Bounces: DSNs and complaints over LMTP; delivered/deferred/bounced from Postfix's log.
      // Bounce addresses live in the bounce domain and in every customer's return-path host.
      const bounceDomains = new BounceDomainSet(config.bounceDomain, store, logger);
      await bounceDomains.start();
      this.bounceDomains = bounceDomains;
      const recorder = new DeliveryRecorder(store, { mailboxFullListAfter: config.bounces.mailboxFullListAfter });
      this.lmtp = new LmtpServer({
        intake: new BounceIntake({ store, keys, bounceDomain: bounceDomains, logger, recorder }),
        bounceDomain: bounceDomains,
        logger,
      });
      const l = await this.lmtp.listen(parseEndpoint(config.listen.lmtp, 'listen.lmtp'));
      // Postfix's relay_domains / transport_maps / bounce MX ask which domains are ours: the bounce
      // domain and every return-path host (as current as bounceDomains, BOUNCE_DOMAINS_REFRESH_MS).
      this.socketmap = new SocketmapServer({
        lookup: domainMapsLookup({
          isReturnPathDomain: (d) => Promise.resolve(bounceDomains.has(d)),
          bounceDomain: config.bounceDomain,
          bounceTransport: `lmtp:${config.listen.lmtp}`,
        }),
        logger,
      });
      const sm = await this.socketmap.listen(parseEndpoint(config.listen.socketmap, 'listen.socketmap'));
      if (config.maillog !== null) {
        this.maillog = new MaillogFollower({ path: config.maillog, store, keys, bounceDomain: bounceDomains, logger, recorder });
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
      this.endpoints = {
        milter: formatEndpoint(m),
        policy: formatEndpoint(p),
        auth: formatEndpoint(a),
        lmtp: formatEndpoint(l),
        socketmap: formatEndpoint(sm),
        http: formatHostPort(h.host, h.port),
        metrics: formatHostPort(mx.host, mx.port),
      };
      logger.info({ ...this.endpoints, store: config.store.driver }, 'trxmail listening');
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
    this.metricsServer = null;
    this.removeBacklog = null;
    this.store = null;
  }
}
