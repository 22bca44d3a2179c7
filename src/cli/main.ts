#!/usr/bin/env node
/**
 * Entry point of the `trxmail` command. The only place that calls process.exit.
 */
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = code;
