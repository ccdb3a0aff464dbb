/**
 * npm run sim -- --seeds 10000 [--first 1] [--verbose]: the deterministic simulation as a soak. Each seed
 * runs a whole cluster in one process under random faults and is judged by the history
 * checkers; a failing seed prints its summary and the one-line command that replays it.
 */
import { parseArgs } from 'node:util';
import { simulate } from '../test/sim/simulate.js';

const { values } = parseArgs({ options: { seeds: { type: 'string', default: '200' }, first: { type: 'string', default: '1' }, verbose: { type: 'boolean', default: false } } });
const count = Number(values.seeds);
const first = Number(values.first);
let failed = 0;
let faults = 0;
let ops = 0;
const watch = { expected: 0, delivered: 0, superseded: 0, missed: 0 };
const modes = new Map<string, number>();
const started = Date.now();
for (let seed = first; seed < first + count; seed++) {
  const r = await simulate({ seed });
  faults += r.faults.length;
  ops += r.ops.ok + r.ops.failed + r.ops.indeterminate;
  for (const k of ['expected', 'delivered', 'superseded', 'missed'] as const) watch[k] += r.watch[k];
  modes.set(r.mode, (modes.get(r.mode) ?? 0) + 1);
  if (values.verbose)
    console.log(`seed ${seed} ${r.mode}: ${r.ok ? 'ok' : 'FAILED'}; ${r.faults.length} faults; ops ${JSON.stringify(r.ops)}; converged in ${r.convergeMs} ms; watch ${JSON.stringify(r.watch)}`);
  if (!r.ok) {
    failed++;
    console.log(`\n${r.summary}\nreplay: ${r.replay}\n`);
  }
  if ((seed - first + 1) % 50 === 0) console.log(`${seed - first + 1}/${count} seeds, ${failed} failed, ${faults} faults, ${ops} operations, ${Math.round((Date.now() - started) / 1000)}s`);
}
console.log(`simulation soak: ${count} seeds from ${first} (${[...modes].map(([m, c]) => `${c} ${m}`).join(', ')}): ${failed} failed; ${faults} faults injected; ${ops} operations`);
console.log(`watch completeness: ${watch.expected} acknowledged changes on the watched prefix: ${watch.delivered} delivered, ${watch.superseded} superseded by a later delivered change, ${watch.missed} missed`);
process.exit(failed > 0 ? 1 : 0);
