/**
 * Token reweighing: the tokens a node that is already on the ring should hold after its weight
 * changes (dkv set-weight). Pure.
 *
 * Contract (asserted in test/unit/ring/reweigh.test.ts):
 *  - only the reweighed node's tokens change; every other node keeps its tokens exactly;
 *  - the node ends with round(newWeight × tokensPerWeight) tokens (at least 1);
 *  - growing keeps every token the node had and adds new ones with the join allocator's
 *    greedy range splitting (token-splitter.ts), taking ranges from nodes above their new
 *    target, so only the ranges the node gains change hands;
 *  - shrinking keeps a subset of the node's tokens: it drops them one at a time; a dropped
 *    token's range goes to the next token's owner clockwise (the heir). Each drop picks the
 *    token whose range is closest to (share still to give up) / (drops left), with the heir's
 *    distance to its own target as a second criterion, so the node lands on its new share and
 *    what it gives up goes to nodes below target;
 *  - the moved key space is close to the ideal |new share − old share| (the unit test bounds
 *    it), never a reshuffle of the ring.
 * Randomness: one draw for where the candidate scan starts when growing (the tie-break).
 */
import type { Random } from '../time/random.js';
import { DEFAULT_REPLICAS, DEFAULT_TOKENS_PER_WEIGHT, type AllocateOptions } from './allocate.js';
import { Ring, RING_SIZE } from './ring.js';
import { TokenSplitter } from './token-splitter.js';

/**
 * reweighTokens returns the sorted tokens node `nodeId` should hold at `weight` (> 0). The
 * node must be on `ring`; the ring is not modified. Throws RangeError on bad arguments.
 */
export function reweighTokens(ring: Ring, nodeId: string, weight: number, opts: AllocateOptions, random: Random): number[] {
  const perWeight = opts.tokensPerWeight ?? DEFAULT_TOKENS_PER_WEIGHT;
  if (!Number.isFinite(perWeight) || perWeight <= 0) throw new RangeError('reweighTokens: tokensPerWeight must be > 0');
  if (!Number.isFinite(weight) || weight <= 0) throw new RangeError('reweighTokens: weight must be finite and > 0');
  const node = ring.node(nodeId);
  if (!node || node.tokens.length === 0) throw new RangeError(`reweighTokens: ${JSON.stringify(nodeId)} owns no tokens on the ring`);
  const count = Math.max(1, Math.round(weight * perWeight));
  const have = node.tokens.length;
  if (count === have) return [...node.tokens];
  const members = ring.nodes();
  const me = ring.nodeIndex(nodeId);
  const weights = members.map((n, i) => (i === me ? weight : n.weight));
  return count > have ? grow(ring, me, weights, count - have, opts, random) : shrink(ring, me, weights, have - count);
}

/** grow adds `add` tokens to member `me` by greedy splitting; its existing tokens stay. */
function grow(ring: Ring, me: number, weights: number[], add: number, opts: AllocateOptions, random: Random): number[] {
  const positions: number[] = [];
  const owners: number[] = [];
  for (let i = 0; i < ring.tokenCount; i++) {
    positions.push(ring.tokenAt(i));
    owners.push(ring.ownerAt(i));
  }
  const members = ring.nodes();
  const zoneIndex = new Map([...new Set(members.map((n) => n.zone))].map((z, k) => [z, k]));
  const zones = members.map((n) => zoneIndex.get(n.zone) as number);
  const zoneAware = opts.zone !== undefined && (opts.zoneAware ?? true);
  const splitter = new TokenSplitter(positions, owners, me, { weights, zones, zoneAware, replicas: opts.replicas ?? DEFAULT_REPLICAS });
  const need = (weights[me] / weights.reduce((s, w) => s + w, 0)) * RING_SIZE;
  const scanStart = random.int(positions.length);
  const mine = [...members[me].tokens];
  for (let k = 0; k < add; k++) {
    const want = Math.max(1, Math.round((need - splitter.joinerOwns()) / (add - k)));
    mine.push(splitter.add(want, scanStart + k));
  }
  return mine.sort((a, b) => a - b);
}

/** HEIR_WEIGHT weighs the heir's balance against handing over the right amount per drop. */
const HEIR_WEIGHT = 0.25;

/** shrink drops `drop` of member `me`'s tokens, greedily, as the file comment states. */
function shrink(ring: Ring, me: number, weights: number[], drop: number): number[] {
  const total = weights.reduce((s, w) => s + w, 0);
  const target = weights.map((w) => w / total);
  const positions: number[] = [];
  const owners: number[] = [];
  for (let i = 0; i < ring.tokenCount; i++) {
    positions.push(ring.tokenAt(i));
    owners.push(ring.ownerAt(i));
  }
  const share = new Float64Array(weights.length);
  const size = (i: number) => {
    const len = positions.length;
    if (len === 1) return RING_SIZE;
    const prev = positions[(i + len - 1) % len];
    return (positions[i] - prev + RING_SIZE) % RING_SIZE;
  };
  for (let i = 0; i < positions.length; i++) share[owners[i]] += size(i) / RING_SIZE;
  for (let k = 0; k < drop; k++) {
    const len = positions.length;
    // Each remaining drop should hand over about an equal part of what the node must give up.
    const want = Math.max(0, share[me] - target[me]) / (drop - k);
    let best = -1;
    let bestCost = Infinity;
    for (let i = 0; i < len; i++) {
      if (owners[i] !== me) continue;
      const heir = owners[(i + 1) % len];
      const sz = heir === me ? 0 : size(i) / RING_SIZE;
      const heirCost = heir === me ? 0 : (share[heir] + sz - target[heir]) ** 2 - (share[heir] - target[heir]) ** 2;
      const cost = (sz - want) ** 2 + HEIR_WEIGHT * heirCost;
      if (cost < bestCost - 1e-18) {
        best = i;
        bestCost = cost;
      }
    }
    const heir = owners[(best + 1) % len];
    const sz = size(best) / RING_SIZE;
    share[me] -= sz;
    share[heir] += sz;
    positions.splice(best, 1);
    owners.splice(best, 1);
  }
  const out: number[] = [];
  for (let i = 0; i < positions.length; i++) if (owners[i] === me) out.push(positions[i]);
  return out;
}
