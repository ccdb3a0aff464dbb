import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { preferenceList, primaries, walkOrder } from '../../../src/ring/preference-list.js';
import { Ring, RING_SIZE, type RingNode } from '../../../src/ring/ring.js';
import { grow, members, randomRing } from './fixtures.js';

/** distinctClockwise lists the distinct owners met walking clockwise from hash. */
function distinctClockwise(ring: Ring, hash: number): string[] {
  const out: string[] = [];
  for (const t of ring.clockwise(hash)) if (!out.includes(t.nodeId)) out.push(t.nodeId);
  return out;
}

/**
 * referenceOrder restates the zone rule declaratively: in the clockwise distinct order D, let
 * P be the shortest prefix covering every zone; the first node of each zone in P, then the
 * rest of P, then the rest of D.
 */
function referenceOrder(ring: Ring, hash: number): string[] {
  const d = distinctClockwise(ring, hash);
  const zoneOf = (id: string) => (ring.node(id) as RingNode).zone;
  const zones = new Set(d.map(zoneOf));
  if (zones.size < 2) return d;
  const seen = new Set<string>();
  let end = 0;
  while (seen.size < zones.size) seen.add(zoneOf(d[end++]));
  const firsts: string[] = [];
  const used = new Set<string>();
  for (const id of d.slice(0, end)) if (!used.has(zoneOf(id))) (used.add(zoneOf(id)), firsts.push(id));
  return [...firsts, ...d.slice(0, end).filter((id) => !firsts.includes(id)), ...d.slice(end)];
}

const line: RingNode[] = [
  { id: 'a', zone: 'z', weight: 1, tokens: [100, 600] },
  { id: 'b', zone: 'z', weight: 1, tokens: [200, 700] },
  { id: 'c', zone: 'z', weight: 1, tokens: [300] },
  { id: 'd', zone: 'z', weight: 1, tokens: [400] },
  { id: 'e', zone: 'z', weight: 1, tokens: [500] },
];

describe('preferenceList', () => {
  it('takes the first n distinct nodes clockwise from the key as primaries', () => {
    const ring = new Ring(line);
    expect(primaries(ring, 150, 3)).toEqual(['b', 'c', 'd']);
    expect(primaries(ring, 550, 3)).toEqual(['a', 'b', 'c']);
    expect(primaries(ring, 650, 4)).toEqual(['b', 'a', 'c', 'd']);
    expect(preferenceList(ring, 150, 2)).toEqual([
      { nodeId: 'b', primary: true },
      { nodeId: 'c', primary: true },
    ]);
    expect(primaries(ring, 150, 0)).toEqual([]);
    expect(preferenceList(Ring.empty(), 1, 3)).toEqual([]);
    expect(() => preferenceList(ring, 1, -1)).toThrow(RangeError);
  });

  it('returns every node when fewer than n own tokens', () => {
    const ring = new Ring([...line.slice(0, 2), { id: 'idle', zone: 'z', weight: 1, tokens: [] }]);
    expect(primaries(ring, 0, 3).sort()).toEqual(['a', 'b']);
    expect(preferenceList(ring, 0, 5)).toHaveLength(2);
  });

  it('is in clockwise order without zones, and stable across calls and rebuilt rings', () => {
    const ring = randomRing(8, 1, 16, 3);
    const rebuilt = new Ring([...ring.nodes()].reverse());
    fc.assert(
      fc.property(fc.integer({ min: 0, max: RING_SIZE - 1 }), fc.integer({ min: 1, max: 9 }), (hash, n) => {
        const got = primaries(ring, hash, n);
        expect(got).toEqual(distinctClockwise(ring, hash).slice(0, n));
        expect(primaries(ring, hash, n)).toEqual(got);
        expect(primaries(rebuilt, hash, n)).toEqual(got);
        expect(primaries(ring, hash, n, { zoneAware: false })).toEqual(got);
      }),
    );
  });

  it('spreads primaries over distinct zones before repeating one', () => {
    const ring = randomRing(6, 3, 16, 5);
    const zoneOf = (id: string) => ring.node(id)?.zone;
    for (let k = 0; k < 500; k++) {
      const hash = Math.floor((k / 500) * RING_SIZE);
      const three = primaries(ring, hash, 3);
      expect(new Set(three.map(zoneOf)).size).toBe(3);
      expect(three[0]).toBe(ring.ownerOf(hash));
      const five = primaries(ring, hash, 5);
      expect(new Set(five.slice(0, 3).map(zoneOf)).size).toBe(3);
      expect(five.slice(0, 3)).toEqual(three);
    }
    // With fewer zones than n, each zone is used once before any repeats.
    const two = randomRing(6, 2, 16, 6);
    for (let k = 0; k < 200; k++) {
      const list = primaries(two, k * 7919 * 1021, 3);
      expect(new Set(list.slice(0, 2).map((id) => two.node(id)?.zone)).size).toBe(2);
    }
  });

  it('follows the documented zone rule exactly (property, random rings)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 6 }),
        fc.nat(),
        fc.integer({ min: 0, max: RING_SIZE - 1 }),
        (nodes, zones, tokens, seed, hash) => {
          const ring = randomRing(nodes, zones, tokens, seed);
          const order = referenceOrder(ring, hash);
          const start = ring.ownerIndex(hash);
          expect([...walkOrder(ring, start, nodes, true)].map((m) => ring.nodeIdAt(m))).toEqual(order);
          for (let n = 1; n <= nodes + 1; n++) expect(primaries(ring, hash, n)).toEqual(order.slice(0, n));
        },
      ),
    );
  });

  it('replaces an unusable primary with the next usable node, hinted for that primary', () => {
    const ring = new Ring(line);
    const down = new Set(['c']);
    expect(preferenceList(ring, 150, 3, { usable: (id) => !down.has(id) })).toEqual([
      { nodeId: 'b', primary: true },
      { nodeId: 'e', primary: false, hintedFor: 'c' },
      { nodeId: 'd', primary: true },
    ]);
    down.add('e');
    expect(preferenceList(ring, 150, 3, { usable: (id) => !down.has(id) })).toEqual([
      { nodeId: 'b', primary: true },
      { nodeId: 'a', primary: false, hintedFor: 'c' },
      { nodeId: 'd', primary: true },
    ]);
    // Not enough usable nodes left: the unusable primary's slot is dropped.
    expect(preferenceList(ring, 150, 3, { usable: (id) => id === 'b' })).toEqual([{ nodeId: 'b', primary: true }]);
    expect(preferenceList(ring, 150, 3, { usable: () => false })).toEqual([]);
  });

  it('fallbacks are distinct, usable, outside the primaries, and name the primary they stand in for (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 3 }),
        fc.nat(),
        fc.integer({ min: 0, max: RING_SIZE - 1 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.boolean(), { minLength: 9, maxLength: 9 }),
        (nodes, zones, seed, hash, n, upFlags) => {
          const ring = randomRing(nodes, zones, 4, seed);
          const up = (id: string) => upFlags[ring.nodeIndex(id)];
          const prim = primaries(ring, hash, n);
          const list = preferenceList(ring, hash, n, { usable: up });
          const ids = list.map((e) => e.nodeId);
          expect(new Set(ids).size).toBe(ids.length);
          expect(ids.every(up)).toBe(true);
          const usableCount = ring.nodes().filter((x) => up(x.id)).length;
          expect(list).toHaveLength(Math.min(prim.length, usableCount));
          for (const e of list) {
            if (e.primary) {
              expect(prim).toContain(e.nodeId);
              expect(e.hintedFor).toBeUndefined();
            } else {
              expect(prim).not.toContain(e.nodeId);
              expect(prim).toContain(e.hintedFor);
              expect(up(e.hintedFor as string)).toBe(false);
            }
          }
          // Fallbacks are the first usable nodes after the primaries in the extended order.
          const extended = [...walkOrder(ring, ring.ownerIndex(hash), nodes, true)].map((m) => ring.nodeIdAt(m));
          const expectedFallbacks = extended.slice(prim.length).filter(up).slice(0, prim.filter((p) => !up(p)).length);
          expect(list.filter((e) => !e.primary).map((e) => e.nodeId)).toEqual(expectedFallbacks);
        },
      ),
    );
  });

  it('every key gets min(n, nodes) distinct nodes on allocator-built rings (property)', () => {
    const rings = [grow(members(2, 1), 1, 8), grow(members(5, 2), 2, 8), grow(members(7, 3), 3, 8)];
    fc.assert(
      fc.property(fc.constantFrom(...rings), fc.integer({ min: 0, max: RING_SIZE - 1 }), fc.integer({ min: 1, max: 8 }), (ring, hash, n) => {
        const list = preferenceList(ring, hash, n);
        expect(new Set(list.map((e) => e.nodeId)).size).toBe(Math.min(n, ring.ownerCount));
        expect(list.every((e) => e.primary)).toBe(true);
      }),
    );
  });
});
