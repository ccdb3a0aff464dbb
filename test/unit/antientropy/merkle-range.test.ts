import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type RingRange,
  RING_POSITIONS,
  fitDepth,
  inRange,
  leafBounds,
  leafOf,
  rangeSize,
} from '../../../src/antientropy/merkle.js';
import { fcSeed } from '../storage/fc-seed.js';
import { posAt, rangeDepthArb } from './merkle-fixtures.js';

const TOP = RING_POSITIONS - 1;

describe('ring ranges', () => {
  it('sizes and membership follow (start, end] with wrap-around', () => {
    expect(rangeSize({ start: 10, end: 20 })).toBe(10);
    expect(rangeSize({ start: 7, end: 7 })).toBe(RING_POSITIONS);
    expect(rangeSize({ start: TOP, end: 4 })).toBe(5);
    const wrap = { start: TOP - 1, end: 1 };
    expect([TOP - 1, TOP, 0, 1, 2].map((p) => inRange(p, wrap))).toEqual([false, true, true, true, false]);
    expect(inRange(10, { start: 10, end: 20 })).toBe(false);
    expect(inRange(20, { start: 10, end: 20 })).toBe(true);
    expect(inRange(12345, { start: 9, end: 9 })).toBe(true);
  });

  it('answers +0, never -0, for the first position after a range starting at 2^32 - 1', () => {
    expect(Object.is(leafOf(0, { start: TOP, end: 5 }, 1), 0)).toBe(true);
    expect(Object.is(leafBounds(0, { start: TOP, end: TOP }, 1).end, 2 ** 31 - 1)).toBe(true);
    expect(Object.is(leafBounds(1, { start: 0, end: 0 }, 1).end, 0)).toBe(true);
  });

  it('rejects positions and bounds that are not uint32', () => {
    expect(() => inRange(-1, { start: 0, end: 1 })).toThrow(RangeError);
    expect(() => inRange(RING_POSITIONS, { start: 0, end: 1 })).toThrow(RangeError);
    expect(() => rangeSize({ start: 0.5, end: 1 })).toThrow(RangeError);
  });

  it('splits the whole ring into equal halves at depth 1', () => {
    const whole = { start: 0, end: 0 };
    expect(leafBounds(0, whole, 1)).toEqual({ start: 0, end: 2 ** 31 });
    expect(leafBounds(1, whole, 1)).toEqual({ start: 2 ** 31, end: 0 });
    expect(leafOf(1, whole, 1)).toBe(0);
    expect(leafOf(2 ** 31, whole, 1)).toBe(0);
    expect(leafOf(2 ** 31 + 1, whole, 1)).toBe(1);
    expect(leafOf(0, whole, 1)).toBe(1); // position 0 is the last one of (0, 0]
    expect(leafBounds(0, whole, 0)).toEqual(whole);
  });

  it('gives the remainder to the last leaf, tiling a small wrapping range exactly', () => {
    const range: RingRange = { start: TOP - 10, end: 26 }; // 37 positions
    const sizes = Array.from({ length: 8 }, (_, leaf) => rangeSize(leafBounds(leaf, range, 3)));
    expect(sizes).toEqual([4, 4, 4, 4, 4, 4, 4, 9]);
    for (let off = 0; off < 37; off++) {
      const pos = posAt(range, off);
      const leaf = leafOf(pos, range, 3);
      expect(inRange(pos, leafBounds(leaf, range, 3))).toBe(true);
      expect(leaf).toBe(Math.min(Math.floor(off / 4), 7));
    }
  });

  it('refuses more leaves than positions, and fitDepth finds the deepest that fits', () => {
    const range = { start: 100, end: 105 }; // 5 positions
    expect(() => leafOf(101, range, 3)).toThrow(RangeError);
    expect(fitDepth(range, 20)).toBe(2);
    expect(fitDepth({ start: 1, end: 1 }, 20)).toBe(20);
    expect(() => leafOf(100, range, 1)).toThrow(RangeError); // outside (100, 105]
    expect(() => leafBounds(4, range, 2)).toThrow(RangeError);
    expect(() => leafOf(101, range, 21)).toThrow(RangeError);
  });

  it('leafOf and leafBounds agree for random positions, ranges and depths', () => {
    const seed = fcSeed('merkle leafOf/leafBounds agree');
    fc.assert(
      fc.property(rangeDepthArb(20), fc.integer({ min: 0, max: TOP }), ({ range, depth }, offset) => {
        const pos = posAt(range, offset);
        const leaves = 2 ** depth;
        const leaf = leafOf(pos, range, depth);
        expect(leaf).toBeGreaterThanOrEqual(0);
        expect(leaf).toBeLessThan(leaves);
        const b = leafBounds(leaf, range, depth);
        expect(inRange(pos, b)).toBe(true);
        // The leaf's first and last positions map back to it; its neighbours own the next ones.
        const first = (b.start + 1) % RING_POSITIONS;
        expect(leafOf(first, range, depth)).toBe(leaf);
        expect(leafOf(b.end, range, depth)).toBe(leaf);
        if (leaf > 0) expect(leafOf(b.start, range, depth)).toBe(leaf - 1);
        if (leaf < leaves - 1) expect(leafOf((b.end + 1) % RING_POSITIONS, range, depth)).toBe(leaf + 1);
        // Width: floor(size / leaves), the last leaf taking fewer than `leaves` extra positions.
        const width = Math.floor(rangeSize(range) / leaves);
        const size = rangeSize(b);
        if (leaf < leaves - 1) expect(size).toBe(width);
        else expect(size - width).toBeLessThan(leaves);
        // Leaves tile the range: the first starts at the range start, the last ends at its end.
        expect(leafBounds(0, range, depth).start).toBe(range.start);
        expect(leafBounds(leaves - 1, range, depth).end).toBe(range.end);
      }),
      { seed, numRuns: 2000 },
    );
  });
});
