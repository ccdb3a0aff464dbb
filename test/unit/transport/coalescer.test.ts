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
    }, { maxItems: 2 });
    const first = [c.add('k', 1), c.add('k', 2)];
    expect(flushed).toBe(1);
    await Promise.all(first);
    const failing = [c.add('k', 99), c.add('k', 5)];
    for (const p of failing) await expect(p).rejects.toThrow('peer down');
  });

  /** gate is a flush whose calls stay running until released one by one. */
  function gated() {
    const calls: Array<{ key: string; items: number[]; release: () => void }> = [];
    const c = new Coalescer<number, number>(
      (key, items) => new Promise((resolve) => calls.push({ key, items, release: () => resolve(items.map((x) => -x)) })),
      { maxItems: 4, expired: (x) => (x < 0 ? new Error(`expired ${x}`) : undefined) },
    );
    return { c, calls };
  }
  const turn = () => new Promise((r) => setImmediate(r));
  /** settle lets a finished flush's bookkeeping and the next send (one setImmediate later) run. */
  const settle = async () => {
    await turn();
    await turn();
  };

  it('holds a key\'s new items while its flush runs and sends them together once it finishes', async () => {
    const { c, calls } = gated();
    const first = c.add('a', 1);
    await turn();
    expect(calls.map((x) => x.items)).toEqual([[1]]);
    expect(c.inFlight('a')).toBe(1);
    // Items of later turns wait for the running flush instead of each making a call.
    const later = [c.add('a', 2)];
    await turn();
    later.push(c.add('a', 3));
    await turn();
    const other = c.add('b', 7); // another key is not held up
    await turn();
    expect(calls.map((x) => x.items)).toEqual([[1], [7]]);
    calls[0].release();
    expect(await first).toBe(-1);
    await settle();
    expect(calls.map((x) => x.items)).toEqual([[1], [7], [2, 3]]);
    calls[1].release();
    calls[2].release();
    expect(await Promise.all([...later, other])).toEqual([-2, -3, -7]);
    expect(c.inFlight('a')).toBe(0);
  });

  it('sends a full batch at once even while a flush runs, and drops items that expired while waiting', async () => {
    const { c, calls } = gated();
    const first = c.add('a', 1);
    await turn();
    const full = [5, 6, 7, 8].map((x) => c.add('a', x));
    expect(calls.map((x) => x.items)).toEqual([[1], [5, 6, 7, 8]]);
    const stale = c.add('a', -9);
    const fresh = c.add('a', 10);
    calls[0].release();
    calls[1].release();
    await expect(stale).rejects.toThrow('expired -9');
    await Promise.all([first, ...full]);
    await settle();
    expect(calls.map((x) => x.items)).toEqual([[1], [5, 6, 7, 8], [10]]);
    calls[2].release();
    expect(await fresh).toBe(-10);
  });
});
