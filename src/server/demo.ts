/**
 * `trxmail demo`: trxmail plus a private Postfix wired to it, for a newcomer's first send.
 *
 * Everything lives under `<dataDir>/demo/`: the Postfix instance (own config, queue, data
 * and log directories, loopback only, a generated self-signed certificate) and `mail/`,
 * where a capturing sink writes every message Postfix delivers (`NNNNN.eml` + envelope in
 * `NNNNN.json`). Ports (127.0.0.1): 2525 stands for 25, 2587 for 587, 2465 for 465;
 * 2526 is the capture sink, 2527 the re-injection listener. As with the default
 * `postfix-config`, one address: 2525 also takes plain-text mail from other servers for the
 * bounce domains. Bounces reach trxmail over LMTP; delivery status comes
 * from the demo Postfix's log. A demo space, sender domain and
 * user are created when missing.
 *
 * Without Postfix installed (or without root, which `postfix start` needs) it says exactly
 * what to do and runs trxmail's listeners alone.
 */
import path from 'node:path';
import type { Config } from '../config/config.js';
import { hashPassword } from '../lib/password.js';
import type { Logger } from '../lib/logger.js';
import { CaptureSink } from '../postfix/capture-sink.js';
import { POSTFIX_INSTALL_HINT, PrivatePostfix, postfixInstalled } from '../postfix/instance.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { Runtime } from './runtime.js';

export const DEMO_PORTS = { smtp: 2525, submission: 2587, smtps: 2465, sink: 2526, reinject: 2527 } as const;
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
  // BCC copies go to the demo Postfix's re-injection listener; delivery status comes from its log.
  const base = path.join(configured.dataDir, 'demo');
  const config: Config = {
    ...configured,
    reinject: `127.0.0.1:${DEMO_PORTS.reinject}`,
    maillog: configured.maillog ?? path.join(base, 'postfix', 'log', 'maillog'),
  };
  const store = await openStore(config.store);
  await seed(store);
  const runtime = new Runtime(config, logger, { store });
  const endpoints = await runtime.start();
  const stopCore = async (): Promise<void> => {
    await runtime.stop();
    await store.close();
  };
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!postfixInstalled() || !isRoot) {
    say(
      (!postfixInstalled() ? POSTFIX_INSTALL_HINT : 'The demo Postfix needs root (`postfix start` does): run the demo as root.') +
        `\n\ntrxmail is running without a demo Postfix: milter ${endpoints.milter}, policy ${endpoints.policy}, SASL ${endpoints.auth}.\n`,
    );
    return { stop: stopCore };
  }
  const mailDir = path.join(base, 'mail');
  const sink = new CaptureSink({ dir: mailDir, port: DEMO_PORTS.sink });
  await sink.listen();
  const postfix = new PrivatePostfix({
    dir: path.join(base, 'postfix'),
    hostname: 'relay.demo.example',
    ports: DEMO_PORTS,
    endpoints,
    bounceDomain: config.bounceDomain,
    bounceTransport: `lmtp:${endpoints.lmtp}`,
    relayhost: `[127.0.0.1]:${DEMO_PORTS.sink}`,
  });
  try {
    await postfix.configure();
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
