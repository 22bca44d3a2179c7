/**
 * Where the CPU time of a bench run went, from Linux's /proc (proc(5)): a snapshot before and
 * one after the run, no sampling in between (so measuring costs nothing during the run).
 *
 *  - system: busy and total ticks of all cores from /proc/stat (busy = user, nice, system,
 *    irq, softirq; not idle, iowait or steal);
 *  - per process: utime+stime of every /proc/<pid>/stat, grouped by command name, counted
 *    only for the bench's own processes — the Node process (trxmail's listeners), its
 *    children (smtp-source, smtp-sink, the Node load client) and the children of the given
 *    Postfix master processes, and processes the caller names (the PostgreSQL server's
 *    processes serving the bench database); everything else on the machine is "other";
 *  - Postfix daemons that exit during the run (cleanup and smtp end after max_use = 100
 *    requests) are not in the second snapshot: their time is in the master's cutime+cstime
 *    (the master waits for them), reported as "postfix (exited children)"; likewise the
 *    load client, which has exited when the run ends, is the Node process's cutime+cstime.
 *
 * Linux only. Never throws for a process that vanishes between listing and reading.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

export interface ProcTimes {
  readonly comm: string;
  readonly ppid: number;
  /** utime + stime, in ticks. */
  readonly ticks: number;
  /** cutime + cstime (waited-for children), in ticks. */
  readonly childTicks: number;
}

export interface CpuSnapshot {
  readonly busyTicks: number;
  readonly totalTicks: number;
  readonly procs: ReadonlyMap<number, ProcTimes>;
}

let clockTicks: number | null = null;

/** Ticks per second (sysconf(_SC_CLK_TCK), 100 on every Linux we know). */
export function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
      clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Parses one /proc/<pid>/stat line; null when it does not look like one. */
export function parseProcStat(line: string): ProcTimes | null {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const comm = line.slice(open + 1, close);
  // Fields after ")": state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
  const f = line.slice(close + 2).split(' ');
  if (f.length < 15) return null;
  const num = (i: number): number => {
    const v = Number(f[i]);
    return Number.isFinite(v) ? v : 0;
  };
  return { comm, ppid: num(1), ticks: num(11) + num(12), childTicks: num(13) + num(14) };
}

function readSystem(): { busy: number; total: number } {
  const first = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  // cpu  user nice system idle iowait irq softirq steal ...
  const v = first.trim().split(/\s+/).slice(1, 9).map((x) => (Number.isFinite(Number(x)) ? Number(x) : 0));
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  // Steal is time the hypervisor gave to another guest: not work done here.
  const busy = user + nice + system + irq + softirq;
  return { busy, total: busy + idle + iowait + steal };
}

export function snapshotCpu(): CpuSnapshot {
  const sys = readSystem();
  const procs = new Map<number, ProcTimes>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const t = parseProcStat(readFileSync(`/proc/${name}/stat`, 'utf8'));
      if (t) procs.set(Number(name), t);
    } catch {
      // The process ended between readdir and read: nothing to count.
    }
  }
  return { busyTicks: sys.busy, totalTicks: sys.total, procs };
}

/** CPU seconds by group between two snapshots. */
export interface CpuBreakdown {
  /** Seconds of CPU used on the whole machine (all cores) during the interval. */
  readonly machineBusy: number;
  readonly byGroup: ReadonlyMap<string, number>;
  /**
   * The "other" time by command name of the processes seen in both snapshots or started in
   * between (kernel threads included, `kworker/1:2` counted as `kworker`); what is left of
   * "other" (processes that came and went, interrupts) is `(unseen)`.
   */
  readonly otherByCommand: ReadonlyMap<string, number>;
}

/**
 * Groups: `trxmail (node)` for selfPid, the command name for its children and for the
 * masters' children, `postfix master`, `postfix (exited children)`, the group `named` gives
 * a pid (e.g. the database server's processes that served the bench), and `other`.
 */
export function cpuBetween(
  a: CpuSnapshot,
  b: CpuSnapshot,
  selfPid: number,
  masterPids: readonly number[],
  named: ReadonlyMap<number, string> = new Map(),
): CpuBreakdown {
  const hz = ticksPerSecond();
  const masters = new Set(masterPids);
  const groups = new Map<string, number>();
  const others = new Map<string, number>();
  const addTo = (m: Map<string, number>, g: string, ticks: number): void => {
    if (ticks > 0) m.set(g, (m.get(g) ?? 0) + ticks / hz);
  };
  const add = (g: string, ticks: number): void => addTo(groups, g, ticks);
  for (const [pid, after] of b.procs) {
    const before = a.procs.get(pid);
    const same = before !== undefined && before.comm === after.comm;
    const delta = after.ticks - (same ? before.ticks : 0);
    let group: string | null = null;
    if (pid === selfPid) {
      group = 'trxmail (node)';
      add('client (exited)', after.childTicks - (same ? before.childTicks : 0));
    } else if (masters.has(pid)) {
      group = 'postfix master';
      add('postfix (exited children)', after.childTicks - (same ? before.childTicks : 0));
    } else if (after.ppid === selfPid) group = after.comm;
    else if (masters.has(after.ppid)) group = `postfix ${after.comm}`;
    else if (named.has(pid)) group = named.get(pid) ?? null;
    if (group !== null) add(group, delta);
    else addTo(others, after.comm.replace(/\/.*$/, ''), delta);
  }
  const machineBusy = (b.busyTicks - a.busyTicks) / hz;
  const counted = [...groups.values()].reduce((s, v) => s + v, 0);
  const other = machineBusy - counted;
  if (other > 0) groups.set('other', other);
  const seen = [...others.values()].reduce((t, v) => t + v, 0);
  if (other - seen > 0) others.set('(unseen)', other - seen);
  return { machineBusy, byGroup: groups, otherByCommand: others };
}
