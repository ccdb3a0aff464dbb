/**
 * StorageEngine: the local, ordered, byte-keyed store under one dkv node.
 *
 * Two implementations share this contract and one conformance suite
 * (test/unit/storage/engine-conformance.ts):
 *   - LevelEngine (level-engine.ts): LevelDB through classic-level, the only importer of it.
 *   - MemoryEngine (memory-engine.ts): the in-memory twin with fault hooks, for simulation.
 *
 * Contract shared by both:
 *   - Keys and values are Buffers. Keys are ordered by unsigned byte order (memcmp, then
 *     length), i.e. Buffer.compare. The empty key and empty values are allowed.
 *   - Callers may reuse or mutate the Buffers they pass in once the returned promise has
 *     settled (the engines copy); returned Buffers belong to the caller.
 *   - Lifecycle: 'new' -> open() -> 'open' -> close() -> 'closed'. open() on an open engine
 *     is a no-op, close() is idempotent, open() after close() reopens the same location.
 *     Any data operation while the engine is not 'open' rejects with STORAGE_CLOSED.
 *   - write() applies ONE atomic batch: all ops or none. Ops apply in array order, so a later
 *     op on the same key wins. `sync: true` resolves only once the batch is durable (fsync);
 *     `sync: false` survives a process crash (page cache) but not power loss.
 *   - Every failure is a StorageError with a stable code; nothing else is thrown.
 *   - iterate() never throws synchronously: bad ranges and closed engines reject the first
 *     next(). Breaking out of a for-await loop releases the iterator.
 */

/** BatchOp is one put or delete inside an atomic batch. */
export type BatchOp =
  | { type: 'put'; key: Buffer; value: Buffer }
  | { type: 'del'; key: Buffer };

/** WriteOptions: sync means "resolve only after fsync" (see the header). */
export interface WriteOptions {
  sync: boolean;
}

/**
 * KeyRange bounds an iteration. Missing bounds are open. At most one of gt/gte and one of
 * lt/lte may be set (both set rejects with STORAGE_INVALID). limit is a non-negative integer
 * count of entries (0 yields nothing; undefined means no limit). reverse walks from the upper
 * bound down; limit then counts from the top.
 */
export interface KeyRange {
  gt?: Buffer;
  gte?: Buffer;
  lt?: Buffer;
  lte?: Buffer;
  limit?: number;
  reverse?: boolean;
}

/** SizeRange is the half-open range [gte, lt) for approximateSize and compact. */
export interface SizeRange {
  gte?: Buffer;
  lt?: Buffer;
}

/** StorageState is the engine lifecycle. */
export type StorageState = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/** StorageStats is a small snapshot for status output; counters start at 0 per instance. */
export interface StorageStats {
  kind: 'leveldb' | 'memory';
  state: StorageState;
  /** location is the directory (LevelDB) or a label (memory). */
  location: string;
  /** gets counts keys read through get and getMany. */
  gets: number;
  /** writes counts write() batches that committed; syncWrites those with sync: true. */
  writes: number;
  syncWrites: number;
  /** opsWritten counts ops inside committed batches; bytesWritten their key+value bytes. */
  opsWritten: number;
  bytesWritten: number;
  /** iterators counts iterators created. */
  iterators: number;
  /** errors counts operations that failed with a StorageError. */
  errors: number;
}

export interface StorageEngine {
  /** open makes the engine usable; rejects STORAGE_LOCKED if another instance holds the location. */
  open(): Promise<void>;
  /** close releases the location; idempotent; open iterators end with STORAGE_CLOSED. */
  close(): Promise<void>;
  /** state is the current lifecycle state. */
  readonly state: StorageState;
  /** get returns the value, or undefined when the key is absent. */
  get(key: Buffer): Promise<Buffer | undefined>;
  /** getMany returns one entry per key, in the same order, from one consistent read. */
  getMany(keys: Buffer[]): Promise<(Buffer | undefined)[]>;
  /** write applies ops as one atomic batch (see the header). An empty batch is a no-op. */
  write(ops: BatchOp[], opts: WriteOptions): Promise<void>;
  /**
   * iterate yields [key, value] pairs in key order (or reverse) within range. It reads from a
   * snapshot taken when iterate() is called: writes made afterwards are not seen.
   */
  iterate(range?: KeyRange): AsyncIterableIterator<[Buffer, Buffer]>;
  /** iterateKeys is iterate() without values. */
  iterateKeys(range?: KeyRange): AsyncIterableIterator<Buffer>;
  /**
   * approximateSize estimates the bytes used by [gte, lt): file bytes on disk for LevelDB
   * (data still in the write buffer is not counted until flushed), key+value bytes for memory.
   */
  approximateSize(range?: SizeRange): Promise<number>;
  /** compact asks the engine to compact [gte, lt) (LevelDB compactRange; no-op for memory). */
  compact(range?: SizeRange): Promise<void>;
  /** stats is a cheap synchronous snapshot of counters. */
  stats(): StorageStats;
}

/**
 * StorageErrorCode is stable: the server maps it to a status, the client may retry on it.
 *   STORAGE_CLOSED  - the engine is not open (never opened, closing or closed).
 *   STORAGE_IO      - an I/O error other than the ones below (permissions, EIO, ...).
 *   STORAGE_FULL    - the disk is full (ENOSPC, LevelDB's "No space left on device").
 *   STORAGE_CORRUPT - LevelDB reported corruption; the directory needs repair.
 *   STORAGE_LOCKED  - another process or engine instance holds the directory.
 *   STORAGE_INVALID - a caller bug: bad key/value type, contradictory range, bad limit.
 */
export type StorageErrorCode =
  | 'STORAGE_CLOSED'
  | 'STORAGE_IO'
  | 'STORAGE_FULL'
  | 'STORAGE_CORRUPT'
  | 'STORAGE_LOCKED'
  | 'STORAGE_INVALID';

/** StorageError carries a stable code and, when it wraps a lower-level error, its cause. */
export class StorageError extends Error {
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
    this.code = code;
  }
}

/** isStorageError tells whether e is a StorageError, optionally with the given code. */
export function isStorageError(e: unknown, code?: StorageErrorCode): e is StorageError {
  return e instanceof StorageError && (code === undefined || e.code === code);
}

/** closedError is the error every engine raises for operations outside the 'open' state. */
export function closedError(state: StorageState): StorageError {
  return new StorageError('STORAGE_CLOSED', `storage engine is not open (state: ${state})`);
}

/** validateKey rejects anything that is not a Buffer with STORAGE_INVALID. */
export function validateKey(key: unknown, what = 'key'): asserts key is Buffer {
  if (!Buffer.isBuffer(key)) throw new StorageError('STORAGE_INVALID', `${what} must be a Buffer`);
}

/** validateOps checks every op's shape before anything is applied (keeps batches atomic). */
export function validateOps(ops: readonly BatchOp[]): void {
  if (!Array.isArray(ops)) throw new StorageError('STORAGE_INVALID', 'ops must be an array');
  for (const op of ops) {
    if (op === null || typeof op !== 'object') throw new StorageError('STORAGE_INVALID', 'op must be an object');
    validateKey(op.key);
    if (op.type === 'put') validateKey(op.value, 'value');
    else if (op.type !== 'del') throw new StorageError('STORAGE_INVALID', `unknown op type ${String((op as { type: unknown }).type)}`);
  }
}

/** Bound is one end of a normalized range. */
export interface Bound {
  key: Buffer;
  inclusive: boolean;
}

/** NormalRange is a validated KeyRange with at most one bound per side. */
export interface NormalRange {
  lower?: Bound;
  upper?: Bound;
  /** limit is undefined for "no limit". */
  limit?: number;
  reverse: boolean;
}

/** normalizeRange validates a KeyRange (STORAGE_INVALID on contradictions) and folds it. */
export function normalizeRange(range: KeyRange = {}): NormalRange {
  const { gt, gte, lt, lte, limit } = range;
  if (gt !== undefined && gte !== undefined) throw new StorageError('STORAGE_INVALID', 'range sets both gt and gte');
  if (lt !== undefined && lte !== undefined) throw new StorageError('STORAGE_INVALID', 'range sets both lt and lte');
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0)) {
    throw new StorageError('STORAGE_INVALID', `range limit must be a non-negative integer, got ${limit}`);
  }
  const out: NormalRange = { reverse: range.reverse === true, limit };
  const lo = gt ?? gte;
  const hi = lt ?? lte;
  if (lo !== undefined) {
    validateKey(lo, 'range lower bound');
    out.lower = { key: lo, inclusive: gt === undefined };
  }
  if (hi !== undefined) {
    validateKey(hi, 'range upper bound');
    out.upper = { key: hi, inclusive: lt === undefined };
  }
  return out;
}

/** inRange tells whether key lies within the range's bounds (limit and direction ignored). */
export function inRange(key: Buffer, r: NormalRange): boolean {
  if (r.lower) {
    const c = Buffer.compare(key, r.lower.key);
    if (c < 0 || (c === 0 && !r.lower.inclusive)) return false;
  }
  if (r.upper) {
    const c = Buffer.compare(key, r.upper.key);
    if (c > 0 || (c === 0 && !r.upper.inclusive)) return false;
  }
  return true;
}

/** opBytes is the key+value byte count of one op (deletes count their key). */
export function opBytes(op: BatchOp): number {
  return op.key.length + (op.type === 'put' ? op.value.length : 0);
}

/** countWrite adds one committed batch to the write counters of stats. */
export function countWrite(stats: StorageStats, ops: readonly BatchOp[], sync: boolean): void {
  stats.writes++;
  if (sync) stats.syncWrites++;
  stats.opsWritten += ops.length;
  for (const op of ops) stats.bytesWritten += opBytes(op);
}

/** emptyStats builds a zeroed StorageStats. */
export function emptyStats(kind: StorageStats['kind'], location: string, state: StorageState): StorageStats {
  return { kind, state, location, gets: 0, writes: 0, syncWrites: 0, opsWritten: 0, bytesWritten: 0, iterators: 0, errors: 0 };
}
