/**
 * KeyLock serialises async critical sections per key (a read-modify-write of one record).
 * Sections on different keys run concurrently. withKeys takes several keys in sorted order,
 * so two callers never wait on each other in a cycle.
 */
export class KeyLock {
  private readonly tails = new Map<string, Promise<void>>();

  async with<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.withKeys([key], fn);
  }

  async withKeys<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const unique = [...new Set(keys)].sort();
    const releases: Array<() => void> = [];
    try {
      for (const k of unique) releases.push(await this.acquire(k));
      return await fn();
    } finally {
      for (const r of releases) r();
    }
  }

  private async acquire(key: string): Promise<() => void> {
    const prev = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = prev ? prev.then(() => mine) : mine;
    this.tails.set(key, tail);
    if (prev) await prev;
    return () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}
