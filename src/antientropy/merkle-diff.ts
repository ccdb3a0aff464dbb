/**
 * Pure steps of a top-down Merkle comparison (Merkle 1987; Dynamo 2007 §4.7) in which the
 * remote tree is reachable only by asking for node hashes, one level per round trip.
 *
 * Protocol, driven by the side holding `local`:
 *   frontier = [0]
 *   while frontier is not empty:
 *     remote = ask the peer for the hashes of the nodes in `frontier` (same order)
 *     { differingLeaves, next } = nextFrontier(local, frontier, remote)
 *     collect differingLeaves; frontier = next
 *   for the collected leaves, both sides list (key, digest) of the keys in leafBounds(leaf),
 *   and diffKeys says which keys to push, pull or reconcile.
 * Both trees must share (range, depth). The exchange takes at most depth + 1 rounds and asks
 * for about 2 * depth hashes per differing leaf (fewer where paths share ancestors), so its
 * cost grows with the number of differences, not with the number of keys.
 */
import { HASH_BYTES, type KeyDigest, isEmptyHash } from './merkle-hash.js';
import { childrenOf, isLeaf, leafIndexOf } from './merkle-layout.js';
import type { MerkleTree } from './merkle.js';

/** FrontierStep is the outcome of one round of the exchange. */
export interface FrontierStep {
  /** differingLeaves are leaf numbers (not node indexes) whose hashes differ, ascending. */
  differingLeaves: number[];
  /** next are the node indexes to ask the peer for in the next round; empty means done. */
  next: number[];
}

/**
 * nextFrontier compares the hashes the peer returned for the nodes in `frontier` (same order,
 * 16 bytes each) with `local`'s. Equal nodes are dropped: their subtrees agree. A differing
 * leaf is reported. A differing interior node is expanded into its two children for the next
 * round, except when the peer's hash is EMPTY_HASH: the peer holds nothing below it, so every
 * non-empty local leaf below differs and is reported now without asking. Pure except for the
 * lazy recomputation inside local.hash(). Throws RangeError on mismatched lengths.
 */
export function nextFrontier(local: MerkleTree, frontier: readonly number[], remoteHashes: readonly Uint8Array[]): FrontierStep {
  if (frontier.length !== remoteHashes.length) {
    throw new RangeError(`merkle: ${frontier.length} nodes asked but ${remoteHashes.length} hashes given`);
  }
  const differingLeaves: number[] = [];
  const next: number[] = [];
  for (let k = 0; k < frontier.length; k++) {
    const node = frontier[k];
    const theirs = remoteHashes[k];
    if (theirs.length !== HASH_BYTES) throw new RangeError(`merkle: remote hash of node ${node} is not ${HASH_BYTES} bytes`);
    if (local.hash(node).equals(theirs)) continue;
    if (isLeaf(node, local.depth)) differingLeaves.push(leafIndexOf(node, local.depth));
    else if (isEmptyHash(theirs)) nonEmptyLeavesUnder(local, node, differingLeaves);
    else next.push(...childrenOf(node));
  }
  differingLeaves.sort((a, b) => a - b);
  return { differingLeaves, next };
}

/** nonEmptyLeavesUnder appends the leaf numbers of `tree`'s non-empty leaves below `node`, in ring order. */
function nonEmptyLeavesUnder(tree: MerkleTree, node: number, out: number[]): void {
  if (isEmptyHash(tree.hash(node))) return;
  if (isLeaf(node, tree.depth)) {
    out.push(leafIndexOf(node, tree.depth));
    return;
  }
  const [left, right] = childrenOf(node);
  nonEmptyLeavesUnder(tree, left, out);
  nonEmptyLeavesUnder(tree, right, out);
}

/** KeyDiff is what each side lacks, by key; every list is sorted by key bytes. */
export interface KeyDiff {
  /** missingLocally are keys the remote lists and the local side does not: pull them. */
  missingLocally: Buffer[];
  /** missingRemotely are keys the local side lists and the remote does not: push them. */
  missingRemotely: Buffer[];
  /** different are keys both list with different digests: exchange records and sync them. */
  different: Buffer[];
}

function indexByKey(list: readonly KeyDigest[], side: string): Map<string, KeyDigest> {
  const byKey = new Map<string, KeyDigest>();
  for (const e of list) {
    const id = e.key.toString('hex');
    if (byKey.has(id)) throw new RangeError(`merkle: ${side} lists key ${id} twice`);
    byKey.set(id, e);
  }
  return byKey;
}

/**
 * diffKeys compares the (key, digest) listings of the same leaves from both sides (pass the
 * keys of every differing leaf at once, or one leaf at a time). Keys listed by both with
 * equal digests are in sync and omitted. Throws RangeError if a side lists a key twice.
 */
export function diffKeys(local: readonly KeyDigest[], remote: readonly KeyDigest[]): KeyDiff {
  const mine = indexByKey(local, 'local');
  const theirs = indexByKey(remote, 'remote');
  const out: KeyDiff = { missingLocally: [], missingRemotely: [], different: [] };
  for (const [id, e] of mine) {
    const other = theirs.get(id);
    if (other === undefined) out.missingRemotely.push(e.key);
    else if (!other.digest.equals(e.digest)) out.different.push(e.key);
  }
  for (const [id, e] of theirs) if (!mine.has(id)) out.missingLocally.push(e.key);
  out.missingLocally.sort(Buffer.compare);
  out.missingRemotely.sort(Buffer.compare);
  out.different.sort(Buffer.compare);
  return out;
}
