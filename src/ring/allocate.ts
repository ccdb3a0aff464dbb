/**
 * Token allocation for virtual nodes: where a joining node puts its tokens.
 *
 * Random token placement (Dynamo's strategy 1, DeCandia et al. 2007 §6.2) leaves ownership
 * skewed by tens of percent at 64 tokens per node. As with Cassandra's allocator for vnodes
 * (CASSANDRA-7032), a joining node here chooses its tokens from the current ring, by greedy
 * range splitting:
 *
 *   target(x) = weight(x) / total weight (joiner included).
 *   For each of the joiner's T tokens, with R positions still wanted and r tokens left:
 *     take q = R / r positions (rounded, >= 1) from the start of one range (prev, t] whose
 *     owner is above its target: the joiner's new token prev + q owns (prev, prev + q], the
 *     owner keeps (prev + q, t]. Which range: the one whose split best lowers the squared
 *     deviation from target of primary and of replicated (N replicas) ownership
 *     (token-splitter.ts); before the cluster has more than N nodes this is simply "the
 *     largest range of the node most above target".
 *
 * Properties (asserted in test/unit/ring/allocate.test.ts and scripts/ring-balance.ts):
 *  - only ranges the joiner takes change owner, and it takes its target share, so a 4th node
 *    joining 3 moves ~1/4 of the key space;
 *  - chunks only come from nodes above target (while any is), so nodes converge to their
 *    weight share (within a few chunks, a chunk being ≈ 1 / total tokens of the ring);
 *  - a new token lies strictly inside an existing range, so it never collides.
 * The first node has nothing to split: it gets T evenly spaced tokens from a random offset.
 * Randomness: one draw for that offset, or one draw for where the candidate scan starts (the
 * tie-break among equally good ranges). Same ring, options and draws → same tokens.
 *
 * Cost: O(T × ring tokens × w²) for a join, w being the few tokens a replica walk spans
 * (tens of milliseconds for a 10-node ring); it runs once per join, never per request.
 */
import type { Random } from '../time/random.js';
import { Ring, RING_SIZE } from './ring.js';
import { TokenSplitter } from './token-splitter.js';

/** DEFAULT_TOKENS_PER_WEIGHT is the number of tokens a weight-1 node gets. */
export const DEFAULT_TOKENS_PER_WEIGHT = 64;

/** DEFAULT_REPLICAS is the replication factor the allocator balances for when none is given. */
export const DEFAULT_REPLICAS = 3;

export interface AllocateOptions {
  /** tokensPerWeight: tokens per unit of weight (> 0); a node gets round(weight × this). Default 64. */
  tokensPerWeight?: number;
  /** replicas: the replication factor N whose replicated ownership is balanced too (>= 1). Default 3. */
  replicas?: number;
  /**
   * zone: the joining node's zone. When given (and zoneAware), replicated ownership is balanced
   * for zone-spread preference lists; when absent, for plain clockwise lists.
   */
  zone?: string;
  /** zoneAware: whether the cluster's preference lists spread zones (as preferenceList's). Default true. */
  zoneAware?: boolean;
}

/**
 * allocateTokens returns the sorted tokens a node `nodeId` of `weight` should take when it joins
 * `ring` (undefined or empty: it is the first node). It does not modify the ring. Throws if the
 * node is already on the ring or the arguments are out of range. Weight 0 yields no tokens.
 */
export function allocateTokens(
  ring: Ring | undefined,
  nodeId: string,
  weight: number,
  opts: AllocateOptions,
  random: Random,
): number[] {
  const perWeight = opts.tokensPerWeight ?? DEFAULT_TOKENS_PER_WEIGHT;
  if (!Number.isFinite(perWeight) || perWeight <= 0) throw new RangeError('allocateTokens: tokensPerWeight must be > 0');
  if (!Number.isFinite(weight) || weight < 0) throw new RangeError('allocateTokens: weight must be finite and >= 0');
  const replicas = opts.replicas ?? DEFAULT_REPLICAS;
  if (!Number.isInteger(replicas) || replicas < 1) throw new RangeError('allocateTokens: replicas must be an integer >= 1');
  if (ring?.node(nodeId)) throw new RangeError(`allocateTokens: ${JSON.stringify(nodeId)} is already on the ring`);
  const count = Math.round(weight * perWeight);
  if (count === 0) return [];
  if (ring === undefined || ring.tokenCount === 0) return evenlySpaced(count, random.uint32());
  return splitRanges(ring, weight, count, replicas, opts, random);
}

/** evenlySpaced returns `count` tokens 2^32/count apart starting at `offset`, sorted. */
function evenlySpaced(count: number, offset: number): number[] {
  if (count > RING_SIZE) throw new RangeError('allocateTokens: more tokens than ring positions');
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push((offset + Math.floor((i * RING_SIZE) / count)) % RING_SIZE);
  return out.sort((a, b) => a - b);
}

/** splitRanges runs the greedy scheme described at the top of this file. */
function splitRanges(ring: Ring, weight: number, count: number, replicas: number, opts: AllocateOptions, random: Random): number[] {
  const members = ring.nodes();
  const joiner = members.length; // member index of the joining node in the splitter
  const positions: number[] = [];
  const owners: number[] = [];
  for (let i = 0; i < ring.tokenCount; i++) {
    positions.push(ring.tokenAt(i));
    owners.push(ring.ownerAt(i));
  }
  const weights = [...members.map((n) => n.weight), weight];
  const zoneNames = [...members.map((n) => n.zone), opts.zone ?? ''];
  const zoneIndex = new Map([...new Set(zoneNames)].map((z, k) => [z, k]));
  const zones = zoneNames.map((z) => zoneIndex.get(z) as number);
  const zoneAware = opts.zone !== undefined && (opts.zoneAware ?? true);
  const splitter = new TokenSplitter(positions, owners, joiner, { weights, zones, zoneAware, replicas });
  const need = (weight / weights.reduce((s, w) => s + w, 0)) * RING_SIZE;
  const scanStart = random.int(positions.length);
  const mine: number[] = [];
  for (let k = 0; k < count; k++) {
    const want = Math.max(1, Math.round((need - splitter.joinerOwns()) / (count - k)));
    mine.push(splitter.add(want, scanStart + k));
  }
  return mine.sort((a, b) => a - b);
}

/** MemberSpec describes a node to place with buildRing. */
export interface MemberSpec {
  readonly id: string;
  readonly zone: string;
  readonly weight: number;
}

/**
 * buildRing places `specs` one by one, in the given order, with allocateTokens (passing each
 * node's zone), as a cluster growing one join at a time would. For simulations, tests and
 * tools; a running cluster allocates once per join and gossips the tokens.
 */
export function buildRing(specs: readonly MemberSpec[], opts: AllocateOptions, random: Random): Ring {
  let ring = Ring.empty();
  for (const s of specs) {
    const tokens = allocateTokens(ring, s.id, s.weight, { ...opts, zone: s.zone }, random);
    ring = ring.withNode({ id: s.id, zone: s.zone, weight: s.weight, tokens });
  }
  return ring;
}
