/**
 * Who may connect to a unix-socket listener: the socket file's owner, group and mode. The
 * listeners Postfix talks to are given to Postfix's user and group with mode 0660 (as Dovecot's
 * `private/auth`), so other local users cannot connect; root always can.
 *
 * - resolveSocketOwner(): user and group names (or numeric ids) to ids, through `getent` (NSS:
 *   /etc/passwd, LDAP, …). Throws ConfigError naming the configuration key of the one unknown.
 * - checkSocketDirectory(): the directory a socket is to be created in must exist (trxmail
 *   never creates it: a missing Postfix queue directory means a wrong path, not a fresh start).
 * - applySocketOwner(): chmod and chown right after bind. Only root may give a file to another
 *   user; the ConfigError says so.
 *
 * Throws ConfigError (never anything else) with the path and the reason.
 */
import { execFile } from 'node:child_process';
import { chmod, chown, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { ConfigError } from './errors.js';

const run = promisify(execFile);

export interface SocketOwner {
  readonly uid: number;
  readonly gid: number;
}

async function idOf(database: 'passwd' | 'group', name: string, key: string): Promise<number> {
  if (/^\d+$/.test(name)) return Number(name);
  let line = '';
  try {
    line = (await run('getent', [database, name], { timeout: 10_000 })).stdout.split('\n')[0] ?? '';
  } catch (err: unknown) {
    // getent exits 2 for "not found"; anything else (missing getent) is the same to the admin.
    throw new ConfigError(`${key}: no ${database === 'passwd' ? 'user' : 'group'} ${JSON.stringify(name)} on this system`, { cause: err });
  }
  const id = Number(line.split(':')[2]);
  if (!Number.isInteger(id)) throw new ConfigError(`${key}: cannot read the id of ${JSON.stringify(name)} from getent ${database}`);
  return id;
}

/** `user` and `group` (names or ids) as ids; `keys` name them in errors (e.g. listen.socketUser). */
export async function resolveSocketOwner(user: string, group: string, keys = { user: 'socket user', group: 'socket group' }): Promise<SocketOwner> {
  return { uid: await idOf('passwd', user, keys.user), gid: await idOf('group', group, keys.group) };
}

/** Refuses (ConfigError) a socket path whose directory does not exist or is not a directory. */
export async function checkSocketDirectory(socketPath: string): Promise<void> {
  const dir = path.dirname(socketPath);
  let isDir: boolean;
  try {
    isDir = (await stat(dir)).isDirectory();
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT' ? `directory ${dir} does not exist (is Postfix installed, and is this its queue directory?)` : `cannot use directory ${dir}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (!isDir) throw new ConfigError(`${dir} is not a directory`);
}

/** Sets the socket file's mode, then (with `owner`) its owner and group. */
export async function applySocketOwner(socketPath: string, mode: number, owner?: SocketOwner): Promise<void> {
  await chmod(socketPath, mode);
  if (owner === undefined) return;
  try {
    await chown(socketPath, owner.uid, owner.gid);
  } catch (err: unknown) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EPERM'
        ? `not permitted: trxmail runs as uid ${process.getuid?.() ?? '?'}, and only root may give a file to another user or to a group it is not in`
        : (err as Error).message;
    throw new ConfigError(`cannot give socket ${socketPath} to uid ${owner.uid} gid ${owner.gid}: ${why}`, { cause: err });
  }
}
