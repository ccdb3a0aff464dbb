/**
 * Coalescer merges the calls made to the same destination in the same event-loop turn into
 * one (etcd's throughput comes from the same batching): the first call for a key schedules a
 * flush after the current I/O phase (setImmediate); calls made before it run join the batch.
 * A batch is also flushed at once when it reaches maxItems. flush gets the items in call
 * order and returns one result per item; if it throws, every caller in the batch gets that
 * error.
 */
export class Coalescer<Item, Result> {
  private readonly pending = new Map<string, { items: Item[]; waiters: Array<{ resolve: (r: Result) => void; reject: (e: unknown) => void }> }>();

  constructor(
    private readonly flush: (key: string, items: Item[]) => Promise<Result[]>,
    private readonly maxItems = 128,
  ) {}

  add(key: string, item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      let b = this.pending.get(key);
      if (!b) {
        b = { items: [], waiters: [] };
        this.pending.set(key, b);
        setImmediate(() => this.run(key, b!));
      }
      b.items.push(item);
      b.waiters.push({ resolve, reject });
      if (b.items.length >= this.maxItems) this.run(key, b);
    });
  }

  private run(key: string, b: { items: Item[]; waiters: Array<{ resolve: (r: Result) => void; reject: (e: unknown) => void }> }): void {
    if (this.pending.get(key) !== b) return;
    this.pending.delete(key);
    this.flush(key, b.items).then(
      (results) => b.waiters.forEach((w, i) => w.resolve(results[i])),
      (e) => b.waiters.forEach((w) => w.reject(e)),
    );
  }
}
