import { describe, expect, it } from 'vitest';
import { KeyLock } from '../../../src/storage/key-lock.js';

/** gate returns a promise and the function that resolves it. */
function gate(): [Promise<void>, () => void] {
  let open!: () => void;
  return [new Promise<void>((r) => (open = r)), open];
}

describe('KeyLock', () => {
  it('runs sections on one key one at a time, in the order they asked', async () => {
    const lock = new KeyLock();
    const log: string[] = [];
    const [g1, open1] = gate();
    const a = lock.with('k', async () => {
      log.push('a+');
      await g1;
      log.push('a-');
    });
    const b = lock.with('k', async () => void log.push('b'));
    const c = lock.withKeys(['k', 'j'], async () => void log.push('c'));
    const other = lock.with('x', async () => void log.push('x'));
    await other;
    expect(log).toEqual(['a+', 'x']);
    open1();
    await Promise.all([a, b, c]);
    expect(log).toEqual(['a+', 'x', 'a-', 'b', 'c']);
  });

  it('releases the key when a section throws, and forgets free keys', async () => {
    const lock = new KeyLock();
    await expect(lock.with('k', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(lock.withKeys(['a', 'b'], () => { throw new Error('sync'); })).rejects.toThrow('sync');
    expect(await lock.with('k', async () => 7)).toBe(7);
    expect(await lock.withKeys(['b', 'a', 'b'], async () => 8)).toBe(8);
    expect((lock as unknown as { held: Map<string, unknown> }).held.size).toBe(0);
  });

  it('never deadlocks two multi-key sections taking the same keys in different orders', async () => {
    const lock = new KeyLock();
    let inside = 0;
    let most = 0;
    const section = async () => {
      inside++;
      most = Math.max(most, inside);
      await Promise.resolve();
      inside--;
    };
    await Promise.all(Array.from({ length: 50 }, (_, i) => lock.withKeys(i % 2 ? ['a', 'b', 'c'] : ['c', 'b', 'a'], section)));
    expect(most).toBe(1);
  });
});
