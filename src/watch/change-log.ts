import type { Clock } from '../time/clock.js';
import type { BatchOp } from '../storage/engine.js';
import type { ChangeSink, RecordStore } from '../storage/record-store.js';
import { keyIn, Keyspace, rangeOf } from '../storage/keyspace.js';
import { decodeRecord, encodeRecord } from '../storage/record-codec.js';
import type { Version } from '../versioning/siblings.js';

/** Change is one entry of a replica's change log: a key's whole record after a change. */
export interface Change {
  seq: number;
  atMs: number;
  key: Buffer;
  versions: Version[];
}

export interface ChangeLogOptions {
  /** retentionMs: entries older than this are trimmed. */
  retentionMs: number;
  /** maxEntries: at most this many entries are kept (the oldest are trimmed first). */
  maxEntries: number;
}

/**
 * ChangeLog is a replica's local log of record changes (the source of KV.Watch):
 *
 *   0x30 | seq (8 bytes BE)  ->  at ms (8 BE) | key length (4 BE) | key | record
 *
 * Every change is appended in the same batch as the record it describes (RecordStore calls
 * append through the ChangeSink seam), so the log never misses or invents a change. Sequence
 * numbers grow by one per append within one log incarnation (the node's incarnation: a wiped
 * directory starts a new log, and positions in the old one then require a resync). A batch
 * that fails to commit leaves a gap, which readers skip. Retention is bounded by age and count.
 */
export class ChangeLog implements ChangeSink {
  private last = 0;
  private first = 1;
  private readonly listeners = new Set<(c: Change) => void>();

  private constructor(
    private readonly store: RecordStore,
    private readonly clock: Clock,
    readonly incarnation: number,
    private readonly opts: ChangeLogOptions,
  ) {}

  static async open(store: RecordStore, clock: Clock, opts: ChangeLogOptions): Promise<ChangeLog> {
    const log = new ChangeLog(store, clock, store.incarnation, opts);
    const r = rangeOf(Keyspace.ChangeLog);
    for await (const [k] of store.iterateRaw({ ...r, limit: 1, reverse: true })) log.last = seqOf(k);
    for await (const [k] of store.iterateRaw({ ...r, limit: 1 })) log.first = seqOf(k);
    if (log.last === 0) log.first = 1;
    return log;
  }

  /** lastSeq is the newest sequence number appended (0 for an empty log). */
  get lastSeq(): number {
    return this.last;
  }

  /** oldestSeq is the oldest sequence number still retained. */
  get oldestSeq(): number {
    return this.first;
  }

  append(key: Buffer, versions: readonly Version[], record?: Buffer): { ops: BatchOp[]; change: Change } {
    const change: Change = { seq: ++this.last, atMs: this.clock.now(), key, versions: [...versions] };
    const rec = record ?? encodeRecord(versions);
    const value = Buffer.allocUnsafe(12 + key.length + rec.length);
    value.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(change.atMs))), 0);
    value.writeUInt32BE(key.length, 8);
    key.copy(value, 12);
    rec.copy(value, 12 + key.length);
    return { ops: [{ type: 'put', key: logKey(change.seq), value }], change };
  }

  publish(changes: unknown[]): void {
    for (const c of changes as Change[]) for (const fn of this.listeners) fn(c);
  }

  /** subscribe calls fn with every change committed from now on; returns the unsubscriber. */
  subscribe(fn: (c: Change) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** read returns up to limit committed changes with seq > after, in order. */
  async read(after: number, limit: number): Promise<Change[]> {
    const out: Change[] = [];
    for await (const [k, v] of this.store.iterateRaw({ gte: logKey(after + 1), lt: rangeOf(Keyspace.ChangeLog).lt, limit })) {
      const klen = v.readUInt32BE(8);
      out.push({ seq: seqOf(k), atMs: Number(v.readBigUInt64BE(0)), key: Buffer.from(v.subarray(12, 12 + klen)), versions: decodeRecord(v.subarray(12 + klen)) });
    }
    return out;
  }

  /**
   * trim drops every entry past the retention (age or count), in batches of TRIM_CHUNK
   * deletes; returns how many. It catches up in one call however far behind it is, so the
   * log stays within its bounds at any sustained write rate (a node trims every few seconds).
   */
  async trim(): Promise<number> {
    const cutoff = this.clock.now() - this.opts.retentionMs;
    const countFloor = this.last - this.opts.maxEntries;
    let trimmed = 0;
    for (;;) {
      const ops: BatchOp[] = [];
      let newFirst = this.first;
      let more = false;
      for await (const [k, v] of this.store.iterateRaw({ ...rangeOf(Keyspace.ChangeLog), limit: TRIM_CHUNK })) {
        const seq = seqOf(k);
        if (seq > countFloor && Number(v.readBigUInt64BE(0)) >= cutoff) break;
        ops.push({ type: 'del', key: k });
        newFirst = seq + 1;
        more = ops.length === TRIM_CHUNK;
      }
      if (ops.length === 0) return trimmed;
      await this.store.commit(ops);
      this.first = newFirst;
      trimmed += ops.length;
      if (!more) return trimmed;
    }
  }
}

/** TRIM_CHUNK is the most deletes one trim batch commits. */
export const TRIM_CHUNK = 10_000;

function logKey(seq: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt(seq), 0);
  return keyIn(Keyspace.ChangeLog, b);
}

function seqOf(k: Buffer): number {
  return Number(k.readBigUInt64BE(1));
}
