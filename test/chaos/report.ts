/**
 * Chaos reports: test/chaos/reports/<date>[-<label>].json and .md, with the faults injected,
 * operations ok / failed / indeterminate, lost writes, phantoms, dominated siblings, divergent
 * keys, stale-read fraction and time to converge per phase and for the whole run. When a run
 * fails, every node's full log is written beside it (<date>[-<label>]-logs/<node>.log).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/cluster.js';
import { NOT_FAULTS, type ChaosRun, type PhaseResult } from './scenarios.js';

export const REPORT_DIR = join(ROOT, 'test/chaos/reports');

export interface ReportFiles {
  json: string;
  md: string;
  logs?: string;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

export function writeReport(run: ChaosRun, opts: { label?: string; wallMs: number; note?: string; error?: string }): ReportFiles {
  mkdirSync(REPORT_DIR, { recursive: true });
  const date = new Date(run.startedAt).toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const base = join(REPORT_DIR, `${date}${opts.label ? `-${opts.label}` : ''}`);
  const ok = !opts.error && run.phases.length > 0 && run.phases.every((p) => p.ok) && run.phases.some((p) => p.scenario === 'final');
  const final = run.phases.find((p) => p.scenario === 'final');
  const json = {
    ok,
    label: opts.label ?? 'ci',
    startedAt: new Date(run.startedAt).toISOString(),
    wallMs: opts.wallMs,
    seed: run.seed,
    note: opts.note,
    error: opts.error,
    topology: {
      id: run.cluster.topo.id,
      subnet: `${run.cluster.topo.subnet}.0/24`,
      nodes: run.cluster.nodes.map((n) => ({ id: n.id, namespace: run.cluster.topo.nsOf(n.opts.number), address: n.address, advertised: n.advertised, starts: n.starts })),
      clientNamespace: run.cluster.topo.clientNs,
      proxies: run.cluster.opts.proxy,
      args: run.cluster.opts.args,
    },
    scale: run.scale,
    totals: {
      ops: run.totalCounts(),
      faults: run.events.filter((e) => !NOT_FAULTS.has(e.kind)).length,
      lost: final?.lost ?? null,
      phantoms: final?.phantoms ?? null,
      dominated: final?.dominated ?? null,
      divergentKeys: final?.divergentKeys ?? null,
      staleReadFraction: final?.staleReadFraction ?? null,
      convergeMs: final?.convergeMs ?? null,
    },
    phases: run.phases,
  };
  writeFileSync(`${base}.json`, JSON.stringify(json, null, 2) + '\n');
  writeFileSync(`${base}.md`, markdown(run, json.ok, opts, final));
  const files: ReportFiles = { json: `${base}.json`, md: `${base}.md` };
  if (!ok) {
    const dir = `${base}-logs`;
    mkdirSync(dir, { recursive: true });
    for (const n of run.cluster.nodes) writeFileSync(join(dir, `${n.id}.log`), n.logs.map((l) => l.line).join('\n') + '\n');
    writeFileSync(join(dir, 'client-worker.log'), run.cluster.agent.logs.join('\n') + '\n');
    writeFileSync(join(dir, 'faults.log'), run.events.map((e) => `${new Date(e.at).toISOString()} ${e.phase} ${e.kind} ${e.detail}`).join('\n') + '\n');
    files.logs = dir;
  }
  return files;
}

/** table: the report's one-screen table (also printed by the test and the soak). */
export function table(phases: PhaseResult[]): string {
  const rows = [
    '| phase | faults injected | ops ok | failed | indeterminate | lost | phantoms | dominated | divergent keys | stale reads | converge ms | scenario checks | result |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const p of phases) {
    const faults = p.faults
      .filter((f) => !NOT_FAULTS.has(f.kind))
      .map((f) => f.kind)
      .reduce<Map<string, number>>((m, k) => m.set(k, (m.get(k) ?? 0) + 1), new Map());
    const fs = p.scenario === 'final' ? '(whole run)' : [...faults].map(([k, c]) => (c > 1 ? `${k} ×${c}` : k)).join(', ') || 'none';
    rows.push(
      `| ${p.name} | ${fs} | ${p.ops.ok} | ${p.ops.failed} | ${p.ops.indeterminate} | ${p.lost} | ${p.phantoms} | ${p.dominated} | ${p.divergentKeys} | ${pct(p.staleReadFraction)} | ${p.convergeMs} | ${checksCell(p)} | ${p.ok ? 'pass' : '**FAIL**'} |`,
    );
  }
  return rows.join('\n');
}

/** checksCell: the asserted scenario checks passed (watch, strict, crash points, placement, disk full, ...), and which failed. */
function checksCell(p: PhaseResult): string {
  const asserted = p.checks.filter((c) => c.asserted);
  if (asserted.length === 0) return '-';
  const failed = asserted.filter((c) => !c.ok);
  const tags = [...new Set(asserted.map((c) => (/^watch/.test(c.name) ? 'watch' : /^(T\d+)/.exec(c.name)?.[1] ?? 'other')))];
  return `${asserted.length - failed.length}/${asserted.length} (${tags.join(', ')})${failed.length ? ` **failed: ${failed.map((c) => c.name.slice(0, 60)).join('; ')}**` : ''}`;
}

function markdown(run: ChaosRun, ok: boolean, opts: { label?: string; wallMs: number; note?: string; error?: string }, final?: PhaseResult): string {
  const out: string[] = [];
  out.push(`# dkv chaos run ${new Date(run.startedAt).toISOString()} (${opts.label ?? 'ci'}): ${ok ? 'PASS' : 'FAIL'}`);
  out.push('');
  out.push(
    `5 nodes (N = 3, W = R = 2) in network namespaces (topology ${run.cluster.topo.id}, ${run.cluster.topo.subnet}.0/24), ` +
      `clients in ${run.cluster.topo.clientNs}; proxies on internode links: ${run.cluster.opts.proxy ? 'yes' : 'no'}; seed ${run.seed}; wall time ${(opts.wallMs / 1000).toFixed(0)} s.`,
  );
  if (opts.note) out.push('', opts.note);
  if (opts.error) out.push('', `**Run error:** ${opts.error}`);
  out.push('', table(run.phases), '');
  if (final) {
    const t = run.totalCounts();
    out.push(
      `Whole run: ${t.ok} operations ok (${t.gets} gets, ${t.puts} puts, ${t.deletes} deletes invoked), ${t.failed} reads failed, ${t.indeterminate} writes indeterminate; ` +
        `lost ${final.lost}, phantoms ${final.phantoms}, dominated siblings ${final.dominated}, divergent keys ${final.divergentKeys}; ` +
        `stale-read fraction ${pct(final.staleReadFraction)}; converged ${final.convergeMs} ms after the final heal.`,
      '',
    );
  }
  out.push('## Scenario checks', '');
  for (const p of run.phases)
    for (const c of p.checks) out.push(`- ${c.ok ? 'pass' : c.asserted ? '**FAIL**' : 'note'} ${p.name}: ${c.name}: ${c.detail}${c.asserted ? '' : ' (reported, not asserted)'}`);
  out.push('', '## Faults', '');
  for (const e of run.events) out.push(`- ${new Date(e.at).toISOString()} ${e.phase} **${e.kind}** ${e.detail}`);
  const bad = run.phases.filter((p) => !p.ok || p.evidence.length);
  if (bad.length) {
    out.push('', '## Findings', '');
    for (const p of bad) {
      out.push(`### ${p.name}`, '', '```', p.summaryText, ...(p.error ? [`error: ${p.error}`] : []), ...p.unreadableKeys.map((u) => `unreadable: ${u}`), ...p.evidence.slice(0, 200), '```', '');
    }
  }
  return out.join('\n') + '\n';
}
