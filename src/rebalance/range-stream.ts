import type { Clock } from '../time/clock.js';
import type { RecordStore } from '../storage/record-store.js';
import { encodeRecord } from '../storage/record-codec.js';
import type { Version } from '../versioning/siblings.js';
import { scanDigests } from '../antientropy/digest-index.js';
import type { RingRange } from '../antientropy/merkle.js';

/** RangeCursor is a position inside a range stream: the last (ring position, key) confirmed. */
export interface RangeCursor {
  pos: number;
  key: Buffer;
}

/** RangeChunk is one message of a range stream: records in ring-position order. */
export interface RangeChunk {
  entries: Array<{ key: Buffer; versions: Version[] }>;
  /** last is the cursor after this chunk (resume after it); undefined for an empty chunk. */
  last?: RangeCursor;
  done: boolean;
  bytes: number;
}

export interface RangeSink {
  send(c: RangeChunk): boolean;
  end(err?: Error): void;
}

const CHUNK_KEYS = 200;
const CHUNK_BYTES = 256 * 1024;

/** encodeCursor / decodeCursor carry a cursor in StreamRangeRequest.after_key (4-byte BE position, key). */
export function encodeCursor(c: RangeCursor | undefined): Buffer {
  if (!c) return Buffer.alloc(0);
  const b = Buffer.allocUnsafe(4 + c.key.length);
  b.writeUInt32BE(c.pos >>> 0, 0);
  c.key.copy(b, 4);
  return b;
}
export function decodeCursor(b: Buffer): RangeCursor | undefined {
  return b.length >= 4 ? { pos: b.readUInt32BE(0), key: Buffer.from(b.subarray(4)) } : undefined;
}

/**
 * serveRange streams every record of a ring range from this node's store, in ring-position
 * order (the Merkle digest index), starting after `after`, in chunks, throttled to
 * maxBytesPerS (0 = unthrottled). The receiver confirms progress by remembering the last
 * cursor it stored, so an interrupted stream resumes where it stopped, never from zero.
 */
export function serveRange(store: RecordStore, clock: Clock, range: RingRange, after: RangeCursor | undefined, maxBytesPerS: number, sink: RangeSink): () => void {
  let cancelled = false;
  void (async () => {
    const started = clock.monotonic();
    let sent = 0;
    let batch: Array<{ key: Buffer; pos: number }> = [];
    const flush = async (done: boolean) => {
      const records = batch.length ? await store.readMany(batch.map((e) => e.key)) : [];
      const entries = batch.map((e, i) => ({ key: e.key, versions: records[i] })).filter((e) => e.versions.length > 0);
      const bytes = entries.reduce((s, e) => s + e.key.length + encodeRecord(e.versions).length, 0);
      const last = batch.length ? { pos: batch[batch.length - 1].pos, key: batch[batch.length - 1].key } : undefined;
      batch = [];
      sink.send({ entries, last, done, bytes });
      sent += bytes;
      if (maxBytesPerS > 0) {
        const due = started + (sent / maxBytesPerS) * 1000;
        const wait = due - clock.monotonic();
        if (wait > 0) await clock.sleep(wait);
      }
    };
    try {
      let pending = 0;
      for await (const e of scanDigests(store, range, after)) {
        if (cancelled) return;
        batch.push({ key: e.key, pos: e.pos });
        pending += e.key.length + 64;
        if (batch.length >= CHUNK_KEYS || pending >= CHUNK_BYTES) {
          await flush(false);
          pending = 0;
        }
      }
      if (!cancelled) await flush(true);
      sink.end();
    } catch (e) {
      if (!cancelled) sink.end(e as Error);
    }
  })();
  return () => {
    cancelled = true;
  };
}
