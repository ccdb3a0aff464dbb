import { SeededRandom } from '../../src/time/random.js';
import { encodeContext } from '../../src/storage/record-codec.js';
import { decodeContext } from '../../src/storage/record-codec.js';
import { hashKey } from '../../src/ring/hash.js';
import { primaries } from '../../src/ring/preference-list.js';
import { liveValues } from '../../src/versioning/siblings.js';
import type { ForwardOp } from '../../src/transport/peer-transport.js';
import { SimCluster } from '../helpers/sim-cluster.js';
import {
  HistoryRecorder,
  checkConvergence,
  checkNoDominatedSiblings,
  checkNoLostWrites,
  checkNoPhantoms,
  staleReadFraction,
  summarize,
  type Operation,
} from '../checkers/index.js';
import { FaultScheduler, type Fault } from './faults.js';

export interface SimOptions {
  seed: number;
  nodes?: number;
  keys?: number;
  clients?: number;
  opsPerClient?: number;
  faults?: boolean;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  summary: string;
  faults: Fault[];
  ops: { ok: number; failed: number; indeterminate: number };
  convergeMs: number;
  staleReadFraction: number;
  replay: string;
}

/** levels drawn per operation: mostly QUORUM (T1), with ONE and ALL for variety. */
const LEVELS = ['quorum', 'quorum', 'one', 'all'] as const;

/**
 * simulate runs one seeded scenario: a whole cluster of real node code in one process (memory
 * transport, manual clock, memory engines), clients doing blind writes, read-resolve-writes,
 * deletes and reads on a few hot keys through random coordinators while the fault scheduler
 * injects faults; then it heals everything, lets hints and anti-entropy work, reads the final
 * state at R = ALL and runs the history checkers (no lost write, no phantom, no dominated
 * sibling, convergence). Everything random comes from `seed`: the same seed replays exactly.
 */
export async function simulate(o: SimOptions): Promise<SimResult> {
  const seed = o.seed;
  const nodes = o.nodes ?? 3 + (seed % 3);
  const random = new SeededRandom(seed * 7919 + 1);
  const sim = await SimCluster.start(nodes, seed, {
    replicaTimeoutMs: 400,
    requestTimeoutMs: 1_500,
    hintReplayIntervalMs: 200,
    antiEntropyIntervalMs: 1_000,
    antiEntropyPauseMs: 0,
    merkleDepth: 6,
  });
  const ids = [...sim.nodes.keys()];
  const keys = Array.from({ length: o.keys ?? 4 }, (_, i) => `hot${i}`);
  const rec = new HistoryRecorder({ now: () => sim.clock.monotonic() });
  const counts = { ok: 0, failed: 0, indeterminate: 0 };
  const faults = new FaultScheduler(sim, random, ids);

  const anyNode = () => {
    const live = ids.filter((id) => sim.nodes.has(id));
    return sim.nodes.get(live[random.int(live.length)])!;
  };
  const finish = (op: Operation, e: unknown) => {
    const code = (e as { code?: string }).code;
    const outcome = code === 'DEADLINE_EXCEEDED' || code === 'QUORUM_UNAVAILABLE' || code === undefined ? 'timeout' : 'fail';
    rec.complete(op, outcome);
    if (op.kind === 'get') counts.failed++;
    else counts.indeterminate++;
  };

  async function client(c: number): Promise<void> {
    const name = `c${c}`;
    for (let i = 0; i < (o.opsPerClient ?? 50); i++) {
      await sim.clock.sleep(random.int(60));
      const key = keys[random.int(keys.length)];
      const roll = random.next();
      const CONSISTENCY = { level: LEVELS[random.int(LEVELS.length)], strict: false };
      const node = anyNode();
      if (roll < 0.35) {
        const op = rec.invoke({ client: name, kind: 'put', key });
        const w: ForwardOp = { kind: 'put', key: Buffer.from(key), value: Buffer.from(op.value!), context: new Map(), ttlMs: 0, consistency: CONSISTENCY };
        await node.coordinator.write(w).then(
          () => (rec.complete(op, 'ok'), counts.ok++),
          (e) => finish(op, e),
        );
        continue;
      }
      const get = rec.invoke({ client: name, kind: 'get', key });
      let read;
      try {
        read = await node.coordinator.get(Buffer.from(key), { level: LEVELS[random.int(LEVELS.length)], strict: false });
      } catch (e) {
        finish(get, e);
        continue;
      }
      rec.complete(get, 'ok', liveValues(read.versions, sim.clock.now()).map((v) => v.value.toString()));
      counts.ok++;
      if (roll < 0.55) continue;
      // Read-resolve-write (or delete) with the context just read; the context crosses the
      // client API as bytes, as it would over gRPC.
      const context = decodeContext(encodeContext(read.context));
      const kind = roll < 0.9 ? 'put' : 'delete';
      const op = rec.invoke({ client: name, kind, key, context: get });
      const w: ForwardOp =
        kind === 'put'
          ? { kind, key: Buffer.from(key), value: Buffer.from(op.value!), context, ttlMs: 0, consistency: CONSISTENCY }
          : { kind, key: Buffer.from(key), context, consistency: CONSISTENCY };
      await anyNode().coordinator.write(w).then(
        () => (rec.complete(op, 'ok'), counts.ok++),
        (e) => finish(op, e),
      );
    }
  }

  const faulting = o.faults === false ? Promise.resolve() : faults.run();
  await sim.settle(Promise.all(Array.from({ length: o.clients ?? 4 }, (_, c) => client(c))), 600_000);
  faults.stop();
  await sim.settle(faulting, 60_000);
  await faults.healAll();
  const healedAt = sim.clock.monotonic();

  // Converge: hints and anti-entropy repair every replica; then read the final state.
  let convergeMs = -1;
  for (let t = 0; t < 60_000; t += 250) {
    await sim.run(250);
    if (await converged(sim, keys)) {
      convergeMs = sim.clock.monotonic() - healedAt;
      break;
    }
  }
  const finalValues = new Map<string, string[]>();
  for (const key of keys) {
    const r = await sim.settle(sim.node(ids[0]).coordinator.get(Buffer.from(key), { level: 'all', strict: false }));
    finalValues.set(key, liveValues(r.versions, sim.clock.now()).map((v) => v.value.toString()));
  }
  const history = rec.history();
  const finalState = rec.finalState(finalValues);
  const stale = staleReadFraction(history);
  const results = {
    noLostWrites: checkNoLostWrites(history, finalState),
    noPhantoms: checkNoPhantoms(history, finalState),
    noDominatedSiblings: checkNoDominatedSiblings(history, finalState),
    convergence: checkConvergence(await dumps(sim, keys), { timeToConverge: convergeMs }),
  };
  await sim.stop();
  const s = summarize(results, { title: `sim seed ${seed}` });
  const ok = s.ok && convergeMs >= 0;
  return {
    seed,
    ok,
    summary: s.text + (convergeMs < 0 ? '\nreplicas did not converge within 60 s of simulated time' : ''),
    faults: faults.injected,
    ops: counts,
    convergeMs,
    staleReadFraction: stale.fraction,
    replay: `DKV_SIM_SEED=${seed} npx vitest run test/sim`,
  };
}

/** dumps lists, per node, each key it is a primary of with its version identifiers. */
async function dumps(sim: SimCluster, keys: string[]): Promise<Map<string, Map<string, string[]>>> {
  const out = new Map<string, Map<string, string[]>>();
  for (const [id, node] of sim.nodes) {
    const ring = node.membership.ring();
    const m = new Map<string, string[]>();
    for (const key of keys) {
      if (!primaries(ring, hashKey(Buffer.from(key)), Math.min(node.config.n, ring.ownerCount)).includes(id)) continue;
      const vs = await node.store.read(Buffer.from(key));
      if (vs.length) m.set(key, vs.map((v) => `${v.dot.actor}:${v.dot.counter}${v.tombstone ? '†' : ''}`).sort());
    }
    out.set(id, m);
  }
  return out;
}

async function converged(sim: SimCluster, keys: string[]): Promise<boolean> {
  return checkConvergence(await dumps(sim, keys)).ok && [...sim.nodes.values()].every((n) => n.hints === undefined || n.hints.targets().length === 0);
}
