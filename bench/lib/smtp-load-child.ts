/**
 * Child-process entry for the Node load client (smtp-load.ts), so the client never shares an
 * event loop with trxmail's listeners in the bench process.
 *
 * Protocol with the parent (bench/postfix.ts), one line each way:
 *   argv[2]: JSON of SmtpLoadOptions without `message` and `auth.pass`, plus `messageFile`;
 *   env TRX_BENCH_PASSWORD: the SMTP password (kept out of the process list);
 *   child → "ready\n" once set up (tsx start-up is not part of the timed run);
 *   parent → "go\n"; child runs and answers with one JSON line (SmtpLoadResult), then exits.
 *
 * Waits at most GO_TIMEOUT_MS for "go". Sets a non-zero exit code on bad arguments.
 */
import { readFileSync } from 'node:fs';
import { runSmtpLoad, type SmtpLoadOptions } from './smtp-load.js';

const GO_TIMEOUT_MS = 120_000;

type ChildArgs = Omit<SmtpLoadOptions, 'message' | 'auth'> & { messageFile: string; user: string | null };

function waitForGo(): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => reject(new Error('no "go" from the parent')), GO_TIMEOUT_MS);
    const onData = (chunk: string): void => {
      got += chunk;
      if (got.includes('\n')) {
        clearTimeout(timer);
        process.stdin.removeListener('data', onData);
        // A paused pipe still keeps the process alive: let go of it.
        process.stdin.destroy();
        if (got.startsWith('go')) resolve();
        else reject(new Error('expected "go" from the parent'));
      }
      if (got.length > 100) reject(new Error('unexpected input from the parent'));
    };
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', onData);
  });
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2] ?? '{}') as ChildArgs;
  const message = readFileSync(args.messageFile);
  const pass = process.env['TRX_BENCH_PASSWORD'] ?? '';
  const opts: SmtpLoadOptions = {
    ...args,
    message,
    auth: args.user === null ? null : { user: args.user, pass },
  };
  process.stdout.write('ready\n');
  await waitForGo();
  const result = await runSmtpLoad(opts);
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`smtp-load: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
