import { describe, expect, it } from 'vitest';
import { SimCluster } from '../../helpers/sim-cluster.js';
import { hashKey } from '../../../src/ring/hash.js';
import { primaries } from '../../../src/ring/preference-list.js';
import { reweighTokens } from '../../../src/ring/reweigh.js';
import { SeededRandom } from '../../../src/time/random.js';
import type { Ring } from '../../../src/ring/ring.js';

const N = 2;
const owns = (ring: Ring, id: string, key: string) => primaries(ring, hashKey(Buffer.from(key)), N).includes(id);

describe('cleanup during a reweigh in progress (in-process cluster, manual clock)', () => {
  it('keeps what a node will replicate once the change completes, deletes the rest only when asked by hand, and the automatic cleanup waits for the change to end', async () => {
    const sim = await SimCluster.start(4, 21, { n: N, cleanupGraceMs: 0 });
    const n1 = sim.node('n1');
    const n3 = sim.node('n3');
    const ring = n1.membership.ring();
    // n2 is about to shrink 1 -> 0.5: n3 will receive some of n2's ranges.
    const tokens = reweighTokens(ring, 'n2', 0.5, { tokensPerWeight: 64, replicas: N, zone: '' }, new SeededRandom(5));
    const future = ring.withNode({ ...ring.node('n2')!, weight: 0.5, tokens });
    const keys = Array.from({ length: 3_000 }, (_, i) => `k${i}`);
    const incoming = keys.filter((k) => !owns(ring, 'n3', k) && owns(future, 'n3', k)).slice(0, 20);
    const garbage = keys.filter((k) => !owns(ring, 'n3', k) && !owns(future, 'n3', k)).slice(0, 20);
    expect(incoming.length).toBe(20);
    // n3 holds both kinds: ranges pushed to it early (gossip of the change not yet seen) and old copies.
    for (const k of [...incoming, ...garbage]) {
      const key = Buffer.from(k);
      await sim.settle(n1.coordinator.write({ kind: 'put', key, value: key, context: new Map(), ttlMs: 0, consistency: { level: 'all', strict: false } }));
      const holder = sim.node(primaries(ring, hashKey(key), N)[0]);
      const versions = await sim.settle(holder.store.read(key));
      await sim.settle(n3.store.merge([{ key, versions }]));
    }
    sim.node('n2').membership.updateSelf({ pendingTokens: tokens, pendingWeight: 0.5 });
    await sim.until(() => n3.membership.changing().some((m) => m.nodeId === 'n2'), 10_000);
    expect(n3.membership.futureRing().checksum()).toBe(future.checksum());

    const auto = await sim.settle(n3.rebalancer.cleanup({ auto: true }));
    expect(auto.done).toBe(0);
    expect(auto.message).toMatch(/skipped: a topology change is in progress/);

    const manual = await sim.settle(n3.rebalancer.cleanup());
    const held = async (k: string) => (await sim.settle(n3.store.read(Buffer.from(k)))).length > 0;
    for (const k of incoming) expect(await held(k), `${k} is n3's in the future ring`).toBe(true);
    for (const k of garbage) expect(await held(k), `${k} is n3's in neither ring`).toBe(false);
    expect(manual.done).toBe(garbage.length);

    // The change is abandoned: the keys n3 was to receive are no longer its own; cleanup takes them.
    sim.node('n2').membership.updateSelf({ pendingTokens: [], pendingWeight: 0 });
    await sim.until(() => n3.membership.changing().length === 0, 10_000);
    const after = await sim.settle(n3.rebalancer.cleanup({ auto: true }));
    expect(after.done).toBe(incoming.length);
    for (const k of incoming) expect(await held(k)).toBe(false);
    await sim.stop();
  });
});

describe('automatic cleanup (in-process cluster, manual clock)', () => {
  it('deletes old copies only once the ring has stayed unchanged for the grace, and every ring change restarts the wait', async () => {
    const sim = await SimCluster.start(4, 22, { n: N, cleanupGraceMs: 5_000 });
    const n1 = sim.node('n1');
    const n3 = sim.node('n3');
    const ring = n1.membership.ring();
    const garbage = Array.from({ length: 3_000 }, (_, i) => `g${i}`).filter((k) => !owns(ring, 'n3', k)).slice(0, 10);
    const plant = async () => {
      for (const k of garbage) {
        const key = Buffer.from(k);
        await sim.settle(n1.coordinator.write({ kind: 'put', key, value: key, context: new Map(), ttlMs: 0, consistency: { level: 'all', strict: false } }));
        const versions = await sim.settle(sim.node(primaries(ring, hashKey(key), N)[0]).store.read(key));
        await sim.settle(n3.store.merge([{ key, versions }]));
      }
    };
    const held = async () => {
      let n = 0;
      for (const k of garbage) if ((await sim.settle(n3.store.read(Buffer.from(k)))).length > 0) n++;
      return n;
    };
    let weight = 1;
    const ringChange = async () => {
      weight += 0.001; // same tokens, a new ring checksum
      sim.node('n2').membership.updateSelf({ weight });
      await sim.until(() => n3.membership.member('n2')?.weight === weight, 5_000);
    };
    await plant();
    await ringChange();
    await sim.run(3_000);
    expect(await held()).toBe(garbage.length);
    await ringChange();
    await sim.run(3_000);
    expect(await held(), '3 s after the last change of a 5 s grace').toBe(garbage.length);
    await sim.run(3_000);
    expect(await held(), 'more than 5 s after the last change').toBe(0);
    // Once per ring: planted again on the same ring, nothing runs until the ring changes.
    await plant();
    await sim.run(8_000);
    expect(await held()).toBe(garbage.length);
    await ringChange();
    await sim.run(6_000);
    expect(await held()).toBe(0);
    await sim.stop();
  });
});
