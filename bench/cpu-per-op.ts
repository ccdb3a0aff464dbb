/**
 * cpu-per-op.ts — server CPU µs per operation of dkv (1 node, or 3 nodes at QUORUM) for put and
 * get at one concurrency, repeated, with an optional CPU profile (bench tier: figures only).
 *
 *   npx tsc -p tsconfig.json && node --import tsx bench/cpu-per-op.ts [--nodes 1|3] [--conc 64]
 *     [--reps 3] [--duration 4000] [--cpu-prof DIR] [--workloads put,get] [--extra 'SERVE FLAGS']
 *     [--threads] [--noop] [--node-args 'NODE FLAGS']
 *
 * Contract: a fresh cluster per invocation (temp dirs, removed at the end); 5,000 keys of 16 B,
 * 100-byte values, 'ctx' writes, two client processes; prints one line per repetition with
 * ops/s and server CPU µs/op (summed over every node), then the median and the minimum per
 * workload (on a shared machine the minimum is the figure least inflated by other work).
 * --noop measures bench/noop-server.ts (the ceiling) the same way instead of dkv.
 * --threads also prints, per repetition, how the server CPU split between its threads (by
 * thread name, from /proc/PID/task/TID/stat over the whole load including warm-up), as µs per
 * op: a V8 profile shows only the main thread, not libuv's pool (LevelDB reads and writes)
 * or LevelDB's compaction thread.
 */
import { parseArgs } from 'node:util';
import { startDkv, startNoop, stopTarget } from './lib/peers.js';
import { Fleet } from './lib/servers.js';
import { runLoad, type Workload } from './load.js';
import { threadTicks } from './lib/proc-stats.js';

const { values: v } = parseArgs({
  strict: true,
  options: {
    nodes: { type: 'string', default: '1' },
    conc: { type: 'string', default: '64' },
    reps: { type: 'string', default: '3' },
    duration: { type: 'string', default: '4000' },
    'cpu-prof': { type: 'string' },
    workloads: { type: 'string', default: 'put,get' },
    extra: { type: 'string', default: '' },
    threads: { type: 'boolean', default: false },
    noop: { type: 'boolean', default: false },
    'node-args': { type: 'string', default: '' },
  },
});
const fleet = new Fleet();
const nodes = Number(v.nodes);
process.once('SIGINT', () => void fleet.stopAll().then(() => process.exit(130)));
try {
  const t = v.noop ? await startNoop(fleet) : await startDkv(fleet, { nodes, label: `dkv ${nodes}`, cpuProfDir: v['cpu-prof'], nodeArgs: v['node-args'] ? v['node-args'].split(' ') : [], extra: v.extra ? v.extra.split(' ') : [] });
  const conc = Number(v.conc);
  const procs = conc === 1 ? 1 : 2;
  const res: Record<string, number[]> = {};
  let preloaded = false;
  for (let rep = 0; rep < Number(v.reps); rep++) {
    for (const workload of v.workloads!.split(',') as Workload[]) {
      const t0 = v.threads ? t.pids.map(threadTicks) : [];
      const r = await runLoad({
        target: t.target, kind: v.noop ? 'noop' : 'dkv', workload, conc: Math.round(conc / procs), procs,
        durationMs: Number(v.duration), warmupMs: 1000, valueSize: 100, keySize: 16, keys: 5000, dist: 'uniform',
        timeoutMs: 5000, writes: 'ctx', serverPids: t.pids, resetServerPeak: true, preload: !preloaded,
        consistency: nodes > 1 ? 'quorum' : undefined,
      });
      preloaded = true;
      const cpu = r.server.reduce((s, x) => s + x.cpuSeconds, 0);
      const us = r.ops ? (cpu * 1e6) / r.ops : NaN;
      const rss = Math.max(...r.server.map((s) => s.peakRssKiB / 1024));
      (res[workload] ??= []).push(us);
      console.log(`rep ${rep} ${workload} conc ${conc}: ${r.opsPerSec} ops/s, server CPU ${us.toFixed(0)} µs/op, p50 ${(r.latencyUs.p50 / 1000).toFixed(2)} ms, peak RSS ${rss.toFixed(0)} MiB, errors ${r.errorCount}, host CPU ${r.hostCpuPct}%`);
      if (v.threads) console.log(`  threads (µs/op): ${threadSplit(t.pids, t0, t.pids.map(threadTicks), us)}`);
    }
  }
  for (const [w, xs] of Object.entries(res)) {
    const s = [...xs].sort((a, b) => a - b);
    console.log(`median ${w}: ${s[Math.floor(s.length / 2)].toFixed(0)} µs/op, min ${s[0].toFixed(0)} (all: ${xs.map((x) => x.toFixed(0)).join(' ')})`);
  }
  await stopTarget(fleet, t);
} finally {
  await fleet.stopAll();
}

/**
 * threadSplit spreads usPerOp over the threads by their share of the ticks between two samples:
 * the main thread (TID = PID), then the busiest other threads by TID (Node names every thread
 * "node": libuv's pool threads run LevelDB reads and writes, one LevelDB thread compacts).
 */
function threadSplit(pids: number[], before: Map<string, number>[], after: Map<string, number>[], usPerOp: number): string {
  const by = new Map<string, number>();
  after.forEach((m, i) => {
    for (const [id, ticks] of m) {
      const tid = id.slice(0, id.indexOf(' '));
      const label = tid === String(pids[i]) ? `main(${pids[i]})` : `${pids.length > 1 ? `${pids[i]}/` : ''}${tid}`;
      by.set(label, (by.get(label) ?? 0) + ticks - (before[i].get(id) ?? 0));
    }
  });
  const total = [...by.values()].reduce((s, n) => s + n, 0) || 1;
  return [...by].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]).map(([label, n]) => `${label} ${((usPerOp * n) / total).toFixed(0)}`).join(', ');
}
