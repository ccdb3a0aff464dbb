import type { RecordStore } from '../storage/record-store.js';
import { hashKey } from '../ring/hash.js';
import { collectDigests } from './digest-index.js';
import { MerkleTree, inRange, leafBounds, leafHash, leafOf, type LeafEntry, type RingRange } from './merkle.js';

/**
 * SCAN_COST is what opening one index iterator costs, in index entries read: refreshing d dirty
 * leaves of a tree holding e entries takes one scan of the whole range when d * SCAN_COST >= e
 * (one iterator, e entries), else one scan per leaf (d iterators). Measured on LevelDB, one
 * iterator costs about as much as reading a few dozen entries; the figure is a heuristic only
 * (both ways give the same hashes).
 */
export const SCAN_COST = 16;

interface Cached {
  tree: MerkleTree;
  dirty: Set<number>;
  /** counts[leaf] is how many index entries the leaf held when last hashed; entries is their sum. */
  counts: Uint32Array;
  entries: number;
  /** refreshing is set while dirty leaves are re-hashed; a concurrent reader waits for it. */
  refreshing?: Promise<void>;
  /** building is set while the tree is first built; positions changed meanwhile land here. */
  pendingDuringBuild?: number[];
  /** ready resolves once the first build finished (concurrent readers wait for it). */
  ready?: Promise<void>;
  usedAt: number;
}

/**
 * TreeCache keeps the Merkle trees of the ranges this node has been asked about, up to date
 * as writes land: a write marks its leaf dirty in every cached tree covering its position,
 * and a dirty leaf is re-hashed from the digest index the next time the tree is read. So an
 * exchange of an unchanged range costs one root hash, and of a changed one only the changed
 * leaves are rescanned (Merkle 1987; riak_core's hashtree keeps trees the same way). When
 * many leaves of a sparse tree are dirty (under steady writes, most of them), one scan of the
 * whole range replaces one iterator per leaf (see SCAN_COST).
 *
 * Contract: tree() reflects every change whose onChange fired before the call; concurrent
 * calls share one build and one refresh at a time; a failed refresh leaves its leaves dirty.
 */
export class TreeCache {
  private readonly trees = new Map<string, Cached>();
  private tick = 0;

  constructor(
    private readonly store: RecordStore,
    /** maxBytes bounds the hashes held by cached trees (16 bytes per tree node, 4 per leaf count). */
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {
    store.onChange((key) => this.invalidate(hashKey(key)));
  }

  /** invalidate marks the leaf holding pos dirty in every cached tree that covers it. */
  invalidate(pos: number): void {
    for (const c of this.trees.values()) {
      if (!inRange(pos, c.tree.range)) continue;
      if (c.pendingDuringBuild) c.pendingDuringBuild.push(pos);
      else c.dirty.add(leafOf(pos, c.tree.range, c.tree.depth));
    }
  }

  /** tree returns the up-to-date tree of (range, depth). */
  async tree(range: RingRange, depth: number): Promise<MerkleTree> {
    const id = `${range.start}:${range.end}:${depth}`;
    let c = this.trees.get(id);
    if (!c) {
      const fresh: Cached = { tree: MerkleTree.build(range, depth, []), dirty: new Set(), counts: new Uint32Array(2 ** depth), entries: 0, pendingDuringBuild: [], usedAt: this.tick++ };
      fresh.ready = (async () => {
        try {
          const entries = await collectDigests(this.store, range);
          fresh.tree = MerkleTree.build(range, depth, entries);
          for (const e of entries) fresh.counts[leafOf(e.pos, range, depth)]++;
          fresh.entries = entries.length;
        } catch (e) {
          this.trees.delete(id);
          throw e;
        }
        for (const pos of fresh.pendingDuringBuild!) fresh.dirty.add(leafOf(pos, range, depth));
        fresh.pendingDuringBuild = undefined;
      })();
      this.trees.set(id, fresh);
      this.evict();
      c = fresh;
    }
    await c.ready;
    c.usedAt = this.tick++;
    // A refresh running now may have started before the caller's changes: wait for it, then
    // run (or join) one that started after them.
    if (c.refreshing) await c.refreshing;
    if (c.dirty.size > 0) await (c.refreshing ??= this.refresh(c).finally(() => (c.refreshing = undefined)));
    return c.tree;
  }

  /** refresh re-hashes the leaves dirty now, by one range scan or one scan per leaf. */
  private async refresh(c: Cached): Promise<void> {
    const { range, depth } = c.tree;
    const leaves = [...c.dirty];
    c.dirty.clear();
    try {
      if (leaves.length * SCAN_COST >= c.entries) {
        const buckets = new Map<number, LeafEntry[]>();
        const entries = await collectDigests(this.store, range);
        for (const e of entries) {
          const leaf = leafOf(e.pos, range, depth);
          const b = buckets.get(leaf);
          if (b) b.push(e);
          else buckets.set(leaf, [e]);
        }
        c.counts.fill(0);
        for (const [leaf, b] of buckets) c.counts[leaf] = b.length;
        c.entries = entries.length;
        for (const leaf of leaves) c.tree.setLeaf(leaf, leafHash(buckets.get(leaf) ?? []));
      } else {
        for (const leaf of leaves) {
          const entries = await this.leafEntries(range, depth, leaf);
          c.entries += entries.length - c.counts[leaf];
          c.counts[leaf] = entries.length;
          c.tree.setLeaf(leaf, leafHash(entries));
        }
      }
    } catch (e) {
      // Hashes already set are right; re-marking them dirty only costs a rescan.
      for (const leaf of leaves) c.dirty.add(leaf);
      throw e;
    }
  }

  /**
   * entriesOfLeaves lists the index entries under each of `leaves` (one list per leaf, in the
   * order given, each in position order, as leafEntries would). When the cached tree of
   * (range, depth) says one scan of the whole range is cheaper than one per leaf (SCAN_COST),
   * it takes that; with no cached tree, it goes leaf by leaf.
   */
  async entriesOfLeaves(range: RingRange, depth: number, leaves: readonly number[]): Promise<LeafEntry[][]> {
    const c = this.trees.get(`${range.start}:${range.end}:${depth}`);
    if (c && !c.pendingDuringBuild && leaves.length * SCAN_COST >= c.entries) {
      const wanted = new Map<number, LeafEntry[]>(leaves.map((leaf) => [leaf, []]));
      for (const e of await collectDigests(this.store, range)) wanted.get(leafOf(e.pos, range, depth))?.push(e);
      return leaves.map((leaf) => [...wanted.get(leaf)!]);
    }
    const out: LeafEntry[][] = [];
    for (const leaf of leaves) out.push(await this.leafEntries(range, depth, leaf));
    return out;
  }

  /** leafEntries lists the index entries under one leaf. */
  async leafEntries(range: RingRange, depth: number, leaf: number): Promise<LeafEntry[]> {
    return collectDigests(this.store, leafBounds(leaf, range, depth));
  }

  private bytes(): number {
    let b = 0;
    for (const c of this.trees.values()) b += (2 ** (c.tree.depth + 1) - 1) * 16 + c.counts.byteLength;
    return b;
  }

  private evict(): void {
    while (this.trees.size > 1 && this.bytes() > this.maxBytes) {
      let oldest: string | undefined;
      let at = Infinity;
      for (const [id, c] of this.trees) if (!c.pendingDuringBuild && c.usedAt < at) [oldest, at] = [id, c.usedAt];
      if (!oldest) return;
      this.trees.delete(oldest);
    }
  }
}
