import { describe, expect, it } from 'vitest';
import { imbalance, movedFraction, ownership, replicatedOwnership } from '../../../src/ring/ownership.js';
import { Ring, RING_SIZE } from '../../../src/ring/ring.js';
import { randomRing } from './fixtures.js';

const sum = (m: Map<string, number>) => [...m.values()].reduce((s, v) => s + v, 0);

describe('ownership metrics', () => {
  it('primary ownership sums to 1 and follows the (prev, token] rule', () => {
    const q = RING_SIZE / 4;
    const ring = new Ring([
      { id: 'a', zone: 'z', weight: 1, tokens: [q] },
      { id: 'b', zone: 'z', weight: 1, tokens: [3 * q] },
      { id: 'idle', zone: 'z', weight: 1, tokens: [] },
    ]);
    expect(ownership(ring)).toEqual(new Map([['a', 0.5], ['b', 0.5], ['idle', 0]]));
    expect(sum(ownership(randomRing(7, 2, 9, 4)))).toBeCloseTo(1, 12);
  });

  it('replicated ownership sums to min(n, owners)', () => {
    const ring = randomRing(7, 3, 9, 4);
    for (const n of [1, 2, 3, 7, 9]) expect(sum(replicatedOwnership(ring, n))).toBeCloseTo(Math.min(n, 7), 10);
    expect(replicatedOwnership(ring, 1)).toEqual(ownership(ring));
  });

  it('imbalance is 1 when shares match weights and weighs shares by weight', () => {
    const ring = new Ring([
      { id: 'a', zone: 'z', weight: 1, tokens: [Math.floor(RING_SIZE / 3)] },
      { id: 'b', zone: 'z', weight: 2, tokens: [RING_SIZE - 1] },
    ]);
    expect(imbalance(ring, ownership(ring))).toBeCloseTo(1, 6);
    expect(imbalance(ring, new Map([['a', 0.5], ['b', 0.5]]))).toBeCloseTo(1.5, 12);
  });

  it('movedFraction measures where the first replica changed', () => {
    const ring = randomRing(4, 1, 8, 2);
    expect(movedFraction(ring, ring)).toBe(0);
    expect(movedFraction(ring, new Ring([...ring.nodes()].reverse()))).toBe(0);
    expect(movedFraction(Ring.empty(), Ring.empty())).toBe(0);
    expect(movedFraction(Ring.empty(), ring)).toBe(1);
    const half = RING_SIZE / 2;
    const before = new Ring([{ id: 'a', zone: 'z', weight: 1, tokens: [half] }]);
    const after = before.withNode({ id: 'b', zone: 'z', weight: 1, tokens: [half / 2] });
    // b's token at 1/4 takes the wrapping range (1/2, 2^32) ∪ [0, 1/4]: 3/4 of the ring.
    expect(movedFraction(before, after)).toBe(0.75);
    expect(movedFraction(after, before)).toBe(0.75);
    const removed = ring.withoutNode('n00');
    expect(movedFraction(ring, removed)).toBeCloseTo(ownership(ring).get('n00') as number, 12);
  });
});
