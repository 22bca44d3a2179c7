/**
 * One trxmail node for bench/postfix: its configuration (through the real parser, so defaults
 * fill in whatever keys the configuration grows), its store (a temporary SQLite file or a
 * PostgreSQL database), the bench's space, sender domain and login in that store, and its
 * runtime (milter, policy, SASL, LMTP, socketmap, HTTP and metrics listeners on the given
 * loopback ports) logging pino JSON lines at info to a file, as `trxmail serve` would.
 *
 * Several nodes may run in one bench process (setup b on SQLite, b' on PostgreSQL): each has
 * its own ports and store; only one is loaded at a time, so the process's CPU during a run is
 * that node's.
 */
import path from 'node:path';
import { pino } from 'pino';
import { parseConfig, type Config } from '../../src/config/config.js';
import { hmacKeysInForce } from '../../src/config/secrets.js';
import { createKeyPair } from '../../src/dkim/domain-keys.js';
import { hashPassword } from '../../src/lib/password.js';
import { Runtime } from '../../src/server/runtime.js';
import { openStore } from '../../src/store/open-store.js';
import type { Store } from '../../src/store/store.js';

export interface TrxmailNodePorts {
  readonly milter: number;
  readonly policy: number;
  readonly auth: number;
  readonly lmtp: number;
  readonly socketmap: number;
  readonly http: number;
  readonly metrics: number;
  /** The re-injection listener of this node's Postfix. */
  readonly reinject: number;
}

export interface TrxmailNodeOptions {
  readonly name: string;
  /** The node's directory (data, log). */
  readonly dir: string;
  /** The store's YAML shape: `{driver: 'sqlite', path}` or `{driver: 'postgres', url, ...}`. */
  readonly store: Record<string, unknown>;
  readonly ports: TrxmailNodePorts;
  readonly bounceDomain: string;
  readonly secret: string;
  readonly senderDomain: string;
  readonly login: string;
  readonly password: string;
}

export interface TrxmailNode {
  readonly name: string;
  readonly config: Config;
  readonly store: Store;
  readonly spaceId: number;
  readonly logFile: string;
  /** Stops the listeners, then closes the store. */
  close(): Promise<void>;
}

export async function startTrxmailNode(o: TrxmailNodeOptions): Promise<TrxmailNode> {
  const p = o.ports;
  const config = parseConfig(
    {
      dataDir: path.join(o.dir, 'data'),
      node: { name: o.name },
      store: o.store,
      bounceDomain: o.bounceDomain,
      listen: {
        milter: `inet:127.0.0.1:${p.milter}`,
        policy: `inet:127.0.0.1:${p.policy}`,
        auth: `inet:127.0.0.1:${p.auth}`,
        lmtp: `inet:127.0.0.1:${p.lmtp}`,
        socketmap: `inet:127.0.0.1:${p.socketmap}`,
      },
      http: { listen: `127.0.0.1:${p.http}` },
      metrics: { listen: `127.0.0.1:${p.metrics}` },
      // The node's Postfix's re-injection listener (BCC copies; the bench message has one recipient).
      reinject: `127.0.0.1:${p.reinject}`,
      secrets: { keys: [{ id: 'bench', secret: o.secret }] },
      log: { level: 'info' },
    },
    { file: null, env: {}, baseDir: o.dir },
  );
  const store = await openStore(config.store);
  try {
    const space = await store.createSpace({ name: 'bench' });
    await store.addDomain(space.id, o.senderDomain);
    // as `trxmail domain add` does: the pair is active before the first message (serve would
    // otherwise make it at start, in the background, and defer the first messages)
    await createKeyPair(store, hmacKeysInForce(config), { spaceId: space.id, domain: o.senderDomain, state: 'active', now: new Date() });
    await store.createUser({ spaceId: space.id, email: o.login, passwordHash: await hashPassword(o.password) });
    const logFile = path.join(o.dir, `trxmail-${o.name}.log`);
    const logger = pino(
      { level: config.log.level, base: { component: 'trxmail', node: o.name }, timestamp: pino.stdTimeFunctions.isoTime },
      pino.destination({ dest: logFile, sync: true, mkdir: true }),
    );
    const runtime = new Runtime(config, logger, { store });
    await runtime.start();
    return {
      name: o.name,
      config,
      store,
      spaceId: space.id,
      logFile,
      async close() {
        try {
          await runtime.stop();
        } finally {
          await store.close();
        }
      },
    };
  } catch (err: unknown) {
    await store.close().catch(() => undefined);
    throw err;
  }
}
