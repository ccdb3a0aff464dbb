/**
 * run.ts — `npm run bench`: dkv side by side with the gRPC ceiling, etcd and Redis in one run
 * (bench tier: figures, never a pass/fail test).
 *
 *   npx tsc -p tsconfig.json && node --import tsx bench/run.ts [--quick] [--scale-max N] [--out bench/results]
 *
 * Contracts:
 * - Starts every target itself on 127.0.0.1 with its data in a temp dir: the no-op grpc-js
 *   server (bench/noop-server.ts), dkv 1 node, dkv 3 nodes (N = 3; requests at QUORUM
 *   (W = R = 2), ONE and ALL), etcd 1 and 3 members, Redis (no persistence). A peer that is
 *   not installed (`npm run bench:peers` installs it) is skipped with a line saying so. Every
 *   process is stopped and every temp dir removed at the end, also on failure, SIGINT or SIGTERM.
 * - Every load goes through bench/load.ts (the same process model, keys, value bytes,
 *   concurrency, warm-up and duration for every target); conc 1 is one client process, higher
 *   concurrency is two processes with half each. Targets take turns point by point (put c1 on
 *   every target, then put c16 ...), so a busy spell of the shared machine hits all of them.
 * - Full run: put and get at conc 1 / 16 / 64 on every target (100-byte values, 5,000 keys,
 *   each loaded once first); YCSB A and B at conc 16 on dkv 1 node and 3 nodes; 1 KiB and
 *   10 KiB values at conc 16 on dkv 1 node (and on the no-op server and etcd 1 member as the
 *   ratios' references); Put at conc 64 with --fsync always next to never; then a fresh node
 *   loaded with 100k, 1M and 10M keys of 1 KiB: load rate, Get throughput and p99, bytes on disk per user byte (after the
 *   node is closed), peak RSS, restart time. --quick: fewer targets, conc 1 and 64, short
 *   windows, two small scale steps (under 3 minutes).
 * - Scale steps: the first size is loaded through gRPC (its load rate is the served one); each
 *   larger size is added with the node stopped, by bench/bulk-load.ts in its own process
 *   through the node's replica write path (same batches and on-disk layout, no gRPC: 10M
 *   keys through gRPC would take over an hour here; change-log entries only for the last
 *   --changelog-max-entries keys, which is all a served node keeps), then the node is
 *   restarted, warmed up for a Get window and measured. --scale-max N drops the sizes above N.
 * - Writes bench/results/<ISO time>[-quick].json (every figure, including merged HDR
 *   histograms), .md (tables with absolute figures and ratios to the ceiling and to etcd, the
 *   issue's goals met / not met) and .svg (throughput and p99 against concurrency); a full run
 *   also copies its Markdown to bench/results/latest.md.
 */
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, lstatSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Level } from './lib/drivers.js';
import { dkvStatus, startDkv, startEtcd, startNoop, startRedis, stopTarget, version, which, type Target } from './lib/peers.js';
import { hostTicks, sample, usage } from './lib/proc-stats.js';
import { chartSvg, fmtMs, goals, goalsTable, otherCpuPct, scaleTable, serverCpuUsPerOp, table, type Measurement, type ScaleStage, type StageLoad } from './lib/report.js';
import { Fleet, freePort, ROOT } from './lib/servers.js';
import { runLoad, type LoadOptions, type LoadResult, type Workload } from './load.js';

const { values: v } = parseArgs({
  strict: true,
  options: {
    quick: { type: 'boolean', default: false },
    'scale-max': { type: 'string', default: '10000000' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results') },
  },
});
const QUICK = v.quick!;

const plan = QUICK
  ? { durationMs: 2_000, warmupMs: 500, keys: 1_000, concs: [1, 64], levels: ['quorum'] as Level[], ycsb: false, sizes: [] as number[], scale: [10_000, 100_000] }
  : { durationMs: 5_000, warmupMs: 1_000, keys: 5_000, concs: [1, 16, 64], levels: ['quorum', 'one', 'all'] as Level[], ycsb: true, sizes: [1024, 10240], scale: [100_000, 1_000_000, 10_000_000] };
plan.scale = plan.scale.filter((n, i) => i === 0 || n <= Number(v['scale-max']));
const KEY_SIZE = 16;
const VALUE_SIZE = 100;
const SCALE_VALUE = 1024;
const TIMEOUT_MS = 5_000;

const log = (s: string) => process.stderr.write(s + '\n');
const procsFor = (conc: number) => (conc === 1 ? 1 : 2);

interface Entry {
  label: string;
  t: Target;
  level?: Level;
  role: Measurement['role'];
  etcdRef: Measurement['etcdRef'];
}

const fleet = new Fleet();
const measurements: Measurement[] = [];
const preloads: { target: string; keys: number; result: LoadResult }[] = [];
const skipped: string[] = [];
const notes: string[] = [];
const phases: Record<string, number> = {};

function options(e: Entry, workload: Workload, conc: number, extra: Partial<LoadOptions> = {}): LoadOptions {
  const procs = procsFor(conc);
  return {
    target: e.t.target,
    kind: e.t.kind,
    workload,
    conc: Math.max(1, Math.round(conc / procs)),
    durationMs: plan.durationMs,
    warmupMs: plan.warmupMs,
    valueSize: VALUE_SIZE,
    keySize: KEY_SIZE,
    keys: plan.keys,
    dist: 'uniform',
    procs,
    timeoutMs: TIMEOUT_MS,
    writes: 'ctx',
    serverPids: e.t.pids,
    resetServerPeak: true,
    preload: false,
    consistency: e.level,
    ...extra,
  };
}

async function measure(section: Measurement['section'], e: Entry, workload: Workload, conc: number, extra: Partial<LoadOptions> = {}, note?: string): Promise<LoadResult> {
  const o = options(e, workload, conc, extra);
  const r = await runLoad(o);
  measurements.push({ section, target: e.label, etcdRef: e.etcdRef, role: e.role, workload, conc, valueSize: o.valueSize, note, result: r });
  const errs = r.errorCount ? ` errors ${r.errorCount} ${JSON.stringify(r.errors)}` : '';
  log(`  ${section} ${e.label}${note ? ` (${note})` : ''} ${workload} conc ${conc} ${o.valueSize} B: ${r.opsPerSec} ops/s, p99 ${fmtMs(r.latencyUs.p99)} ms${errs}; host CPU ${r.hostCpuPct}%`);
  return r;
}

/** load writes keys [from, keys) once (blind, they are new) with 2 client processes. */
async function load(e: Entry, keys: number, valueSize: number, from: number, conc: number, name = e.label): Promise<LoadResult> {
  const r = await runLoad({ ...options(e, 'insert', conc), keys, valueSize, insertFrom: from, writes: 'blind', resetServerPeak: false, consistency: undefined });
  preloads.push({ target: name, keys: keys - from, result: r });
  log(`  loaded ${keys - from} keys of ${valueSize} B into ${name}: ${r.opsPerSec} ops/s, p99 ${fmtMs(r.latencyUs.p99)} ms${r.errorCount ? `, errors ${JSON.stringify(r.errors)}` : ''}`);
  // A few failed writes (deadlines on a busy machine) leave a few keys absent: noted, not fatal.
  if (r.errorCount > 0.01 * (keys - from)) throw new Error(`loading ${e.label} failed: ${JSON.stringify(r.errors)}`);
  if (r.errorCount) notes.push(`Loading ${e.label}: ${r.errorCount} of ${keys - from} writes failed (${JSON.stringify(r.errors)}); those keys read as absent.`);
  return r;
}

/**
 * bulkLoad adds keys [from, to) to the stopped scale node's directory with bench/bulk-load.ts
 * in its own process (its progress lines go to stderr).
 */
async function bulkLoad(dir: string, nodeId: string, from: number, to: number): Promise<{ opsPerSec: number; cpuSeconds: number; peakRssMiB: number }> {
  log(`  bulk loading keys ${from.toLocaleString('en-US')}..${to.toLocaleString('en-US')} of ${SCALE_VALUE} B in process`);
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'bulk-load.ts'), '--data-dir', dir, '--node-id', nodeId, '--from', String(from), '--to', String(to), '--value-size', String(SCALE_VALUE), '--key-size', String(KEY_SIZE)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) throw new Error(`bench/bulk-load.ts exited with ${code}: ${out}`);
  return JSON.parse(out.trim().split('\n').pop()!) as { opsPerSec: number; cpuSeconds: number; peakRssMiB: number };
}

/** rssSplit is a process's resident memory now: anonymous and file-backed (mapped LevelDB tables). */
function rssSplit(pid: number): string {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (f: string) => Number(new RegExp(`${f}:\\s+(\\d+) kB`).exec(s)?.[1] ?? NaN);
  return `${(kib('VmRSS') / 1024).toFixed(0)} MiB, ${(kib('RssAnon') / 1024).toFixed(0)} anonymous + ${(kib('RssFile') / 1024).toFixed(0)} file-backed`;
}

/** diskUsage sums a directory tree: allocated bytes (st_blocks) and apparent bytes. */
function diskUsage(dir: string): { allocated: number; apparent: number } {
  let allocated = 0;
  let apparent = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p);
    if (st.isDirectory()) {
      const d = diskUsage(p);
      allocated += d.allocated;
      apparent += d.apparent;
    } else {
      allocated += st.blocks * 512;
      apparent += st.size;
    }
  }
  return { allocated, apparent };
}

async function timed<T>(phase: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    phases[phase] = Math.round((performance.now() - t0) / 100) / 10;
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const t0 = performance.now();
  const loadStart = loadavg();
  log(`bench ${QUICK ? '--quick ' : ''}started ${started.toISOString()}; load average ${loadStart.map((x) => x.toFixed(2)).join(' ')} on ${cpus().length} cores`);
  if (loadStart[0] > cpus().length * 0.5) {
    const n = `The 1-minute load average was ${loadStart[0].toFixed(2)} on ${cpus().length} cores when the run started (other work on the shared machine); the "other CPU %" column shows how much of that went on in each measurement window.`;
    notes.push(n);
    log(n);
  }
  const etcdBin = which('etcd');
  const redisBin = which('redis-server');
  if (!etcdBin) skipped.push('etcd: not installed (npm run bench:peers installs Debian etcd-server); etcd 1 and 3 members skipped, × etcd ratios empty');
  if (!redisBin) skipped.push('Redis: not installed (npm run bench:peers installs Debian redis-server); Redis skipped');
  skipped.forEach((s) => log(`SKIP ${s}`));

  const entries: Entry[] = [];
  let dkv1!: Entry;
  let dkv3q: Entry | undefined;
  let etcd1: Entry | undefined;
  let noop!: Entry;
  await timed('start', async () => {
    noop = { label: 'no-op gRPC (ceiling)', t: await startNoop(fleet), role: 'noop', etcdRef: 'etcd1' };
    // 10 KiB values plus their key exceed dkv's default 10 KiB limit: raise it for this node.
    dkv1 = { label: 'dkv 1 node', t: await startDkv(fleet, { nodes: 1, label: 'dkv 1 node', nodePrefix: 'a', extra: ['--max-value-bytes', '16KiB'] }), role: 'other', etcdRef: 'etcd1' };
    const dkv3 = await startDkv(fleet, { nodes: 3, label: 'dkv 3 nodes', nodePrefix: 'b' });
    entries.push(noop, dkv1);
    for (const level of plan.levels) {
      const e: Entry = { label: `dkv 3 nodes ${level.toUpperCase()}`, t: dkv3, level, role: 'other', etcdRef: 'etcd3' };
      if (level === 'quorum') dkv3q = e;
      entries.push(e);
    }
    if (etcdBin) {
      etcd1 = { label: 'etcd 1 member', t: await startEtcd(fleet, 1, 'etcd 1 member', etcdBin), role: 'etcd1', etcdRef: 'etcd1' };
      entries.push(etcd1, { label: 'etcd 3 members', t: await startEtcd(fleet, 3, 'etcd 3 members', etcdBin), role: 'etcd3', etcdRef: 'etcd3' });
    }
    if (redisBin) entries.push({ label: 'Redis', t: await startRedis(fleet, 'Redis', redisBin), role: 'other', etcdRef: 'etcd1' });
    for (const e of entries) log(`  ${e.label}: ${e.t.target} (pid ${e.t.pids.join(',')})`);
  });

  // Each distinct target loaded once with every key (dkv 3 nodes at its default, QUORUM).
  const distinct = entries.filter((e, i) => e.role !== 'noop' && entries.findIndex((x) => x.t === e.t) === i);
  await timed('preload', async () => {
    for (const e of distinct) await load(e, plan.keys, VALUE_SIZE, 0, 32);
  });

  // What the idle servers cost (gossip, heartbeats, anti-entropy) over 3 s.
  const idle = await timed('idle', async () => {
    const all = [...new Set(entries.map((e) => e.t))];
    const s0 = all.map((t) => sample(t.pids));
    const h0 = hostTicks();
    await new Promise((r) => setTimeout(r, 3_000));
    const h1 = hostTicks();
    const res = all.map((t, i) => ({ target: t.label, cpuPct: Math.round(usage(s0[i], sample(t.pids)).reduce((s, u) => s + u.cpuPct, 0) * 10) / 10 }));
    return { servers: res, hostCpuPct: Math.round((100 * cpus().length * (h1[0] - h0[0])) / Math.max(1, h1[1] - h0[1])) };
  });
  log(`  idle: ${idle.servers.map((s) => `${s.target} ${s.cpuPct}%`).join(', ')}; host ${idle.hostCpuPct}%`);

  await timed('main', async () => {
    for (const w of ['put', 'get'] as Workload[]) for (const c of plan.concs) for (const e of entries) await measure('main', e, w, c);
  });

  if (plan.ycsb)
    await timed('ycsb', async () => {
      for (const w of ['A', 'B'] as Workload[]) for (const e of [dkv1, dkv3q].filter((x): x is Entry => !!x)) await measure('ycsb', e, w, 16);
    });

  if (plan.sizes.length)
    await timed('value-size', async () => {
      const refs = [noop, dkv1, etcd1].filter((x): x is Entry => !!x);
      for (const size of plan.sizes) {
        for (const e of refs) await measure('value-size', e, 'put', 16, { valueSize: size });
        // get reads what preload wrote: every key rewritten with this size (dkv: Get, then Put with its context).
        for (const e of refs) await measure('value-size', e, 'get', 16, { valueSize: size, preload: true });
      }
    });

  const fsync: { never?: LoadResult; always?: LoadResult } = {};
  await timed('fsync', async () => {
    const always: Entry = { label: 'dkv 1 node', t: await startDkv(fleet, { nodes: 1, label: 'dkv fsync always', nodePrefix: 'f', fsync: 'always' }), role: 'other', etcdRef: 'etcd1' };
    await load(always, plan.keys, VALUE_SIZE, 0, 32, 'dkv 1 node --fsync=always');
    fsync.never = await measure('fsync', dkv1, 'put', 64, {}, '--fsync=never');
    fsync.always = await measure('fsync', always, 'put', 64, {}, '--fsync=always');
    await stopTarget(fleet, always.t);
  });

  // The scale steps get the machine to themselves.
  for (const t of new Set(entries.map((e) => e.t))) await stopTarget(fleet, t);

  const stages: ScaleStage[] = [];
  await timed('scale', async () => {
    const port = await freePort();
    const dir = fleet.tempDir('dkv-bench-scale-');
    const startScale = () => startDkv(fleet, { nodes: 1, label: 'dkv scale', nodePrefix: 's', ports: [port], dataDirs: [dir] });
    let from = 0;
    for (const [i, keys] of plan.scale.entries()) {
      // The first size through gRPC (the served load rate), larger ones in process (see header).
      let loaded: StageLoad;
      if (i === 0) {
        const fresh = await startScale();
        const r = await load({ label: `dkv 1 node, ${keys.toLocaleString('en-US')} keys`, t: fresh, role: 'other', etcdRef: 'etcd1' }, keys, SCALE_VALUE, from, 64);
        loaded = { via: 'gRPC, 2 client processes × 32', opsPerSec: r.opsPerSec, p99Us: r.latencyUs.p99, serverCpuUsPerOp: serverCpuUsPerOp(r), peakRssMiB: r.server[0].peakRssKiB / 1024 };
        await stopTarget(fleet, fresh);
      } else {
        const b = await bulkLoad(dir, 's1', from, keys);
        loaded = { via: 'in process (bench/bulk-load.ts)', opsPerSec: b.opsPerSec, serverCpuUsPerOp: (b.cpuSeconds * 1e6) / (keys - from), peakRssMiB: b.peakRssMiB };
      }
      // Every size is measured on a node restarted on its data: peak RSS is over the restart
      // and the Get window (with its warm-up), the same for every size.
      const r0 = performance.now();
      const t = await startScale();
      const restartMs = Math.round(performance.now() - r0);
      const e: Entry = { label: `dkv 1 node, ${keys.toLocaleString('en-US')} keys`, t, role: 'other', etcdRef: 'etcd1' };
      const get = await runLoad({ ...options(e, 'get', 16), keys, valueSize: SCALE_VALUE, resetServerPeak: false });
      const st = await dkvStatus(t.target).catch(() => undefined);
      const peak = get.server[0].peakRssKiB / 1024;
      log(`  scale ${keys} keys: restart ${restartMs} ms; Get ${get.opsPerSec} ops/s, p99 ${fmtMs(get.latencyUs.p99)} ms, peak RSS ${peak.toFixed(0)} MiB (now: ${rssSplit(t.pids[0])}), cache hit ratio ${st?.cacheHitRatio?.toFixed(2) ?? '?'}`);
      await stopTarget(fleet, t);
      const du = diskUsage(dir);
      log(`  scale ${keys} keys: ${(du.allocated / 2 ** 20).toFixed(0)} MiB on disk for ${((keys * (KEY_SIZE + SCALE_VALUE)) / 2 ** 20).toFixed(0)} MiB of keys + values`);
      stages.push({ keys, valueSize: SCALE_VALUE, load: loaded, get, userBytes: keys * (KEY_SIZE + SCALE_VALUE), diskBytes: du.allocated, diskApparentBytes: du.apparent, peakRssMiB: peak, restartMs, cacheHitRatio: st?.cacheHitRatio });
      from = keys;
    }
  });

  const others = measurements.map((m) => otherCpuPct(m.result)).sort((a, b) => a - b);
  const otherMedian = others.length ? others[Math.floor(others.length / 2)] : 0;
  if (otherMedian >= 20)
    notes.push(
      `Other work shared the machine during the measurements: in the median window it used ${otherMedian}% CPU (of 200) beside the servers and the load generator (column "other CPU %" = host − servers − load generator; max ${others[others.length - 1]}%). Absolute ops/s and latencies are lower and noisier than on a quiet machine, and neighbouring points can differ by 2× from that alone; server CPU µs/op is the steadier figure.`,
    );
  const finished = new Date();
  const seconds = Math.round((performance.now() - t0) / 1000);
  const loadEnd = loadavg();
  if (plan.scale[plan.scale.length - 1] < 10_000_000) notes.push(`The largest scale step was ${plan.scale[plan.scale.length - 1].toLocaleString('en-US')} keys (${QUICK ? '--quick' : '--scale-max'}): the 10M goals below are judged "not measured", with the largest size run as an indication.`);

  const stamp = started.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z') + (QUICK ? '-quick' : '');
  mkdirSync(v.out!, { recursive: true });
  const goalRows = goals(measurements, fsync, stages);
  const grpcVersion = (JSON.parse(readFileSync(join(ROOT, 'node_modules', '@grpc', 'grpc-js', 'package.json'), 'utf8')) as { version: string }).version;
  const versions = {
    dkv: (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    node: process.version,
    grpcJs: grpcVersion,
    etcd: etcdBin ? version(etcdBin, ['--version']).replace(/^etcd Version: /, 'etcd ') : 'not installed',
    redis: redisBin ? version(redisBin, ['--version']).replace(/^Redis server v=(\S+).*/, 'Redis $1') : 'not installed',
  };
  const machine = { cpus: cpus().length, model: cpus()[0]?.model, loadavgAtStart: loadStart, loadavgAtEnd: loadEnd };
  const main = measurements.filter((m) => m.section === 'main');
  const order = (m: Measurement) => entries.findIndex((e) => e.label === m.target);
  const mainSorted = [...main].sort((a, b) => order(a) - order(b) || a.workload.localeCompare(b.workload) * -1 || a.conc - b.conc);
  const mainTable = table(measurements, mainSorted);
  const otherTable = table(measurements, measurements.filter((m) => m.section !== 'main'));
  const svgFile = `${stamp}.svg`;
  const md = [
    `# dkv benchmark — ${started.toISOString()}${QUICK ? ' (--quick)' : ''}`,
    '',
    `Machine: ${machine.cpus} × ${machine.model}, shared by the load generator, every server and other work; Node ${versions.node}, grpc-js ${versions.grpcJs}, ${versions.etcd}, ${versions.redis}. Load average at start ${loadStart.map((x) => x.toFixed(2)).join(' ')}, at end ${loadEnd.map((x) => x.toFixed(2)).join(' ')}. Run time ${Math.floor(seconds / 60)} min ${seconds % 60} s (phases, s: ${Object.entries(phases).map(([k, x]) => `${k} ${x}`).join(', ')}).`,
    '',
    ...notes.map((n) => `> ${n}\n`),
    ...skipped.map((s) => `> Skipped: ${s}\n`),
    '## Method',
    '',
    `Closed loop, ${KEY_SIZE}-byte keys, ${VALUE_SIZE}-byte random values, ${plan.keys.toLocaleString('en-US')} keys chosen uniformly, each target loaded with every key first; ${plan.warmupMs / 1000} s warm-up then ${plan.durationMs / 1000} s measured per point, one run each (not medians). Concurrency 1 is one client process; 16 and 64 are two processes with half each (bench/load.ts). Targets take turns point by point. dkv writes carry the context last seen for the key (as the SDK does); dkv runs --fsync never (its default); etcd 3.4 fsyncs its WAL for every batch it commits and serves linearizable Range (the etcd client default); Redis has no persistence and uses one connection per outstanding request (no pipelining). For 3 nodes / 3 members the client sends requests to the members in turn. × ceiling = ops/s over the no-op grpc-js server's at the same workload, concurrency and value size; × etcd = over etcd 1 member's (for dkv 3 nodes: etcd 3 members'); server CPU µs/op = CPU time of all the target's server processes over its successful ops (the figure a busy machine disturbs least); host CPU % is what everything on the machine used in the window (200 = both cores) and other CPU % the part of it neither the servers nor the load generator used (other work on the shared machine).`,
    '',
    '## Goals (issue 6)',
    '',
    goalsTable(goalRows),
    '',
    '## Put and get, 100-byte values',
    '',
    mainTable,
    '',
    `![throughput and p99 against concurrency](${svgFile})`,
    '',
    ...(otherTable.split('\n').length > 2 ? ['## YCSB A / B, value sizes, --fsync', '', otherTable, ''] : []),
    `## Scale with data (one dkv node, ${SCALE_VALUE}-byte random values, the first size loaded through gRPC by 2 client processes × 32 in flight, each larger one added in process by bench/bulk-load.ts with the node stopped; Get at conc 16, uniform over every key)`,
    '',
    scaleTable(stages),
    '',
    'On disk = allocated bytes of the whole data directory (LevelDB plus the change log) after the node was stopped; random values do not compress. Each size is measured on a node restarted on its data: restart ms is how long it took to serve again, peak RSS the node\'s VmHWM over the restart and the Get window (warm-up included; it counts LevelDB table pages the node has memory-mapped, up to --level-max-open-files tables). Load CPU µs/op is the node\'s CPU per key for the gRPC load and the loader\'s for the in-process one; load peak RSS likewise. Cache hit ratio is the hot-key cache\'s since the restart.',
    '',
    '## Loading (every key written once, blind, 2 client processes; not a comparison point of the goals)',
    '',
    '| target | keys | value B | ops/s | p99 ms | server CPU µs/op | host CPU % |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...preloads.map((p) => `| ${p.target} | ${p.keys.toLocaleString('en-US')} | ${p.result.options.valueSize} | ${p.result.opsPerSec} | ${fmtMs(p.result.latencyUs.p99)} | ${serverCpuUsPerOp(p.result)?.toFixed(0) ?? ''} | ${p.result.hostCpuPct} |`),
    '',
    `## Idle servers (3 s, after loading, before measuring)`,
    '',
    idle.servers.map((s) => `${s.target} ${s.cpuPct}% CPU`).join('; ') + `; host ${idle.hostCpuPct}%.`,
    '',
  ].join('\n');
  const json = { bench: 'run', quick: QUICK, startedAt: started.toISOString(), finishedAt: finished.toISOString(), seconds, phases, machine, versions, plan, keySize: KEY_SIZE, valueSize: VALUE_SIZE, skipped, notes, idle, preloads, measurements, fsync, scale: stages, goals: goalRows, markdown: md };
  const base = join(v.out!, stamp);
  writeFileSync(`${base}.json`, JSON.stringify(json, null, 1) + '\n');
  writeFileSync(`${base}.md`, md);
  writeFileSync(`${base}.svg`, chartSvg(main, `dkv vs the gRPC ceiling, etcd and Redis — ${started.toISOString().slice(0, 16)}Z${QUICK ? ' (quick)' : ''}`));
  if (!QUICK) writeFileSync(join(v.out!, 'latest.md'), md);
  process.stdout.write(md + `\nwrote ${base}.json, .md, .svg${QUICK ? '' : ' and latest.md'} (${seconds} s)\n`);
}

let stopping = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    if (stopping) return;
    stopping = true;
    log(`bench: ${sig}, stopping every server and removing temp dirs`);
    void fleet.stopAll().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  });

main()
  .catch((e) => {
    process.stderr.write(`bench: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 1;
  })
  .finally(() => fleet.stopAll());
