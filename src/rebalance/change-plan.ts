/**
 * Plans of topology changes that have not started: the tokens a reweighed or joining node
 * would take and the ranges that would move. Pure: the ring, the node and the options in, the
 * plan out. The allocators' one random draw is seeded from the ring checksum and the request,
 * so the same request on the same ring gives the same plan: a set-weight dry-run shows exactly
 * the ranges the change then moves, as long as the ring does not change in between.
 */
import { DkvError } from '../errors.js';
import { allocateTokens } from '../ring/allocate.js';
import { murmur3x86_32 } from '../ring/hash.js';
import { reweighTokens } from '../ring/reweigh.js';
import type { Ring } from '../ring/ring.js';
import { SeededRandom } from '../time/random.js';
import { moves, type Move } from './plan.js';

/** MAX_WEIGHT is the largest weight a node may have (the --weight limit). */
export const MAX_WEIGHT = 100;

export interface PlanOptions {
  /** n is the replication factor. */
  n: number;
  /** tokensPerWeight is the number of tokens per unit of weight. */
  tokensPerWeight: number;
}

/** TokenPlan is a change's new tokens for one node and the moves they cause. */
export interface TokenPlan {
  tokens: number[];
  moves: Move[];
}

/** checkWeight throws INVALID_ARGUMENT, naming the limit, unless 0 < weight <= MAX_WEIGHT. */
export function checkWeight(weight: number): void {
  if (!Number.isFinite(weight) || weight <= 0 || weight > MAX_WEIGHT) throw new DkvError('INVALID_ARGUMENT', `weight: must be in (0, ${MAX_WEIGHT}], got ${weight}`);
}

const seeded = (s: string) => new SeededRandom(murmur3x86_32(Buffer.from(s, 'utf8'), 0));

/**
 * reweighPlan returns the tokens node `id` (on `ring`) would hold at `weight` and the moves
 * that follow. Throws FAILED_PRECONDITION when a move involves neither this node as source nor
 * as destination (possible with zone-aware placement): set-weight streams only ranges the
 * reweighed node gives or takes.
 */
export function reweighPlan(ring: Ring, id: string, weight: number, opts: PlanOptions): TokenPlan {
  checkWeight(weight);
  const node = ring.node(id);
  if (!node || node.tokens.length === 0) throw new DkvError('FAILED_PRECONDITION', `${id} owns no tokens on the ring`);
  const tokens = reweighTokens(ring, id, weight, { tokensPerWeight: opts.tokensPerWeight, replicas: opts.n, zone: node.zone }, seeded(`${ring.checksum()}|${id}|${weight}`));
  const all = moves(ring, ring.withNode({ ...node, weight, tokens }), opts.n);
  const foreign = all.filter((m) => m.to !== id && !m.from.includes(id));
  if (foreign.length > 0) {
    const f = foreign[0];
    throw new DkvError('FAILED_PRECONDITION', `reweighing ${id} to ${weight} would move ${foreign.length} range(s) between other nodes (zone placement), e.g. (${f.range.start}, ${f.range.end}] ${f.from.join(',')} -> ${f.to}; set-weight streams only ranges the reweighed node gives or takes`);
  }
  return { tokens, moves: all };
}

/**
 * joinPlan returns the tokens a new node `id` of `weight` in `zone` would take if it joined
 * `ring` now, and the moves. The joining node draws its own tokens when it starts, so its real
 * ranges may differ; their number, shares and sizes are what to expect.
 */
export function joinPlan(ring: Ring, id: string, weight: number, zone: string, opts: PlanOptions): TokenPlan {
  checkWeight(weight);
  if (ring.ownerCount === 0) throw new DkvError('FAILED_PRECONDITION', 'the ring is empty: the first node of a cluster moves nothing');
  const tokens = allocateTokens(ring, id, weight, { tokensPerWeight: opts.tokensPerWeight, replicas: opts.n, zone }, seeded(`${ring.checksum()}|${id}|${weight}|${zone}`));
  return { tokens, moves: moves(ring, ring.withNode({ id, zone, weight, tokens }), opts.n) };
}
