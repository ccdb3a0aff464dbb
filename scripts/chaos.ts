/**
 * The chaos soak (TESTING.md: "a longer soak runs on demand"): the chaos tier's scenarios
 * (test/chaos/scenarios.ts) in a loop, in a shuffled order each round, for the given time, on
 * one 5-node cluster in network namespaces; then the whole history is checked and a report
 * written to test/chaos/reports/<date>-soak.json and .md. Needs root (network namespaces) and
 * a build (dist/). Exit code 0 = pass, 1 = a finding, 2 = could not run.
 *
 *   node --import tsx scripts/chaos.ts --minutes 30 [--seed N] [--scale soak|ci] [--only T2,T4]
 */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CLI, netnsSupport } from '../test/chaos/netns.js';
import { table, writeReport } from '../test/chaos/report.js';
import { ALL_SCENARIOS, CI_SCALE, ChaosRun, SOAK_SCALE, type Scenario } from '../test/chaos/scenarios.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    seed: { type: 'string' },
    scale: { type: 'string', default: 'soak' },
    only: { type: 'string' },
  },
});
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes <= 0) {
  process.stderr.write(`--minutes: expected a positive number, got ${JSON.stringify(values.minutes)}\n`);
  process.exit(2);
}
const scenarios = (values.only ? values.only.split(',').map((s) => s.trim().toUpperCase()) : ALL_SCENARIOS) as Scenario[];
for (const s of scenarios)
  if (!ALL_SCENARIOS.includes(s)) {
    process.stderr.write(`--only: unknown scenario ${s} (known: ${ALL_SCENARIOS.join(', ')})\n`);
    process.exit(2);
  }
const support = netnsSupport();
if (!support.ok) {
  process.stderr.write(`chaos soak cannot run: ${support.reason}\n`);
  process.exit(2);
}
if (!existsSync(CLI)) {
  process.stderr.write(`${CLI} is missing: build first (npx tsc -p tsconfig.json)\n`);
  process.exit(2);
}

const log = (l: string) => process.stdout.write(`[soak] ${l}\n`);
const t0 = Date.now();
const deadline = t0 + minutes * 60_000;
/** a round of every scenario takes about this long at soak scale; the final check needs ~1 min. */
const FINAL_RESERVE_MS = 60_000;
const run = await ChaosRun.start({ seed: values.seed ? Number(values.seed) : undefined, scale: values.scale === 'ci' ? CI_SCALE : SOAK_SCALE, log });
log(`seed ${run.seed}; running ${scenarios.join(' ')} in shuffled rounds for ${minutes} min`);
let error: string | undefined;
let rounds = 0;
try {
  const durations = new Map<Scenario, number>();
  outer: while (Date.now() < deadline - FINAL_RESERVE_MS) {
    rounds++;
    const order = [...scenarios];
    for (let i = order.length - 1; i > 0; i--) {
      const j = run.random.int(i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    log(`round ${rounds}: ${order.join(' ')}`);
    for (const s of order) {
      // Do not start a scenario that would run past the deadline (estimated from its last run).
      if (Date.now() + (durations.get(s) ?? 60_000) > deadline - FINAL_RESERVE_MS) break outer;
      const r = await run.run(s);
      durations.set(s, r.durationMs);
    }
  }
  await run.final();
} catch (e) {
  error = e instanceof Error ? e.stack ?? e.message : String(e);
  log(`run error: ${error}`);
} finally {
  const files = writeReport(run, { label: 'soak', wallMs: Date.now() - t0, error, note: `Soak: ${rounds} round(s) of ${scenarios.join(', ')} in ${minutes} min.` });
  log(`\n${table(run.phases)}`);
  log(`report ${files.md}${files.logs ? ` (node logs in ${files.logs})` : ''}`);
  await run.stop();
}
const ok = !error && run.phases.length > 0 && run.phases.every((p) => p.ok);
log(ok ? 'PASS' : 'FAIL');
process.exit(ok ? 0 : 1);
