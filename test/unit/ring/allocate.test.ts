import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { allocateTokens, buildRing } from '../../../src/ring/allocate.js';
import { imbalance, movedFraction, ownership, replicatedOwnership } from '../../../src/ring/ownership.js';
import { Ring, RING_SIZE } from '../../../src/ring/ring.js';
import { SeededRandom } from '../../../src/time/random.js';
import { grow, maxOverMean, members, SEEDS } from './fixtures.js';

describe('allocateTokens', () => {
  it('spaces the first node evenly from a random offset', () => {
    const tokens = allocateTokens(undefined, 'a', 1, {}, new SeededRandom(9));
    expect(tokens).toHaveLength(64);
    const ring = new Ring([{ id: 'a', zone: 'z', weight: 1, tokens }]);
    for (let i = 0; i < ring.tokenCount; i++) expect(ring.rangeSize(i)).toBe(RING_SIZE / 64);
    expect(allocateTokens(Ring.empty(), 'a', 1, {}, new SeededRandom(10))).not.toEqual(tokens);
  });

  it('gives round(weight × tokensPerWeight) tokens', () => {
    const ring = grow(members(2), 1);
    const r = new SeededRandom(1);
    expect(allocateTokens(ring, 'x', 1.5, {}, r)).toHaveLength(96);
    expect(allocateTokens(ring, 'x', 2, { tokensPerWeight: 10 }, r)).toHaveLength(20);
    expect(allocateTokens(ring, 'x', 0, {}, r)).toEqual([]);
  });

  it('is deterministic given the ring and the random draws', () => {
    const ring = grow(members(4, 2), 5);
    const a = allocateTokens(ring, 'x', 1, { zone: 'z0' }, new SeededRandom(77));
    const b = allocateTokens(ring, 'x', 1, { zone: 'z0' }, new SeededRandom(77));
    expect(a).toEqual(b);
    expect(grow(members(4, 2), 5).checksum()).toBe(ring.checksum());
  });

  it('rejects a node already on the ring and bad arguments', () => {
    const ring = grow(members(2), 1);
    const r = new SeededRandom(1);
    expect(() => allocateTokens(ring, 'n00', 1, {}, r)).toThrow(/already on the ring/);
    expect(() => allocateTokens(ring, 'x', -1, {}, r)).toThrow(RangeError);
    expect(() => allocateTokens(ring, 'x', 1, { tokensPerWeight: 0 }, r)).toThrow(RangeError);
    expect(() => allocateTokens(ring, 'x', 1, { replicas: 0 }, r)).toThrow(RangeError);
  });

  it('never reuses a token and only splits existing ranges (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ weight: fc.constantFrom(0, 0.5, 1, 2), zone: fc.constantFrom('a', 'b', 'c') }), { minLength: 1, maxLength: 7 }),
        fc.integer({ min: 1, max: 12 }),
        fc.nat(),
        (joins, tokensPerWeight, seed) => {
          const random = new SeededRandom(seed);
          let ring = Ring.empty();
          joins.forEach((j, k) => {
            const id = `n${k}`;
            const tokens = allocateTokens(ring, id, j.weight, { tokensPerWeight, zone: j.zone }, random);
            expect(tokens).toHaveLength(Math.round(j.weight * tokensPerWeight));
            expect(new Set(tokens).size).toBe(tokens.length);
            for (const t of tokens) {
              expect(Number.isInteger(t) && t >= 0 && t < RING_SIZE).toBe(true);
              expect(ring.node(ring.ownerOf(t) ?? '')?.tokens ?? []).not.toContain(t);
            }
            const next = ring.withNode({ id, zone: j.zone, weight: j.weight, tokens }); // throws on a collision
            // Only ranges the joiner takes change owner.
            if (ring.tokenCount > 0) expect(movedFraction(ring, next)).toBeCloseTo(ownership(next).get(id) as number, 12);
            ring = next;
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('splits even the tightest ranges without collisions', () => {
    const crowded = new Ring([{ id: 'a', zone: 'z', weight: 1, tokens: [5, 6, 7, 8, RING_SIZE - 1] }]);
    const tokens = allocateTokens(crowded, 'b', 1, { tokensPerWeight: 5 }, new SeededRandom(1));
    expect(() => crowded.withNode({ id: 'b', zone: 'z', weight: 1, tokens })).not.toThrow();
    const full = new Ring([{ id: 'a', zone: 'z', weight: 1, tokens: [0, 1, 2] }]);
    // Only the wrapping range can be split; it is large enough for many tokens.
    expect(allocateTokens(full, 'b', 1, { tokensPerWeight: 3 }, new SeededRandom(1))).toHaveLength(3);
    // A joiner whose share (≈ 4 positions) is smaller than its token count still gets distinct tokens.
    const heavy = new Ring([{ id: 'a', zone: 'z', weight: 1e9, tokens: [10, 2 ** 31] }]);
    const tiny = allocateTokens(heavy, 'b', 1, {}, new SeededRandom(1));
    expect(new Set(tiny).size).toBe(64);
    expect(() => heavy.withNode({ id: 'b', zone: 'z', weight: 1, tokens: tiny })).not.toThrow();
  });

  describe('balance (correctness properties of the allocator)', () => {
    for (const k of [3, 5, 10]) {
      it(`max/mean primary ownership <= 1.10 for ${k} equal nodes`, () => {
        for (const seed of SEEDS) {
          const ring = grow(members(k), seed);
          expect(maxOverMean(ownership(ring)), `seed ${seed}`).toBeLessThanOrEqual(1.1);
        }
      });
    }

    it('max/mean primary ownership <= 1.10 for 9 nodes in 3 zones', () => {
      for (const seed of SEEDS.slice(0, 2)) {
        const ring = grow(members(9, 3), seed);
        expect(maxOverMean(ownership(ring)), `seed ${seed}`).toBeLessThanOrEqual(1.1);
      }
    });

    it('a weight-2 node owns 2× a weight-1 node (±5%), whatever the join order', () => {
      const orders = [
        [{ id: 'a', weight: 1 }, { id: 'b', weight: 1 }, { id: 'big', weight: 2 }],
        [{ id: 'big', weight: 2 }, { id: 'a', weight: 1 }, { id: 'b', weight: 1 }],
        [{ id: 'a', weight: 1 }, { id: 'big', weight: 2 }, { id: 'b', weight: 1 }, { id: 'c', weight: 1 }, { id: 'd', weight: 1 }],
      ];
      for (const seed of SEEDS) {
        for (const order of orders) {
          const ring = buildRing(order.map((o) => ({ ...o, zone: 'z' })), {}, new SeededRandom(seed));
          const own = ownership(ring);
          const big = own.get('big') as number;
          for (const o of order.filter((x) => x.weight === 1)) {
            const ratio = big / (own.get(o.id) as number);
            expect(ratio, `seed ${seed}, ${o.id} in ${order.map((x) => x.id)}`).toBeGreaterThanOrEqual(1.9);
            expect(ratio, `seed ${seed}, ${o.id} in ${order.map((x) => x.id)}`).toBeLessThanOrEqual(2.1);
          }
          expect(imbalance(ring, own), `seed ${seed}`).toBeLessThanOrEqual(1.1);
        }
      }
    });

    it('a 4th node joining 3 moves at most 1.1 × 1/4 of the key space', () => {
      for (const seed of SEEDS) {
        const random = new SeededRandom(seed);
        const three = buildRing(members(3), {}, random);
        const tokens = allocateTokens(three, 'n03', 1, { zone: 'z0' }, random);
        const four = three.withNode({ id: 'n03', zone: 'z0', weight: 1, tokens });
        const moved = movedFraction(three, four);
        expect(moved, `seed ${seed}`).toBeLessThanOrEqual(1.1 * 0.25);
        expect(moved, `seed ${seed}`).toBeGreaterThan(0.2);
        expect(maxOverMean(ownership(four)), `seed ${seed}`).toBeLessThanOrEqual(1.1);
      }
    });

    it('keeps replicated (n=3) ownership within 15% of even', () => {
      for (const seed of SEEDS.slice(0, 3)) {
        for (const [k, zones] of [[5, 1], [10, 1], [6, 3]]) {
          const ring = grow(members(k, zones), seed);
          expect(maxOverMean(replicatedOwnership(ring, 3)), `seed ${seed}, ${k} nodes, ${zones} zones`).toBeLessThanOrEqual(1.15);
        }
      }
    });
  });
});
