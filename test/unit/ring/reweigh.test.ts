import { describe, expect, it } from 'vitest';
import { reweighTokens } from '../../../src/ring/reweigh.js';
import { imbalance, movedFraction, ownership } from '../../../src/ring/ownership.js';
import { Ring } from '../../../src/ring/ring.js';
import { moves } from '../../../src/rebalance/plan.js';
import { SeededRandom } from '../../../src/time/random.js';
import { grow, members, SEEDS } from './fixtures.js';

/** reweighed returns the ring with `id` at `weight` and the tokens reweighTokens chose. */
function reweighed(ring: Ring, id: string, weight: number, seed: number): Ring {
  const node = ring.node(id)!;
  const tokens = reweighTokens(ring, id, weight, { tokensPerWeight: 64, replicas: 3, zone: node.zone }, new SeededRandom(seed));
  return ring.withNode({ ...node, weight, tokens });
}

describe('reweighTokens', () => {
  for (const [from, to] of [
    [1, 2],
    [1, 1.5],
    [2, 1],
    [1, 0.5],
  ] as const) {
    it(`weight ${from} -> ${to}: only the node's own tokens change, kept ones are kept, and the moved share is close to ideal`, () => {
      for (const seed of SEEDS) {
        const specs = members(5).map((m, i) => (i === 2 ? { ...m, weight: from } : m));
        const before = grow(specs, seed);
        const after = reweighed(before, 'n02', to, seed + 1);
        for (const n of before.nodes()) if (n.id !== 'n02') expect(after.node(n.id)!.tokens, `seed ${seed}`).toEqual(n.tokens);
        const old = before.node('n02')!.tokens;
        const now = after.node('n02')!.tokens;
        expect(now).toHaveLength(Math.round(to * 64));
        if (to > from) expect(now.filter((t) => old.includes(t)), `seed ${seed}: every old token kept`).toEqual([...old]);
        else expect(now.every((t) => old.includes(t)), `seed ${seed}: a subset of the old tokens`).toBe(true);
        const oldShare = ownership(before).get('n02')!;
        const ideal = Math.abs(to / (4 + to) - oldShare);
        const moved = movedFraction(before, after);
        // Only the node's own ranges change hands: the moved space is its share's change, no more
        // than a few small chunks off the ideal (a chunk being about 1/total tokens).
        expect(moved, `seed ${seed}: moved ${moved} vs ideal ${ideal}`).toBeLessThan(ideal * 1.15 + 0.01);
        expect(Math.abs(ownership(after).get('n02')! - to / (4 + to)), `seed ${seed}: share follows weight`).toBeLessThan(0.02);
        expect(imbalance(after, ownership(after)), `seed ${seed}`).toBeLessThan(1.12);
      }
    });
  }

  it('every range a reweigh moves involves the reweighed node: it gains it or gives it up (one zone)', () => {
    for (const seed of SEEDS) {
      const before = grow(members(6), seed);
      for (const to of [2, 0.5]) {
        const after = reweighed(before, 'n03', to, seed);
        const ms = moves(before, after, 3);
        expect(ms.length, `seed ${seed}`).toBeGreaterThan(0);
        for (const m of ms) expect(m.to === 'n03' || m.from.includes('n03'), `seed ${seed} weight ${to}: ${JSON.stringify(m)}`).toBe(true);
        // growing only adds the node to replica sets; shrinking only takes it out
        for (const m of ms) expect(to > 1 ? m.to === 'n03' : m.to !== 'n03', `seed ${seed} weight ${to}`).toBe(true);
      }
    }
  });

  it('returns the same tokens at the same weight and rejects bad arguments', () => {
    const ring = grow(members(3), 4);
    const r = new SeededRandom(1);
    expect(reweighTokens(ring, 'n01', 1, {}, r)).toEqual([...ring.node('n01')!.tokens]);
    expect(() => reweighTokens(ring, 'x', 1, {}, r)).toThrow(/owns no tokens/);
    expect(() => reweighTokens(ring, 'n01', 0, {}, r)).toThrow(RangeError);
    expect(() => reweighTokens(ring, 'n01', Number.NaN, {}, r)).toThrow(RangeError);
  });
});
