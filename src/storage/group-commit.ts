/**
 * GroupCommitter: turns many small durable writes into few fsyncs (group commit, as in
 * database write-ahead logs; LevelDB does the same inside one process only for writers that
 * reach its queue together, and classic-level hands each batch to the libuv pool separately).
 *
 * Modes (the node's `--fsync` flag):
 *   'never'  - like 'always' without the fsync: one unsynced batch in flight at a time, the
 *              calls that arrive meanwhile merged into the next one. Writes therefore commit
 *              in call order (the change log's sequence numbers rely on it), and concurrent
 *              writers share one engine call.
 *   'always' - a write() resolves only after a synced batch containing its ops committed.
 *              At most one synced batch is in flight. Calls made in the same tick, and calls
 *              made while a batch is in flight, are merged into the next single batch, so N
 *              concurrent writers share one fsync. A lone writer pays one microtask of delay.
 *   'batch'  - like 'always', but a new group first waits windowMs (via the Clock) for more
 *              writers; it is flushed early once it holds maxGroupOps ops, or on flush().
 *
 * Ordering (grouped modes): ops of different callers are concatenated in arrival order into
 * one atomic batch, so for the same key the later caller wins; groups commit in arrival
 * order. Each caller's ops stay contiguous and are never split across batches.
 * Errors: a caller whose ops are malformed is rejected alone (STORAGE_INVALID) before
 * joining a group. If a merged batch fails, every caller in it gets that same error and
 * nothing of the batch is applied (the engine's atomicity); later groups still run.
 * Buffers: the ops array is copied at call time; keys and values must not be mutated until
 * the returned promise settles.
 */
import type { Clock, Timer } from '../time/clock.js';
import { type BatchOp, type StorageEngine, StorageError, validateOps } from './engine.js';

/** FsyncMode is the durability policy (see the header). */
export type FsyncMode = 'never' | 'batch' | 'always';

/** GroupCommitOptions configures a GroupCommitter. */
export interface GroupCommitOptions {
  /** mode is the durability policy. */
  mode: FsyncMode;
  /** clock provides the batch window timer. */
  clock: Clock;
  /** windowMs is how long a new group waits for more writers in 'batch' mode. Default 2 ms. */
  windowMs?: number;
  /** maxGroupOps flushes a 'batch' group early once it holds this many ops. Default 4096. */
  maxGroupOps?: number;
}

/** GroupCommitStats are counters since construction. */
export interface GroupCommitStats {
  mode: FsyncMode;
  /** writes counts write() calls accepted with at least one op. */
  writes: number;
  /** batches counts engine.write calls issued; syncs those with sync: true. */
  batches: number;
  syncs: number;
  /** ops counts ops handed to the engine; failedBatches batches that rejected. */
  ops: number;
  failedBatches: number;
  /** meanGroupSize is write() calls per engine batch (0 before the first batch). */
  meanGroupSize: number;
  /** maxGroupSize is the most callers ever merged into one batch. */
  maxGroupSize: number;
  /** pending counts calls accepted but not yet settled. */
  pending: number;
}

interface Waiter {
  ops: BatchOp[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

export const DEFAULT_WINDOW_MS = 2;
export const DEFAULT_MAX_GROUP_OPS = 4096;

export class GroupCommitter {
  readonly mode: FsyncMode;
  private readonly engine: Pick<StorageEngine, 'write'>;
  private readonly clock: Clock;
  private readonly windowMs: number;
  private readonly maxGroupOps: number;
  private queue: Waiter[] = [];
  private queuedOps = 0;
  private inFlight = false;
  /** due: the queued group may be flushed once nothing is in flight ('batch' mode gate). */
  private due = false;
  private timer: Timer | undefined;
  private microtaskQueued = false;
  private closed = false;
  private readonly pending = new Set<Promise<void>>();
  private grouped = 0;
  private counters = { writes: 0, batches: 0, syncs: 0, ops: 0, failedBatches: 0, maxGroupSize: 0 };

  /** engine is only written to; opening and closing it stays the caller's job. */
  constructor(engine: Pick<StorageEngine, 'write'>, opts: GroupCommitOptions) {
    this.engine = engine;
    this.mode = opts.mode;
    this.clock = opts.clock;
    this.windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
    this.maxGroupOps = opts.maxGroupOps ?? DEFAULT_MAX_GROUP_OPS;
    if (!['never', 'batch', 'always'].includes(this.mode)) throw new RangeError(`unknown fsync mode ${this.mode}`);
    if (!(this.windowMs >= 0)) throw new RangeError(`windowMs must be >= 0, got ${this.windowMs}`);
  }

  /** write commits ops atomically under the configured mode; see the header for guarantees. */
  write(ops: BatchOp[]): Promise<void> {
    if (this.closed) return Promise.reject(new StorageError('STORAGE_CLOSED', 'group committer is closed'));
    try {
      validateOps(ops);
    } catch (e) {
      return Promise.reject(e);
    }
    if (ops.length === 0) return Promise.resolve();
    this.counters.writes++;
    const p = this.enqueue(ops.slice());
    this.pending.add(p);
    const forget = () => this.pending.delete(p);
    p.then(forget, forget);
    return p;
  }

  /**
   * flush skips any batch window and resolves once every write() made before the call has
   * settled (successfully or not). It never rejects.
   */
  async flush(): Promise<void> {
    if (this.queue.length > 0) this.makeDue();
    await Promise.allSettled([...this.pending]);
  }

  /** close rejects later writes with STORAGE_CLOSED and flushes the rest. It does not close the engine. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  stats(): GroupCommitStats {
    const c = this.counters;
    return { mode: this.mode, ...c, meanGroupSize: c.batches === 0 ? 0 : this.grouped / c.batches, pending: this.pending.size };
  }

  private enqueue(ops: BatchOp[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const first = this.queue.length === 0;
      this.queue.push({ ops, resolve, reject });
      this.queuedOps += ops.length;
      if (this.mode !== 'batch') {
        this.due = true;
        if (!this.microtaskQueued) {
          this.microtaskQueued = true;
          queueMicrotask(() => {
            this.microtaskQueued = false;
            this.pump();
          });
        }
      } else if (this.queuedOps >= this.maxGroupOps) {
        this.makeDue();
      } else if (first) {
        this.timer = this.clock.setTimeout(() => {
          this.timer = undefined;
          this.due = true;
          this.pump();
        }, this.windowMs);
      }
    });
  }

  /** makeDue ends the current window now. */
  private makeDue(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.due = true;
    this.pump();
  }

  /** pump starts the next synced batch if one is due and none is in flight. */
  private pump(): void {
    if (this.inFlight || !this.due || this.queue.length === 0) return;
    const group = this.queue;
    this.queue = [];
    this.queuedOps = 0;
    this.due = false;
    this.timer?.cancel();
    this.timer = undefined;
    this.inFlight = true;
    const all = group.length === 1 ? group[0].ops : group.flatMap((w) => w.ops);
    const sync = this.mode !== 'never';
    this.counters.batches++;
    if (sync) this.counters.syncs++;
    this.counters.ops += all.length;
    this.grouped += group.length;
    this.counters.maxGroupSize = Math.max(this.counters.maxGroupSize, group.length);
    let p: Promise<void>;
    try {
      p = this.engine.write(all, { sync });
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      () => this.settle(group, undefined, false),
      (e: unknown) => this.settle(group, e, true),
    );
  }

  private settle(group: Waiter[], err: unknown, failed: boolean): void {
    this.inFlight = false;
    if (failed) this.counters.failedBatches++;
    for (const w of group) {
      if (failed) w.reject(err);
      else w.resolve();
    }
    // Writers that arrived during the batch: in 'always' mode they go now; in 'batch' mode
    // their window timer (started on the first arrival) or maxGroupOps decides.
    if (this.mode !== 'batch' && this.queue.length > 0) this.due = true;
    this.pump();
  }
}
