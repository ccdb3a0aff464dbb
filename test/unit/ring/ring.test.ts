import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ring, RING_SIZE, type RingNode } from '../../../src/ring/ring.js';
import { randomRing } from './fixtures.js';

const small: RingNode[] = [
  { id: 'b', zone: 'z1', weight: 1, tokens: [300, 100] },
  { id: 'a', zone: 'z0', weight: 1, tokens: [200] },
  { id: 'c', zone: 'z1', weight: 2, tokens: [] },
];

describe('Ring', () => {
  it('sorts members by id and tokens ascending', () => {
    const ring = new Ring(small);
    expect(ring.nodes().map((n) => n.id)).toEqual(['a', 'b', 'c']);
    expect(ring.node('b')?.tokens).toEqual([100, 300]);
    expect(ring.tokenCount).toBe(3);
    expect([0, 1, 2].map((i) => ring.tokenAt(i))).toEqual([100, 200, 300]);
    expect(ring.size).toBe(3);
    expect(ring.ownerCount).toBe(2);
    expect(ring.zoneCount).toBe(2);
  });

  it('gives a key to the first token >= its hash, wrapping past the last token', () => {
    const ring = new Ring(small);
    expect(ring.ownerOf(0)).toBe('b');
    expect(ring.ownerOf(100)).toBe('b');
    expect(ring.ownerOf(101)).toBe('a');
    expect(ring.ownerOf(200)).toBe('a');
    expect(ring.ownerOf(250)).toBe('b');
    expect(ring.ownerOf(301)).toBe('b');
    expect(ring.ownerOf(RING_SIZE - 1)).toBe('b');
    expect(ring.ownerIndex(301)).toBe(0);
    expect(Ring.empty().ownerIndex(5)).toBe(-1);
    expect(Ring.empty().ownerOf(5)).toBeUndefined();
  });

  it('range sizes cover the ring exactly once', () => {
    const ring = randomRing(5, 2, 16, 7);
    let total = 0;
    for (let i = 0; i < ring.tokenCount; i++) total += ring.rangeSize(i);
    expect(total).toBe(RING_SIZE);
    expect(new Ring([{ id: 'solo', zone: '', weight: 1, tokens: [9] }]).rangeSize(0)).toBe(RING_SIZE);
  });

  it('walks every token clockwise once from the owner of a position', () => {
    const ring = new Ring(small);
    const walk = [...ring.clockwise(150)];
    expect(walk.map((t) => t.token)).toEqual([200, 300, 100]);
    expect(walk.map((t) => t.nodeId)).toEqual(['a', 'b', 'b']);
  });

  it('rejects duplicate ids, tokens owned twice and non-uint32 tokens', () => {
    expect(() => new Ring([...small, { id: 'a', zone: 'z', weight: 1, tokens: [7] }])).toThrow(/duplicate node id/);
    expect(() => new Ring([...small, { id: 'd', zone: 'z', weight: 1, tokens: [200] }])).toThrow(/owned twice/);
    expect(() => new Ring([{ id: 'd', zone: 'z', weight: 1, tokens: [5, 5] }])).toThrow(/owned twice/);
    expect(() => new Ring([{ id: 'd', zone: 'z', weight: 1, tokens: [RING_SIZE] }])).toThrow(/uint32/);
    expect(() => new Ring([{ id: 'd', zone: 'z', weight: 1, tokens: [1.5] }])).toThrow(/uint32/);
    expect(() => new Ring([{ id: 'd', zone: 'z', weight: -1, tokens: [] }])).toThrow(/weight/);
  });

  it('withNode adds or replaces a member, withoutNode removes one', () => {
    const ring = new Ring(small);
    const added = ring.withNode({ id: 'd', zone: 'z2', weight: 1, tokens: [400] });
    expect(added.ownerOf(350)).toBe('d');
    const replaced = added.withNode({ id: 'd', zone: 'z2', weight: 1, tokens: [50] });
    expect(replaced.node('d')?.tokens).toEqual([50]);
    expect(replaced.ownerOf(60)).toBe('b');
    expect(replaced.ownerOf(40)).toBe('d');
    expect(replaced.withoutNode('d').checksum()).toBe(ring.checksum());
    expect(ring.withoutNode('missing').checksum()).toBe(ring.checksum());
  });

  describe('checksum', () => {
    it('is a sha256 hex digest, equal for the same membership in any input order', () => {
      const base = randomRing(6, 3, 8, 11).nodes();
      const expected = new Ring(base).checksum();
      expect(expected).toMatch(/^[0-9a-f]{64}$/);
      fc.assert(
        fc.property(fc.shuffledSubarray([...base], { minLength: base.length }), fc.boolean(), (order, reverseTokens) => {
          const nodes = order.map((n) => ({ ...n, tokens: reverseTokens ? [...n.tokens].reverse() : n.tokens }));
          expect(new Ring(nodes).checksum()).toBe(expected);
        }),
      );
    });

    it('changes when an id, zone, weight or token changes', () => {
      const base = new Ring(small);
      const variants: RingNode[][] = [
        small.map((n) => (n.id === 'c' ? { ...n, id: 'cc' } : n)),
        small.map((n) => (n.id === 'c' ? { ...n, zone: 'z9' } : n)),
        small.map((n) => (n.id === 'c' ? { ...n, weight: 3 } : n)),
        small.map((n) => (n.id === 'a' ? { ...n, tokens: [201] } : n)),
        small.filter((n) => n.id !== 'c'),
      ];
      const sums = new Set([base.checksum(), ...variants.map((v) => new Ring(v).checksum())]);
      expect(sums.size).toBe(variants.length + 1);
    });
  });
});
