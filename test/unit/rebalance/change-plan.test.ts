import { describe, expect, it } from 'vitest';
import { checkWeight, joinPlan, reweighPlan } from '../../../src/rebalance/change-plan.js';
import { Ring } from '../../../src/ring/ring.js';
import { buildRing } from '../../../src/ring/allocate.js';
import { SeededRandom } from '../../../src/time/random.js';

const opts = { n: 3, tokensPerWeight: 64 };
const ring = (k: number, zones: number, seed: number) =>
  buildRing(Array.from({ length: k }, (_, i) => ({ id: `n${i}`, zone: zones > 1 ? `z${i % zones}` : '', weight: 1 })), { tokensPerWeight: 64, replicas: 3 }, new SeededRandom(seed));

describe('change plans', () => {
  it('a reweigh plan is the same for the same request on the same ring (the dry-run shows what will run), and differs for another weight', () => {
    const r = ring(5, 1, 3);
    const a = reweighPlan(r, 'n2', 2, opts);
    expect(reweighPlan(r, 'n2', 2, opts)).toEqual(a);
    expect(reweighPlan(r, 'n2', 1.5, opts).tokens).not.toEqual(a.tokens);
    expect(a.moves.every((m) => m.to === 'n2')).toBe(true);
  });

  it('a join plan is deterministic too and moves ranges only to the new node', () => {
    const r = ring(3, 1, 4);
    const a = joinPlan(r, 'n9', 1, '', opts);
    expect(joinPlan(r, 'n9', 1, '', opts)).toEqual(a);
    expect(a.tokens).toHaveLength(64);
    expect(a.moves.length).toBeGreaterThan(0);
    expect(a.moves.every((m) => m.to === 'n9')).toBe(true);
    expect(() => joinPlan(Ring.empty(), 'n9', 1, '', opts)).toThrow(/first node of a cluster moves nothing/);
  });

  it('refuses weights outside (0, 100] naming the limit, and nodes without tokens', () => {
    for (const w of [0, -1, 100.5, Number.NaN, Number.POSITIVE_INFINITY]) expect(() => checkWeight(w)).toThrow(/weight: must be in \(0, 100\]/);
    expect(() => checkWeight(100)).not.toThrow();
    expect(() => reweighPlan(ring(3, 1, 1), 'ghost', 2, opts)).toThrow(/ghost owns no tokens/);
  });

  it('with zones too, every move of a reweigh involves the reweighed node (the refusal of other moves is a guard, not met here)', () => {
    const zoneOpts = { n: 3, tokensPerWeight: 16 };
    for (let seed = 1; seed <= 3; seed++) {
      const r = buildRing(['a', 'a', 'b', 'c', 'c', 'a'].map((zone, i) => ({ id: `n${i}`, zone, weight: 1 })), { tokensPerWeight: 16, replicas: 3 }, new SeededRandom(seed));
      for (const w of [0.25, 3]) {
        const p = reweighPlan(r, 'n0', w, zoneOpts);
        expect(p.moves.length, `seed ${seed} weight ${w}`).toBeGreaterThan(0);
        for (const m of p.moves) expect(m.to === 'n0' || m.from.includes('n0'), `seed ${seed} weight ${w}: ${JSON.stringify(m)}`).toBe(true);
      }
    }
  });
});
