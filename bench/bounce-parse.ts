/**
 * Cost of `bounce parse` analysis (analyseMessage: MIME reading, DSN/ARF/text reading, reason
 * classification) per message, over every bounce fixture (test/fixtures/bounces and its
 * families/ directory: DSNs, text bounces of each MTA family, auto-replies, complaints).
 *
 * After a warm-up round it runs BENCH_ROUNDS rounds (default 50) over the whole set and prints
 * the mean wall time and CPU time (process.cpuUsage, user + system) per message, the median
 * and the 99th percentile of the per-message times, the mean of each fixture's median time
 * (robust on a loaded machine), and the five slowest fixtures. The issue's
 * target is a mean under 1 ms per message. Figures only: no pass/fail.
 * Run: npx tsx bench/bounce-parse.ts
 */
import { loadavg } from 'node:os';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { analyseMessage } from '../src/bounce/analysis/analyse.js';
import { BOUNCE_DOMAIN, FIXTURE_DIR, FIXTURE_KEYS, substitute } from '../test/unit/bounce/fixture-helpers.js';

interface Sample {
  readonly name: string;
  readonly raw: Buffer;
  readonly envelopeRecipient: string | undefined;
}

function samples(dir: string, prefix: string): Sample[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.eml'))
    .map((n) => {
      const base = n.slice(0, -4);
      const spec = JSON.parse(substitute(readFileSync(join(dir, `${base}.json`), 'utf8'))) as { envelopeRecipient?: string };
      return { name: prefix + base, raw: Buffer.from(substitute(readFileSync(join(dir, n)).toString('latin1')), 'latin1'), envelopeRecipient: spec.envelopeRecipient };
    });
}

const all = [...samples(FIXTURE_DIR, ''), ...samples(join(FIXTURE_DIR, 'families'), 'families/')];
const rounds = Number(process.env['BENCH_ROUNDS'] ?? 50);
const run = (s: Sample): unknown => analyseMessage(s.raw, { keys: FIXTURE_KEYS, bounceDomain: BOUNCE_DOMAIN, envelopeRecipient: s.envelopeRecipient });

for (const s of all) run(s); // warm-up: JIT, regular expression compilation

const perMessage = new Map<string, number[]>(all.map((s) => [s.name, []]));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let r = 0; r < rounds; r++) {
  for (const s of all) {
    const a = performance.now();
    run(s);
    perMessage.get(s.name)?.push(performance.now() - a);
  }
}
const wall = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
const n = all.length * rounds;
const times = [...perMessage.values()].flat().sort((x, y) => x - y);
const pct = (p: number): number => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))] ?? 0;
const bytes = all.reduce((x, s) => x + s.raw.length, 0);

console.log(`bounce parse analysis: ${all.length} fixtures (${(bytes / all.length / 1024).toFixed(1)} KB mean), ${rounds} rounds, load ${loadavg()[0]?.toFixed(2)}`);
console.log(`  mean wall ${((wall / n) * 1000).toFixed(1)} µs/message, CPU ${((cpu.user + cpu.system) / n).toFixed(1)} µs/message`);
console.log(`  median ${(pct(50) * 1000).toFixed(1)} µs, p99 ${(pct(99) * 1000).toFixed(1)} µs, max ${(pct(100) * 1000).toFixed(1)} µs`);
// per fixture the median over the rounds: a preempted round (a loaded machine) does not count
const median = (xs: readonly number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? 0;
const medians = [...perMessage.entries()].map(([name, xs]) => ({ name, m: median(xs) }));
console.log(`  mean of the per-fixture medians ${((medians.reduce((x, y) => x + y.m, 0) / medians.length) * 1000).toFixed(1)} µs/message`);
console.log('  slowest (median over the rounds):');
for (const { name, m } of medians.sort((x, y) => y.m - x.m).slice(0, 5)) console.log(`    ${(m * 1000).toFixed(1).padStart(8)} µs  ${name}`);
