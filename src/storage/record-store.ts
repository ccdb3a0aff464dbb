import { DkvError } from '../errors.js';
import type { Clock } from '../time/clock.js';
import type { FsyncMode } from '../node/config.js';
import type { Dot } from '../versioning/dvv.js';
import { digest, sameVersions, sync, type Version } from '../versioning/siblings.js';
import { hashKey } from '../ring/hash.js';
import { isStorageError, type BatchOp, type StorageEngine } from './engine.js';
import { GroupCommitter } from './group-commit.js';
import { HotCache, cacheKeyOf } from './hot-cache.js';
import { KeyLock } from './key-lock.js';
import { dataKey, keyIn, Keyspace, metaKey, rangeOf } from './keyspace.js';
import { decodeRecord, encodeRecord } from './record-codec.js';

export interface RecordStoreOptions {
  fsync: FsyncMode;
  fsyncWindowMs: number;
  /** cacheBytes is the hot-key cache budget; 0 disables it. */
  cacheBytes: number;
}

/**
 * ChangeSink receives every change to a key's record, inside the batch that makes it (the
 * watch module's change log implements it): append returns the ops to add to the batch and a
 * token; publish is called with the tokens of a batch once it committed.
 */
export interface ChangeSink {
  /** record, when given, is encodeRecord(versions) already made for the same batch (reused, not copied). */
  append(key: Buffer, versions: readonly Version[], record?: Buffer): { ops: BatchOp[]; change: unknown };
  publish(changes: unknown[]): void;
}

/** MergeEntry is incoming versions for one key. */
export interface MergeEntry {
  key: Buffer;
  versions: readonly Version[];
}

/** MergeResult is a key's record after a merge; changed says whether storage was written. */
export interface MergeResult {
  versions: Version[];
  changed: boolean;
}

/** DOT_BLOCK is how many dots are reserved per durable write of the dot ceiling. */
const DOT_BLOCK = 100_000;

/**
 * RecordStore is one node's local replica of the records it holds: the only writer of the
 * DATA keyspace. Contracts:
 * - Every change to a key is a DVV sync of the stored record with incoming versions, under
 *   that key's lock, so nothing the store holds is lost unless an incoming version covers it.
 * - One merge call is one atomic engine batch (one LevelDB batch per request), committed
 *   through the group committer (--fsync); it resolves only once durable per that mode.
 * - The hot cache never serves a record older than storage: a writer deletes the key's cache
 *   entry before writing and sets it after the batch commits, both under the key lock, and a
 *   reader fills the cache only under the key lock.
 * - Dots issued by issueDot are unique for this node id forever: the actor string carries the
 *   incarnation (a new one for every new data directory, TESTING.md T8), and the counter is
 *   node-wide and persisted in blocks before use, so a crash never reissues a dot.
 */
export class RecordStore {
  private readonly lock = new KeyLock();
  private readonly cache: HotCache<Version[]>;
  private readonly committer: GroupCommitter;
  private readonly changeListeners: Array<(key: Buffer) => void> = [];
  private sink: ChangeSink | undefined;
  private counter = 0;
  private ceiling = 0;
  private reserving: Promise<void> | undefined;
  private closed = false;
  private pendingReads: Array<{ key: Buffer; resolve: (v: Buffer | undefined) => void; reject: (e: unknown) => void }> = [];

  private constructor(
    private readonly engine: StorageEngine,
    readonly nodeId: string,
    readonly incarnation: number,
    readonly actor: string,
    opts: RecordStoreOptions,
    private readonly clock: Clock,
  ) {
    this.cache = new HotCache<Version[]>({ maxBytes: opts.cacheBytes, sizeOf: recordCost });
    this.committer = new GroupCommitter(engine, { mode: opts.fsync, windowMs: opts.fsyncWindowMs, clock });
  }

  /**
   * open opens the engine and reads (or creates) the node's identity. A directory written by
   * another node id is refused: pointing a node at someone else's data is an operator error.
   */
  static async open(engine: StorageEngine, nodeId: string, opts: RecordStoreOptions, clock: Clock): Promise<RecordStore> {
    if (engine.state !== 'open') await engine.open();
    const storedId = await engine.get(metaKey('node-id'));
    if (storedId && storedId.toString('utf8') !== nodeId) {
      await engine.close();
      throw new DkvError('FAILED_PRECONDITION', `data directory belongs to node ${JSON.stringify(storedId.toString('utf8'))}, not ${JSON.stringify(nodeId)}`);
    }
    let incarnation = readUint(await engine.get(metaKey('incarnation')));
    const fresh = incarnation === undefined;
    if (incarnation === undefined) {
      // A new directory: a new incarnation. Wall-clock milliseconds make it larger than any
      // earlier incarnation of this node id without asking anyone (kv679, TESTING.md T8).
      incarnation = Math.max(1, Math.floor(clock.now()));
      await engine.write(
        [
          { type: 'put', key: metaKey('node-id'), value: Buffer.from(nodeId, 'utf8') },
          { type: 'put', key: metaKey('incarnation'), value: writeUint(incarnation) },
        ],
        { sync: true },
      );
    }
    const store = new RecordStore(engine, nodeId, incarnation, `${nodeId}#${incarnation.toString(36)}`, opts, clock);
    store.counter = fresh ? 0 : (readUint(await engine.get(metaKey('dot-ceiling'))) ?? 0);
    store.ceiling = store.counter;
    await store.reserveDots();
    return store;
  }

  /**
   * nextCounter returns a node-wide counter value never returned before by this node id's
   * current incarnation: the floor for the next dot, and a unique epoch for one-off actors.
   */
  async nextCounter(): Promise<number> {
    if (this.counter + 1 >= this.ceiling) await this.reserveDots();
    else if (this.counter + DOT_BLOCK / 2 >= this.ceiling && !this.reserving) void this.reserveDots().catch(() => undefined);
    return ++this.counter;
  }

  /** issueDot returns a dot of this node's main actor never issued before. */
  async issueDot(): Promise<Dot> {
    return { actor: this.actor, counter: await this.nextCounter() };
  }

  /**
   * update is a coordinator's read-modify-write of one key under its lock: fn sees the stored
   * versions and returns the new record, which is stored (one batch) and returned. Holding the
   * lock across fn is what makes a coordinator's shipped record contain every dot it issued
   * for the key before (concurrent writes through one node are serialised here).
   */
  async update(key: Buffer, fn: (local: Version[]) => Promise<Version[]> | Version[]): Promise<Version[]> {
    if (this.closed) throw new DkvError('NOT_SERVING', 'the node is shutting down');
    const ck = cacheKeyOf(key);
    return this.lock.with(ck, async () => {
      const local = await this.readLocked(key, ck);
      const next = await fn(local);
      const ops = recordOps(key, local, next);
      const changes: unknown[] = [];
      this.logged(ops, key, next, changes, ops[0].type === 'put' ? ops[0].value : undefined);
      this.cache.delete(ck);
      await this.wrap(() => this.committer.write(ops));
      this.cache.set(ck, next);
      this.changed(key);
      this.sink?.publish(changes);
      return next;
    });
  }

  private reserveDots(): Promise<void> {
    this.reserving ??= (async () => {
      try {
        const next = Math.max(this.ceiling, this.counter) + DOT_BLOCK;
        await this.engine.write([{ type: 'put', key: metaKey('dot-ceiling'), value: writeUint(next) }], { sync: true });
        this.ceiling = next;
      } finally {
        this.reserving = undefined;
      }
    })();
    return this.reserving;
  }

  /** setChangeSink makes every record change also append to sink, in the same batch (undefined: no longer). */
  setChangeSink(sink: ChangeSink | undefined): void {
    this.sink = sink;
  }

  /** logged adds the change-log ops of a record change to a batch. */
  private logged(ops: BatchOp[], key: Buffer, next: readonly Version[], changes: unknown[], record?: Buffer): void {
    if (!this.sink) return;
    const a = this.sink.append(key, next, record);
    ops.push(...a.ops);
    changes.push(a.change);
  }

  /** onChange registers fn to run after any key's record changed in storage (Merkle trees, watch). */
  onChange(fn: (key: Buffer) => void): void {
    this.changeListeners.push(fn);
  }

  private changed(key: Buffer): void {
    for (const fn of this.changeListeners) fn(key);
  }

  /** read returns the key's stored versions (tombstones and expired ones included). */
  async read(key: Buffer): Promise<Version[]> {
    const ck = cacheKeyOf(key);
    const hit = this.cache.get(ck);
    if (hit) return hit;
    return this.lock.with(ck, () => this.readLocked(key, ck));
  }

  /** readMany reads several keys (one engine round trip for the misses). */
  async readMany(keys: Buffer[]): Promise<Version[][]> {
    return Promise.all(keys.map((k) => this.read(k)));
  }

  private async readLocked(key: Buffer, ck: string): Promise<Version[]> {
    const cached = this.cache.get(ck);
    if (cached) return cached;
    const raw = await this.wrap(() => this.readCoalesced(dataKey(key)));
    const versions = raw ? decodeRecord(raw) : [];
    this.cache.set(ck, versions);
    return versions;
  }

  /**
   * readCoalesced reads one engine key, sharing one getMany with every other read requested
   * before the microtask it queued runs (concurrent requests for new keys each miss the cache:
   * one engine call instead of one each). A caller holds its key's lock, so no write to that
   * key can commit between its request and the shared read. An engine failure fails every
   * read of the group.
   */
  private readCoalesced(key: Buffer): Promise<Buffer | undefined> {
    return new Promise((resolve, reject) => {
      this.pendingReads.push({ key, resolve, reject });
      if (this.pendingReads.length > 1) return;
      queueMicrotask(() => {
        const group = this.pendingReads;
        this.pendingReads = [];
        let p: Promise<(Buffer | undefined)[]>;
        try {
          p = group.length === 1 ? this.engine.get(group[0].key).then((v) => [v]) : this.engine.getMany(group.map((r) => r.key));
        } catch (e) {
          p = Promise.reject(e);
        }
        p.then(
          (values) => group.forEach((r, i) => r.resolve(values[i])),
          (e: unknown) => group.forEach((r) => r.reject(e)),
        );
      });
    });
  }

  /**
   * readAllLocked returns the stored versions of every key (by cache key), the cached ones
   * from the cache and the rest from one engine getMany, caching what it read. The caller
   * holds the lock of every key.
   */
  private async readAllLocked(keys: readonly Buffer[], cks: readonly string[]): Promise<Map<string, Version[]>> {
    const out = new Map<string, Version[]>();
    const missKeys: Buffer[] = [];
    const missCks: string[] = [];
    const missing = new Set<string>();
    for (let i = 0; i < keys.length; i++) {
      if (out.has(cks[i]) || missing.has(cks[i])) continue;
      const cached = this.cache.get(cks[i]);
      if (cached) out.set(cks[i], cached);
      else {
        missKeys.push(dataKey(keys[i]));
        missCks.push(cks[i]);
        missing.add(cks[i]);
      }
    }
    if (missKeys.length === 0) return out;
    const raws = missKeys.length === 1 ? [await this.wrap(() => this.engine.get(missKeys[0]))] : await this.wrap(() => this.engine.getMany(missKeys));
    for (let i = 0; i < missCks.length; i++) {
      const versions = raws[i] ? decodeRecord(raws[i]!) : [];
      this.cache.set(missCks[i], versions);
      out.set(missCks[i], versions);
    }
    return out;
  }

  /**
   * merge syncs incoming versions into the stored records of their keys, as one atomic batch.
   * Results are in entry order. Entries for the same key are merged in order.
   */
  async merge(entries: readonly MergeEntry[]): Promise<MergeResult[]> {
    if (this.closed) throw new DkvError('NOT_SERVING', 'the node is shutting down');
    const cks = entries.map((e) => cacheKeyOf(e.key));
    return this.lock.withKeys(cks, async () => {
      const current = new Map<string, Version[]>();
      const results: MergeResult[] = [];
      const ops: BatchOp[] = [];
      const dirty = new Set<string>();
      const changes: unknown[] = [];
      const encoded: (Buffer | undefined)[] = [];
      // Every stored record this merge needs, read up front: cache hits, then the misses in
      // one engine call (one snapshot and one trip to the thread pool instead of one each;
      // LevelDB takes its mutex on the event loop thread for every read's snapshot).
      const stored = await this.readAllLocked(entries.map((e) => e.key), cks);
      for (let i = 0; i < entries.length; i++) {
        const ck = cks[i];
        const local = current.get(ck) ?? stored.get(ck)!;
        const merged = sync(local, entries[i].versions);
        const changed = !sameVersions(local, merged);
        current.set(ck, merged);
        results.push({ versions: merged, changed });
        if (!changed) continue;
        dirty.add(ck);
        const rops = recordOps(entries[i].key, local, merged);
        encoded[i] = rops[0].type === 'put' ? rops[0].value : undefined;
        for (const op of rops) ops.push(op);
      }
      if (ops.length === 0) return results;
      // Change-log entries get their sequence numbers here, with no await before the write,
      // so log order is commit order (the group committer commits in call order).
      // A key merged twice in one call is logged twice with its final record: encoded[i] is
      // only reused when it is that final record (the last entry for the key).
      for (let i = 0; i < entries.length; i++) {
        if (!results[i].changed) continue;
        const final = current.get(cks[i])!;
        this.logged(ops, entries[i].key, final, changes, results[i].versions === final ? encoded[i] : undefined);
      }
      for (const ck of dirty) this.cache.delete(ck);
      await this.wrap(() => this.committer.write(ops));
      for (const ck of dirty) this.cache.set(ck, current.get(ck)!);
      for (let i = 0; i < entries.length; i++) if (results[i].changed) this.changed(entries[i].key);
      this.sink?.publish(changes);
      return results;
    });
  }

  /**
   * sweepExpired turns versions whose TTL passed into tombstones (dropping their value bytes)
   * for up to `limit` due index entries. A tombstone rather than a purge keeps the version's
   * causal past, so an older value it replaced can never come back from a stale replica.
   * Returns the number of versions expired.
   */
  async sweepExpired(limit = 1_000): Promise<number> {
    const now = this.clock.now();
    const due: Buffer[] = [];
    for await (const k of this.engine.iterateKeys({ ...rangeOf(Keyspace.Expiry), lt: expiryKey(now + 1, EMPTY), limit })) due.push(k);
    let expired = 0;
    for (const ik of due) {
      const key = ik.subarray(9);
      const ck = cacheKeyOf(key);
      await this.lock.with(ck, async () => {
        const local = await this.readLocked(key, ck);
        let n = 0;
        const next = local.map((v) => {
          if (v.tombstone || v.expiresAtMs === 0 || v.expiresAtMs > now) return v;
          n++;
          return { ...v, value: EMPTY, tombstone: true };
        });
        const ops: BatchOp[] = [{ type: 'del', key: ik }];
        const changes: unknown[] = [];
        if (n > 0) {
          ops.push(...recordOps(key, local, next));
          this.logged(ops, key, next, changes);
        }
        this.cache.delete(ck);
        await this.wrap(() => this.committer.write(ops));
        this.cache.set(ck, next);
        if (n > 0) this.changed(key);
        this.sink?.publish(changes);
        expired += n;
      });
    }
    return expired;
  }

  /**
   * tombstonesDeadBefore lists keys whose records became all tombstones before `beforeMs`
   * (from the tombstone index), with the index entry to drop once handled.
   */
  async tombstonesDeadBefore(beforeMs: number, limit: number): Promise<Array<{ key: Buffer; indexKey: Buffer }>> {
    const out: Array<{ key: Buffer; indexKey: Buffer }> = [];
    for await (const k of this.engine.iterateKeys({ gte: tombstoneKey(0, EMPTY), lt: tombstoneKey(beforeMs, EMPTY), limit })) out.push({ key: Buffer.from(k.subarray(9)), indexKey: k });
    return out;
  }

  /**
   * purge deletes a key's record, digest and tombstone index entry in one batch, but only if
   * the record still equals `expected` (nothing was written meanwhile). The caller has
   * established that purging is safe (safe deletes: grace passed and all replicas hold it).
   */
  async purge(key: Buffer, expected: readonly Version[], indexKey: Buffer): Promise<boolean> {
    const ck = cacheKeyOf(key);
    return this.lock.with(ck, async () => {
      const local = await this.readLocked(key, ck);
      if (!sameVersions(local, expected)) return false;
      this.cache.delete(ck);
      await this.wrap(() =>
        this.committer.write([
          { type: 'del', key: dataKey(key) },
          { type: 'del', key: digestKey(hashKey(key), key) },
          { type: 'del', key: indexKey },
        ]),
      );
      this.changed(key);
      return true;
    });
  }

  /** drop deletes a key's record and digest (cleanup of a range this node no longer replicates). */
  async drop(key: Buffer): Promise<boolean> {
    const ck = cacheKeyOf(key);
    return this.lock.with(ck, async () => {
      this.cache.delete(ck);
      await this.wrap(() => this.committer.write([{ type: 'del', key: dataKey(key) }, { type: 'del', key: digestKey(hashKey(key), key) }]));
      this.changed(key);
      return true;
    });
  }

  /** dropIndexEntry removes a stale tombstone index entry (the key was written again). */
  async dropIndexEntry(indexKey: Buffer): Promise<void> {
    await this.commit([{ type: 'del', key: indexKey }]);
  }

  /**
   * commit writes a batch of another keyspace's ops (hints, change log) through the same
   * group committer, so they share fsyncs with record writes; errors are domain errors.
   */
  async commit(ops: BatchOp[]): Promise<void> {
    await this.wrap(() => this.committer.write(ops));
  }

  /** iterateRaw reads another keyspace's entries (the caller owns that keyspace's layout). */
  iterateRaw(range: { gte?: Buffer; lt?: Buffer; limit?: number; reverse?: boolean }): AsyncIterableIterator<[Buffer, Buffer]> {
    return this.engine.iterate(range);
  }

  /** getRaw reads one entry of another keyspace. */
  async getRaw(key: Buffer): Promise<Buffer | undefined> {
    return this.wrap(() => this.engine.get(key));
  }

  /** getMeta / putMeta store small node-level values (membership state) durably. */
  async getMeta(name: string): Promise<Buffer | undefined> {
    return this.wrap(() => this.engine.get(metaKey(name)));
  }
  async putMeta(name: string, value: Buffer): Promise<void> {
    await this.wrap(() => this.engine.write([{ type: 'put', key: metaKey(name), value }], { sync: true }));
  }

  stats() {
    return { cache: this.cache.stats(), commit: this.committer.stats(), engine: this.engine.stats(), dotsIssued: this.counter };
  }

  async approximateDiskBytes(): Promise<number> {
    return this.engine.approximateSize({});
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.engine.close();
  }

  /** wrap turns storage failures into domain errors that say whether anything was stored. */
  private async wrap<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (isStorageError(e, 'STORAGE_FULL')) throw new DkvError('STORAGE_FULL', `disk full on ${this.nodeId}: the write was not stored (${e.message})`, {}, { cause: e });
      if (isStorageError(e, 'STORAGE_CLOSED')) throw new DkvError('NOT_SERVING', `${this.nodeId} is shutting down`, {}, { cause: e });
      if (isStorageError(e)) throw new DkvError('STORAGE_ERROR', `storage error on ${this.nodeId}: ${e.message}`, {}, { cause: e });
      throw e;
    }
  }
}

const EMPTY = Buffer.alloc(0);

/**
 * isPurgeable says whether a record is all tombstones dead for longer than the grace period:
 * such a record is equivalent to absence for repair (read repair and anti-entropy never copy
 * it to a replica that lacks the key, or purged replicas would get it back forever).
 */
export function isPurgeable(versions: readonly Version[], nowMs: number, graceMs: number): boolean {
  return versions.length > 0 && versions.every((v) => v.tombstone) && deadSince(versions) < nowMs - graceMs;
}

/** deadSince is when an all-tombstone record died: its newest delete or expiry. */
export function deadSince(versions: readonly Version[]): number {
  return Math.max(0, ...versions.map((v) => Math.max(v.writtenAtMs, v.expiresAtMs)));
}

/** digestKey is the Merkle index entry of a key: keyspace byte, ring position (4 bytes BE), user key. */
export function digestKey(pos: number, key: Buffer): Buffer {
  const suffix = Buffer.allocUnsafe(4 + key.length);
  suffix.writeUInt32BE(pos >>> 0, 0);
  key.copy(suffix, 4);
  return keyIn(Keyspace.Digest, suffix);
}

/** tombstoneKey is the tombstone index entry: keyspace byte, newest delete time (8 bytes BE), user key. */
function tombstoneKey(atMs: number, key: Buffer): Buffer {
  const suffix = Buffer.allocUnsafe(8 + key.length);
  suffix.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(atMs))), 0);
  key.copy(suffix, 8);
  return keyIn(Keyspace.Tombstone, suffix);
}

/** expiryKey is the TTL index entry: keyspace byte, expiry as 8-byte big-endian ms, user key. */
function expiryKey(expiresAtMs: number, key: Buffer): Buffer {
  const suffix = Buffer.allocUnsafe(8 + key.length);
  suffix.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(expiresAtMs))), 0);
  key.copy(suffix, 8);
  return keyIn(Keyspace.Expiry, suffix);
}

/**
 * recordOps stores a key's new record, its digest in the Merkle index (same batch, so the
 * index never disagrees with the data), a TTL index entry for each new expiring version, and
 * a tombstone index entry when the record has become all tombstones. The record's put is
 * always ops[0] (callers reuse its encoded value for the change log).
 */
function recordOps(key: Buffer, local: readonly Version[], next: readonly Version[]): BatchOp[] {
  const ops: BatchOp[] = [
    { type: 'put', key: dataKey(key), value: encodeRecord(next) },
    { type: 'put', key: digestKey(hashKey(key), key), value: digest(next) },
  ];
  if (next.length > 0 && next.every((v) => v.tombstone) && !sameVersions(local, next)) {
    ops.push({ type: 'put', key: tombstoneKey(deadSince(next), key), value: EMPTY });
  }
  for (const v of next) {
    if (v.expiresAtMs === 0 || v.tombstone) continue;
    if (local.some((l) => l.dot.actor === v.dot.actor && l.dot.counter === v.dot.counter)) continue;
    ops.push({ type: 'put', key: expiryKey(v.expiresAtMs, key), value: EMPTY });
  }
  return ops;
}


/**
 * recordCost is about the memory a cached record keeps alive, so that the hot cache's budget
 * is real memory. Calibrated with 50,000 decoded one-version records (16-byte keys, one past
 * entry) under --expose-gc: heap + array buffers per entry were 1,124 B for a 100-byte value,
 * 2,160 B for 1 KiB and 11,097 B for 10 KiB; this gives 1,380, 2,304 and 11,264. The old
 * estimate (308, 1,232, 10,448) let a 64 MiB budget hold about 160 MB at 1 KiB values and
 * 5.7 times its budget at 100-byte values. Values under 4 KiB live in Node's shared 8 KiB
 * buffer pool, whose slabs carry other allocations' slack: about 320 B per value.
 */
function recordCost(vs: Version[]): number {
  let n = 256;
  for (const v of vs) n += 640 + v.past.size * 64 + v.value.length + (v.value.length < 4096 ? 320 : 64);
  return n;
}

function readUint(b: Buffer | undefined): number | undefined {
  return b && b.length === 8 ? Number(b.readBigUInt64BE(0)) : undefined;
}

function writeUint(n: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(n), 0);
  return b;
}
