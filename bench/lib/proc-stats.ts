import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * Server-side resource figures read from Linux /proc (bench only; never a pass/fail signal).
 *
 * Contract: cpuTicks(pid) is utime + stime of the whole process (all threads) in clock ticks,
 * from /proc/PID/stat fields 14 and 15; peakRssKiB(pid) is VmHWM from /proc/PID/status, the
 * process's resident-set high-water mark since it started or since resetPeakRss(pid).
 */

let clkTck: number | undefined;

/** ticksPerSecond is sysconf(_SC_CLK_TCK) (via `getconf CLK_TCK`), 100 when getconf fails. */
export function ticksPerSecond(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** cpuTicks returns utime + stime of pid. The comm field may hold spaces and ')': parse after the last ')'. */
export function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state), so field k is rest[k - 3].
  return Number(rest[14 - 3]) + Number(rest[15 - 3]);
}

/**
 * threadTicks returns utime + stime of each live thread of pid, keyed "TID NAME" (NAME is the
 * thread's comm, e.g. "node", "libuv-worker"). Threads that exit between calls drop out.
 */
export function threadTicks(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    } catch {
      continue;
    }
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(`${tid} ${name}`, Number(rest[14 - 3]) + Number(rest[15 - 3]));
  }
  return out;
}

/** peakRssKiB returns VmHWM of pid in KiB. */
export function peakRssKiB(pid: number): number {
  const m = /^VmHWM:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(m[1]);
}

/**
 * resetPeakRss sets pid's VmHWM back to its current RSS (writes "5" to /proc/PID/clear_refs,
 * Linux >= 4.0), so the next peakRssKiB covers one measurement window only. Best effort:
 * returns false when not permitted. Only call it on server processes the bench itself started.
 */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface ServerSample {
  pid: number;
  ticks: number;
  atMs: number;
}

/** sample takes the CPU counters of every pid at one instant. */
export function sample(pids: number[]): ServerSample[] {
  const atMs = performance.now();
  return pids.map((pid) => ({ pid, ticks: cpuTicks(pid), atMs }));
}

export interface ServerUsage {
  pid: number;
  /** cpuPct is CPU time over wall time in the window; 100 means one core fully busy. */
  cpuPct: number;
  cpuSeconds: number;
  peakRssKiB: number;
}

/** usage turns two samples into CPU % over the window and reads each pid's peak RSS now. */
export function usage(start: ServerSample[], end: ServerSample[]): ServerUsage[] {
  const hz = ticksPerSecond();
  return end.map((e, i) => {
    const s = start[i];
    const cpuSeconds = (e.ticks - s.ticks) / hz;
    const wall = (e.atMs - s.atMs) / 1000;
    return { pid: e.pid, cpuSeconds, cpuPct: wall > 0 ? (100 * cpuSeconds) / wall : 0, peakRssKiB: peakRssKiB(e.pid) };
  });
}

/**
 * hostTicks returns the machine-wide [busy, total] CPU ticks from /proc/stat's "cpu" line
 * (busy = total - idle - iowait). Over a window, 100 * Δbusy / Δtotal * cores is how much
 * CPU everything on the host used, including other people's processes: a bench on a shared
 * machine reports it so a noisy run can be recognised.
 */
export function hostTicks(): [number, number] {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((s, n) => s + n, 0);
  return [total - f[3] - f[4], total];
}
