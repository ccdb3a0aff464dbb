import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EMPTY_HASH,
  type LeafEntry,
  MerkleTree,
  type RingRange,
  diffKeys,
  leafOf,
  nextFrontier,
} from '../../../src/antientropy/merkle.js';
import { hashKey } from '../../../src/ring/hash.js';
import { fcSeed } from '../storage/fc-seed.js';
import { digestOf, entriesArb, exchange, posAt, rangeDepthArb } from './merkle-fixtures.js';

const keysOf = (xs: Buffer[]) => xs.map((k) => k.toString());
const sortedStrings = (xs: Iterable<string>) => [...xs].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));

/** listLeaves is what a side sends for the differing leaves: its entries falling in them. */
function listLeaves(entries: readonly LeafEntry[], leaves: readonly number[], range: RingRange, depth: number): LeafEntry[] {
  const wanted = new Set(leaves);
  return entries.filter((e) => wanted.has(leafOf(e.pos, range, depth)));
}

describe('nextFrontier', () => {
  const whole = { start: 0, end: 0 };

  it('drops equal nodes, expands differing interior nodes, reports differing leaves', () => {
    const key = Buffer.from('a');
    const a = MerkleTree.build(whole, 2, [{ key, pos: 10, digest: digestOf(key, 1) }]);
    const b = MerkleTree.build(whole, 2, [{ key, pos: 10, digest: digestOf(key, 2) }]);
    expect(nextFrontier(a, [0], [a.root()])).toEqual({ differingLeaves: [], next: [] });
    expect(nextFrontier(a, [0], [b.root()])).toEqual({ differingLeaves: [], next: [1, 2] });
    expect(nextFrontier(a, [1, 2], [b.hash(1), b.hash(2)])).toEqual({ differingLeaves: [], next: [3, 4] });
    expect(nextFrontier(a, [3, 4], [b.hash(3), b.hash(4)])).toEqual({ differingLeaves: [0], next: [] });
    expect(() => nextFrontier(a, [0, 1], [b.root()])).toThrow(RangeError);
  });

  it('reports every non-empty local leaf under a node the peer says is empty, without descending', () => {
    const entries = [5, 2 ** 31 + 5, 2 ** 32 - 1].map((pos, i) => {
      const key = Buffer.from(`k${i}`);
      return { key, pos, digest: digestOf(key, 1) };
    });
    const a = MerkleTree.build(whole, 3, entries);
    expect(nextFrontier(a, [0], [EMPTY_HASH])).toEqual({ differingLeaves: [0, 4, 7], next: [] });
    const empty = MerkleTree.build(whole, 3, []);
    expect(exchange(a, empty)).toEqual({ leaves: [0, 4, 7], rounds: 1, hashesAsked: 1 });
    expect(exchange(empty, a).leaves).toEqual([0, 4, 7]); // the empty side must descend to learn
  });
});

describe('diffKeys', () => {
  it('sorts keys into missing on either side and different', () => {
    const e = (k: string, v: number) => ({ key: Buffer.from(k), digest: digestOf(Buffer.from(k), v) });
    const out = diffKeys([e('same', 1), e('changed', 1), e('onlyLocal', 1)], [e('onlyRemote', 1), e('changed', 2), e('same', 1)]);
    expect(keysOf(out.missingLocally)).toEqual(['onlyRemote']);
    expect(keysOf(out.missingRemotely)).toEqual(['onlyLocal']);
    expect(keysOf(out.different)).toEqual(['changed']);
    expect(() => diffKeys([e('x', 1), e('x', 2)], [])).toThrow(RangeError);
  });
});

describe('Merkle exchange', () => {
  it('finds exactly the leaves and keys where two replicas differ', () => {
    const seed = fcSeed('merkle exchange finds exactly the differences');
    // Changes to shared keys (picked by index into the base set), and fresh keys on one side only.
    const edits = fc.array(fc.tuple(fc.nat(), fc.constantFrom('rewrite', 'dropA', 'dropB')), { maxLength: 10 });
    const fresh = fc.array(fc.tuple(fc.nat(), fc.boolean()), { maxLength: 4 });
    const arb = rangeDepthArb(10).chain(({ range, depth }) =>
      fc.tuple(fc.constant(range), fc.constant(depth), entriesArb(range, 80), edits, fresh),
    );
    fc.assert(
      fc.property(arb, ([range, depth, base, edited, added]) => {
        const a = new Map(base.map((e) => [e.key.toString(), e]));
        const b = new Map(a);
        const want = { missingLocally: new Set<string>(), missingRemotely: new Set<string>(), different: new Set<string>() };
        const changed: LeafEntry[] = [];
        for (const [n, kind] of base.length > 0 ? edited : []) {
          const e = base[n % base.length];
          const id = e.key.toString();
          if (!a.has(id) || !b.has(id) || !a.get(id)?.digest.equals(b.get(id)?.digest ?? Buffer.alloc(0))) continue;
          changed.push(e);
          if (kind === 'rewrite') {
            b.set(id, { ...e, digest: digestOf(e.key, 99) }); // base versions are 0..3
            want.different.add(id);
          } else if (kind === 'dropA') {
            a.delete(id);
            want.missingLocally.add(id);
          } else {
            b.delete(id);
            want.missingRemotely.add(id);
          }
        }
        for (const [n, [offset, onA]] of added.entries()) {
          const key = Buffer.from(`fresh${n}`);
          const e = { key, pos: posAt(range, offset), digest: digestOf(key, 0) };
          (onA ? a : b).set(key.toString(), e);
          (onA ? want.missingRemotely : want.missingLocally).add(key.toString());
          changed.push(e);
        }
        const listA = [...a.values()];
        const listB = [...b.values()];
        const ta = MerkleTree.build(range, depth, listA);
        const tb = MerkleTree.build(range, depth, listB);
        const found = exchange(ta, tb);
        const leaves = new Set(changed.map((e) => leafOf(e.pos, range, depth)));
        expect(found.leaves).toEqual([...leaves].sort((x, y) => x - y));
        expect(exchange(tb, ta).leaves).toEqual(found.leaves);
        expect(found.rounds).toBeLessThanOrEqual(depth + 1);
        const diff = diffKeys(listLeaves(listA, found.leaves, range, depth), listLeaves(listB, found.leaves, range, depth));
        expect(keysOf(diff.missingLocally)).toEqual(sortedStrings(want.missingLocally));
        expect(keysOf(diff.missingRemotely)).toEqual(sortedStrings(want.missingRemotely));
        expect(keysOf(diff.different)).toEqual(sortedStrings(want.different));
      }),
      { seed, numRuns: 300 },
    );
  });

  it('exchanges < 1% of a full transfer for 10 differing keys among 100,000 at depth 12', () => {
    const N = 100_000;
    const DEPTH = 12;
    const whole = { start: 0, end: 0 };
    const make = (i: number, version: number): LeafEntry => {
      const key = Buffer.from(`user:${i}`);
      return { key, pos: hashKey(key), digest: digestOf(key, version) };
    };
    const a: LeafEntry[] = [];
    const b: LeafEntry[] = [];
    const changed = new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((k) => (k * 9_973) % N));
    const kinds = ['rewrite', 'rewrite', 'rewrite', 'rewrite', 'onlyA', 'onlyA', 'onlyA', 'onlyB', 'onlyB', 'onlyB'];
    const kindOf = new Map([...changed].map((i, n) => [i, kinds[n]]));
    for (let i = 0; i < N; i++) {
      const kind = kindOf.get(i);
      if (kind !== 'onlyB') a.push(make(i, 1));
      if (kind !== 'onlyA') b.push(make(i, kind === 'rewrite' ? 2 : 1));
    }
    const ta = MerkleTree.build(whole, DEPTH, a);
    const tb = MerkleTree.build(whole, DEPTH, b);
    const found = exchange(ta, tb);
    const expectedLeaves = new Set([...changed].map((i) => leafOf(make(i, 1).pos, whole, DEPTH)));
    expect(found.leaves).toEqual([...expectedLeaves].sort((x, y) => x - y));

    const listA = listLeaves(a, found.leaves, whole, DEPTH);
    const listB = listLeaves(b, found.leaves, whole, DEPTH);
    const diff = diffKeys(listA, listB);
    expect(diff.different.length + diff.missingLocally.length + diff.missingRemotely.length).toBe(10);

    // Costs, counted conservatively: every hash returned (16 B) and every node index asked (4 B),
    // and both sides listing the differing leaves (4 B key length + key + 16 B digest per key).
    const hashBytes = found.hashesAsked * 16;
    const indexBytes = found.hashesAsked * 4;
    const listed = [...listA, ...listB];
    const listingBytes = listed.reduce((sum, e) => sum + 4 + e.key.length + 16, 0);
    const total = hashBytes + indexBytes + listingBytes;
    const fullTransfer = N * 32;
    console.log(
      `[merkle bytes] rounds=${found.rounds} hashes=${found.hashesAsked} (${hashBytes} B + ${indexBytes} B indexes), ` +
        `leaves=${found.leaves.length} keysListed=${listed.length} (${listingBytes} B), total=${total} B ` +
        `= ${((100 * total) / fullTransfer).toFixed(3)}% of ${fullTransfer} B`,
    );
    expect(found.rounds).toBeLessThanOrEqual(DEPTH + 1);
    expect(total).toBeLessThan(fullTransfer / 100);
  });
});
