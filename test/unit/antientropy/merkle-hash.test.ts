import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_HASH, HASH_BYTES, type LeafEntry, MerkleTree, isEmptyHash, leafHash, nodeHash } from '../../../src/antientropy/merkle.js';
import { fcSeed } from '../storage/fc-seed.js';
import { digestOf, entriesArb, shuffle } from './merkle-fixtures.js';

function entry(key: string, version: number, pos = 1): LeafEntry {
  const k = Buffer.from(key);
  return { key: k, pos, digest: digestOf(k, version) };
}

function xor(a: Buffer, b: Buffer): Buffer {
  return Buffer.from(a.map((x, i) => x ^ b[i]));
}

describe('leafHash', () => {
  it('hashes an empty leaf to EMPTY_HASH, and anything else to something else', () => {
    expect(leafHash([]).equals(EMPTY_HASH)).toBe(true);
    expect(isEmptyHash(leafHash([]))).toBe(true);
    const h = leafHash([entry('a', 1)]);
    expect(h.length).toBe(HASH_BYTES);
    expect(isEmptyHash(h)).toBe(false);
  });

  it('does not depend on entry order', () => {
    const seed = fcSeed('merkle leafHash order-independent');
    const range = { start: 0, end: 0 };
    fc.assert(
      fc.property(entriesArb(range, 30), fc.array(fc.nat(), { minLength: 1 }), (entries, randoms) => {
        expect(leafHash(shuffle(entries, randoms)).equals(leafHash(entries))).toBe(true);
      }),
      { seed },
    );
  });

  it('changes with any key or digest change', () => {
    const base = leafHash([entry('a', 1), entry('b', 1)]);
    expect(leafHash([entry('a', 1), entry('b', 2)]).equals(base)).toBe(false);
    expect(leafHash([entry('a', 1), entry('c', 1)]).equals(base)).toBe(false);
    expect(leafHash([entry('a', 1)]).equals(base)).toBe(false);
  });

  it('frames entries unambiguously: two entries never hash like one entry with a spliced key', () => {
    const a = entry('a', 1);
    const b = entry('b', 2);
    // Without the length prefix both would feed the bytes "a" D1 "b" D2.
    const spliced: LeafEntry = { key: Buffer.concat([a.key, a.digest, b.key]), pos: 1, digest: b.digest };
    expect(leafHash([a, b]).equals(leafHash([spliced]))).toBe(false);
  });

  it('rejects a key listed twice and digests of the wrong size', () => {
    expect(() => leafHash([entry('a', 1), entry('a', 2)])).toThrow(RangeError);
    expect(() => leafHash([{ key: Buffer.from('a'), pos: 1, digest: Buffer.alloc(15) }])).toThrow(RangeError);
  });
});

describe('nodeHash', () => {
  const p = leafHash([entry('p', 1)]);
  const q = leafHash([entry('q', 1)]);

  it('keeps empty subtrees empty and is order-sensitive', () => {
    expect(nodeHash(EMPTY_HASH, EMPTY_HASH).equals(EMPTY_HASH)).toBe(true);
    expect(isEmptyHash(nodeHash(p, EMPTY_HASH))).toBe(false);
    expect(nodeHash(p, EMPTY_HASH).equals(nodeHash(EMPTY_HASH, p))).toBe(false);
    expect(() => nodeHash(Buffer.alloc(3), p)).toThrow(RangeError);
  });

  it('XOR would hide equal differences; concatenation does not (counter-example)', () => {
    // Replica A holds leaf sets {p} then {q}; replica B holds {q} then {p}. Both leaves differ
    // between the replicas by the same delta p ^ q, so an XOR parent cancels the two deltas.
    expect(xor(p, q).equals(xor(q, p))).toBe(true); // equal deltas, so XOR parents collide
    expect(nodeHash(p, q).equals(nodeHash(q, p))).toBe(false); // concatenation tells them apart

    // The same through whole trees: the roots differ and the exchange would descend.
    const range = { start: 0, end: 0 };
    const a = MerkleTree.build(range, 1, []);
    const b = MerkleTree.build(range, 1, []);
    a.setLeaf(0, p);
    a.setLeaf(1, q);
    b.setLeaf(0, q);
    b.setLeaf(1, p);
    expect(xor(a.hash(1), a.hash(2)).equals(xor(b.hash(1), b.hash(2)))).toBe(true);
    expect(a.root().equals(b.root())).toBe(false);
  });
});
