/**
 * Runs test/helpers/dkim_verify.py (Debian's python3-dkim) as an independent DKIM verifier
 * and body canonicaliser. /usr/bin/python3 on purpose: the python3 first on PATH may be a
 * pyenv without the dkim module.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PYTHON = '/usr/bin/python3';
const SCRIPT = fileURLToPath(new URL('./dkim_verify.py', import.meta.url));

export interface PythonVerdict {
  readonly index: number;
  readonly domain: string | null;
  readonly selector: string | null;
  readonly algorithm: string | null;
  readonly pass: boolean;
  readonly error: string | null;
}

function run(args: readonly string[], input: Uint8Array): string {
  const r = spawnSync(PYTHON, [SCRIPT, ...args], { input, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`dkim_verify.py ${args[0] ?? ''} exited ${String(r.status)}: ${r.stderr.toString()}`);
  return r.stdout.toString('utf8').trim();
}

const asJsonList = (items: readonly Uint8Array[]): Buffer =>
  Buffer.from(JSON.stringify(items.map((m) => Buffer.from(m.buffer, m.byteOffset, m.byteLength).toString('base64'))));

/** One verdict per DKIM-Signature field (topmost first); `records` maps `<s>._domainkey.<d>` to TXT values. */
export function pythonVerify(message: Uint8Array, records: Readonly<Record<string, string>>): PythonVerdict[] {
  return JSON.parse(run(['verify', JSON.stringify(records)], message)) as PythonVerdict[];
}

/** pythonVerify for several messages in one run of the script (one verdict list per message). */
export function pythonVerifyMany(messages: readonly Uint8Array[], records: Readonly<Record<string, string>>): PythonVerdict[][] {
  return JSON.parse(run(['verify-many', JSON.stringify(records)], asJsonList(messages))) as PythonVerdict[][];
}

/** dkimpy's relaxed body hash (base64 SHA-256) of each CRLF body. */
export function pythonBodyHashes(bodies: readonly Uint8Array[]): string[] {
  return JSON.parse(run(['bodyhash'], asJsonList(bodies))) as string[];
}
