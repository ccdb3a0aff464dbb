import { describe, expect, it } from 'vitest';
import { simulate } from './simulate.js';

/**
 * The deterministic simulation tier: SIM_SEEDS seeds (default 200) of random faults over an
 * in-process cluster, each judged by the history checkers. Seeds rotate through three modes
 * (simulate.ts modeOf): every fault kind (T1, T2, T4-T8, T15), strict requests under
 * partitions (T3), and a join followed by a decommission or a removenode under faults (T13);
 * a prefix watcher is judged for completeness in every seed. DKV_SIM_SEED=<n> replays one.
 */
const only = process.env.DKV_SIM_SEED;
const count = Number(process.env.SIM_SEEDS ?? 200);
const first = Number(process.env.SIM_FIRST_SEED ?? 1);
const seeds = only ? [Number(only)] : Array.from({ length: count }, (_, i) => first + i);

describe('deterministic simulation', () => {
  it(`${seeds.length} seeds of random faults, strict requests and topology changes lose no acknowledged write, show no phantom, dominated sibling or stale strict read, converge, and miss no watch event`, async () => {
    const failures: string[] = [];
    let converge = 0;
    const totals = { ok: 0, failed: 0, indeterminate: 0, faults: 0, watched: 0, delivered: 0, superseded: 0, reconnects: 0 };
    const modes = new Map<string, number>();
    for (const seed of seeds) {
      const r = await simulate({ seed });
      converge = Math.max(converge, r.convergeMs);
      totals.ok += r.ops.ok;
      totals.failed += r.ops.failed;
      totals.indeterminate += r.ops.indeterminate;
      totals.faults += r.faults.length;
      totals.watched += r.watch.expected;
      totals.delivered += r.watch.delivered;
      totals.superseded += r.watch.superseded;
      totals.reconnects += r.watch.reconnects;
      modes.set(r.mode, (modes.get(r.mode) ?? 0) + 1);
      if (!r.ok) failures.push(`${r.summary}\nfaults: ${r.faults.map((f) => `${f.at}:${f.kind}(${f.detail})`).join(' ')}\nreplay: ${r.replay}`);
    }
    process.stdout.write(
      `simulation: ${seeds.length} seeds (${[...modes].map(([m, c]) => `${c} ${m}`).join(', ')}), ${failures.length} failed; ${totals.faults} faults injected; ` +
        `operations ok ${totals.ok}, failed reads ${totals.failed}, indeterminate writes ${totals.indeterminate}; slowest convergence ${converge} ms (simulated); ` +
        `watch: ${totals.watched} acknowledged changes, ${totals.delivered} delivered, ${totals.superseded} superseded, ${totals.reconnects} resumes on another node\n`,
    );
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 600_000);
});
