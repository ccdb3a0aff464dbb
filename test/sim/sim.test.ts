import { describe, expect, it } from 'vitest';
import { simulate } from './simulate.js';

/**
 * The deterministic simulation tier: SIM_SEEDS seeds (default 200) of random faults over an
 * in-process cluster, each judged by the history checkers. DKV_SIM_SEED=<n> replays one seed.
 */
const only = process.env.DKV_SIM_SEED;
const count = Number(process.env.SIM_SEEDS ?? 200);
const first = Number(process.env.SIM_FIRST_SEED ?? 1);
const seeds = only ? [Number(only)] : Array.from({ length: count }, (_, i) => first + i);

describe('deterministic simulation', () => {
  it(`${seeds.length} seeds of random faults lose no acknowledged write, show no phantom or dominated sibling, and converge`, async () => {
    const failures: string[] = [];
    let converge = 0;
    const totals = { ok: 0, failed: 0, indeterminate: 0, faults: 0 };
    for (const seed of seeds) {
      const r = await simulate({ seed });
      converge = Math.max(converge, r.convergeMs);
      totals.ok += r.ops.ok;
      totals.failed += r.ops.failed;
      totals.indeterminate += r.ops.indeterminate;
      totals.faults += r.faults.length;
      if (!r.ok) failures.push(`${r.summary}\nfaults: ${r.faults.map((f) => `${f.at}:${f.kind}(${f.detail})`).join(' ')}\nreplay: ${r.replay}`);
    }
    process.stdout.write(
      `simulation: ${seeds.length} seeds, ${failures.length} failed; ${totals.faults} faults injected; operations ok ${totals.ok}, failed reads ${totals.failed}, indeterminate writes ${totals.indeterminate}; slowest convergence ${converge} ms (simulated)\n`,
    );
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 600_000);
});
