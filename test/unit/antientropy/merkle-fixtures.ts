/**
 * Shared helpers for the Merkle tests: arbitraries for ring ranges and positions, entry
 * makers, and a simulated exchange that talks to the "remote" tree only through node hashes.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import {
  type LeafEntry,
  MerkleTree,
  type RingRange,
  RING_POSITIONS,
  fitDepth,
  nextFrontier,
  rangeSize,
} from '../../../src/antientropy/merkle.js';

/** digestOf is a deterministic 16-byte stand-in for a record digest of (key, version). */
export function digestOf(key: Buffer, version: number): Buffer {
  return createHash('sha256').update(key).update(`#${version}`).digest().subarray(0, 16);
}

/** posAt is the position `offset` places after the first position of `range`. */
export function posAt(range: RingRange, offset: number): number {
  return (range.start + 1 + (offset % rangeSize(range))) % RING_POSITIONS;
}

const u32 = fc.integer({ min: 0, max: RING_POSITIONS - 1 });

/** rangeArb yields whole-ring, tiny, small and arbitrary ranges, wrapping ones included. */
export const rangeArb: fc.Arbitrary<RingRange> = fc
  .tuple(
    fc.oneof(u32, fc.constantFrom(0, 1, RING_POSITIONS - 1)),
    fc.oneof(
      fc.constant(RING_POSITIONS),
      fc.integer({ min: 1, max: 64 }),
      fc.integer({ min: 1, max: 1 << 20 }),
      fc.integer({ min: 1, max: RING_POSITIONS - 1 }),
    ),
  )
  .map(([s, size]) => {
    const start = s + 0; // fc.integer may yield -0; the tree always answers +0
    return { start, end: (start + size) % RING_POSITIONS };
  });

/** rangeDepthArb yields a range and a depth in [0, maxDepth] that the range can hold. */
export function rangeDepthArb(maxDepth: number): fc.Arbitrary<{ range: RingRange; depth: number }> {
  return fc
    .tuple(rangeArb, fc.integer({ min: 0, max: maxDepth }))
    .map(([range, depth]) => ({ range, depth: fitDepth(range, depth) }));
}

/** entriesArb yields entries with distinct keys at random positions of `range`. */
export function entriesArb(range: RingRange, maxLength: number): fc.Arbitrary<LeafEntry[]> {
  return fc
    .uniqueArray(fc.tuple(fc.nat(5000), u32, fc.nat(3)), { selector: (t) => t[0], maxLength })
    .map((rows) =>
      rows.map(([id, offset, version]) => {
        const key = Buffer.from(`k${id}`);
        return { key, pos: posAt(range, offset), digest: digestOf(key, version) };
      }),
    );
}

/** shuffle is a Fisher–Yates shuffle driven by the given random numbers (fast-check makes them). */
export function shuffle<T>(items: readonly T[], randoms: readonly number[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = (randoms[i % Math.max(1, randoms.length)] ?? 0) % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

/** ExchangeResult is what a simulated exchange found and what it cost. */
export interface ExchangeResult {
  leaves: number[];
  rounds: number;
  hashesAsked: number;
}

/**
 * exchange runs the top-down protocol from `local`'s side; `remote` is consulted only
 * through hash(node) for the nodes asked, as a peer would answer over the network.
 */
export function exchange(local: MerkleTree, remote: MerkleTree): ExchangeResult {
  let frontier = [0];
  const leaves: number[] = [];
  let rounds = 0;
  let hashesAsked = 0;
  while (frontier.length > 0) {
    const answers = frontier.map((node) => remote.hash(node));
    rounds++;
    hashesAsked += frontier.length;
    const step = nextFrontier(local, frontier, answers);
    leaves.push(...step.differingLeaves);
    frontier = step.next;
  }
  return { leaves: leaves.sort((a, b) => a - b), rounds, hashesAsked };
}

/** allHashes is every node hash of a tree, for whole-tree equality checks. */
export function allHashes(tree: MerkleTree): string[] {
  const out: string[] = [];
  for (let i = 0; i < 2 ** (tree.depth + 1) - 1; i++) out.push(tree.hash(i).toString('hex'));
  return out;
}
