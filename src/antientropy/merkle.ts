/**
 * MerkleTree: a fixed-shape binary hash tree over one ring range (Merkle 1987), which two
 * replicas of the range compare top-down to find the keys they disagree on while exchanging
 * bytes proportional to the differences, not to the data (Dynamo 2007 §4.7).
 *
 * Shape: 2^depth leaves, leaf k covering leafBounds(k, range, depth) (merkle-range.ts), stored
 * in heap order (merkle-layout.ts). A leaf's hash is leafHash of the entries whose position
 * falls in it; an interior node's is nodeHash of its children (merkle-hash.ts). Because the
 * shape depends only on (range, depth), two trees built from the same entries are identical
 * byte for byte whatever order the entries came in.
 *
 * Updates: setLeaf overwrites one leaf hash and marks its ancestors dirty; hash() recomputes a
 * dirty node from its children on demand, so a burst of writes costs one rehash per touched
 * ancestor at the next comparison, not one per write. Invariant: every ancestor of a dirty
 * node is dirty, which lets setLeaf stop climbing at the first dirty ancestor.
 *
 * Memory: 16 bytes per node in one buffer, plus one dirty byte per interior node; depth 20 is
 * 32 MiB + 1 MiB. Every method is synchronous and does no I/O; hash() updates the internal
 * cache of dirty nodes but never changes what any later call observes.
 *
 * This module re-exports the range, hash, layout and diff helpers: import from here.
 */
import { HASH_BYTES, type LeafEntry, leafHash, nodeHash } from './merkle-hash.js';
import { nodeCount, nodeOfLeaf } from './merkle-layout.js';
import { type RingRange, checkDepth, leafOf, rangeSize } from './merkle-range.js';

export * from './merkle-range.js';
export * from './merkle-hash.js';
export * from './merkle-layout.js';
export * from './merkle-diff.js';

export class MerkleTree {
  /** range is the ring range the tree covers; the tree never changes it. */
  readonly range: RingRange;
  /** depth is the number of levels below the root: 2^depth leaves. */
  readonly depth: number;
  /** hashes holds node i's hash at bytes [16i, 16i + 16); all zero (EMPTY_HASH) when fresh. */
  private readonly hashes: Buffer;
  /** dirty[i] is 1 when interior node i must be recomputed from its children before reading. */
  private readonly dirty: Uint8Array;
  private readonly firstLeaf: number;

  private constructor(range: RingRange, depth: number) {
    checkDepth(depth);
    const size = rangeSize(range); // validates the bounds
    if (2 ** depth > size) {
      throw new RangeError(`merkle: range of ${size} positions cannot hold 2^${depth} leaves (see fitDepth)`);
    }
    this.range = { start: range.start, end: range.end };
    this.depth = depth;
    this.firstLeaf = 2 ** depth - 1;
    this.hashes = Buffer.alloc(nodeCount(depth) * HASH_BYTES);
    this.dirty = new Uint8Array(this.firstLeaf);
  }

  /**
   * build makes the tree of `range` at `depth` (0..MAX_DEPTH, 2^depth <= rangeSize) over the
   * given entries, in any order. Each entry's `pos` must lie in `range` (RangeError otherwise)
   * and should be hashKey(key); a key may appear once. Cost: one SHA-256 per non-empty leaf
   * and per interior node above one, O(entries + 2^depth).
   */
  static build(range: RingRange, depth: number, entries: readonly LeafEntry[]): MerkleTree {
    const tree = new MerkleTree(range, depth);
    const buckets = new Map<number, LeafEntry[]>();
    for (const e of entries) {
      const leaf = leafOf(e.pos, range, depth);
      const bucket = buckets.get(leaf);
      if (bucket === undefined) buckets.set(leaf, [e]);
      else bucket.push(e);
    }
    for (const [leaf, bucket] of buckets) tree.write(tree.firstLeaf + leaf, leafHash(bucket));
    for (let i = tree.firstLeaf - 1; i >= 0; i--) tree.recompute(i);
    return tree;
  }

  /** leafCount is the number of leaves, 2^depth. */
  get leafCount(): number {
    return 2 ** this.depth;
  }

  /** root is the hash of node 0: equal roots mean equal contents (up to SHA-256 collisions). */
  root(): Buffer {
    return this.hash(0);
  }

  /**
   * hash is a copy of node `nodeIndex`'s hash (16 bytes), recomputing dirty interior nodes
   * below it first. Throws RangeError for an index outside [0, 2^(depth+1) - 1).
   */
  hash(nodeIndex: number): Buffer {
    if (!Number.isInteger(nodeIndex) || nodeIndex < 0 || nodeIndex >= nodeCount(this.depth)) {
      throw new RangeError(`merkle: node ${nodeIndex} is not in a tree of depth ${this.depth}`);
    }
    this.ensure(nodeIndex);
    return Buffer.from(this.read(nodeIndex));
  }

  /**
   * setLeaf replaces the hash of leaf `leaf` in [0, 2^depth) (use leafHash of the leaf's new
   * entries, EMPTY_HASH when it has none) and marks its ancestors dirty. The hash is copied.
   */
  setLeaf(leaf: number, hash: Uint8Array): void {
    const node = nodeOfLeaf(leaf, this.depth);
    if (hash.length !== HASH_BYTES) throw new RangeError(`merkle: leaf hash must be ${HASH_BYTES} bytes`);
    this.write(node, hash);
    for (let i = node; i > 0; ) {
      i = (i - 1) >> 1;
      if (this.dirty[i] === 1) break; // its ancestors are dirty already (invariant)
      this.dirty[i] = 1;
    }
  }

  private read(i: number): Buffer {
    return this.hashes.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES);
  }

  private write(i: number, hash: Uint8Array): void {
    this.hashes.set(hash, i * HASH_BYTES);
  }

  /** recompute sets interior node i from its (clean) children and marks it clean. */
  private recompute(i: number): void {
    this.write(i, nodeHash(this.read(2 * i + 1), this.read(2 * i + 2)));
    this.dirty[i] = 0;
  }

  /** ensure makes node i clean, recursing only into dirty children (at most depth levels). */
  private ensure(i: number): void {
    if (i >= this.firstLeaf || this.dirty[i] === 0) return;
    this.ensure(2 * i + 1);
    this.ensure(2 * i + 2);
    this.recompute(i);
  }
}
