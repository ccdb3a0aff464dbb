/**
 * Ownership metrics: how much of the key space each node is responsible for. Pure; used by
 * the allocator's tests, scripts/ring-balance.ts and operator status.
 *
 * Fractions are of the whole ring space [0, 2^32), so primary ownership sums to 1 over the
 * nodes and replicated ownership at n sums to min(n, token-owning nodes).
 */
import { preferenceList } from './preference-list.js';
import { RING_SIZE, type Ring } from './ring.js';

/** ownership maps every node id to the fraction of the key space it owns as first replica. */
export function ownership(ring: Ring): Map<string, number> {
  const out = zeroes(ring);
  for (let i = 0; i < ring.tokenCount; i++) {
    const id = ring.nodeIdAt(ring.ownerAt(i));
    out.set(id, (out.get(id) as number) + ring.rangeSize(i) / RING_SIZE);
  }
  return out;
}

/**
 * replicatedOwnership maps every node id to the fraction of the key space for which it is one
 * of the key's n primaries (preferenceList, all nodes usable).
 */
export function replicatedOwnership(ring: Ring, n: number, opts?: { zoneAware?: boolean }): Map<string, number> {
  const out = zeroes(ring);
  for (let i = 0; i < ring.tokenCount; i++) {
    const share = ring.rangeSize(i) / RING_SIZE;
    // Every hash in the range ending at token i has the same list; use the token itself.
    for (const e of preferenceList(ring, ring.tokenAt(i), n, opts)) {
      out.set(e.nodeId, (out.get(e.nodeId) as number) + share);
    }
  }
  return out;
}

/**
 * imbalance is the worst ratio, over nodes of weight > 0, of a node's share of `shares` to its
 * fair share by weight: max over x of (shares[x] / Σ shares) / (weight[x] / Σ weight). 1 is
 * perfect; for equal weights it is max/mean. Returns 1 for a ring with no weight or no shares.
 */
export function imbalance(ring: Ring, shares: ReadonlyMap<string, number>): number {
  const totalWeight = ring.nodes().reduce((s, n) => s + n.weight, 0);
  let totalShare = 0;
  for (const v of shares.values()) totalShare += v;
  if (totalWeight === 0 || totalShare === 0) return 1;
  let worst = 0;
  for (const node of ring.nodes()) {
    if (node.weight === 0) continue;
    const ratio = ((shares.get(node.id) ?? 0) / totalShare) / (node.weight / totalWeight);
    if (ratio > worst) worst = ratio;
  }
  return worst;
}

/**
 * movedFraction is the fraction of the key space whose first replica differs between `before`
 * and `after` (the data a membership change moves between primaries). Both rings empty: 0;
 * exactly one empty: 1.
 */
export function movedFraction(before: Ring, after: Ring): number {
  if (before.tokenCount === 0 || after.tokenCount === 0) return before.tokenCount === after.tokenCount ? 0 : 1;
  // Every segment between consecutive tokens of the union has one owner in each ring: the
  // owner of the segment's last position.
  const union = new Float64Array(before.tokenCount + after.tokenCount);
  for (let i = 0; i < before.tokenCount; i++) union[i] = before.tokenAt(i);
  for (let i = 0; i < after.tokenCount; i++) union[before.tokenCount + i] = after.tokenAt(i);
  union.sort();
  let moved = 0;
  let prev = union[union.length - 1] - RING_SIZE;
  for (let i = 0; i < union.length; i++) {
    const end = union[i];
    if (end === prev) continue;
    if (before.ownerOf(end) !== after.ownerOf(end)) moved += end - prev;
    prev = end;
  }
  return moved / RING_SIZE;
}

function zeroes(ring: Ring): Map<string, number> {
  return new Map(ring.nodes().map((n) => [n.id, 0]));
}
