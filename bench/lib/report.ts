/**
 * report.ts — tables, goals and the chart of bench/run.ts (bench only).
 *
 * Contracts:
 * - A Measurement is one load run (bench/load.ts) of one target with its labels; ratios are
 *   computed only between measurements of the same run with the same workload, concurrency
 *   and value size: to the no-op ceiling and to etcd (1 member; 3 members for dkv with 3
 *   nodes). A missing reference (peer skipped) leaves the ratio empty.
 * - Server CPU µs/op is the CPU time of all of a target's server processes in the window over
 *   its successful ops: the figure least disturbed by a busy, shared machine.
 * - chartSvg draws two panels (throughput and p99 against concurrency, both log-scaled) for
 *   every target of the main table; put is a solid line, get dashed. Plain SVG, no library.
 */
import type { LoadResult } from '../load.js';

export interface Measurement {
  section: 'main' | 'ycsb' | 'value-size' | 'fsync';
  /** target label, e.g. "dkv 3 nodes QUORUM". */
  target: string;
  /** ref is which etcd the target is compared with: 'etcd1' or 'etcd3'. */
  etcdRef: 'etcd1' | 'etcd3';
  /** role marks the reference targets themselves. */
  role: 'noop' | 'etcd1' | 'etcd3' | 'other';
  workload: string;
  conc: number;
  valueSize: number;
  note?: string;
  result: LoadResult;
}

export const fmtMs = (us: number): string => (us / 1000).toFixed(us < 10_000 ? 2 : 1);
const fmtRatio = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '' : `${x.toFixed(2)}×`);

export function serverCpuUsPerOp(r: LoadResult): number | undefined {
  if (!r.server.length || !r.ops) return undefined;
  return (r.server.reduce((s, x) => s + x.cpuSeconds, 0) * 1e6) / r.ops;
}

export const serverCpuPct = (r: LoadResult): number => r.server.reduce((s, x) => s + x.cpuPct, 0);
export const peakRssMiB = (r: LoadResult): number => Math.max(0, ...r.server.map((s) => s.peakRssKiB)) / 1024;

/** find returns the measurement of `role` with the same workload, conc and value size. */
export function ref(all: Measurement[], m: Measurement, role: Measurement['role']): Measurement | undefined {
  return all.find((x) => x.role === role && x.workload === m.workload && x.conc === m.conc && x.valueSize === m.valueSize);
}

export interface Ratios {
  opsVsCeiling?: number;
  opsVsEtcd?: number;
  p99VsEtcd?: number;
  cpuVsEtcd?: number;
}

export function ratios(all: Measurement[], m: Measurement): Ratios {
  const c = ref(all, m, 'noop');
  const e = ref(all, m, m.etcdRef);
  const cpu = serverCpuUsPerOp(m.result);
  const ecpu = e && serverCpuUsPerOp(e.result);
  return {
    opsVsCeiling: c && c.result.opsPerSec ? m.result.opsPerSec / c.result.opsPerSec : undefined,
    opsVsEtcd: e && e.result.opsPerSec ? m.result.opsPerSec / e.result.opsPerSec : undefined,
    p99VsEtcd: e && e.result.latencyUs.p99 ? m.result.latencyUs.p99 / e.result.latencyUs.p99 : undefined,
    cpuVsEtcd: cpu !== undefined && ecpu ? cpu / ecpu : undefined,
  };
}

const HEAD =
  '| target | workload | conc | value B | ops/s | × ceiling | × etcd | p50 ms | p99 ms | p99 × etcd | p99.9 ms | errors | server CPU µs/op | µs/op × etcd | server CPU % | peak RSS MiB | client CPU % | host CPU % | other CPU % |';
const SEP = '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';

/** otherCpuPct is what the rest of the machine used in the window: host - servers - load generator. */
export const otherCpuPct = (r: LoadResult): number => Math.max(0, Math.round(r.hostCpuPct - serverCpuPct(r) - r.clientCpuPct));

export function row(all: Measurement[], m: Measurement): string {
  const r = m.result;
  const q = ratios(all, m);
  const cpu = serverCpuUsPerOp(r);
  const errs = r.errorCount ? `${r.errorCount} ${JSON.stringify(r.errors)}` : '0';
  const name = m.note ? `${m.target} (${m.note})` : m.target;
  return `| ${name} | ${m.workload} | ${m.conc} | ${m.valueSize} | ${r.opsPerSec} | ${fmtRatio(q.opsVsCeiling)} | ${fmtRatio(q.opsVsEtcd)} | ${fmtMs(r.latencyUs.p50)} | ${fmtMs(r.latencyUs.p99)} | ${fmtRatio(q.p99VsEtcd)} | ${fmtMs(r.latencyUs.p999)} | ${errs} | ${cpu === undefined ? '' : cpu.toFixed(0)} | ${fmtRatio(q.cpuVsEtcd)} | ${serverCpuPct(r).toFixed(0)} | ${peakRssMiB(r).toFixed(0)} | ${r.clientCpuPct} | ${r.hostCpuPct} | ${otherCpuPct(r)} |`;
}

export function table(all: Measurement[], rows: Measurement[]): string {
  return [HEAD, SEP, ...rows.map((m) => row(all, m))].join('\n');
}

/** StageLoad is how a scale step's new keys were written and what that cost. */
export interface StageLoad {
  via: string;
  opsPerSec: number;
  /** p99Us is the write latency (gRPC loads only). */
  p99Us?: number;
  /** serverCpuUsPerOp: CPU of the node (or of the in-process loader) per key written. */
  serverCpuUsPerOp?: number;
  /** peakRssMiB: the node's (or the loader's) peak RSS while loading. */
  peakRssMiB: number;
}

export interface ScaleStage {
  keys: number;
  valueSize: number;
  load: StageLoad;
  get: LoadResult;
  userBytes: number;
  diskBytes: number;
  diskApparentBytes: number;
  peakRssMiB: number;
  restartMs?: number;
  cacheHitRatio?: number;
}

export function scaleTable(stages: ScaleStage[]): string {
  const head = '| keys | loaded | load ops/s | load p99 ms | load CPU µs/op | load peak RSS MiB | Get ops/s | Get p50 ms | Get p99 ms | Get p99 × first size | Get server CPU µs/op | cache hit ratio (since start, load included) | user data MiB | on disk MiB | disk / user | peak RSS MiB | restart ms | host CPU % (Get) |';
  const sep = '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  const first = stages[0]?.get.latencyUs.p99;
  const rows = stages.map((s) => {
    const gc = serverCpuUsPerOp(s.get);
    return `| ${s.keys.toLocaleString('en-US')} | ${s.load.via} | ${s.load.opsPerSec} | ${s.load.p99Us === undefined ? '' : fmtMs(s.load.p99Us)} | ${s.load.serverCpuUsPerOp?.toFixed(0) ?? ''} | ${s.load.peakRssMiB.toFixed(0)} | ${s.get.opsPerSec} | ${fmtMs(s.get.latencyUs.p50)} | ${fmtMs(s.get.latencyUs.p99)} | ${first ? fmtRatio(s.get.latencyUs.p99 / first) : ''} | ${gc?.toFixed(0) ?? ''} | ${s.cacheHitRatio === undefined ? '' : s.cacheHitRatio.toFixed(2)} | ${(s.userBytes / 2 ** 20).toFixed(0)} | ${(s.diskBytes / 2 ** 20).toFixed(0)} | ${(s.diskBytes / s.userBytes).toFixed(2)} | ${s.peakRssMiB.toFixed(0)} | ${s.restartMs ?? ''} | ${s.get.hostCpuPct} |`;
  });
  return [head, sep, ...rows].join('\n');
}

export interface Goal {
  goal: string;
  figure: string;
  met: boolean | undefined;
  why?: string;
}

export function goalsTable(goals: Goal[]): string {
  const rows = goals.map((g) => `| ${g.goal} | ${g.figure} | ${g.met === undefined ? 'not measured' : g.met ? 'met' : 'not met'} | ${g.why ?? ''} |`);
  return ['| goal | figure in this run | status | note |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

/** goals evaluates the issue's goals from the measurements of this run. */
export function goals(all: Measurement[], fsync: { never?: LoadResult; always?: LoadResult }, stages: ScaleStage[]): Goal[] {
  const out: Goal[] = [];
  const main = all.filter((m) => m.section === 'main');
  const at = (target: string, workload: string) => main.find((m) => m.target === target && m.workload === workload && m.conc === 64 && m.valueSize === 100);
  for (const w of ['put', 'get']) {
    const m = at('dkv 1 node', w);
    const W = w === 'put' ? 'Put' : 'Get';
    if (!m) {
      out.push({ goal: `1 node, conc 64: ${W} ≥ 0.9 × ceiling, ≥ 1.0 × etcd 1 member, p99 ≤ etcd`, figure: '', met: undefined });
      continue;
    }
    const q = ratios(all, m);
    const e = ref(all, m, 'etcd1');
    out.push({ goal: `1 node, conc 64: ${W} ≥ 0.9 × no-op ceiling`, figure: `${m.result.opsPerSec} ops/s = ${fmtRatio(q.opsVsCeiling)}`, met: q.opsVsCeiling === undefined ? undefined : q.opsVsCeiling >= 0.9 });
    out.push({ goal: `1 node, conc 64: ${W} ≥ 1.0 × etcd 1 member`, figure: e ? `${m.result.opsPerSec} vs ${e.result.opsPerSec} ops/s = ${fmtRatio(q.opsVsEtcd)}` : 'etcd skipped', met: q.opsVsEtcd === undefined ? undefined : q.opsVsEtcd >= 1 });
    out.push({ goal: `1 node, conc 64: ${W} p99 ≤ etcd 1 member's`, figure: e ? `${fmtMs(m.result.latencyUs.p99)} vs ${fmtMs(e.result.latencyUs.p99)} ms` : 'etcd skipped', met: q.p99VsEtcd === undefined ? undefined : q.p99VsEtcd <= 1 });
  }
  for (const [w, min] of [['put', 1.0], ['get', 1.2]] as const) {
    const m = at('dkv 3 nodes QUORUM', w);
    const e = m && ref(all, m, 'etcd3');
    const q = m && ratios(all, m);
    out.push({
      goal: `3 nodes W = R = 2, conc 64: ${w === 'put' ? 'Put' : 'Get'} ≥ ${min.toFixed(1)} × etcd 3 members`,
      figure: m && e ? `${m.result.opsPerSec} vs ${e.result.opsPerSec} ops/s = ${fmtRatio(q!.opsVsEtcd)}` : 'not measured',
      met: q?.opsVsEtcd === undefined ? undefined : q.opsVsEtcd >= min,
    });
  }
  if (fsync.never && fsync.always) {
    const x = fsync.always.opsPerSec / fsync.never.opsPerSec;
    out.push({ goal: '--fsync=always Put ≥ 0.9 × --fsync=never, conc 64', figure: `${fsync.always.opsPerSec} vs ${fsync.never.opsPerSec} ops/s = ${fmtRatio(x)}`, met: x >= 0.9 });
  } else out.push({ goal: '--fsync=always Put ≥ 0.9 × --fsync=never, conc 64', figure: 'not measured', met: undefined });
  const first = stages[0];
  const last = stages[stages.length - 1];
  const ten = stages.find((s) => s.keys >= 10_000_000);
  const big = ten ?? last;
  const why = ten ? undefined : `10M keys not run (--quick or --scale-max); figure at ${big ? big.keys.toLocaleString('en-US') : 'no'} keys`;
  if (first && big && big !== first) {
    const x = big.get.latencyUs.p99 / first.get.latencyUs.p99;
    out.push({ goal: '10M keys: Get p99 ≤ 3 × the 100k-key p99', figure: `${fmtMs(big.get.latencyUs.p99)} vs ${fmtMs(first.get.latencyUs.p99)} ms = ${fmtRatio(x)}`, met: ten ? x <= 3 : undefined, why: why ? `${why}: ${x <= 3 ? 'within' : 'beyond'} 3×` : undefined });
  } else out.push({ goal: '10M keys: Get p99 ≤ 3 × the 100k-key p99', figure: 'not measured', met: undefined, why });
  if (big) {
    out.push({ goal: '10M keys: peak RSS per node ≤ 250 MB', figure: `${(big.peakRssMiB * 1.048576).toFixed(0)} MB`, met: ten ? big.peakRssMiB * 1.048576 <= 250 : undefined, why: why ? `${why}: ${big.peakRssMiB * 1.048576 <= 250 ? 'within' : 'over'} 250 MB` : undefined });
  }
  return out;
}

const COLORS: Record<string, string> = {
  'no-op gRPC (ceiling)': '#7f7f7f',
  'dkv 1 node': '#1f77b4',
  'dkv 3 nodes QUORUM': '#d62728',
  'dkv 3 nodes ONE': '#ff9896',
  'dkv 3 nodes ALL': '#8c564b',
  'etcd 1 member': '#2ca02c',
  'etcd 3 members': '#98df8a',
  Redis: '#9467bd',
};
const PALETTE = ['#17becf', '#bcbd22', '#e377c2', '#ff7f0e'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** chartSvg: left panel ops/s, right panel p99 ms (log), x = concurrency (evenly spaced levels). */
export function chartSvg(main: Measurement[], title: string): string {
  const concs = [...new Set(main.map((m) => m.conc))].sort((a, b) => a - b);
  const targets = [...new Set(main.map((m) => m.target))];
  const W = 1100;
  const H = 520;
  const pw = 420;
  const ph = 340;
  const top = 60;
  const lefts = [70, 590];
  const xAt = (c: number, left: number) => left + (concs.length === 1 ? pw / 2 : (concs.indexOf(c) / (concs.length - 1)) * (pw - 40) + 20);
  const logAxis = (values: number[]) => {
    const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values))));
    const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values))));
    const y = (v: number) => top + ph - ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / Math.max(1e-9, Math.log10(hi) - Math.log10(lo))) * ph;
    const ticks: number[] = [];
    for (let d = lo; d <= hi * 1.0001; d *= 10) for (const m of [1, 2, 5]) if (d * m <= hi * 1.0001) ticks.push(d * m);
    return { y, ticks };
  };
  const ops = logAxis(main.map((m) => Math.max(1, m.result.opsPerSec)));
  const lat = logAxis(main.map((m) => Math.max(0.01, m.result.latencyUs.p99 / 1000)));
  const label = (v: number) => (v >= 1000 ? `${+(v / 1000).toPrecision(3)}k` : `${+v.toPrecision(3)}`);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`);
  const panel = (left: number, name: string, ticks: [number, string][], yOf: (v: number) => number, value: (m: Measurement) => number) => {
    out.push(`<text x="${left + pw / 2}" y="${top - 12}" text-anchor="middle" font-size="13">${esc(name)}</text>`);
    out.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
    for (const [v, label] of ticks) {
      const y = yOf(v);
      out.push(`<line x1="${left}" y1="${y.toFixed(1)}" x2="${left + pw}" y2="${y.toFixed(1)}" stroke="#ddd"/>`);
      out.push(`<text x="${left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end">${label}</text>`);
    }
    for (const c of concs) {
      const x = xAt(c, left);
      out.push(`<line x1="${x.toFixed(1)}" y1="${top + ph}" x2="${x.toFixed(1)}" y2="${top + ph + 5}" stroke="#333"/>`);
      out.push(`<text x="${x.toFixed(1)}" y="${top + ph + 18}" text-anchor="middle">${c}</text>`);
    }
    out.push(`<text x="${left + pw / 2}" y="${top + ph + 36}" text-anchor="middle">concurrency (requests in flight)</text>`);
    targets.forEach((t, ti) => {
      const color = COLORS[t] ?? PALETTE[ti % PALETTE.length];
      for (const w of ['put', 'get']) {
        const pts = concs
          .map((c) => main.find((m) => m.target === t && m.workload === w && m.conc === c))
          .filter((m): m is Measurement => m !== undefined)
          .map((m) => [xAt(m.conc, left), yOf(value(m))] as const);
        if (!pts.length) continue;
        const dash = w === 'get' ? ' stroke-dasharray="6 4"' : '';
        out.push(`<polyline fill="none" stroke="${color}" stroke-width="2"${dash} points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`);
        for (const [x, y] of pts) out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${color}"/>`);
      }
    });
  };
  panel(lefts[0], 'throughput (ops/s, log scale)', ops.ticks.map((v) => [v, label(v)]), ops.y, (m) => Math.max(1, m.result.opsPerSec));
  panel(lefts[1], 'p99 latency (ms, log scale)', lat.ticks.map((v) => [v, label(v)]), lat.y, (m) => Math.max(0.01, m.result.latencyUs.p99 / 1000));
  // legend
  const ly = top + ph + 56;
  targets.forEach((t, i) => {
    const color = COLORS[t] ?? PALETTE[i % PALETTE.length];
    const x = 70 + (i % 4) * 250;
    const y = ly + Math.floor(i / 4) * 18;
    out.push(`<line x1="${x}" y1="${y - 4}" x2="${x + 22}" y2="${y - 4}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${x + 28}" y="${y}">${esc(t)}</text>`);
  });
  const ny = ly + Math.ceil(targets.length / 4) * 18 + 4;
  out.push(`<text x="70" y="${ny}">solid: put (write only) · dashed: get (read only, after preload) · 100-byte values, 16-byte keys</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
