/**
 * Ring ranges and their split into Merkle leaves (Merkle 1987; Dynamo 2007 §4.7).
 *
 * A range is `(start, end]` on the ring of uint32 positions [0, 2^32), wrapping past 2^32 - 1
 * to 0, exactly as the ring assigns keys (src/ring/ring.ts: a key belongs to the first token
 * >= its hash, so a token owns the positions after its predecessor up to itself).
 * `start === end` means the whole ring, never the empty range: no range here is empty.
 *
 * Leaves: a range of `size` positions is split into 2^depth sub-ranges of `floor(size / 2^depth)`
 * positions each, in ring order from `start + 1`; the last leaf also takes the remainder
 * (fewer than 2^depth extra positions). The split needs at least one position per leaf, so
 * `2^depth <= size`; `fitDepth` lowers a wanted depth to what a small range allows. Both
 * replicas of a range must build with the same (range, depth), or their leaves do not line up.
 *
 * Like riak_core's hashtree.erl, the tree is fixed-size (its shape depends only on the range
 * and depth, never on the keys), so inserts never rebalance it and two replicas can compare
 * node by node. All functions are pure; arguments out of domain throw RangeError.
 */

/** RING_POSITIONS is the number of positions on the ring, 2^32. */
export const RING_POSITIONS = 2 ** 32;

/** MAX_DEPTH is the deepest tree supported: 2^20 leaves, 2^21 - 1 nodes (32 MiB of hashes). */
export const MAX_DEPTH = 20;

/** RingRange is `(start, end]`: positions after `start` up to and including `end`, wrapping. */
export interface RingRange {
  /** start is the exclusive lower bound, a uint32. */
  readonly start: number;
  /** end is the inclusive upper bound, a uint32; equal to start means the whole ring. */
  readonly end: number;
}

function isU32(x: number): boolean {
  return Number.isInteger(x) && x >= 0 && x < RING_POSITIONS;
}

function checkPos(pos: number): void {
  if (!isU32(pos)) throw new RangeError(`merkle: position ${pos} is not a uint32`);
}

function checkRange(range: RingRange): void {
  if (!isU32(range.start) || !isU32(range.end)) {
    throw new RangeError(`merkle: range (${range.start}, ${range.end}] bounds must be uint32`);
  }
}

/** checkDepth throws unless depth is an integer in [0, MAX_DEPTH]. */
export function checkDepth(depth: number): void {
  if (!Number.isInteger(depth) || depth < 0 || depth > MAX_DEPTH) {
    throw new RangeError(`merkle: depth ${depth} must be an integer in [0, ${MAX_DEPTH}]`);
  }
}

/** mod32 reduces any safe integer into [0, 2^32), never returning -0 (x % m keeps x's sign). */
function mod32(x: number): number {
  const r = x % RING_POSITIONS;
  return r < 0 ? r + RING_POSITIONS : r + 0;
}

/** offsetIn is how far `pos` lies past `start + 1` going clockwise: 0 for the first position. */
function offsetIn(pos: number, range: RingRange): number {
  return mod32(pos - range.start - 1);
}

/** rangeSize is the number of positions in the range: 2^32 for the whole ring, else in [1, 2^32). */
export function rangeSize(range: RingRange): number {
  checkRange(range);
  return range.start === range.end ? RING_POSITIONS : mod32(range.end - range.start);
}

/** inRange tells whether the uint32 position `pos` lies in `(start, end]`, wrapping. */
export function inRange(pos: number, range: RingRange): boolean {
  checkPos(pos);
  return offsetIn(pos, range) < rangeSize(range);
}

/** fitDepth is min(depth, floor(log2(rangeSize))): the deepest split of `range` not above `depth`. */
export function fitDepth(range: RingRange, depth: number): number {
  checkDepth(depth);
  const size = rangeSize(range);
  let d = depth;
  while (2 ** d > size) d--;
  return d;
}

/** leafWidth is the width of every leaf but the last; throws if the range has fewer positions than leaves. */
function leafWidth(range: RingRange, depth: number): number {
  checkDepth(depth);
  const size = rangeSize(range);
  if (2 ** depth > size) {
    throw new RangeError(`merkle: range of ${size} positions cannot hold 2^${depth} leaves (see fitDepth)`);
  }
  return Math.floor(size / 2 ** depth);
}

/**
 * leafOf is the leaf index in [0, 2^depth) whose sub-range holds `pos`. Throws RangeError if
 * `pos` is outside `range`. Agrees with leafBounds: inRange(pos, leafBounds(leafOf(pos))).
 */
export function leafOf(pos: number, range: RingRange, depth: number): number {
  const width = leafWidth(range, depth);
  if (!inRange(pos, range)) throw new RangeError(`merkle: position ${pos} is outside (${range.start}, ${range.end}]`);
  return Math.min(Math.floor(offsetIn(pos, range) / width), 2 ** depth - 1);
}

/**
 * leafBounds is the sub-range `(start, end]` of leaf `leaf` in [0, 2^depth). Leaves tile the
 * range in ring order without gaps or overlap; the whole ring at depth 0 gives (start, start].
 */
export function leafBounds(leaf: number, range: RingRange, depth: number): RingRange {
  const width = leafWidth(range, depth);
  const leaves = 2 ** depth;
  if (!Number.isInteger(leaf) || leaf < 0 || leaf >= leaves) {
    throw new RangeError(`merkle: leaf ${leaf} is not in [0, ${leaves})`);
  }
  const lo = leaf * width;
  const hi = leaf === leaves - 1 ? rangeSize(range) : lo + width;
  return { start: mod32(range.start + lo), end: mod32(range.start + hi) };
}
