import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../../src/transport/coalescer.js';

describe('Coalescer', () => {
  it('merges the calls of one turn per key into one flush, in call order, and answers each caller', async () => {
    const flushes: Array<[string, number[]]> = [];
    const c = new Coalescer<number, number>(async (key, items) => {
      flushes.push([key, items]);
      return items.map((x) => x * 10);
    });
    const results = await Promise.all([c.add('a', 1), c.add('b', 2), c.add('a', 3)]);
    expect(results).toEqual([10, 20, 30]);
    expect(flushes).toEqual([
      ['a', [1, 3]],
      ['b', [2]],
    ]);
    expect(await c.add('a', 4)).toBe(40);
    expect(flushes).toHaveLength(3);
  });

  it('flushes at maxItems without waiting, and gives every caller of a failed flush the error', async () => {
    let flushed = 0;
    const c = new Coalescer<number, void>(async (_, items) => {
      flushed++;
      if (items.includes(99)) throw new Error('peer down');
      return items.map(() => undefined);
    }, 2);
    const first = [c.add('k', 1), c.add('k', 2)];
    expect(flushed).toBe(1);
    await Promise.all(first);
    const failing = [c.add('k', 99), c.add('k', 5)];
    for (const p of failing) await expect(p).rejects.toThrow('peer down');
  });
});
