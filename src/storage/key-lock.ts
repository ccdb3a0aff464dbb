/**
 * KeyLock serialises async critical sections per key (a read-modify-write of one record).
 * Sections on different keys run concurrently. withKeys takes several keys in sorted order,
 * so two callers never wait on each other in a cycle.
 *
 * Fairness: waiters for a key get it in the order they asked; a release hands the key straight
 * to the next waiter. An uncontended acquisition allocates nothing but the map entry (it runs
 * on every write and every cache-missing read).
 */
export class KeyLock {
  /** held maps a held key to its waiters (null: held, nobody waiting); absent keys are free. */
  private readonly held = new Map<string, Array<() => void> | null>();

  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const wait = this.acquire(key);
    if (wait) await wait;
    try {
      return await fn();
    } finally {
      this.release(key);
    }
  }

  async withKeys<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    if (keys.length === 1) return this.with(keys[0], fn);
    const unique = [...new Set(keys)].sort();
    let taken = 0;
    try {
      for (const k of unique) {
        const wait = this.acquire(k);
        if (wait) await wait;
        taken++;
      }
      return await fn();
    } finally {
      for (let i = 0; i < taken; i++) this.release(unique[i]);
    }
  }

  /** acquire takes key now (undefined) or returns a promise resolved once it is handed over. */
  private acquire(key: string): Promise<void> | undefined {
    const waiters = this.held.get(key);
    if (waiters === undefined) {
      this.held.set(key, null);
      return undefined;
    }
    return new Promise<void>((resolve) => {
      if (waiters === null) this.held.set(key, [resolve]);
      else waiters.push(resolve);
    });
  }

  /** release hands key to its next waiter, or frees it. */
  private release(key: string): void {
    const waiters = this.held.get(key);
    const next = waiters?.shift();
    if (next) {
      if (waiters!.length === 0) this.held.set(key, null);
      next();
    } else this.held.delete(key);
  }
}
