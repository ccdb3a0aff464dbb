import type { Ring } from '../ring/ring.js';
import { primaries } from '../ring/preference-list.js';
import type { RingRange } from './merkle.js';

/** ReplicatedRange is a ring range and the nodes that hold its replicas. */
export interface ReplicatedRange {
  range: RingRange;
  replicas: string[];
}

/**
 * replicatedRanges lists the ranges `self` holds a replica of, with their replica sets:
 * token i owns (token i-1, token i] (a key belongs to the first token at or after its hash),
 * and adjacent ranges with the same replica set are merged, so a ring of T tokens yields at
 * most T ranges and usually far fewer exchanges. Pure.
 */
export function replicatedRanges(ring: Ring, self: string, n: number): ReplicatedRange[] {
  const t = ring.tokenCount;
  if (t === 0) return [];
  const replicasOf = (i: number) => primaries(ring, ring.tokenAt(i), Math.min(n, ring.ownerCount));
  if (t === 1) {
    const replicas = replicasOf(0);
    return replicas.includes(self) ? [{ range: { start: ring.tokenAt(0), end: ring.tokenAt(0) }, replicas }] : [];
  }
  const pieces: ReplicatedRange[] = [];
  for (let i = 0; i < t; i++) pieces.push({ range: { start: ring.tokenAt((i - 1 + t) % t), end: ring.tokenAt(i) }, replicas: replicasOf(i) });
  // Merge runs of equal replica sets (comparing as sets), including across the wrap.
  const same = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
  const merged: ReplicatedRange[] = [];
  for (const p of pieces) {
    const last = merged[merged.length - 1];
    if (last && same(last.replicas, p.replicas)) last.range = { start: last.range.start, end: p.range.end };
    else merged.push({ range: { ...p.range }, replicas: p.replicas });
  }
  if (merged.length > 1 && same(merged[0].replicas, merged[merged.length - 1].replicas)) {
    const tail = merged.pop()!;
    merged[0].range = { start: tail.range.start, end: merged[0].range.end };
  }
  if (merged.length === 1) merged[0].range = { start: merged[0].range.end, end: merged[0].range.end };
  return merged.filter((r) => r.replicas.includes(self));
}
