import { mkdtempSync, rmSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../../../src/lib/endpoint.js';
import { ConfigError } from '../../../src/lib/errors.js';
import { silentLogger } from '../../../src/lib/logger.js';
import { DEFAULT_SOCKET_MODE, SocketListeners } from '../../../src/lib/socket-listeners.js';
import { resolveSocketOwner } from '../../../src/lib/socket-owner.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'trx-listen-'));
  dirs.push(d);
  return d;
}

/** Listeners that hand each socket and its endpoint to `accepted` and end it at once. */
function listeners(accepted: Endpoint[]): SocketListeners {
  return new SocketListeners('test', silentLogger, (socket, endpoint) => {
    accepted.push(endpoint);
    socket.end();
  });
}

function connectAndWaitClose(target: { port: number; host: string } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = 'path' in target ? net.connect(target.path) : net.connect(target.port, target.host);
    s.once('error', reject);
    s.resume();
    s.once('close', () => resolve());
  });
}

describe('SocketListeners', () => {
  it('listens on TCP port 0 and on a unix socket at once; each connection gets its own endpoint', async () => {
    const accepted: Endpoint[] = [];
    const l = listeners(accepted);
    const path = join(tmp(), 'sock');
    const tcp = await l.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 });
    const unix = await l.listen({ kind: 'unix', path });
    if (tcp.kind !== 'tcp') throw new Error('expected tcp');
    expect(tcp.port).toBeGreaterThan(0);
    expect(l.endpoints).toEqual([tcp, unix]);
    expect((await stat(path)).mode & 0o777).toBe(DEFAULT_SOCKET_MODE);
    await connectAndWaitClose(tcp);
    await connectAndWaitClose({ path });
    expect(accepted).toEqual([tcp, { kind: 'unix', path }]);
    await l.close();
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses listen() after close()', async () => {
    const l = listeners([]);
    await l.close();
    await expect(l.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 })).rejects.toThrow(ConfigError);
    await expect(l.listen({ kind: 'tcp', host: '127.0.0.1', port: 0 })).rejects.toThrow(/closed/);
  });

  it('refuses a unix socket whose directory does not exist, and creates nothing', async () => {
    const dir = join(tmp(), 'missing');
    const l = listeners([]);
    await expect(l.listen({ kind: 'unix', path: join(dir, 'sock') })).rejects.toThrow(ConfigError);
    await expect(l.listen({ kind: 'unix', path: join(dir, 'sock') })).rejects.toThrow(`directory ${dir} does not exist`);
    await expect(stat(dir)).rejects.toMatchObject({ code: 'ENOENT' });
    await l.close();
  });

  it('sets the mode and the owner asked for on a unix socket (here: the process itself)', async () => {
    const path = join(tmp(), 'sock');
    const l = listeners([]);
    const owner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    await l.listen({ kind: 'unix', path, mode: 0o600, owner });
    const st = await stat(path);
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o777 }).toEqual({ ...owner, mode: 0o600 });
    await l.close();
  });
});

describe('resolveSocketOwner', () => {
  it('resolves names through getent and takes numeric ids as they are', async () => {
    await expect(resolveSocketOwner('root', 'root')).resolves.toEqual({ uid: 0, gid: 0 });
    await expect(resolveSocketOwner('4242', '4343')).resolves.toEqual({ uid: 4242, gid: 4343 });
  });

  it('refuses an unknown user or group, naming the key', async () => {
    const keys = { user: 'listen.socketUser', group: 'listen.socketGroup' };
    await expect(resolveSocketOwner('no-such-user-trx', 'root', keys)).rejects.toThrow('listen.socketUser: no user "no-such-user-trx" on this system');
    await expect(resolveSocketOwner('root', 'no-such-group-trx', keys)).rejects.toThrow('listen.socketGroup: no group "no-such-group-trx" on this system');
  });
});
