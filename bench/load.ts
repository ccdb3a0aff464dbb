/**
 * load.ts — the dkv load generator (bench tier: figures, never a pass/fail test).
 *
 *   node --import tsx bench/load.ts --target 127.0.0.1:PORT --kind dkv|noop --workload put|get|A|B|C
 *     [--conc 16] [--duration 10s] [--warmup 2s] [--value-size 100] [--key-size 16] [--keys 10000]
 *     [--dist uniform|zipfian] [--procs 1] [--rate OPS_PER_S] [--timeout 5s]
 *     [--writes ctx|rmw|blind] [--server-pid PID[,PID]] [--reset-server-peak] [--no-preload] [--json]
 *
 * Contracts:
 * - The target passes assertTestTarget (loopback only) before any connection, in the parent
 *   and again in every worker process.
 * - Every request carries a deadline (--timeout); every client is closed at the end.
 * - Workloads (A 50/50 read/update, B 95/5, C read only, put, get), context handling, closed
 *   vs open loop (--rate: latency from the intended send time, no coordinated omission) and
 *   the measurement window: see lib/drive.ts. get, A, B and C preload every key first
 *   (--no-preload or --kind noop skips it). ops/s = successes in the window / --duration.
 * - --procs N forks N worker processes of this file (always at least one); they start together
 *   at a time the parent sends, and their histograms are merged via HDR base64 encode/decode.
 * - --server-pid: CPU % (utime+stime delta over the window, 100 = one core) and peak RSS
 *   (VmHWM) of those processes; --reset-server-peak resets VmHWM at the window start (only
 *   for servers the caller started itself).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { decodeFromCompressedBase64, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { assertTestTarget } from '../test/helpers/target-guard.js';
import { connect, drive, newClient, newHistogram, preload, READ_FRACTION, seedContexts, type DriveResult, type LoadOptions, type Workload } from './lib/drive.js';
import { hostTicks, resetPeakRss, sample, usage, type ServerSample, type ServerUsage } from './lib/proc-stats.js';

export type { LoadOptions, Workload } from './lib/drive.js';

export interface Latency {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface LoadResult {
  options: Omit<LoadOptions, 'serverPids'>;
  ops: number;
  opsPerSec: number;
  errors: Record<string, number>;
  errorCount: number;
  /** latencyUs covers every successful op; read / update split it by operation. */
  latencyUs: Latency;
  read: Latency | null;
  update: Latency | null;
  server: ServerUsage[];
  /** clientCpuPct is the workers' own CPU over the window (they share the machine). */
  clientCpuPct: number;
  /** hostCpuPct is what every process on the host used (100 = one core): above server +
   * client means something else was running during the window. */
  hostCpuPct: number;
  /** histogram is the merged HDR histogram (µs), compressed base64, for later merging. */
  histogram: string;
}

type WorkerResult = DriveResult & { type: 'result'; cpuUs: number };

function receive<T>(from: NodeJS.Process | ChildProcess, type: string): Promise<T> {
  return new Promise((res) => {
    const on = (m: { type?: string }) => {
      if (m?.type !== type) return;
      from.off('message', on);
      res(m as T);
    };
    from.on('message', on);
  });
}

/**
 * worker is the child-process side: config from argv, connect, seed contexts (ctx writes to
 * dkv), report ready, wait for go, drive, report.
 */
async function worker(): Promise<void> {
  // The parent disconnects once it holds this worker's result (or when it dies): exit then,
  // so a result is never lost to an exit racing the IPC message.
  let reported = false;
  process.on('disconnect', () => process.exit(reported ? 0 : 1));
  const { opts: o, index } = JSON.parse(process.argv[process.argv.indexOf('--worker') + 1]) as { opts: LoadOptions; index: number };
  const client = newClient(o.target);
  await connect(client);
  const seeded = o.kind === 'dkv' && o.writes === 'ctx' && READ_FRACTION[o.workload] < 1 ? await seedContexts(client, o) : undefined;
  process.send!({ type: 'ready' });
  const { t0 } = await receive<{ t0: number }>(process, 'go');
  const base = performance.now() + (t0 - Date.now());
  // CPU over the window: from its start to its end, or to the last counted answer if earlier.
  let cpu0 = process.cpuUsage();
  let cpuUs: number | undefined;
  const measure = () => {
    const d = process.cpuUsage(cpu0);
    cpuUs ??= d.user + d.system;
  };
  setTimeout(() => (cpu0 = process.cpuUsage()), Math.max(0, base + o.warmupMs - performance.now()));
  const end = setTimeout(measure, Math.max(0, base + o.warmupMs + o.durationMs - performance.now()));
  const r = await drive(client, o, index, base, seeded);
  clearTimeout(end);
  measure();
  client.close();
  reported = true;
  process.send!({ type: 'result', ...r, cpuUs: cpuUs! } satisfies WorkerResult);
}

function summarize(h: Histogram): Latency {
  return { count: h.totalCount, p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue, mean: Math.round(h.mean) };
}

/** runLoad is the parent side: guard, preload, fork workers, start them together, merge. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  assertTestTarget(o.target);
  if (o.preload && o.kind === 'dkv' && READ_FRACTION[o.workload] > 0) await preload(o);
  const self = fileURLToPath(import.meta.url);
  const kids: ChildProcess[] = Array.from({ length: o.procs }, (_, index) =>
    fork(self, ['--worker', JSON.stringify({ opts: o, index })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  try {
    const reported = new Set<ChildProcess>();
    const died = new Promise<never>((_, rej) =>
      kids.forEach((k) => k.once('exit', (code, sig) => reported.has(k) || rej(new Error(`load worker ${k.pid} exited (${code ?? sig}) before reporting`)))),
    );
    const ready = kids.map((k) => receive(k, 'ready'));
    const results = kids.map((k) =>
      receive<WorkerResult>(k, 'result').then((r) => {
        reported.add(k);
        k.disconnect();
        return r;
      }),
    );
    await Promise.race([Promise.all(ready), died]);
    const t0 = Date.now() + 100;
    kids.forEach((k) => k.send({ type: 'go', t0 }));
    const base = performance.now() + (t0 - Date.now());
    const at = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, base + ms - performance.now())));
    const windowStats = (async (): Promise<[ServerSample[], ServerSample[], number]> => {
      await at(o.warmupMs);
      if (o.resetServerPeak) o.serverPids.forEach(resetPeakRss);
      const [s0, h0] = [sample(o.serverPids), hostTicks()];
      await at(o.warmupMs + o.durationMs);
      const [s1, h1] = [sample(o.serverPids), hostTicks()];
      return [s0, s1, Math.round((100 * availableParallelism() * (h1[0] - h0[0])) / Math.max(1, h1[1] - h0[1]))];
    })();
    const got = await Promise.race([Promise.all(results), died]);
    const [s0, s1, hostCpuPct] = await windowStats;
    const [all, reads, updates] = [newHistogram(), newHistogram(), newHistogram()];
    const errors: Record<string, number> = {};
    for (const r of got) {
      all.add(decodeFromCompressedBase64(r.all));
      reads.add(decodeFromCompressedBase64(r.read));
      updates.add(decodeFromCompressedBase64(r.update));
      for (const [k, n] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + n;
    }
    const ops = got.reduce((s, r) => s + r.ops, 0);
    const { serverPids: _, ...options } = o;
    return {
      options,
      ops,
      opsPerSec: Math.round(ops / (o.durationMs / 1000)),
      errors,
      errorCount: Object.values(errors).reduce((s, n) => s + n, 0),
      latencyUs: summarize(all),
      read: reads.totalCount ? summarize(reads) : null,
      update: updates.totalCount ? summarize(updates) : null,
      server: usage(s0, s1),
      clientCpuPct: Math.round(got.reduce((s, r) => s + r.cpuUs, 0) / 10 / o.durationMs),
      hostCpuPct,
      histogram: encodeIntoCompressedBase64(all),
    };
  } finally {
    // Workers exit once disconnected after reporting (letting --cpu-prof write); stragglers get SIGTERM.
    const alive = kids.filter((k) => k.exitCode === null && k.signalCode === null);
    for (const k of alive) if (k.connected) k.disconnect();
    await Promise.race([Promise.all(alive.map((k) => new Promise((r) => k.once('exit', r)))), new Promise((r) => setTimeout(r, 3_000).unref())]);
    for (const k of alive) if (k.exitCode === null && k.signalCode === null) k.kill('SIGTERM');
  }
}

/** duration parses 500ms, 10s, 2m or a bare number of seconds into milliseconds. */
export function duration(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim());
  if (!m) throw new Error(`${flag}: expected a duration like 10s or 500ms, got ${JSON.stringify(s)}`);
  return Math.round(Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 } as const)[(m[2] ?? 's') as 'ms' | 's' | 'm']);
}

function positiveInt(s: string, flag: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${flag}: expected a positive integer, got ${JSON.stringify(s)}`);
  return n;
}

function nonNegativeInt(s: string, flag: string): number {
  return s === '0' ? 0 : positiveInt(s, flag);
}

function fromArgv(argv: string[]): LoadOptions & { json: boolean } {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      target: { type: 'string' }, kind: { type: 'string', default: 'dkv' }, workload: { type: 'string', default: 'A' },
      conc: { type: 'string', default: '16' }, duration: { type: 'string', default: '10s' }, warmup: { type: 'string', default: '2s' },
      'value-size': { type: 'string', default: '100' }, 'key-size': { type: 'string', default: '16' }, keys: { type: 'string', default: '10000' },
      dist: { type: 'string', default: 'uniform' }, procs: { type: 'string', default: '1' }, rate: { type: 'string' },
      timeout: { type: 'string', default: '5s' }, 'server-pid': { type: 'string' }, 'reset-server-peak': { type: 'boolean', default: false },
      'no-preload': { type: 'boolean', default: false }, writes: { type: 'string', default: 'ctx' }, json: { type: 'boolean', default: false },
    },
  });
  if (!v.target) throw new Error('--target HOST:PORT is required');
  if (v.kind !== 'dkv' && v.kind !== 'noop') throw new Error(`--kind: dkv or noop, got ${v.kind}`);
  if (!(v.workload! in READ_FRACTION)) throw new Error(`--workload: put, get, A, B or C, got ${v.workload}`);
  if (v.writes !== 'ctx' && v.writes !== 'rmw' && v.writes !== 'blind') throw new Error(`--writes: ctx, rmw or blind, got ${v.writes}`);
  if (v.dist !== 'uniform' && v.dist !== 'zipfian') throw new Error(`--dist: uniform or zipfian, got ${v.dist}`);
  return {
    target: assertTestTarget(v.target),
    kind: v.kind,
    workload: v.workload as Workload,
    conc: positiveInt(v.conc!, '--conc'),
    durationMs: duration(v.duration!, '--duration'),
    warmupMs: duration(v.warmup!, '--warmup'),
    valueSize: nonNegativeInt(v['value-size']!, '--value-size'),
    keySize: positiveInt(v['key-size']!, '--key-size'),
    keys: positiveInt(v.keys!, '--keys'),
    dist: v.dist,
    procs: positiveInt(v.procs!, '--procs'),
    rate: v.rate === undefined ? undefined : positiveInt(v.rate, '--rate'),
    timeoutMs: duration(v.timeout!, '--timeout'),
    writes: v.writes,
    serverPids: v['server-pid'] ? v['server-pid'].split(',').map((p) => positiveInt(p, '--server-pid')) : [],
    resetServerPeak: v['reset-server-peak']!,
    preload: !v['no-preload'],
    json: v.json!,
  };
}

const ms = (us: number) => (us / 1000).toFixed(us < 10_000 ? 2 : 1);

export function describe(r: LoadResult): string {
  const o = r.options;
  const srv = r.server.map((s) => `server ${s.pid}: ${s.cpuPct.toFixed(0)}% CPU, peak RSS ${(s.peakRssKiB / 1024).toFixed(0)} MiB`).join('; ');
  const mode = o.rate === undefined ? `conc ${o.conc}` : `rate ${o.rate}/s (max ${o.conc} in flight)`;
  return `${o.kind} ${o.workload} ${o.target} ${mode} x${o.procs} proc: ${r.opsPerSec} ops/s, p50 ${ms(r.latencyUs.p50)} ms, p99 ${ms(r.latencyUs.p99)} ms, p99.9 ${ms(r.latencyUs.p999)} ms, errors ${r.errorCount}${r.errorCount ? ' ' + JSON.stringify(r.errors) : ''}; client ${r.clientCpuPct}% CPU, host ${r.hostCpuPct}%${srv ? '; ' + srv : ''}`;
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain && process.argv.includes('--worker') && process.send) {
  worker().catch((e) => {
    process.stderr.write(`load worker: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
  });
} else if (isMain) {
  try {
    const { json, ...o } = fromArgv(process.argv.slice(2));
    const r = await runLoad(o);
    process.stdout.write((json ? JSON.stringify(r) : describe(r)) + '\n');
  } catch (e) {
    process.stderr.write(`load: ${(e as Error).message}\n`);
    process.exitCode = 2;
  }
}
