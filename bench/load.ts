/**
 * load.ts — the dkv load generator (bench tier: figures, never a pass/fail test).
 *
 *   node --import tsx bench/load.ts --target 127.0.0.1:PORT[,127.0.0.1:PORT...] --kind dkv|noop|etcd|redis
 *     --workload put|get|A|B|C|insert
 *     [--conc 16] [--duration 10s] [--warmup 2s] [--value-size 100] [--key-size 16] [--keys 10000]
 *     [--dist uniform|zipfian] [--procs 1] [--rate OPS_PER_S] [--timeout 5s] [--consistency one|quorum|all]
 *     [--writes ctx|rmw|blind] [--insert-from 0] [--server-pid PID[,PID]] [--reset-server-peak] [--no-preload] [--json]
 *
 * Contracts:
 * - The target passes assertTestTarget (loopback only) before any connection, in the parent
 *   and again in every worker process. A comma-separated list of targets (a cluster) gets
 *   requests in turn from every worker (lib/drivers.ts).
 * - --kind picks the protocol (lib/drivers.ts): dkv and noop speak dkv.v1.KV, etcd speaks
 *   etcdserverpb.KV (linearizable Range), redis speaks RESP with one connection per
 *   outstanding request; the process model, keys, values and timing are the same for all.
 * - --conc is per worker process: --procs 2 --conc 32 keeps 64 requests outstanding.
 * - Every request carries a deadline (--timeout); every client is closed at the end.
 * - Workloads (A 50/50 read/update, B 95/5, C read only, put, get), context handling, closed
 *   vs open loop (--rate: latency from the intended send time, no coordinated omission) and
 *   the measurement window: see lib/drive.ts. get, A, B and C preload every key first
 *   (--no-preload or --kind noop skips it). ops/s = successes in the window / --duration.
 * - 'ctx' writes to dkv need every key's context first: the parent reads every key once
 *   (seedContexts, not measured) and hands the contexts to every worker over IPC, so the
 *   seeding costs one pass whatever --procs is; workers then start from the same contexts, as
 *   if each had read every key itself.
 * - --workload insert is the load phase: the workers write keys [--insert-from, --keys) once
 *   each, blind, split between them, --conc in flight each, with no warm-up; every op counts
 *   and ops/s = successes / the wall time from the start to the last answer (server CPU and
 *   host CPU cover that same span).
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
import { KINDS, type Kind } from './lib/drivers.js';
import { connect, drive, driverFor, insert, newHistogram, preload, READ_FRACTION, seedContexts, type DriveResult, type LoadOptions, type Workload } from './lib/drive.js';
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
 * worker is the child-process side: config from argv, connect, take the seeded contexts from the parent (ctx writes to
 * dkv), report ready, wait for go, drive, report.
 */
async function worker(): Promise<void> {
  // The parent disconnects once it holds this worker's result (or when it dies): exit then,
  // so a result is never lost to an exit racing the IPC message.
  let reported = false;
  process.on('disconnect', () => process.exit(reported ? 0 : 1));
  const { opts: o, index } = JSON.parse(process.argv[process.argv.indexOf('--worker') + 1]) as { opts: LoadOptions; index: number };
  const d = driverFor(o);
  await connect(d, o.conc);
  const isInsert = o.workload === 'insert';
  let seeded: (Buffer | undefined)[] | undefined;
  if (needsSeed(o)) {
    const got = receive<{ contexts: (string | null)[] }>(process, 'seed');
    process.send!({ type: 'need-seed' });
    seeded = (await got).contexts.map((c) => (c === null ? undefined : Buffer.from(c, 'base64')));
  }
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
  const warmupMs = isInsert ? 0 : o.warmupMs;
  setTimeout(() => (cpu0 = process.cpuUsage()), Math.max(0, base + warmupMs - performance.now()));
  const end = isInsert ? undefined : setTimeout(measure, Math.max(0, base + o.warmupMs + o.durationMs - performance.now()));
  const r = isInsert ? await insert(d, o, index, base) : await drive(d, o, index, base, seeded);
  clearTimeout(end);
  measure();
  d.close();
  reported = true;
  process.send!({ type: 'result', ...r, cpuUs: cpuUs! } satisfies WorkerResult);
}

/** needsSeed: only dkv writes with the last seen context ('ctx') need every key's context up front. */
function needsSeed(o: LoadOptions): boolean {
  return o.kind === 'dkv' && o.writes === 'ctx' && o.workload !== 'insert' && READ_FRACTION[o.workload] < 1;
}

/** seedOnce reads every key's context once for all workers (base64, null when the key has none). */
async function seedOnce(o: LoadOptions): Promise<(string | null)[]> {
  const d = driverFor(o);
  try {
    await connect(d, 32);
    return (await seedContexts(d, o)).map((c) => (c ? c.toString('base64') : null));
  } finally {
    d.close();
  }
}

function summarize(h: Histogram): Latency {
  return { count: h.totalCount, p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue, mean: Math.round(h.mean) };
}

/** runLoad is the parent side: guard, preload, fork workers, start them together, merge. */
export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  o.target.split(',').forEach((t) => assertTestTarget(t.trim()));
  if (o.preload && o.kind !== 'noop' && o.workload !== 'insert' && READ_FRACTION[o.workload] > 0) await preload(o);
  const isInsert = o.workload === 'insert';
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
    const wantSeed = kids.map((k) => receive(k, 'need-seed').then(() => k));
    const results = kids.map((k) =>
      receive<WorkerResult>(k, 'result').then((r) => {
        reported.add(k);
        k.disconnect();
        return r;
      }),
    );
    if (needsSeed(o)) {
      const contexts = await seedOnce(o);
      await Promise.race([Promise.all(wantSeed.map((w) => w.then((k) => k.send({ type: 'seed', contexts })))), died]);
    }
    await Promise.race([Promise.all(ready), died]);
    const t0 = Date.now() + 100;
    kids.forEach((k) => k.send({ type: 'go', t0 }));
    const base = performance.now() + (t0 - Date.now());
    const at = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, base + ms - performance.now())));
    const results_ = Promise.all(results);
    const windowStats = (async (): Promise<[ServerSample[], ServerSample[], number]> => {
      await at(isInsert ? 0 : o.warmupMs);
      if (o.resetServerPeak) o.serverPids.forEach(resetPeakRss);
      const [s0, h0] = [sample(o.serverPids), hostTicks()];
      if (isInsert) await results_.catch(() => {});
      else await at(o.warmupMs + o.durationMs);
      const [s1, h1] = [sample(o.serverPids), hostTicks()];
      return [s0, s1, Math.round((100 * availableParallelism() * (h1[0] - h0[0])) / Math.max(1, h1[1] - h0[1]))];
    })();
    const got = await Promise.race([results_, died]);
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
    // For insert the window is the load itself: from the start to the last worker's last answer.
    const windowMs = isInsert ? Math.max(1, ...got.map((r) => r.elapsedMs ?? 0)) : o.durationMs;
    if (isInsert) options.durationMs = Math.round(windowMs);
    return {
      options,
      ops,
      opsPerSec: Math.round(ops / (windowMs / 1000)),
      errors,
      errorCount: Object.values(errors).reduce((s, n) => s + n, 0),
      latencyUs: summarize(all),
      read: reads.totalCount ? summarize(reads) : null,
      update: updates.totalCount ? summarize(updates) : null,
      server: usage(s0, s1),
      clientCpuPct: Math.round(got.reduce((s, r) => s + r.cpuUs, 0) / 10 / windowMs),
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
      consistency: { type: 'string' }, 'insert-from': { type: 'string', default: '0' },
    },
  });
  if (!v.target) throw new Error('--target HOST:PORT is required');
  if (!KINDS.includes(v.kind as Kind)) throw new Error(`--kind: ${KINDS.join(', ')}; got ${v.kind}`);
  if (!(v.workload! in READ_FRACTION)) throw new Error(`--workload: put, get, A, B, C or insert, got ${v.workload}`);
  if (v.consistency !== undefined && !['one', 'quorum', 'all'].includes(v.consistency)) throw new Error(`--consistency: one, quorum or all, got ${v.consistency}`);
  if (v.writes !== 'ctx' && v.writes !== 'rmw' && v.writes !== 'blind') throw new Error(`--writes: ctx, rmw or blind, got ${v.writes}`);
  if (v.dist !== 'uniform' && v.dist !== 'zipfian') throw new Error(`--dist: uniform or zipfian, got ${v.dist}`);
  return {
    target: v.target.split(',').map((t) => assertTestTarget(t.trim())).join(','),
    kind: v.kind as Kind,
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
    consistency: v.consistency as LoadOptions['consistency'],
    insertFrom: nonNegativeInt(v['insert-from']!, '--insert-from'),
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
