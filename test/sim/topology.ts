import type { SeededRandom } from '../../src/time/random.js';
import type { SimCluster } from '../helpers/sim-cluster.js';
import type { Fault, FaultScheduler } from './faults.js';

/**
 * runTopologyChanges drives the scale-out / scale-in part of a simulation (issue 7, TESTING.md
 * T13) while clients write and the fault scheduler injects its faults: a new node joins (it
 * takes tokens, streams the ranges it will own while coordinators also write to it, becomes
 * NORMAL), then either a random original node is decommissioned (LEAVING while it pushes its
 * ranges, then LEFT and stopped) or one is killed with its directory wiped and removed with
 * removenode (the others re-replicate its ranges). In half the seeds the moving node is killed
 * mid-stream and restarted (T5: its stream resumes from the last confirmed cursor); the node
 * under change may also be crashed by the scheduler, but never wiped.
 * Each step is recorded as a fault; a step that cannot finish within its budget of simulated
 * time throws, which fails the seed with its replay line.
 */
export async function runTopologyChanges(sim: SimCluster, random: SeededRandom, ids: string[], faults: FaultScheduler, record: (f: Fault) => void): Promise<void> {
  const note = (kind: string, detail: string) => record({ at: sim.clock.monotonic(), kind, detail });
  await sim.clock.sleep(300 + random.int(700));

  const joiner = `n${ids.length + 1}`;
  faults.protect(joiner);
  note('join', `${joiner} starts with --seeds`);
  await sim.join(joiner);
  ids.push(joiner);
  // Half the seeds kill the joiner mid-stream (T5); its join resumes from its cursors.
  if (random.next() < 0.5) void faults.crashAndRestartAt(joiner, 'mid-stream', 200 + random.int(800));
  await waitFor(sim, () => sim.nodes.get(joiner)?.membership.selfState().status === 'normal', 60_000, `${joiner} to finish joining`);
  faults.unprotect(joiner);
  note('join', `${joiner} is NORMAL`);

  const original = ids.filter((id) => id !== joiner);
  const victim = original[random.int(original.length)];
  faults.protect(victim);
  if (random.next() < 0.5) {
    await waitFor(sim, () => sim.nodes.has(victim) && sim.node(victim).membership.changing().length === 0, 60_000, `${victim} to be up with no change in progress`);
    note('decommission', `${victim} starts leaving`);
    // Like an operator: a refused decommission (e.g. its disk is full) is tried again later.
    // The victim may crash (never be wiped) meanwhile: wait for it right before each attempt.
    for (let attempt = 0; ; attempt++) {
      await waitFor(sim, () => sim.nodes.has(victim), 60_000, `${victim} to be up`);
      const err = await sim.node(victim).decommission().then(() => undefined, (e: Error) => e);
      if (!err) break;
      note('decommission', `${victim} refused: ${err.message}`);
      if (attempt >= 20) throw err;
      await sim.clock.sleep(1_000);
    }
    if (random.next() < 0.5) void faults.crashAndRestartAt(victim, 'mid-stream', 200 + random.int(800));
    await waitFor(sim, () => sim.nodes.get(victim)?.membership.selfState().status === 'left', 60_000, `${victim} to finish leaving`);
    // As dkv decommission does: stop it once another node reports it LEFT.
    const others = () => ids.filter((id) => id !== victim && sim.nodes.has(id)).map((id) => sim.node(id));
    await waitFor(sim, () => others().some((n) => n.membership.member(victim)?.status === 'left'), 60_000, `another node to see ${victim} LEFT`);
    faults.retire(victim);
    await sim.crash(victim);
    ids.splice(ids.indexOf(victim), 1);
    note('decommission', `${victim} LEFT and was stopped`);
    return;
  }
  faults.retire(victim);
  if (sim.nodes.has(victim)) await sim.crash(victim, true);
  ids.splice(ids.indexOf(victim), 1);
  note('removenode', `${victim} killed with its directory wiped`);
  const by = () => sim.nodes.get(ids.find((id) => sim.nodes.has(id)) ?? '');
  await waitFor(sim, () => by()?.membership.liveness(victim) === 'down', 60_000, `a live node to see ${victim} down`);
  const op = await sim.settle(by()!.rebalancer.removeNode(victim), 120_000);
  note('removenode', `${victim} removed: ${op.state} ${op.message}`);
  if (op.state !== 'done') throw new Error(`removenode ${victim} ${op.state}: ${op.message}`);
}

async function waitFor(sim: SimCluster, cond: () => boolean, maxMs: number, what: string): Promise<void> {
  for (let t = 0; t <= maxMs; t += 50) {
    if (cond()) return;
    await sim.clock.sleep(50);
  }
  throw new Error(`topology: waited ${maxMs} ms of simulated time for ${what}`);
}
