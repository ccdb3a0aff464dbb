/** CoalescerOptions tune a Coalescer; every field has a default. */
export interface CoalescerOptions<Item> {
  /** maxItems sends a batch at once when it holds this many items, whatever is in flight (default 128). */
  maxItems?: number;
  /**
   * maxInFlight is how many flushes of one key may run at a time (default 1). While that many
   * run, new items wait in the key's open batch, which is sent as soon as one finishes: under
   * load a batch collects everything added during a round trip instead of one event-loop
   * turn's worth, so the number of calls per item falls as the load grows.
   */
  maxInFlight?: number;
  /**
   * expired is asked about each item when its batch is sent; an item it returns an error for
   * (one that waited past its deadline) is rejected with that error and left out of the flush.
   */
  expired?: (item: Item) => Error | undefined;
}

interface Waiter<Result> {
  resolve: (r: Result) => void;
  reject: (e: unknown) => void;
}

interface Batch<Item, Result> {
  items: Item[];
  waiters: Waiter<Result>[];
  /** scheduled is set once a send of this batch is queued (setImmediate). */
  scheduled: boolean;
}

/**
 * Coalescer merges the calls made to the same destination into one (etcd's throughput comes
 * from the same batching). Contract, per key:
 * - add() joins the key's open batch. The batch is sent after the current I/O phase
 *   (setImmediate), so calls made in the same event-loop turn travel together; if maxInFlight
 *   flushes of the key are running then, it is sent after the next of them finishes instead.
 *   A batch reaching maxItems is sent at once.
 * - Batches of a key are sent in the order their first items were added; flush gets the items
 *   in call order and returns one result per item; if it throws or rejects, every caller in
 *   that batch gets the error. Items expired() refuses at send time are rejected alone.
 * - No timer other than setImmediate: an item waits at most for the running flushes of its
 *   key to finish (each bounded by the caller's own deadline, see grpc-transport.ts).
 */
export class Coalescer<Item, Result> {
  private readonly open = new Map<string, Batch<Item, Result>>();
  private readonly running = new Map<string, number>();
  private readonly maxItems: number;
  private readonly maxInFlight: number;
  private readonly expired?: (item: Item) => Error | undefined;

  constructor(
    private readonly flush: (key: string, items: Item[]) => Promise<Result[]>,
    opts: CoalescerOptions<Item> = {},
  ) {
    this.maxItems = opts.maxItems ?? 128;
    this.maxInFlight = opts.maxInFlight ?? 1;
    this.expired = opts.expired;
    if (!(this.maxItems >= 1) || !(this.maxInFlight >= 1)) throw new RangeError('Coalescer: maxItems and maxInFlight must be >= 1');
  }

  add(key: string, item: Item): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      let b = this.open.get(key);
      if (!b) {
        b = { items: [], waiters: [], scheduled: false };
        this.open.set(key, b);
      }
      b.items.push(item);
      b.waiters.push({ resolve, reject });
      if (b.items.length >= this.maxItems) this.send(key, b);
      else this.schedule(key, b);
    });
  }

  /** inFlight is how many flushes of key are running (for tests and stats). */
  inFlight(key: string): number {
    return this.running.get(key) ?? 0;
  }

  private schedule(key: string, b: Batch<Item, Result>): void {
    if (b.scheduled || this.inFlight(key) >= this.maxInFlight) return;
    b.scheduled = true;
    setImmediate(() => this.send(key, b));
  }

  private send(key: string, b: Batch<Item, Result>): void {
    if (this.open.get(key) !== b) return; // already sent (it reached maxItems)
    this.open.delete(key);
    const items: Item[] = [];
    const waiters: Waiter<Result>[] = [];
    for (let i = 0; i < b.items.length; i++) {
      const err = this.expired?.(b.items[i]);
      if (err) b.waiters[i].reject(err);
      else {
        items.push(b.items[i]);
        waiters.push(b.waiters[i]);
      }
    }
    if (items.length === 0) return;
    this.running.set(key, this.inFlight(key) + 1);
    let p: Promise<Result[]>;
    try {
      p = this.flush(key, items);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (results) => waiters.forEach((w, i) => w.resolve(results[i])),
      (e) => waiters.forEach((w) => w.reject(e)),
    ).finally(() => {
      const n = this.inFlight(key) - 1;
      if (n > 0) this.running.set(key, n);
      else this.running.delete(key);
      const next = this.open.get(key);
      if (next) this.schedule(key, next);
    });
  }
}
