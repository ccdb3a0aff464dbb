/**
 * prof-summary.ts — top self-time functions of V8 .cpuprofile files (from `node --cpu-prof`).
 *
 *   node --import tsx bench/prof-summary.ts FILE.cpuprofile [FILE...] [--top 25]
 *
 * Contract: self time of a function is the sampled time spent in its own code (not callees),
 * summed over every node with the same function name, file and line, and over every file
 * given. Output is a Markdown table: self ms, self %, function, where (path shortened to the
 * package or to the repository). "(idle)", "(program)" and "(garbage collector)" are V8's own
 * pseudo-functions: idle is time waiting in the event loop. --group sums by component instead
 * (dkv's own code, grpc-js, node's http2/net, LevelDB binding, protobuf, GC, other).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
}

/** where shortens a script URL to node_modules/<pkg>/... or a repository-relative path. */
function where(url: string, line: number): string {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  const short = nm >= 0 ? path.slice(nm + '/node_modules/'.length) : path.replace(/^.*?\/(src|dist|bench|test)\//, '$1/');
  return `${short}:${line + 1}`;
}

/** selfTimes sums sample time by function over the given profiles, largest first. */
export function selfTimes(profiles: Profile[]): { total: number; rows: SelfTime[] } {
  const acc = new Map<string, SelfTime>();
  let total = 0;
  for (const p of profiles) {
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    for (let i = 0; i < p.samples.length; i++) {
      const ms = (p.timeDeltas[i] ?? 0) / 1000;
      const f = byId.get(p.samples[i])!.callFrame;
      const name = f.functionName || '(anonymous)';
      const w = where(f.url, f.lineNumber);
      const key = `${name}@${w}`;
      const row = acc.get(key) ?? { name, where: w, ms: 0 };
      row.ms += ms;
      acc.set(key, row);
      total += ms;
    }
  }
  return { total, rows: [...acc.values()].sort((a, b) => b.ms - a.ms) };
}

/** component names the layer a function belongs to, from where it is defined. */
export function component(r: SelfTime): string {
  if (r.name.startsWith('(')) return r.name;
  const w = r.where;
  if (/^(src|dist)\//.test(w)) return 'dkv (src/dist)';
  if (w.startsWith('bench/')) return 'bench';
  if (w.startsWith('@grpc/')) return 'grpc-js';
  if (/^(classic-level|abstract-level|level-transcoder|module-error)\//.test(w)) return 'LevelDB binding (classic-level, abstract-level)';
  if (w.startsWith('@bufbuild/')) return 'protobuf (@bufbuild)';
  if (/^node:internal\/(http2|stream|net|dns|tcp)|^node:(net|stream)/.test(w) || /^node:internal\/streams/.test(w)) return 'node http2 / streams / net';
  if (w.startsWith('node:') || w === '') return 'node other (events, timers, microtasks, natives)';
  return 'other';
}

const isMain = process.argv[1]?.endsWith('prof-summary.ts');
if (isMain) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '25' }, group: { type: 'boolean', default: false } } });
  if (positionals.length === 0) throw new Error('usage: prof-summary.ts FILE.cpuprofile [...] [--top N]');
  const { total, rows: fns } = selfTimes(positionals.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Profile));
  const grouped = new Map<string, SelfTime>();
  for (const r of fns) {
    const c = component(r);
    const g = grouped.get(c) ?? { name: c, where: '', ms: 0 };
    g.ms += r.ms;
    grouped.set(c, g);
  }
  const rows = values.group ? [...grouped.values()].sort((a, b) => b.ms - a.ms) : fns;
  const busy = rows.filter((r) => r.name !== '(idle)').reduce((s, r) => s + r.ms, 0);
  console.log(`profiled ${(total / 1000).toFixed(1)} s, of which not idle ${(busy / 1000).toFixed(1)} s\n`);
  console.log('| self ms | % of total | % of busy | function | where |\n| ---: | ---: | ---: | --- | --- |');
  for (const r of rows.slice(0, Number(values.top))) {
    const ofBusy = r.name === '(idle)' ? '' : ((100 * r.ms) / busy).toFixed(1);
    console.log(`| ${r.ms.toFixed(0)} | ${((100 * r.ms) / total).toFixed(1)} | ${ofBusy} | ${r.name} | ${r.where} |`);
  }
}
