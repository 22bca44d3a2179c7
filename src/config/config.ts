/**
 * trxmail configuration: one YAML file (`trxmail.yaml`), validated once at start-up, then frozen.
 *
 * Where the file comes from, first match wins: the `--config` option, the TRXMAIL_CONFIG
 * environment variable, `./trxmail.yaml` when it exists. With no file at all every default
 * applies (zero-config start: SQLite in ./trxmail-data, listeners as unix sockets in Postfix's
 * queue directory, owned by `postfix` with mode 0660, so only Postfix (and root) can talk to them;
 * TCP listeners only when `listen.*` says `inet:host:port`).
 *
 * Secrets: HMAC keys (bounce addresses, tracking tokens) come from `secrets.keys` in the file
 * or from TRXMAIL_HMAC_KEYS (`id:secret[,id:secret...]`, the first key signs, all verify);
 * the environment wins. With neither, `serve` generates one key and keeps it in the data
 * directory (mode 0600).
 *
 * Store: SQLite at `store.path` (default <dataDir>/trxmail.db), or with `store.driver: postgres`
 * PostgreSQL at `store.url` or TRXMAIL_STORE_URL (the environment wins; the URL is never
 * echoed in an error, it may hold a password).
 *
 * Errors: ConfigError with one line naming the file and the key, e.g.
 *   `trxmail.yaml: listen.milter: expected inet:host:port or unix:/absolute/path, got "8891"`.
 * Relative paths in the file are resolved against the file's directory; without a file,
 * against the working directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { DEFAULT_MAILBOX_FULL_LIST_AFTER, type MailboxFullThreshold } from '../core/bounce-listing.js';
import { DEFAULT_AUTO_PAUSE, MAX_AUTO_PAUSE_WINDOW_HOURS, type AutoPauseSettings } from '../core/sending-limits.js';
import { normaliseDomain } from '../core/domain.js';
import { MAX_NODE_NAME_LENGTH, isNodeName, nodeNameFromHost } from '../core/node-name.js';
import { formatHostPort, parseEndpoint, type Endpoint } from '../lib/endpoint.js';
import { ConfigError } from '../lib/errors.js';
import { retentionSchema, type RetentionConfig } from './retention.js';
import { DEFAULT_MESSAGE_SIZE_LIMIT, MAX_MESSAGE_SIZE_LIMIT, MIN_MESSAGE_SIZE_LIMIT } from '../lib/limits.js';
export * from './defaults.js';
import { DEFAULT_HTTP_LISTEN, DEFAULT_POSTFIX_QUEUE_DIR, DEFAULT_SOCKET_USER, DEFAULT_SOCKET_GROUP, defaultListen, defaultReinject, DEFAULT_METRICS_LISTEN, DEFAULT_DKIM_OVERLAP_DAYS, DEFAULT_DNS_CHECK_MINUTES, parseHostPort, normaliseBaseUrl, BASE_URL_MESSAGE } from './defaults.js';

export const DEFAULT_CONFIG_FILE = 'trxmail.yaml';
export const DEFAULT_DATA_DIR = 'trxmail-data';
/** Shortest HMAC secret we accept, in bytes (128 bits). */
export const MIN_SECRET_BYTES = 16;

const endpoint = z
  .string()
  .refine(isPostfixEndpoint, { message: 'expected inet:host:port or unix:/absolute/path' });

/**
 * A listen.* value must be in Postfix's own notation, because `postfix-config` copies it into
 * main.cf as is: `inet:host:port` (IPv6 host in brackets, port from 1) or `unix:/absolute/path`.
 * The parser also reads libmilter's forms (`inet:port@host`, `local:`), which Postfix does not.
 */
function isPostfixEndpoint(spec: string): boolean {
  let ep: Endpoint;
  try {
    ep = parseEndpoint(spec);
  } catch (err: unknown) {
    if (err instanceof ConfigError) return false;
    throw err;
  }
  if (ep.kind === 'unix') return spec.startsWith('unix:/') && ep.path.length > 1;
  return spec.startsWith('inet:') && !spec.includes('@') && (!ep.host.includes(':') || spec.startsWith('inet:[')) && ep.port >= 1;
}

const keySchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_-]{1,16}$/, 'expected 1-16 letters, digits, _ or -'),
  secret: z.string().refine((s) => Buffer.byteLength(s) >= MIN_SECRET_BYTES, {
    message: `must be at least ${MIN_SECRET_BYTES} bytes`,
  }),
});


/** trxmail.yaml `store.poolSize` default (postgres): connections per trxmail process at most. */
export const DEFAULT_PG_POOL_SIZE = 10;
/** trxmail.yaml `store.statementTimeoutMs` default (postgres), as long as SQLite's busy timeout. */
export const DEFAULT_PG_STATEMENT_TIMEOUT_MS = 5000;
/** trxmail.yaml `store.connectTimeoutMs` default (postgres). */
export const DEFAULT_PG_CONNECT_TIMEOUT_MS = 5000;
const POSTGRES_URL_MESSAGE = 'expected postgres://[user[:password]@]host[:port][,host2[:port]...]/database[?...]';

/** A postgres:// or postgresql:// URL with a host (several, comma-separated, allowed) and a database. */
export function isPostgresUrl(spec: string): boolean {
  const m = /^postgres(?:ql)?:\/\/(?:[^@/]*@)?([^/?#]+)\/([^/?#]+)(?:\?[^#]*)?$/.exec(spec);
  return m !== null && m[1] !== undefined && m[1].split(',').every((h) => h !== '');
}

/** The store settings, checked across keys: each key belongs to one driver. */
function storeConfig(
  c: z.infer<typeof schema>['store'],
  ctx: { where: string; env: NodeJS.ProcessEnv; dataDir: string; baseDir: string },
): Config['store'] {
  const envUrl = ctx.env['TRXMAIL_STORE_URL'];
  const url = envUrl !== undefined && envUrl !== '' ? envUrl : c.url;
  if (c.driver === 'sqlite') {
    for (const key of ['url', 'poolSize', 'statementTimeoutMs', 'connectTimeoutMs'] as const) {
      if (c[key] !== undefined) throw new ConfigError(`${ctx.where}: store.${key}: only for store.driver postgres`);
    }
    if (envUrl !== undefined && envUrl !== '') throw new ConfigError(`${ctx.where}: TRXMAIL_STORE_URL is set but store.driver is sqlite`);
    const path_ =
      c.path === undefined ? path.join(ctx.dataDir, 'trxmail.db') : c.path === ':memory:' ? ':memory:' : path.resolve(ctx.baseDir, c.path);
    return { driver: 'sqlite', path: path_ };
  }
  if (c.path !== undefined) throw new ConfigError(`${ctx.where}: store.path: only for store.driver sqlite (use store.url)`);
  if (url === undefined) throw new ConfigError(`${ctx.where}: store.url: required with store.driver postgres (or set TRXMAIL_STORE_URL)`);
  // Never echo the URL: it may hold a password.
  if (!isPostgresUrl(url)) throw new ConfigError(`${ctx.where}: ${url === envUrl ? 'TRXMAIL_STORE_URL' : 'store.url'}: ${POSTGRES_URL_MESSAGE}`);
  return {
    driver: 'postgres',
    url,
    poolSize: c.poolSize ?? DEFAULT_PG_POOL_SIZE,
    statementTimeoutMs: c.statementTimeoutMs ?? DEFAULT_PG_STATEMENT_TIMEOUT_MS,
    connectTimeoutMs: c.connectTimeoutMs ?? DEFAULT_PG_CONNECT_TIMEOUT_MS,
  };
}

const hostPort = z.string().refine((s) => parseHostPort(s) !== null, {
  message: 'expected host:port (IPv6 host in brackets) with a port from 1 to 65535',
});

/**
 * `reinject`: where trxmail hands BCC copies to Postfix. `unix:/absolute/path` (the default: a
 * master.cf `unix` smtpd service in Postfix's private/ or public/ directory), or TCP as
 * `inet:host:port` or `host:port` (any local process can then relay through that listener).
 * Returns null when the value is neither.
 */
export function parseReinject(spec: string): Endpoint | null {
  if (spec.startsWith('unix:') || spec.startsWith('inet:')) return isPostfixEndpoint(spec) ? parseEndpoint(spec) : null;
  const hp = parseHostPort(spec);
  return hp === null ? null : { kind: 'tcp', host: hp.host, port: hp.port };
}

const reinjectTarget = z.string().refine((s) => parseReinject(s) !== null, {
  message: 'expected unix:/absolute/path, inet:host:port or host:port (IPv6 host in brackets)',
});

/** A user or group name, or a numeric id. */
const account = z.string().regex(/^(?:[a-z_][a-z0-9_.-]{0,31}\$?|\d{1,10})$/i, 'expected a user or group name, or a numeric id');

const schema = z.strictObject({
  dataDir: z.string().min(1).default(DEFAULT_DATA_DIR),
  node: z
    .strictObject({
      /** This node's name among several on one store (core/node-name.ts); default: the host name. */
      name: z.string().refine(isNodeName, { message: `expected 1..${MAX_NODE_NAME_LENGTH} characters of A-Z a-z 0-9 . _ - starting with a letter or digit` }).optional(),
    })
    .default({}),
  store: z
    .strictObject({
      driver: z.enum(['sqlite', 'postgres']).default('sqlite'),
      /** sqlite only. Default: <dataDir>/trxmail.db */
      path: z.string().min(1).optional(),
      /** postgres only; TRXMAIL_STORE_URL wins. */
      url: z.string().refine(isPostgresUrl, { message: POSTGRES_URL_MESSAGE }).optional(),
      poolSize: z.number().int().min(1).max(1000).optional(),
      statementTimeoutMs: z.number().int().min(100).max(3_600_000).optional(),
      connectTimeoutMs: z.number().int().min(100).max(600_000).optional(),
    })
    .default({ driver: 'sqlite' }),
  bounceDomain: z
    .string()
    .refine((d) => normaliseDomain(d) !== null, { message: 'expected a domain name' })
    .default('bounces.localhost'),
  /** Default endpoints: unix sockets in `<postfix.queueDirectory>/private/` (see defaultListen). */
  listen: z
    .strictObject({
      milter: endpoint.optional(),
      policy: endpoint.optional(),
      auth: endpoint.optional(),
      lmtp: endpoint.optional(),
      socketmap: endpoint.optional(),
      /** Owner and group given to every unix-socket listener (mode 0660). */
      socketUser: account.default(DEFAULT_SOCKET_USER),
      socketGroup: account.default(DEFAULT_SOCKET_GROUP),
    })
    .default({ socketUser: DEFAULT_SOCKET_USER, socketGroup: DEFAULT_SOCKET_GROUP }),
  postfix: z
    .strictObject({
      /** Postfix's queue_directory: where the default sockets live; paths below it are given to Postfix relative to it. */
      queueDirectory: z.string().refine((d) => d.startsWith('/') && d.length > 1, { message: 'expected an absolute directory' }).default(DEFAULT_POSTFIX_QUEUE_DIR),
    })
    .default({ queueDirectory: DEFAULT_POSTFIX_QUEUE_DIR }),
  secrets: z.strictObject({ keys: z.array(keySchema).min(1) }).optional(),
  http: z
    .strictObject({
      listen: hostPort.default(DEFAULT_HTTP_LISTEN),
      /** Default: http://<listen> (loopback in place of an unspecified address). */
      baseUrl: z.string().refine((u) => normaliseBaseUrl(u) !== null, { message: BASE_URL_MESSAGE }).optional(),
      /** The reports API answers non-loopback clients only behind a TLS proxy that sets X-Forwarded-Proto. */
      trustTlsProxy: z.boolean().default(false),
    })
    .default({ listen: DEFAULT_HTTP_LISTEN, trustTlsProxy: false }),
  /** Default: unix:<postfix.queueDirectory>/private/trxmail-reinject. */
  reinject: reinjectTarget.optional(),
  /** Largest message in bytes: Postfix's message_size_limit (postfix-config) and the milter's body spool. */
  messageSizeLimit: z.number().int().min(MIN_MESSAGE_SIZE_LIMIT).max(MAX_MESSAGE_SIZE_LIMIT).default(DEFAULT_MESSAGE_SIZE_LIMIT),
  metrics: z
    .strictObject({
      listen: hostPort.default(DEFAULT_METRICS_LISTEN),
    })
    .default({ listen: DEFAULT_METRICS_LISTEN }),
  /** Postfix's log file to follow for delivery status (src/delivery/maillog-follower.ts); null = off. */
  maillog: z.string().min(1).nullable().default(null),
  bounces: z
    .strictObject({
      /**
       * When a full mailbox lists the address (core/bounce-listing.ts): at least `count` final
       * mailbox-full bounces, the first at least `days` days before the latest, no delivery between.
       */
      mailboxFullListAfter: z
        .strictObject({
          count: z.number().int().min(1).max(1000).default(DEFAULT_MAILBOX_FULL_LIST_AFTER.count),
          days: z.number().int().min(0).max(365).default(DEFAULT_MAILBOX_FULL_LIST_AFTER.days),
        })
        .default({ ...DEFAULT_MAILBOX_FULL_LIST_AFTER }),
    })
    .default({ mailboxFullListAfter: { ...DEFAULT_MAILBOX_FULL_LIST_AFTER } }),
  /** The automatic pause of a space (core/sending-limits.ts): rates in percent of the recipients sent. */
  autoPause: z
    .strictObject({
      enabled: z.boolean().default(DEFAULT_AUTO_PAUSE.enabled),
      windowHours: z.number().int().min(1).max(MAX_AUTO_PAUSE_WINDOW_HOURS).default(DEFAULT_AUTO_PAUSE.windowHours),
      minVolume: z.number().int().min(1).max(10_000_000).default(DEFAULT_AUTO_PAUSE.minVolume),
      hardBounceRate: z.number().gt(0).max(100).default(DEFAULT_AUTO_PAUSE.hardBounceRate),
      complaintRate: z.number().gt(0).max(100).default(DEFAULT_AUTO_PAUSE.complaintRate),
    })
    .default({ ...DEFAULT_AUTO_PAUSE }),
  dkim: z
    .strictObject({
      /** Days a replaced key pair stays published (retiring) after the new pair starts signing. */
      overlapDays: z.number().int().min(1).max(365).default(DEFAULT_DKIM_OVERLAP_DAYS),
    })
    .default({ overlapDays: DEFAULT_DKIM_OVERLAP_DAYS }),
  dns: z
    .strictObject({
      /** Resolvers for `domain check` and the scheduled checks ("host:port"); empty = the system's. */
      resolvers: z.array(hostPort).default([]),
      /** Minutes between scheduled checks of every domain by `serve`; 0 turns them off. */
      checkIntervalMinutes: z.number().int().min(0).max(7 * 24 * 60).default(DEFAULT_DNS_CHECK_MINUTES),
      /** The SPF mechanism customers publish for their return-path host, e.g. "include:_spf.relay.example". */
      spf: z.string().regex(/^[!-~]+$/, 'expected one SPF mechanism without spaces').optional(),
      /** The host a customer's return-path host points at (CNAME). Default: bounceDomain. */
      returnPathTarget: z.string().refine((d) => normaliseDomain(d) !== null, { message: 'expected a domain name' }).optional(),
    })
    .default({ resolvers: [], checkIntervalMinutes: DEFAULT_DNS_CHECK_MINUTES }),
  retention: retentionSchema,
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .default({ level: 'info' }),
});

export interface HmacKey {
  readonly id: string;
  readonly secret: string;
}

export interface Config {
  /** The file the configuration came from, or null when only defaults apply. */
  readonly file: string | null;
  readonly dataDir: string;
  /** This node's name (`node.name`, default the host name made valid): kept with its sends and its maillog position. */
  readonly node: { readonly name: string };
  /**
   * sqlite: `path` absolute, or ':memory:'. postgres: `url` from TRXMAIL_STORE_URL or the file
   * (may hold a password: never logged), pool size and timeouts with their defaults.
   */
  readonly store:
    | { readonly driver: 'sqlite'; readonly path: string }
    | {
        readonly driver: 'postgres';
        readonly url: string;
        readonly poolSize: number;
        readonly statementTimeoutMs: number;
        readonly connectTimeoutMs: number;
      };
  /** Normalised (lower-case A-label). */
  readonly bounceDomain: string;
  /**
   * `lmtp`: the bounce intake's LMTP listener (Postfix routes the bounce domain to it);
   * `socketmap`: the lookup Postfix's relay_domains / transport_maps ask for return-path hosts.
   */
  readonly listen: {
    readonly milter: string;
    readonly policy: string;
    readonly auth: string;
    readonly lmtp: string;
    readonly socketmap: string;
    /** User (name or id) that owns each unix-socket listener; mode 0660. */
    readonly socketUser: string;
    /** Group (name or id) of each unix-socket listener. */
    readonly socketGroup: string;
  };
  /** Postfix's queue_directory (absolute, without trailing slash). */
  readonly postfix: { readonly queueDirectory: string };
  /** Empty when neither the file nor the environment gave keys. First key signs. */
  readonly hmacKeys: readonly HmacKey[];
  readonly log: { readonly level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  /**
   * The HTTP service (tracking pixel and clicks, health). `listen` is `host:port` as written
   * (parseHostPort splits it); `baseUrl` is normalised (normaliseBaseUrl), without trailing
   * slash: tracking URLs are `${baseUrl}/o/<token>` and `${baseUrl}/c/<token>`.
   */
  readonly http: { readonly listen: string; readonly baseUrl: string; readonly trustTlsProxy: boolean };
  /**
   * Postfix's re-injection listener (BCC copies), as written: `unix:/path` (default), or TCP as
   * `inet:host:port` / `host:port` (parseReinject reads it).
   */
  readonly reinject: string;
  /** Largest message in bytes (DEFAULT_MESSAGE_SIZE_LIMIT): Postfix's message_size_limit and the milter's body spool. */
  readonly messageSizeLimit: number;
  /** `host:port` of the Prometheus metrics listener (src/metrics/server.ts), as written. */
  readonly metrics: { readonly listen: string };
  /**
   * Absolute path of Postfix's log file the maillog follower reads for delivered / deferred /
   * bounced (maillog_file, or a syslog file with Postfix's lines), or null: not followed.
   */
  readonly maillog: string | null;
  readonly dkim: { readonly overlapDays: number };
  /** The bounce intake: when a persistently full mailbox is listed (DEFAULT_MAILBOX_FULL_LIST_AFTER). */
  readonly bounces: { readonly mailboxFullListAfter: MailboxFullThreshold };
  /** The automatic pause of a space (DEFAULT_AUTO_PAUSE): window, minimum volume, thresholds in percent. */
  readonly autoPause: AutoPauseSettings;
  /**
   * DNS checks of customer domains: `resolvers` as written (host:port; empty: the system's),
   * `checkIntervalMinutes` (0: no scheduled checks), `spf` the mechanism customers publish
   * (default `a:<bounceDomain>`), `returnPathTarget` the CNAME target of a return-path host
   * (default bounceDomain), normalised.
   */
  readonly dns: { readonly resolvers: readonly string[]; readonly checkIntervalMinutes: number; readonly spf: string; readonly returnPathTarget: string };
  /** How long sends and finished webhook deliveries are kept (config/retention.ts; 0: forever). */
  readonly retention: RetentionConfig;
}

export interface LoadOptions {
  /** Path given with --config. */
  readonly configPath?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

/** Locate, read, validate and freeze the configuration. Throws ConfigError. */
export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const explicit = opts.configPath ?? env['TRXMAIL_CONFIG'];
  let file: string | null = null;
  let raw: unknown = {};
  if (explicit !== undefined && explicit !== '') {
    file = path.resolve(cwd, explicit);
    if (!existsSync(file)) throw new ConfigError(`${file}: configuration file not found`);
  } else if (existsSync(path.join(cwd, DEFAULT_CONFIG_FILE))) {
    file = path.join(cwd, DEFAULT_CONFIG_FILE);
  }
  if (file !== null) raw = readYaml(file);
  return parseConfig(raw, { file, env, baseDir: file !== null ? path.dirname(file) : cwd });
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err: unknown) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`, { cause: err });
  }
  try {
    const doc: unknown = parseYaml(text, { prettyErrors: false, uniqueKeys: true });
    return doc ?? {};
  } catch (err: unknown) {
    const where = err instanceof YAMLParseError && err.linePos ? ` (line ${err.linePos[0].line})` : '';
    const msg = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw new ConfigError(`${file}: invalid YAML${where}: ${msg}`, { cause: err });
  }
}

/** Validate an already-parsed document. Exported for tests. */
export function parseConfig(
  raw: unknown,
  ctx: { file: string | null; env: NodeJS.ProcessEnv; baseDir: string },
): Config {
  const where = ctx.file ?? 'configuration';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(`${where}: expected a mapping of keys at the top level`);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    if (!issue) throw new ConfigError(`${where}: invalid configuration`);
    let key = issue.path.map(String).join('.');
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const unknown = issue.keys[0] ?? '?';
      key = key === '' ? unknown : `${key}.${unknown}`;
      message = 'unknown key';
    } else if (issue.code === 'invalid_type') {
      message = `expected ${issue.expected}`;
    }
    const got = valueAt(raw, issue.path);
    const secret = issue.path.includes('secret') || issue.path.includes('url');
    const shown = got === undefined || secret || issue.code === 'unrecognized_keys' ? '' : `, got ${JSON.stringify(got)}`;
    throw new ConfigError(`${where}: ${key === '' ? '(top level)' : key}: ${message}${shown}`);
  }
  const c = result.data;
  const dataDir = path.resolve(ctx.baseDir, c.dataDir);
  const store = storeConfig(c.store, { where, env: ctx.env, dataDir, baseDir: ctx.baseDir });
  const hmacKeys = keysFromEnv(ctx.env['TRXMAIL_HMAC_KEYS']) ?? c.secrets?.keys ?? [];
  const ids = new Set<string>();
  for (const k of hmacKeys) {
    if (ids.has(k.id)) throw new ConfigError(`${where}: secrets.keys: key id "${k.id}" appears twice`);
    ids.add(k.id);
  }
  const bounceDomain = normaliseDomain(c.bounceDomain) ?? c.bounceDomain;
  const queueDirectory = path.posix.normalize(c.postfix.queueDirectory).replace(/(.)\/+$/, '$1');
  const config: Config = {
    file: ctx.file,
    dataDir,
    node: { name: c.node.name ?? nodeNameFromHost(hostname()) },
    store,
    bounceDomain,
    listen: Object.assign(defaultListen(queueDirectory), definedOnly(c.listen)),
    postfix: { queueDirectory },
    hmacKeys: hmacKeys.map((k) => ({ id: k.id, secret: k.secret })),
    log: { ...c.log },
    http: {
      listen: c.http.listen,
      baseUrl: c.http.baseUrl === undefined ? defaultBaseUrl(c.http.listen) : (normaliseBaseUrl(c.http.baseUrl) ?? c.http.baseUrl),
      trustTlsProxy: c.http.trustTlsProxy,
    },
    reinject: c.reinject ?? defaultReinject(queueDirectory),
    messageSizeLimit: c.messageSizeLimit,
    metrics: { listen: c.metrics.listen },
    maillog: c.maillog === null ? null : path.resolve(ctx.baseDir, c.maillog),
    dkim: { overlapDays: c.dkim.overlapDays },
    bounces: { mailboxFullListAfter: { count: c.bounces.mailboxFullListAfter.count, days: c.bounces.mailboxFullListAfter.days } },
    autoPause: { ...c.autoPause },
    dns: {
      resolvers: [...c.dns.resolvers],
      checkIntervalMinutes: c.dns.checkIntervalMinutes,
      spf: c.dns.spf ?? `a:${bounceDomain}`,
      returnPathTarget: c.dns.returnPathTarget === undefined ? bounceDomain : (normaliseDomain(c.dns.returnPathTarget) ?? c.dns.returnPathTarget),
    },
    retention: { sendsDays: c.retention.sendsDays, webhookDays: c.retention.webhookDays },
  };
  return deepFreeze(config);
}

/** The properties of `o` whose value is not undefined (so they can override defaults). */
function definedOnly<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as { [K in keyof T]: Exclude<T[K], undefined> };
}

/** http://<listen>, with loopback in place of an unspecified address (0.0.0.0, ::). */
function defaultBaseUrl(listen: string): string {
  const hp = parseHostPort(listen);
  if (hp === null) return `http://${listen}`;
  const host = hp.host === '0.0.0.0' ? '127.0.0.1' : hp.host === '::' ? '::1' : hp.host;
  return normaliseBaseUrl(`http://${formatHostPort(host, hp.port)}`) ?? `http://${listen}`;
}

function keysFromEnv(value: string | undefined): HmacKey[] | null {
  if (value === undefined || value.trim() === '') return null;
  const keys: HmacKey[] = [];
  for (const part of value.split(',')) {
    const colon = part.indexOf(':');
    const id = colon > 0 ? part.slice(0, colon).trim() : '';
    const secret = colon > 0 ? part.slice(colon + 1) : '';
    const parsed = keySchema.safeParse({ id, secret });
    if (!parsed.success) {
      // Never echo the secret itself.
      const field = parsed.error.issues[0]?.path[0] === 'secret' ? 'secret' : 'id';
      throw new ConfigError(
        `TRXMAIL_HMAC_KEYS: expected id:secret[,id:secret...] with a ${field} that ${field === 'secret' ? `has at least ${MIN_SECRET_BYTES} bytes` : 'is 1-16 letters, digits, _ or -'}`,
      );
    }
    keys.push(parsed.data);
  }
  return keys;
}

function valueAt(root: unknown, p: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const k of p) {
    if (typeof cur !== 'object' || cur === null) return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[k];
  }
  if (typeof cur === 'string' && cur.length > 80) return cur.slice(0, 80) + '...';
  return typeof cur === 'object' ? undefined : cur;
}

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}
