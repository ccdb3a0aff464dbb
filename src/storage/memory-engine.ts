/**
 * MemoryEngine: the in-memory twin of LevelEngine, for unit tests and whole-cluster
 * simulation. Same contract (engine.ts), same conformance suite, plus fault hooks.
 *
 * Model:
 *   - A MemoryDisk plays the directory: it holds a sorted array of immutable entries and a
 *     lock. Several MemoryEngine instances may be created on one disk; only one can be open at
 *     a time (the others get STORAGE_LOCKED), and a new instance opened on the same disk sees
 *     the data, like a LevelDB reopen.
 *   - Binary search finds keys; inserts and deletes splice (O(n) moves, fine for simulation).
 *   - Iterators read a snapshot taken when iterate() is called, exactly like LevelDB's
 *     implicit snapshots. Snapshots are copy-on-write: iterate() marks the array shared and
 *     the next write clones it once (O(n)); writes with no iterator created since cost nothing.
 *   - Writes are applied synchronously inside write() (before its promise settles), so the
 *     order of write() calls is the order of application. Reads never see half a batch.
 *
 * Faults: `fault` is consulted before every operation; returning a code makes that operation
 * fail with it and change nothing. failNextWrites(n, code) is the common shortcut.
 * Crashes: crash('process') keeps everything (page cache survives kill -9), crash('power')
 * drops writes not followed by a synced write (needs trackUnsynced), crash('disk') wipes.
 */
import {
  type BatchOp,
  type KeyRange,
  type NormalRange,
  type SizeRange,
  type StorageEngine,
  type StorageErrorCode,
  type StorageState,
  type StorageStats,
  type WriteOptions,
  StorageError,
  closedError,
  countWrite,
  emptyStats,
  normalizeRange,
  validateKey,
  validateOps,
} from './engine.js';

interface Entry {
  readonly key: Buffer;
  readonly value: Buffer;
}

/** Snap is what an iterator reads: the entries at iterate() time and its range. */
type Snap = { entries: readonly Entry[]; r: NormalRange };

/** MemorySnapshot is an opaque, immutable copy of a disk's contents. */
export interface MemorySnapshot {
  readonly entries: readonly Entry[];
}

/** FaultOp describes the operation the fault hook is asked about. */
export type FaultOp =
  | { kind: 'open' }
  | { kind: 'get'; keys: readonly Buffer[] }
  | { kind: 'write'; ops: readonly BatchOp[]; sync: boolean }
  | { kind: 'iterate'; range: KeyRange }
  | { kind: 'size' };

/** CrashKind: what a crash loses (see the header). */
export type CrashKind = 'process' | 'power' | 'disk';

/** MemoryDiskOptions configures a MemoryDisk. */
export interface MemoryDiskOptions {
  /** label names the disk in stats and errors. Default 'memory'. */
  label?: string;
  /**
   * trackUnsynced keeps an undo log of writes made since the last synced write so that
   * crash('power') can drop them. Off by default: the log grows until the next synced write.
   */
  trackUnsynced?: boolean;
}

/** search is the first index whose key is >= key (strict: > key); binary search. */
function search(entries: readonly Entry[], key: Buffer, strict = false): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = Buffer.compare(entries[mid].key, key);
    if (c < 0 || (strict && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** MemoryDisk is the "directory": the data and the lock shared by engines opened on it. */
export class MemoryDisk {
  readonly label: string;
  /** holder is the engine that has the disk open, if any. */
  holder: MemoryEngine | undefined;
  private entries: Entry[] = [];
  private shared = false;
  private readonly trackUnsynced: boolean;
  private undo: { key: Buffer; prev: Entry | undefined }[] = [];

  constructor(opts: MemoryDiskOptions = {}) {
    this.label = opts.label ?? 'memory';
    this.trackUnsynced = opts.trackUnsynced === true;
  }

  /** size is the number of keys stored. */
  get size(): number {
    return this.entries.length;
  }

  /** find returns the entry for key, if present. */
  find(key: Buffer): Entry | undefined {
    const i = search(this.entries, key);
    const e = this.entries[i];
    return e !== undefined && e.key.equals(key) ? e : undefined;
  }

  /** view returns the current array and marks it shared, so later writes copy first. */
  view(): readonly Entry[] {
    this.shared = true;
    return this.entries;
  }

  /** apply runs a validated batch in order. Ops are copied. */
  apply(ops: readonly BatchOp[], sync: boolean): void {
    this.own();
    for (const op of ops) {
      const key = Buffer.from(op.key);
      const prev = this.set(key, op.type === 'put' ? { key, value: Buffer.from(op.value) } : undefined);
      if (this.trackUnsynced && !sync) this.undo.push({ key, prev });
    }
    if (sync) this.undo = [];
  }

  /** snapshot copies the contents (entries are immutable, so the array copy suffices). */
  snapshot(): MemorySnapshot {
    return { entries: this.entries.slice() };
  }

  /** restore replaces the contents with a snapshot's; the undo log is cleared. */
  restore(s: MemorySnapshot): void {
    this.entries = s.entries.slice();
    this.shared = false;
    this.undo = [];
  }

  /** loseUnsynced undoes every write made since the last synced write. */
  loseUnsynced(): void {
    if (!this.trackUnsynced) {
      throw new StorageError('STORAGE_INVALID', `disk ${this.label} was created without trackUnsynced`);
    }
    this.own();
    for (let i = this.undo.length - 1; i >= 0; i--) this.set(this.undo[i].key, this.undo[i].prev);
    this.undo = [];
  }

  /** wipe empties the disk, like losing the directory. */
  wipe(): void {
    this.restore({ entries: [] });
  }

  /** own clones the array if an iterator may still read it (copy-on-write). */
  private own(): void {
    if (this.shared) this.entries = this.entries.slice();
    this.shared = false;
  }

  /** set stores or removes (entry undefined) key in the owned array; returns the previous entry. */
  private set(key: Buffer, entry: Entry | undefined): Entry | undefined {
    const i = search(this.entries, key);
    const cur = this.entries[i];
    const found = cur !== undefined && cur.key.equals(key);
    if (entry && found) this.entries[i] = entry;
    else if (entry) this.entries.splice(i, 0, entry);
    else if (found) this.entries.splice(i, 1);
    return found ? cur : undefined;
  }
}

/** MemoryEngineOptions configures a MemoryEngine. */
export interface MemoryEngineOptions {
  /** disk is the directory to open; a fresh private disk by default. */
  disk?: MemoryDisk;
  /** fault is consulted before each operation (see the header). */
  fault?: (op: FaultOp) => StorageErrorCode | undefined;
}

export class MemoryEngine implements StorageEngine {
  readonly disk: MemoryDisk;
  /** fault may be set or replaced at any time. */
  fault: ((op: FaultOp) => StorageErrorCode | undefined) | undefined;
  private st: StorageState = 'new';
  /** epoch changes on every close so iterators from an earlier open end with STORAGE_CLOSED. */
  private epoch = 0;
  private failWrites: { n: number; code: StorageErrorCode } = { n: 0, code: 'STORAGE_IO' };
  private counters: StorageStats;

  constructor(opts: MemoryEngineOptions = {}) {
    this.disk = opts.disk ?? new MemoryDisk();
    this.fault = opts.fault;
    this.counters = emptyStats('memory', this.disk.label, 'new');
  }

  get state(): StorageState {
    return this.st;
  }

  /** failNextWrites makes the next n write() calls fail with code, applying nothing. */
  failNextWrites(n: number, code: StorageErrorCode = 'STORAGE_IO'): void {
    this.failWrites = { n, code };
  }

  async open(): Promise<void> {
    if (this.st === 'open') return;
    this.check({ kind: 'open' });
    if (this.disk.holder !== undefined && this.disk.holder !== this) {
      throw this.fail(new StorageError('STORAGE_LOCKED', `memory disk ${this.disk.label} is held by another engine`));
    }
    this.disk.holder = this;
    this.st = 'open';
  }

  async close(): Promise<void> {
    if (this.st === 'open') this.release();
    else if (this.st === 'new') this.st = 'closed';
  }

  /** crash closes the engine abruptly and applies what the crash loses to the disk. */
  crash(kind: CrashKind): void {
    if (this.st === 'open') this.release();
    if (kind === 'power') this.disk.loseUnsynced();
    if (kind === 'disk') this.disk.wipe();
  }

  /** snapshot / restore / wipe delegate to the disk (for tests that script crashes). */
  snapshot = (): MemorySnapshot => this.disk.snapshot();
  restore = (snap: MemorySnapshot): void => this.disk.restore(snap);
  wipe = (): void => this.disk.wipe();

  async get(key: Buffer): Promise<Buffer | undefined> {
    validateKey(key);
    this.ready({ kind: 'get', keys: [key] });
    this.counters.gets++;
    return this.read(key);
  }

  async getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]> {
    for (const k of keys) validateKey(k);
    this.ready({ kind: 'get', keys });
    this.counters.gets += keys.length;
    return keys.map((k) => this.read(k));
  }

  private read(key: Buffer): Buffer | undefined {
    const e = this.disk.find(key);
    return e ? Buffer.from(e.value) : undefined;
  }

  async write(ops: BatchOp[], opts: WriteOptions): Promise<void> {
    validateOps(ops);
    this.ready({ kind: 'write', ops, sync: opts.sync });
    if (this.failWrites.n > 0) {
      this.failWrites.n--;
      throw this.fail(new StorageError(this.failWrites.code, `injected write failure (${this.failWrites.code})`));
    }
    if (ops.length === 0) return;
    this.disk.apply(ops, opts.sync);
    countWrite(this.counters, ops, opts.sync);
  }

  iterate(range: KeyRange = {}): AsyncIterableIterator<[Buffer, Buffer]> {
    return this.walk(range, (e): [Buffer, Buffer] => [Buffer.from(e.key), Buffer.from(e.value)]);
  }

  iterateKeys(range: KeyRange = {}): AsyncIterableIterator<Buffer> {
    return this.walk(range, (e) => Buffer.from(e.key));
  }

  async approximateSize(range: SizeRange = {}): Promise<number> {
    this.ready({ kind: 'size' });
    const entries = this.disk.view();
    const from = range.gte ? search(entries, range.gte) : 0;
    const to = range.lt ? search(entries, range.lt) : entries.length;
    let bytes = 0;
    for (let i = from; i < to; i++) bytes += entries[i].key.length + entries[i].value.length;
    return bytes;
  }

  async compact(_range: SizeRange = {}): Promise<void> {
    this.ready({ kind: 'size' });
  }

  stats(): StorageStats {
    return { ...this.counters, state: this.st };
  }

  /**
   * walk takes the snapshot now (not at the first next()) and returns a lazy generator.
   * Errors (bad range, closed engine, injected fault) surface on the first next().
   */
  private walk<T>(range: KeyRange, map: (e: Entry) => T): AsyncIterableIterator<T> {
    let snap: Snap | undefined;
    let early: unknown;
    try {
      const r = normalizeRange(range);
      this.ready({ kind: 'iterate', range });
      this.counters.iterators++;
      snap = { entries: this.disk.view(), r };
    } catch (e) {
      early = e;
    }
    return this.generate(snap, early, this.epoch, map);
  }

  private async *generate<T>(snap: Snap | undefined, early: unknown, epoch: number, map: (e: Entry) => T): AsyncGenerator<T> {
    if (snap === undefined) throw early;
    const { entries, r } = snap;
    let lo = 0;
    let hi = entries.length;
    if (r.lower) lo = r.lower.inclusive ? search(entries, r.lower.key) : search(entries, r.lower.key, true);
    if (r.upper) hi = r.upper.inclusive ? search(entries, r.upper.key, true) : search(entries, r.upper.key);
    const count = Math.max(0, Math.min(hi - lo, r.limit ?? Infinity));
    for (let n = 0; n < count; n++) {
      if (this.st !== 'open' || this.epoch !== epoch) throw closedError(this.st);
      yield map(entries[r.reverse ? hi - 1 - n : lo + n]);
    }
  }

  /** ready throws STORAGE_CLOSED unless open, then consults the fault hook. */
  private ready(op: FaultOp): void {
    if (this.st !== 'open') throw this.fail(closedError(this.st));
    this.check(op);
  }

  private check(op: FaultOp): void {
    const code = this.fault?.(op);
    if (code !== undefined) throw this.fail(new StorageError(code, `injected ${op.kind} failure (${code})`));
  }

  private fail(e: StorageError): StorageError {
    this.counters.errors++;
    return e;
  }

  private release(): void {
    this.st = 'closed';
    this.epoch++;
    if (this.disk.holder === this) this.disk.holder = undefined;
  }
}
