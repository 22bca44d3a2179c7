/**
 * `trxmail postfix-config --apply DIR`: writes the rendered main.cf and master.cf pieces
 * into an existing Postfix configuration directory with Postfix's own editor, `postconf -c DIR
 * -e name=value` (main.cf) and `postconf -c DIR -M name/type=entry` (master.cf), so the rest
 * of the operator's files stays as it was.
 *
 * - Idempotent: the current values (`postconf -c DIR -n`, `postconf -c DIR -M`) are compared
 *   with the wanted ones, white space folded; only differences are written, and a second run
 *   changes nothing.
 * - Before the first change, main.cf and master.cf are copied to
 *   `<file>.trxmail-backup-<UTC time>` in DIR (nothing changed: no backup).
 * - Commented-out lines of the pieces (the pipe(8) variant, maillog_file) are not applied.
 * - Returns what changed, one line each, for the summary the command prints.
 *
 * Throws UsageError when DIR has no main.cf or master.cf; TrxError EPOSTCONF when postconf
 * fails (its message included).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { TrxError, UsageError } from '../lib/errors.js';
import { parsePostconf, POSTCONF_BIN } from './check.js';

const run = promisify(execFile);

/** A master.cf entry: `name/type` and its text (continuation lines joined, white space folded). */
export interface MasterEntry {
  readonly key: string;
  readonly text: string;
}

export interface ApplyResult {
  /** One line per change: `main.cf: name = value (was: old)`, `master.cf: smtp/inet added|replaced`. */
  readonly changes: readonly string[];
  /** The backup copies made (empty when nothing changed). */
  readonly backups: readonly string[];
}

/** White space folded to single spaces, none after `{` or before `}` (postconf's own spacing differs). */
export function foldSpace(value: string): string {
  return value.replace(/\s+/g, ' ').replace(/\{ /g, '{').replace(/ \}/g, '}').trim();
}

/** The entries of master.cf text (or `postconf -M` output): comments dropped, continuation lines joined. */
export function masterEntries(text: string): MasterEntry[] {
  const logical: string[] = [];
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw) || raw.trim() === '') continue;
    if (/^\s/.test(raw) && logical.length > 0) logical[logical.length - 1] += ` ${raw.trim()}`;
    else logical.push(raw.trim());
  }
  return logical.map((line) => {
    const [name = '', type = ''] = line.split(/\s+/);
    return { key: `${name}/${type}`, text: line.replace(/\s+/g, ' ') };
  });
}

/** The changes that would make `current` (postconf -n, postconf -M) hold `wanted` (the rendered pieces). */
export function planApply(
  wanted: { mainCf: string; masterCf: string },
  current: { postconfN: string; postconfM: string },
): { main: Array<{ name: string; value: string; was: string | null }>; master: Array<{ key: string; text: string; added: boolean }> } {
  const have = parsePostconf(current.postconfN);
  const main = Object.entries(parsePostconf(wanted.mainCf))
    .filter(([name, value]) => have[name] === undefined || foldSpace(have[name]) !== foldSpace(value))
    .map(([name, value]) => ({ name, value, was: have[name] ?? null }));
  const haveMaster = new Map(masterEntries(current.postconfM).map((e) => [e.key, e.text]));
  const master = masterEntries(wanted.masterCf)
    .filter((e) => {
      const was = haveMaster.get(e.key);
      return was === undefined || foldSpace(was) !== foldSpace(e.text);
    })
    .map((e) => ({ key: e.key, text: e.text, added: !haveMaster.has(e.key) }));
  return { main, master };
}

async function postconf(dir: string, args: string[], bin: string): Promise<string> {
  try {
    const { stdout } = await run(bin, ['-c', dir, ...args], { timeout: 30_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout;
  } catch (err: unknown) {
    const e = err as { stderr?: string; message?: string };
    throw new TrxError('EPOSTCONF', `postconf -c ${dir} ${args.slice(0, 2).join(' ')}… failed: ${(e.stderr || e.message || '').trim().slice(0, 300)}`, { cause: err });
  }
}

/** Applies the pieces to the Postfix configuration directory `dir` (see the header). */
export async function applyPostfixConfig(
  dir: string,
  wanted: { mainCf: string; masterCf: string },
  opts: { postconf?: string; now?: Date } = {},
): Promise<ApplyResult> {
  const bin = opts.postconf ?? POSTCONF_BIN;
  const abs = path.resolve(dir);
  for (const f of ['main.cf', 'master.cf']) {
    if (!existsSync(path.join(abs, f))) throw new UsageError(`--apply: ${path.join(abs, f)} does not exist (expected a Postfix configuration directory)`);
  }
  const plan = planApply(wanted, { postconfN: await postconf(abs, ['-n'], bin), postconfM: await postconf(abs, ['-M'], bin) });
  if (plan.main.length === 0 && plan.master.length === 0) return { changes: [], backups: [] };
  const stamp = (opts.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const backups: string[] = [];
  for (const f of ['main.cf', 'master.cf']) {
    const to = path.join(abs, `${f}.trxmail-backup-${stamp}`);
    copyFileSync(path.join(abs, f), to);
    backups.push(to);
  }
  if (plan.main.length > 0) await postconf(abs, ['-e', ...plan.main.map((p) => `${p.name}=${p.value}`)], bin);
  if (plan.master.length > 0) await postconf(abs, ['-M', ...plan.master.map((m) => `${m.key}=${m.text}`)], bin);
  const short = (v: string): string => (v.length > 100 ? `${v.slice(0, 97)}...` : v);
  return {
    changes: [
      ...plan.main.map((p) => `main.cf: ${p.name} = ${short(foldSpace(p.value))}${p.was === null ? ' (was not set)' : ` (was: ${short(foldSpace(p.was))})`}`),
      ...plan.master.map((m) => `master.cf: ${m.key} ${m.added ? 'added' : 'replaced'}`),
    ],
    backups,
  };
}
