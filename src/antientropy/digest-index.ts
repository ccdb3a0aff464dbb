import type { RecordStore } from '../storage/record-store.js';
import { digestKey } from '../storage/record-store.js';
import { Keyspace } from '../storage/keyspace.js';
import type { LeafEntry, RingRange } from './merkle.js';

/**
 * scanDigests yields the Merkle index entries (ring position, key, record digest) of every
 * key whose position lies in `range` = (start, end], in position order. The index is written
 * in the same batch as each record (storage/record-store.ts), so it always matches the data.
 */
export async function* scanDigests(store: RecordStore, range: RingRange, after?: { pos: number; key: Buffer }): AsyncGenerator<LeafEntry> {
  let all = spans(range);
  // Resuming after (pos, key): skip the spans before the one holding pos, and start inside it.
  const at = after ? all.findIndex(([lo, hi]) => after.pos >= lo && after.pos <= hi) : -1;
  if (at > 0) all = all.slice(at);
  for (const [i, [lo, hi]] of all.entries()) {
    const gte = i === 0 && after && at >= 0 ? Buffer.concat([digestKey(after.pos, after.key), Buffer.from([0])]) : digestKey(lo, Buffer.alloc(0));
    const lt = hi === 0xffffffff ? Buffer.from([Keyspace.Digest + 1]) : digestKey(hi + 1, Buffer.alloc(0));
    for await (const [k, v] of store.iterateRaw({ gte, lt })) {
      const pos = k.readUInt32BE(1);
      yield { key: Buffer.from(k.subarray(5)), pos, digest: Buffer.from(v) };
    }
  }
}

/** collect gathers every entry of a range into an array. */
export async function collectDigests(store: RecordStore, range: RingRange): Promise<LeafEntry[]> {
  const out: LeafEntry[] = [];
  for await (const e of scanDigests(store, range)) out.push(e);
  return out;
}

/** spans turns (start, end] into inclusive [lo, hi] position spans without wrap-around. */
function spans(r: RingRange): Array<[number, number]> {
  const first = (r.start + 1) % 2 ** 32;
  if (r.start === r.end) return first === 0 ? [[0, 0xffffffff]] : [[first, 0xffffffff], [0, r.start]];
  if (first <= r.end) return [[first, r.end]];
  return [[first, 0xffffffff], [0, r.end]];
}
