import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_HASH,
  type LeafEntry,
  MAX_DEPTH,
  MerkleTree,
  childrenOf,
  isLeaf,
  leafHash,
  leafIndexOf,
  leafOf,
  nodeHash,
  nodeOfLeaf,
  parentOf,
} from '../../../src/antientropy/merkle.js';
import { fcSeed } from '../storage/fc-seed.js';
import { allHashes, digestOf, entriesArb, posAt, rangeDepthArb, shuffle } from './merkle-fixtures.js';

describe('heap layout', () => {
  it('numbers children, parents and leaves', () => {
    expect(childrenOf(0)).toEqual([1, 2]);
    expect(childrenOf(5)).toEqual([11, 12]);
    expect(parentOf(12)).toBe(5);
    expect(isLeaf(2, 2)).toBe(false);
    expect(isLeaf(3, 2)).toBe(true);
    expect(leafIndexOf(3, 2)).toBe(0);
    expect(leafIndexOf(6, 2)).toBe(3);
    expect(nodeOfLeaf(3, 2)).toBe(6);
    expect(isLeaf(0, 0)).toBe(true);
    expect(() => isLeaf(7, 2)).toThrow(RangeError);
    expect(() => leafIndexOf(2, 2)).toThrow(RangeError);
    expect(() => nodeOfLeaf(4, 2)).toThrow(RangeError);
  });
});

describe('MerkleTree', () => {
  const whole = { start: 0, end: 0 };

  it('is all EMPTY_HASH when built from nothing', () => {
    const t = MerkleTree.build(whole, 4, []);
    expect(t.leafCount).toBe(16);
    expect(t.root().equals(EMPTY_HASH)).toBe(true);
    expect(allHashes(t).every((h) => h === EMPTY_HASH.toString('hex'))).toBe(true);
  });

  it('hashes leaves from their entries and nodes from their children', () => {
    const range = { start: 1000, end: 2000 };
    const entries: LeafEntry[] = [150, 400, 420, 990].map((off, i) => {
      const key = Buffer.from(`k${i}`);
      return { key, pos: 1000 + off, digest: digestOf(key, 1) };
    });
    const t = MerkleTree.build(range, 2, entries); // leaves of 250 positions
    const byLeaf = [[entries[0]], [entries[1], entries[2]], [], [entries[3]]];
    byLeaf.forEach((list, leaf) => expect(t.hash(nodeOfLeaf(leaf, 2)).equals(leafHash(list))).toBe(true));
    expect(t.hash(1).equals(nodeHash(leafHash(byLeaf[0]), leafHash(byLeaf[1])))).toBe(true);
    expect(t.root().equals(nodeHash(t.hash(1), t.hash(2)))).toBe(true);
  });

  it('validates depth, range, positions, node indexes and leaf hashes', () => {
    expect(() => MerkleTree.build(whole, MAX_DEPTH + 1, [])).toThrow(RangeError);
    expect(() => MerkleTree.build(whole, -1, [])).toThrow(RangeError);
    expect(() => MerkleTree.build(whole, 1.5, [])).toThrow(RangeError);
    expect(() => MerkleTree.build({ start: 0, end: 3 }, 2, [])).toThrow(RangeError); // 3 positions < 4 leaves
    const key = Buffer.from('x');
    expect(() => MerkleTree.build({ start: 0, end: 10 }, 1, [{ key, pos: 11, digest: digestOf(key, 1) }])).toThrow(RangeError);
    const t = MerkleTree.build(whole, 2, []);
    expect(() => t.hash(7)).toThrow(RangeError);
    expect(() => t.hash(-1)).toThrow(RangeError);
    expect(() => t.setLeaf(4, EMPTY_HASH)).toThrow(RangeError);
    expect(() => t.setLeaf(0, Buffer.alloc(8))).toThrow(RangeError);
  });

  it('returns copies: mutating a returned hash does not change the tree', () => {
    const key = Buffer.from('x');
    const t = MerkleTree.build(whole, 3, [{ key, pos: 5, digest: digestOf(key, 1) }]);
    const root = t.root();
    root.fill(7);
    expect(t.root().equals(root)).toBe(false);
  });

  it('builds at MAX_DEPTH over the whole ring', () => {
    const entries = ['a', 'b', 'c'].map((s, i) => ({ key: Buffer.from(s), pos: i * 1_000_000_007 % 2 ** 32, digest: digestOf(Buffer.from(s), 1) }));
    const t = MerkleTree.build(whole, MAX_DEPTH, entries);
    expect(t.leafCount).toBe(2 ** 20);
    const leaf = leafOf(entries[1].pos, whole, MAX_DEPTH);
    expect(t.hash(nodeOfLeaf(leaf, MAX_DEPTH)).equals(leafHash([entries[1]]))).toBe(true);
  });

  it('does not depend on the order of entries', () => {
    const seed = fcSeed('merkle build order-independent');
    const arb = rangeDepthArb(8).chain(({ range, depth }) =>
      fc.tuple(fc.constant(range), fc.constant(depth), entriesArb(range, 60), fc.array(fc.nat(), { minLength: 1 })),
    );
    fc.assert(
      fc.property(arb, ([range, depth, entries, randoms]) => {
        const a = MerkleTree.build(range, depth, entries);
        const b = MerkleTree.build(range, depth, shuffle(entries, randoms));
        expect(allHashes(b)).toEqual(allHashes(a));
      }),
      { seed },
    );
  });

  it('setLeaf updates incrementally to exactly what a rebuild gives', () => {
    const seed = fcSeed('merkle setLeaf equals rebuild');
    // An op writes key k{id} at `offset` with `version`, deletes it (version -1), or reads node hashes.
    const op = fc.oneof(
      fc.record({ kind: fc.constant('put' as const), id: fc.nat(40), offset: fc.nat(), version: fc.nat(3) }),
      fc.record({ kind: fc.constant('del' as const), id: fc.nat(40) }),
      fc.record({ kind: fc.constant('read' as const), node: fc.nat() }),
    );
    const arb = rangeDepthArb(6).chain(({ range, depth }) =>
      fc.tuple(fc.constant(range), fc.constant(depth), entriesArb(range, 30), fc.array(op, { maxLength: 40 })),
    );
    fc.assert(
      fc.property(arb, ([range, depth, initial, ops]) => {
        const tree = MerkleTree.build(range, depth, initial);
        const state = new Map<string, LeafEntry>(initial.map((e) => [e.key.toString(), e]));
        const touch = (leaf: number) => {
          const inLeaf = [...state.values()].filter((e) => leafOf(e.pos, range, depth) === leaf);
          tree.setLeaf(leaf, leafHash(inLeaf));
        };
        for (const o of ops) {
          if (o.kind === 'read') {
            tree.hash(o.node % (2 ** (depth + 1) - 1));
            continue;
          }
          const id = `k${o.id}`;
          const old = state.get(id);
          if (old !== undefined) {
            state.delete(id);
            touch(leafOf(old.pos, range, depth));
          }
          if (o.kind === 'put') {
            const key = Buffer.from(id);
            const e = { key, pos: posAt(range, o.offset), digest: digestOf(key, o.version) };
            state.set(id, e);
            touch(leafOf(e.pos, range, depth));
          }
        }
        expect(allHashes(tree)).toEqual(allHashes(MerkleTree.build(range, depth, [...state.values()])));
      }),
      { seed },
    );
  });
});
