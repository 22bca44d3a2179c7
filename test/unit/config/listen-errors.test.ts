/**
 * `serve` refuses a listener it cannot open with an error naming the file and the key: a unix
 * socket whose directory is missing (trxmail never creates it), an unknown socket user. The
 * real Runtime on a real SQLite file; the socket owner is given numerically, so no `postfix`
 * user is needed.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/config.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { silentLogger } from '../../../src/lib/logger.js';
import { Runtime } from '../../../src/server/runtime.js';

function config(listen: Record<string, string>): ReturnType<typeof parseConfig> {
  const dir = mkdtempSync(path.join(tmpdir(), 'trx-listen-err-'));
  return parseConfig(
    { dataDir: dir, store: { path: ':memory:' }, listen, secrets: { keys: [{ id: 'k1', secret: '0123456789abcdef-k1' }] } },
    { file: path.join(dir, 'trxmail.yaml'), env: {}, baseDir: dir },
  );
}

describe('serve: listener errors name the key', () => {
  it('a unix socket in a directory that does not exist (never created)', async () => {
    const missing = path.join(mkdtempSync(path.join(tmpdir(), 'trx-listen-err-')), 'nope');
    const c = config({ auth: `unix:${missing}/auth`, socketUser: '0', socketGroup: '0' });
    const err: unknown = await new Runtime(c, silentLogger).start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`${c.file ?? ''}: listen.auth: directory ${missing} does not exist (is Postfix installed, and is this its queue directory?)`);
  });

  it('an unknown socket user', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'trx-listen-err-'));
    const c = config({ auth: `unix:${dir}/auth`, socketUser: 'no-such-user-trx' });
    const err: unknown = await new Runtime(c, silentLogger).start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`${c.file ?? ''}: listen.socketUser: no user "no-such-user-trx" on this system`);
  });
});
