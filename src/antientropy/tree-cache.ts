import type { RecordStore } from '../storage/record-store.js';
import { hashKey } from '../ring/hash.js';
import { collectDigests } from './digest-index.js';
import { MerkleTree, inRange, leafBounds, leafHash, leafOf, type LeafEntry, type RingRange } from './merkle.js';

interface Cached {
  tree: MerkleTree;
  dirty: Set<number>;
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
 * leaves are rescanned (Merkle 1987; riak_core's hashtree keeps trees the same way).
 */
export class TreeCache {
  private readonly trees = new Map<string, Cached>();
  private tick = 0;

  constructor(
    private readonly store: RecordStore,
    /** maxBytes bounds the hashes held by cached trees (16 bytes per tree node). */
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
      const fresh: Cached = { tree: MerkleTree.build(range, depth, []), dirty: new Set(), pendingDuringBuild: [], usedAt: this.tick++ };
      fresh.ready = (async () => {
        try {
          fresh.tree = MerkleTree.build(range, depth, await collectDigests(this.store, range));
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
    if (c.dirty.size > 0) {
      const leaves = [...c.dirty];
      c.dirty.clear();
      for (const leaf of leaves) c.tree.setLeaf(leaf, leafHash(await this.leafEntries(range, depth, leaf)));
    }
    return c.tree;
  }

  /** leafEntries lists the index entries under one leaf. */
  async leafEntries(range: RingRange, depth: number, leaf: number): Promise<LeafEntry[]> {
    return collectDigests(this.store, leafBounds(leaf, range, depth));
  }

  private bytes(): number {
    let b = 0;
    for (const c of this.trees.values()) b += (2 ** (c.tree.depth + 1) - 1) * 16;
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
