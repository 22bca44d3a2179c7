/**
 * HMAC keys in force: the configured ones (trxmail.yaml `secrets.keys` or TRXMAIL_HMAC_KEYS),
 * or — for a zero-configuration start — one key generated on first use and kept in
 * `<dataDir>/hmac-key.json` with mode 0600, so bounce addresses and tracking links stay
 * valid across restarts. Never logged.
 *
 * Throws ConfigError when the key file exists but cannot be read or is malformed.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../lib/errors.js';
import { MIN_SECRET_BYTES, type Config, type HmacKey } from './config.js';

export const GENERATED_KEY_FILE = 'hmac-key.json';

/** The keys in force without creating one: [] when none is configured or generated yet (read-only tools). */
export function hmacKeysIfAny(config: Config): readonly HmacKey[] {
  if (config.hmacKeys.length > 0) return config.hmacKeys;
  return existsSync(path.join(config.dataDir, GENERATED_KEY_FILE)) ? hmacKeysInForce(config) : [];
}

export function hmacKeysInForce(config: Config): readonly HmacKey[] {
  if (config.hmacKeys.length > 0) return config.hmacKeys;
  const file = path.join(config.dataDir, GENERATED_KEY_FILE);
  let text: string | null = null;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err: unknown) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`${file}: cannot read the generated HMAC key: ${(err as Error).message}`, { cause: err });
    }
  }
  if (text !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err: unknown) {
      throw new ConfigError(`${file}: not valid JSON; remove it to generate a new key (old bounce addresses stop verifying)`, { cause: err });
    }
    const k = parsed as Partial<HmacKey>;
    if (typeof k.id !== 'string' || typeof k.secret !== 'string' || Buffer.byteLength(k.secret) < MIN_SECRET_BYTES) {
      throw new ConfigError(`${file}: expected {"id": ..., "secret": ...} with a secret of at least ${MIN_SECRET_BYTES} bytes`);
    }
    return Object.freeze([Object.freeze({ id: k.id, secret: k.secret })]);
  }
  const key: HmacKey = { id: 'g1', secret: randomBytes(32).toString('base64url') };
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(file, JSON.stringify(key) + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return Object.freeze([Object.freeze(key)]);
}
