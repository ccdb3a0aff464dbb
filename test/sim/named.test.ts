import { describe, expect, it } from 'vitest';
import { SimCluster } from '../helpers/sim-cluster.js';
import { decodeContext, encodeContext } from '../../src/storage/record-codec.js';
import { isDkvError } from '../../src/errors.js';
import { liveValues } from '../../src/versioning/siblings.js';
import type { ForwardOp } from '../../src/transport/peer-transport.js';
import type { VersionVector } from '../../src/versioning/dvv.js';
import { HistoryRecorder, checkNoLostWrites, checkNoPhantoms, checkSiblingBound, summarize, type Operation } from '../checkers/index.js';

/**
 * Named deterministic scenarios of the fault matrix (TESTING.md) that the random schedule
 * does not aim at: T9 (sibling explosion), T10 (the sibling limit, never applied on repair),
 * T12 (anti-entropy alone repairs a node that missed 1,000 writes; the bytes it exchanges are
 * measured on real processes in test/integration/antientropy.test.ts). Each runs real node code
 * on the simulation's memory network and manual clock and is judged by the history checkers.
 */
const ALL = { level: 'all' as const, strict: false };
const QUORUM = { level: 'quorum' as const, strict: false };

function put(key: string, value: string, context: VersionVector, consistency: ForwardOp['consistency'] = QUORUM): ForwardOp {
  return { kind: 'put', key: Buffer.from(key), value: Buffer.from(value), context, ttlMs: 0, consistency };
}

async function readAll(sim: SimCluster, via: string, key: string) {
  const r = await sim.settle(sim.node(via).coordinator.get(Buffer.from(key), ALL));
  return { values: liveValues(r.versions, sim.clock.now()).map((v) => v.value.toString()), context: r.context };
}

describe('named simulation scenarios', () => {
  it('T9: two clients, 100 interleaved read-resolve-write rounds on one key: at most 2 siblings, nothing lost', async () => {
    const sim = await SimCluster.start(3, 9_009);
    const rec = new HistoryRecorder({ now: () => sim.clock.monotonic() });
    const coordinators = ['n1', 'n2'];
    // Both clients read, then both write with what they read (Riak's sibling explosion).
    for (let round = 0; round < 100; round++) {
      const reads: Array<{ op: Operation; context: VersionVector }> = [];
      for (const [c, via] of coordinators.entries()) {
        const op = rec.invoke({ client: `c${c}`, kind: 'get', key: 'k' });
        const r = await sim.settle(sim.node(via).coordinator.get(Buffer.from('k'), QUORUM));
        rec.complete(op, 'ok', liveValues(r.versions, sim.clock.now()).map((v) => v.value.toString()));
        reads.push({ op, context: decodeContext(encodeContext(r.context)) });
      }
      for (const [c, via] of coordinators.entries()) {
        const op = rec.invoke({ client: `c${c}`, kind: 'put', key: 'k', context: reads[c].op });
        await sim.settle(sim.node(via).coordinator.write(put('k', op.value!, reads[c].context)));
        rec.complete(op, 'ok');
      }
    }
    await sim.run(2_000);
    const final = await readAll(sim, 'n3', 'k');
    const state = rec.finalState(new Map([['k', final.values]]));
    const s = summarize({
      noLostWrites: checkNoLostWrites(rec.history(), state),
      noPhantoms: checkNoPhantoms(rec.history(), state),
      siblingBound: checkSiblingBound(rec.history(), 2, state),
    });
    expect(s.ok, s.text).toBe(true);
    expect(final.values.length).toBeLessThanOrEqual(2);
    await sim.stop();
  });

  it('T10: a blind write past the sibling limit gets an explicit error; repair merges past the limit, truncating nothing', async () => {
    const sim = await SimCluster.start(3, 10_010, { maxSiblings: 3 });
    const rec = new HistoryRecorder({ now: () => sim.clock.monotonic() });
    const blind = async (via: string, consistency: ForwardOp['consistency']) => {
      const op = rec.invoke({ client: via, kind: 'put', key: 'lim' });
      try {
        await sim.settle(sim.node(via).coordinator.write(put('lim', op.value!, new Map(), consistency)));
        rec.complete(op, 'ok');
        return undefined;
      } catch (e) {
        rec.complete(op, 'fail');
        return e;
      }
    };
    for (let i = 0; i < 3; i++) expect(await blind('n1', ALL)).toBeUndefined();
    const over = await blind('n1', ALL);
    expect(isDkvError(over) && over.code).toBe('TOO_MANY_SIBLINGS');
    // Resolve to one value, then let each side of a partition add two siblings (3 each, at the
    // limit); the merge after the heal (read repair, anti-entropy) keeps all 5: limits apply to
    // client writes only, never to replica merges.
    const get = rec.invoke({ client: 'n1', kind: 'get', key: 'lim' });
    const seen = await readAll(sim, 'n1', 'lim');
    rec.complete(get, 'ok', seen.values);
    const base = rec.invoke({ client: 'n1', kind: 'put', key: 'lim', context: get });
    await sim.settle(sim.node('n1').coordinator.write(put('lim', base.value!, decodeContext(encodeContext(seen.context)), ALL)));
    rec.complete(base, 'ok');
    sim.net.partition(['n1'], ['n2', 'n3']);
    const one = { w: 1, strict: false };
    const sides = [await blind('n2', one), await blind('n2', one), await blind('n1', one), await blind('n1', one)];
    expect(sides).toEqual([undefined, undefined, undefined, undefined]);
    sim.net.heal();
    await sim.run(5_000);
    const final = await readAll(sim, 'n3', 'lim');
    const state = rec.finalState(new Map([['lim', final.values]]));
    const s = summarize({ noLostWrites: checkNoLostWrites(rec.history(), state), noPhantoms: checkNoPhantoms(rec.history(), state) });
    expect(s.ok, s.text).toBe(true);
    expect(final.values).toHaveLength(5);
    for (const id of ['n1', 'n2', 'n3']) expect(liveValues(await sim.node(id).store.read(Buffer.from('lim')), sim.clock.now())).toHaveLength(5);
    await sim.stop();
  });

  it('T12: with hints off, anti-entropy alone repairs a node that missed 1,000 writes', async () => {
    const sim = await SimCluster.start(3, 12_012, { hintedHandoff: false, antiEntropyIntervalMs: 2_000, antiEntropyPauseMs: 0 });
    const rec = new HistoryRecorder({ now: () => sim.clock.monotonic() });
    for (let i = 0; i < 200; i++) {
      const op = rec.invoke({ client: 'c', kind: 'put', key: `old${i}` });
      await sim.settle(sim.node('n1').coordinator.write(put(`old${i}`, op.value!, new Map(), ALL)));
      rec.complete(op, 'ok');
    }
    await sim.crash('n3');
    for (let i = 0; i < 1_000; i++) {
      const op = rec.invoke({ client: 'c', kind: 'put', key: `k${i}` });
      await sim.settle(sim.node(i % 2 ? 'n1' : 'n2').coordinator.write(put(`k${i}`, op.value!, new Map())));
      rec.complete(op, 'ok');
    }
    await sim.restart('n3');
    const n3 = () => sim.node('n3');
    const missing = async () => {
      let n = 0;
      for (let i = 0; i < 1_000; i++) if ((await n3().store.read(Buffer.from(`k${i}`))).length === 0) n++;
      return n;
    };
    expect(await sim.settle(missing())).toBe(1_000);
    for (let t = 0; t < 60_000 && (await sim.settle(missing())) > 0; t += 1_000) await sim.run(1_000);
    expect(await sim.settle(missing())).toBe(0);
    // n3 alone now answers every key as acknowledged.
    sim.net.partition(['n3'], ['n1', 'n2']);
    const finals = new Map<string, string[]>();
    for (const op of rec.history())
      finals.set(op.key, liveValues(await sim.settle(n3().store.read(Buffer.from(op.key))), sim.clock.now()).map((v) => v.value.toString()));
    const s = summarize({ noLostWrites: checkNoLostWrites(rec.history(), rec.finalState(finals)) });
    expect(s.ok, s.text).toBe(true);
    await sim.stop();
  });
});
