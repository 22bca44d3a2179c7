/**
 * `trxmail demo`: trxmail plus a private Postfix wired to it, for a newcomer's first send.
 *
 * Everything lives under `<dataDir>/demo/`: the Postfix instance (own config, queue, data
 * and log directories, loopback only, a generated self-signed certificate) and `mail/`,
 * where a capturing sink writes every message Postfix delivers (`NNNNN.eml` + envelope in
 * `NNNNN.json`). Ports (127.0.0.1): 2525 stands for 25, 2587 for 587, 2465 for 465;
 * 2526 is the capture sink. As with the default `postfix-config`, one address: 2525 also
 * takes plain-text mail from other servers for the bounce domains.
 * trxmail's listeners and the re-injection smtpd are unix sockets in the demo Postfix's
 * queue directory (`private/trxmail-*`, as the shipped defaults put them in
 * /var/spool/postfix/private/). Bounces reach trxmail over LMTP; delivery status comes from
 * the demo Postfix's log. A demo space, sender domain and user are created when missing.
 *
 * Without Postfix installed (or without root, which `postfix start` and giving the sockets to
 * `postfix` need) it says exactly what to do and runs trxmail's listeners alone, on loopback
 * TCP ports 8891-8895 (DEMO_TCP_LISTEN).
 */
import path from 'node:path';
import { defaultListen, defaultReinject, type Config } from '../config/config.js';
import { hashPassword } from '../lib/password.js';
import type { Logger } from '../lib/logger.js';
import { CaptureSink } from '../postfix/capture-sink.js';
import { POSTFIX_INSTALL_HINT, PrivatePostfix, postfixInstalled } from '../postfix/instance.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { Runtime } from './runtime.js';
import { merged } from '../lib/merged.js';

export const DEMO_PORTS = { smtp: 2525, submission: 2587, smtps: 2465, sink: 2526 } as const;
/** trxmail's listeners when the demo runs without a Postfix of its own (nothing to connect to them but you). */
export const DEMO_TCP_LISTEN = {
  milter: 'inet:127.0.0.1:8891',
  policy: 'inet:127.0.0.1:8892',
  auth: 'inet:127.0.0.1:8893',
  lmtp: 'inet:127.0.0.1:8894',
  socketmap: 'inet:127.0.0.1:8895',
} as const;
export const DEMO_SPACE = 'demo';
export const DEMO_DOMAIN = 'demo.example';
export const DEMO_USER = 'demo@demo.example';
export const DEMO_PASSWORD = 'demo-password';

async function seed(store: Store): Promise<void> {
  const space = (await store.getSpaceByName(DEMO_SPACE)) ?? (await store.createSpace({ name: DEMO_SPACE }));
  await store.addDomain(space.id, DEMO_DOMAIN);
  if (!(await store.getUserByEmail(DEMO_USER))) {
    await store.createUser({ spaceId: space.id, email: DEMO_USER, passwordHash: await hashPassword(DEMO_PASSWORD) });
  }
}

export interface DemoHandle {
  stop(): Promise<void>;
}

export async function startDemo(configured: Config, logger: Logger, say: (text: string) => void): Promise<DemoHandle> {
  // Delivery status comes from the demo Postfix's log.
  const base = path.join(configured.dataDir, 'demo');
  const withPostfix = postfixInstalled() && typeof process.getuid === 'function' && process.getuid() === 0;
  const postfix = new PrivatePostfix({
    dir: path.join(base, 'postfix'),
    hostname: 'relay.demo.example',
    ports: DEMO_PORTS,
    endpoints: defaultListen(path.join(base, 'postfix', 'queue')),
    bounceDomain: configured.bounceDomain,
    bounceTransport: `lmtp:${defaultListen(path.join(base, 'postfix', 'queue')).lmtp}`,
    reinject: defaultReinject(path.join(base, 'postfix', 'queue')),
    relayhost: `[127.0.0.1]:${DEMO_PORTS.sink}`,
  });
  const queueDirectory = postfix.queueDir;
  const config: Config = merged(configured, {
    // With a demo Postfix: the shipped defaults, in its queue directory (sockets given to postfix).
    listen: withPostfix
      ? merged(configured.listen, merged(defaultListen(queueDirectory), { socketUser: 'postfix', socketGroup: 'postfix' }))
      : merged(configured.listen, DEMO_TCP_LISTEN),
    postfix: { queueDirectory },
    reinject: defaultReinject(queueDirectory),
    maillog: configured.maillog ?? path.join(base, 'postfix', 'log', 'maillog'),
  });
  const store = await openStore(config.store);
  await seed(store);
  if (withPostfix) {
    // The sockets go into the queue directory's private/, which Postfix creates.
    await postfix.configure();
    await postfix.createQueueDirectories();
  }
  const runtime = new Runtime(config, logger, { store });
  const endpoints = await runtime.start();
  const stopCore = async (): Promise<void> => {
    await runtime.stop();
    await store.close();
  };
  if (!withPostfix) {
    say(
      (!postfixInstalled() ? POSTFIX_INSTALL_HINT : 'The demo Postfix needs root (`postfix start` does): run the demo as root.') +
        `\n\ntrxmail is running without a demo Postfix: milter ${endpoints.milter}, policy ${endpoints.policy}, SASL ${endpoints.auth}.\n`,
    );
    return { stop: stopCore };
  }
  const mailDir = path.join(base, 'mail');
  const sink = new CaptureSink({ dir: mailDir, port: DEMO_PORTS.sink });
  await sink.listen();
  try {
    await postfix.start();
  } catch (err: unknown) {
    await sink.close();
    await stopCore();
    throw err;
  }
  sink.on('message', (m) => logger.info({ file: m.file, rcptTo: m.rcptTo, mailFrom: m.mailFrom }, 'demo sink captured a message'));
  say(
    [
      'trxmail demo is running.',
      `  Postfix: 127.0.0.1:${DEMO_PORTS.submission} (587, STARTTLS), ${DEMO_PORTS.smtps} (465, TLS), ${DEMO_PORTS.smtp} (25: STARTTLS and AUTH, or plain text for the bounce domains)`,
      `  login:   ${DEMO_USER} / ${DEMO_PASSWORD}  (space "${DEMO_SPACE}", sender domain ${DEMO_DOMAIN})`,
      `  mail:    delivered messages are written to ${mailDir}`,
      `  log:     ${postfix.logFile}`,
      `  http:    tracking links and the open pixel point at ${config.http.baseUrl}`,
      '',
      'Send one:',
      `  swaks --server 127.0.0.1:${DEMO_PORTS.submission} --tls --auth-user ${DEMO_USER} --auth-password ${DEMO_PASSWORD} \\`,
      `    --from news@${DEMO_DOMAIN} --to someone@example.org --header 'From: "Demo News" <anything@example.org>' --header 'X-Mxm-Tag: welcome'`,
      'then: npm run trxmail -- sends list',
      '',
      'Ctrl-C stops everything.',
      '',
    ].join('\n'),
  );
  return {
    async stop() {
      await postfix.stop().catch((err: unknown) => logger.error({ err }, 'could not stop the demo Postfix'));
      await sink.close();
      await stopCore();
    },
  };
}
