/**
 * Reading a password for `user add` / `user passwd`: never from the command line (it would
 * show in `ps` and in shell history). From a terminal: an interactive prompt without echo,
 * asked twice. Otherwise: the first line of standard input (trailing CR/LF removed), so
 * scripts can pipe it: `printf '%s\n' "$PW" | trxmail user add ...`.
 */
import type { Readable, Writable } from 'node:stream';
import { UsageError } from '../lib/errors.js';
import { MAX_PASSWORD_BYTES } from '../lib/limits.js';

/** Shortest password accepted for a new or changed password. */
export const MIN_PASSWORD_LENGTH = 8;

export interface PasswordIo {
  readonly stdin: Readable & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly stderr: Writable;
}

export async function readNewPassword(io: PasswordIo): Promise<string> {
  let pw: string;
  if (io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function') {
    pw = await promptHidden(io, 'Password: ');
    const again = await promptHidden(io, 'Repeat password: ');
    if (again !== pw) throw new UsageError('passwords do not match');
  } else {
    pw = await readFirstLine(io.stdin);
  }
  checkPassword(pw);
  return pw;
}

export function checkPassword(pw: string): void {
  if (pw.length < MIN_PASSWORD_LENGTH) {
    throw new UsageError(`password must have at least ${MIN_PASSWORD_LENGTH} characters (give it on standard input)`);
  }
  if (Buffer.byteLength(pw) > MAX_PASSWORD_BYTES) throw new UsageError(`password is longer than ${MAX_PASSWORD_BYTES} bytes`);
   
  if (/[\u0000-\u001f\u007f]/.test(pw)) throw new UsageError('password contains control characters');
}

async function readFirstLine(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    chunks.push(b);
    size += b.length;
    if (b.includes(0x0a)) break;
    if (size > MAX_PASSWORD_BYTES + 2) break;
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const nl = text.indexOf('\n');
  const line = nl === -1 ? text : text.slice(0, nl);
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

function promptHidden(io: PasswordIo, prompt: string): Promise<string> {
  const { stdin, stderr } = io;
  stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const done = (err: Error | null): void => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString()) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done(null);
        if (ch === '\u0003') return done(new UsageError('interrupted'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.setRawMode?.(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
