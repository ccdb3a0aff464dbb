/**
 * HotCache: a byte-budgeted LRU for hot records, in front of the storage engine.
 *
 * Contract:
 *   - It is a dumb cache. It never reads or writes storage and knows nothing about versions.
 *     Consistency is the caller's job. The record store keeps it coherent like this, under
 *     its per-key lock: delete(key) BEFORE writing to storage, set(key, v) only AFTER the
 *     write has committed (and never on a failed write); reads that miss may set() what they
 *     read only if no write to that key started meanwhile (the per-key lock gives that).
 *   - Budget: the cost of an entry is key length (in UTF-16 code units of its string form,
 *     which equals bytes for Buffer keys) + sizeOf(value). The sum of costs never exceeds
 *     maxBytes, after every call. An entry whose cost exceeds maxBytes / 8 is refused: set()
 *     then removes any older entry for that key (so a stale value never survives) and
 *     returns false.
 *   - Keys: a string, or a Buffer, which is keyed by its latin1 string (one char per byte, a
 *     bijection). A string and a Buffer with the same latin1 form are the same key; use one
 *     kind per cache.
 *   - LRU: get() hit and set() make the entry most recent; eviction removes least recent
 *     first. has() and peek() do not touch recency. All operations are O(1) (a Map keeps
 *     insertion order: deleting and re-inserting moves an entry to the end).
 *   - sizeOf must be pure: the cost computed at set() is the one released at removal.
 */

/** CacheKey is what callers pass as a key. */
export type CacheKey = string | Buffer;

/** HotCacheOptions configures a HotCache. */
export interface HotCacheOptions<V> {
  /** maxBytes is the byte budget (>= 0). 0 disables caching. */
  maxBytes: number;
  /** sizeOf returns the bytes a value costs (>= 0, finite). */
  sizeOf: (v: V) => number;
}

/** HotCacheStats: counters since construction (or the last resetCounters), plus occupancy. */
export interface HotCacheStats {
  hits: number;
  misses: number;
  /** bytes is the current total cost; entries the current count. */
  bytes: number;
  entries: number;
  /** evictions counts entries removed to make room (not delete() or clear()). */
  evictions: number;
  /** refused counts set() calls rejected as oversize. */
  refused: number;
  maxBytes: number;
}

interface Slot<V> {
  value: V;
  cost: number;
}

/** cacheKeyOf is the internal string form of a key. */
export function cacheKeyOf(key: CacheKey): string {
  return typeof key === 'string' ? key : key.toString('latin1');
}

export class HotCache<V> {
  readonly maxBytes: number;
  private readonly sizeOf: (v: V) => number;
  private readonly map = new Map<string, Slot<V>>();
  private bytes = 0;
  private hits = 0;
  private misses = 0;
  private evictions = 0;
  private refused = 0;

  constructor(opts: HotCacheOptions<V>) {
    if (!(Number.isFinite(opts.maxBytes) && opts.maxBytes >= 0)) {
      throw new RangeError(`HotCache maxBytes must be a finite number >= 0, got ${opts.maxBytes}`);
    }
    this.maxBytes = opts.maxBytes;
    this.sizeOf = opts.sizeOf;
  }

  /** get returns the value and marks it most recent, or undefined (a miss). */
  get(key: CacheKey): V | undefined {
    const k = cacheKeyOf(key);
    const slot = this.map.get(k);
    if (slot === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.map.delete(k);
    this.map.set(k, slot);
    return slot.value;
  }

  /** peek returns the value without touching recency or counters. */
  peek(key: CacheKey): V | undefined {
    return this.map.get(cacheKeyOf(key))?.value;
  }

  /** has tells whether key is cached, without touching recency or counters. */
  has(key: CacheKey): boolean {
    return this.map.has(cacheKeyOf(key));
  }

  /**
   * set stores value as most recent, evicting least-recent entries to fit. Returns false (and
   * drops any older entry for key) when the entry is oversize; see the header.
   */
  set(key: CacheKey, value: V): boolean {
    const k = cacheKeyOf(key);
    this.remove(k);
    const size = this.sizeOf(value);
    if (!(Number.isFinite(size) && size >= 0)) throw new RangeError(`HotCache sizeOf returned ${size}`);
    const cost = k.length + size;
    if (cost > this.maxBytes / 8) {
      this.refused++;
      return false;
    }
    while (this.bytes + cost > this.maxBytes) {
      const oldest = this.map.keys().next();
      if (oldest.done) break;
      this.remove(oldest.value);
      this.evictions++;
    }
    this.map.set(k, { value, cost });
    this.bytes += cost;
    return true;
  }

  /** delete removes key; returns whether it was cached. */
  delete(key: CacheKey): boolean {
    return this.remove(cacheKeyOf(key));
  }

  /** clear removes every entry (counters other than bytes/entries are kept). */
  clear(): void {
    this.map.clear();
    this.bytes = 0;
  }

  /** size is the number of entries. */
  get size(): number {
    return this.map.size;
  }

  /** keys lists cached keys (string form) from least to most recent; for tests and debugging. */
  keys(): string[] {
    return [...this.map.keys()];
  }

  stats(): HotCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      bytes: this.bytes,
      entries: this.map.size,
      evictions: this.evictions,
      refused: this.refused,
      maxBytes: this.maxBytes,
    };
  }

  /** resetCounters zeroes hits, misses, evictions and refused. */
  resetCounters(): void {
    this.hits = this.misses = this.evictions = this.refused = 0;
  }

  private remove(k: string): boolean {
    const slot = this.map.get(k);
    if (slot === undefined) return false;
    this.map.delete(k);
    this.bytes -= slot.cost;
    return true;
  }
}
