import type { RecordStore } from '../storage/record-store.js';
import { encodeRecord } from '../storage/record-codec.js';
import { scanDigests } from '../antientropy/digest-index.js';
import { rangeSize, type RingRange } from '../antientropy/merkle.js';
import { replicatedOwnership } from '../ring/ownership.js';
import { RING_SIZE, type Ring } from '../ring/ring.js';
import type { Move } from './plan.js';

/** MoveSize is how much data one move of a plan carries. */
export interface MoveSize {
  keys: number;
  bytes: number;
  /**
   * estimated is false when this node holds the range (it is one of the move's sources) and
   * counted its keys; true when the figure is this node's key density times the range's share.
   */
  estimated: boolean;
}

/** PlanSize sums a plan. */
export interface PlanSize {
  /** share is the ring fraction the moves cover, once per receiving node (a range moving to two nodes counts twice). */
  share: number;
  keys: number;
  bytes: number;
  sizes: MoveSize[];
}

const SAMPLE_KEYS = 256;

/**
 * measurePlan sizes every move of a plan (for dry-runs) from this node's store: keys of a range
 * this node holds are counted from the Merkle digest index; bytes are the keys times the mean
 * record size of a sample; ranges this node does not hold are estimated from its own key
 * density over the part of the ring it replicates in `ring`. Reads the digest index once.
 */
export async function measurePlan(store: RecordStore, ring: Ring, self: string, n: number, plan: readonly Move[]): Promise<PlanSize> {
  const positions: number[] = [];
  const sample: Buffer[] = [];
  for await (const e of scanDigests(store, { start: 0, end: 0 })) {
    positions.push(e.pos);
    if (sample.length < SAMPLE_KEYS) sample.push(e.key);
  }
  const records = sample.length ? await store.readMany(sample) : [];
  const sampledBytes = records.reduce((s, r, i) => s + (r.length ? sample[i].length + encodeRecord(r).length : 0), 0);
  const meanBytes = sample.length ? sampledBytes / sample.length : 0;
  const held = ring.ownerCount > 0 ? (replicatedOwnership(ring, Math.min(n, ring.ownerCount)).get(self) ?? 0) : 0;
  const density = held > 0 ? positions.length / held : 0; // keys per whole ring
  const sizes = plan.map((m): MoveSize => {
    const share = rangeSize(m.range) / RING_SIZE;
    if (m.from.includes(self)) {
      const keys = countIn(positions, m.range);
      return { keys, bytes: Math.round(keys * meanBytes), estimated: false };
    }
    const keys = Math.round(density * share);
    return { keys, bytes: Math.round(keys * meanBytes), estimated: true };
  });
  return {
    share: plan.reduce((s, m) => s + rangeSize(m.range) / RING_SIZE, 0),
    keys: sizes.reduce((s, x) => s + x.keys, 0),
    bytes: sizes.reduce((s, x) => s + x.bytes, 0),
    sizes,
  };
}

/** countIn counts the sorted positions in (start, end], wrapping; start = end is the whole ring. */
function countIn(sorted: readonly number[], r: RingRange): number {
  const upTo = (x: number) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid] <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo; // positions <= x
  };
  if (r.start === r.end) return sorted.length;
  if (r.start < r.end) return upTo(r.end) - upTo(r.start);
  return sorted.length - upTo(r.start) + upTo(r.end);
}
