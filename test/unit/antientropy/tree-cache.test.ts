import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/time/manual-clock.js';
import { MemoryEngine } from '../../../src/storage/memory-engine.js';
import { RecordStore } from '../../../src/storage/record-store.js';
import { newVersion } from '../../../src/versioning/siblings.js';
import { TreeCache, SCAN_COST } from '../../../src/antientropy/tree-cache.js';
import { collectDigests } from '../../../src/antientropy/digest-index.js';
import { MerkleTree, type RingRange } from '../../../src/antientropy/merkle.js';

const opts = { fsync: 'never' as const, fsyncWindowMs: 0, cacheBytes: 1 << 20 };
// (0, 2^32 - 1]: one index span, so a range scan opens one iterator.
const whole: RingRange = { start: 0, end: 0xffffffff };

async function setup() {
  const store = await RecordStore.open(new MemoryEngine(), 'n1', opts, new ManualClock());
  let counter = 0;
  const write = (keys: string[]) =>
    store.merge(
      keys.map((k) => ({
        key: Buffer.from(k),
        versions: [newVersion({ actor: 'a', counter: ++counter }, new Map(), { value: Buffer.from(`v${counter}`), tombstone: false, expiresAtMs: 0, writtenAtMs: 0 })],
      })),
    );
  // scans counts the index iterators opened (one per range scan or leaf scan).
  let scans = 0;
  const iterateRaw = store.iterateRaw.bind(store);
  store.iterateRaw = (r) => {
    scans++;
    return iterateRaw(r);
  };
  const expected = async (depth: number) => MerkleTree.build(whole, depth, await collectDigests(store, whole)).root();
  return { store, write, expected, scans: () => scans };
}

const keys = (n: number, tag = 'k') => Array.from({ length: n }, (_, i) => `${tag}${i}`);

describe('TreeCache', () => {
  it('re-hashes many dirty leaves of a sparse tree with one range scan, giving the same root as a fresh build', async () => {
    const s = await setup();
    const cache = new TreeCache(s.store);
    await s.write(keys(40));
    await cache.tree(whole, 12);
    await s.write(keys(40).slice(0, 30));
    const before = s.scans();
    const root = (await cache.tree(whole, 12)).root();
    expect(s.scans() - before).toBe(1);
    expect(root).toEqual(await s.expected(12));
  });

  it('re-hashes a few dirty leaves of a dense tree one leaf at a time, giving the same root as a fresh build', async () => {
    const s = await setup();
    const cache = new TreeCache(s.store);
    await s.write(keys(4 * SCAN_COST));
    await cache.tree(whole, 2);
    await s.write(['k0', 'new']);
    const before = s.scans();
    const root = (await cache.tree(whole, 2)).root();
    expect(s.scans() - before).toBeLessThanOrEqual(2);
    expect(root).toEqual(await s.expected(2));
    // The leaf counts followed the new key: the next refresh still picks the cheap way.
    await s.write(['k1']);
    const again = s.scans();
    const root2 = (await cache.tree(whole, 2)).root();
    expect(s.scans() - again).toBe(1);
    expect(root2).toEqual(await s.expected(2));
  });

  it('keeps the tree equal to a fresh build across writes that empty, fill and move leaves', async () => {
    const s = await setup();
    const cache = new TreeCache(s.store);
    for (let round = 0; round < 6; round++) {
      await s.write(keys(5 + round * 7, `r${round % 3}-`));
      for (const depth of [0, 3, 8]) expect((await cache.tree(whole, depth)).root()).toEqual(await s.expected(depth));
    }
  });

  it('makes a reader that arrives during a refresh wait for it instead of returning stale leaves', async () => {
    const s = await setup();
    const cache = new TreeCache(s.store);
    await s.write(keys(10));
    await cache.tree(whole, 10);
    await s.write(keys(10, 'x'));
    // Each root is read the moment its call resolves (both calls share one tree object).
    const [a, b] = await Promise.all([cache.tree(whole, 10).then((t) => t.root()), cache.tree(whole, 10).then((t) => t.root())]);
    const want = await s.expected(10);
    expect(a).toEqual(want);
    expect(b).toEqual(want);
  });

  it('leaves the leaves dirty when a refresh fails, so the next read repairs them', async () => {
    const s = await setup();
    const cache = new TreeCache(s.store);
    await s.write(keys(10));
    await cache.tree(whole, 10);
    await s.write(keys(10, 'y'));
    const iterateRaw = s.store.iterateRaw;
    s.store.iterateRaw = () => {
      throw new Error('disk on fire');
    };
    await expect(cache.tree(whole, 10)).rejects.toThrow('disk on fire');
    s.store.iterateRaw = iterateRaw;
    expect((await cache.tree(whole, 10)).root()).toEqual(await s.expected(10));
  });

  it('lists the entries of many leaves with one range scan, the same lists as leaf by leaf', async () => {
    const s = await setup();
    const cache = new TreeCache(s.store);
    await s.write(keys(60));
    const depth = 4;
    const leaves = [9, 0, 3, 15, 7];
    // Without a cached tree: one scan per leaf.
    const before = s.scans();
    const perLeaf = await cache.entriesOfLeaves(whole, depth, leaves);
    expect(s.scans() - before).toBe(leaves.length);
    await cache.tree(whole, depth);
    const again = s.scans();
    const batched = await cache.entriesOfLeaves(whole, depth, leaves);
    expect(s.scans() - again).toBe(1);
    expect(batched).toEqual(perLeaf);
    const direct = [];
    for (const leaf of leaves) direct.push(await cache.leafEntries(whole, depth, leaf));
    expect(batched).toEqual(direct);
    expect(batched.flat().length).toBeGreaterThan(0);
  });
});
