/**
 * Heap layout of a complete binary Merkle tree of a given depth: the root is node 0, the
 * children of node i are 2i + 1 and 2i + 2, and the 2^depth leaves are nodes
 * [2^depth - 1, 2^(depth+1) - 1) in ring order (leaf k is node 2^depth - 1 + k). Both
 * replicas number nodes this way, so an exchange can name a node by its index alone.
 * All functions are pure; out-of-domain arguments throw RangeError.
 */
import { checkDepth } from './merkle-range.js';

/** nodeCount is the number of nodes in a tree of this depth: 2^(depth+1) - 1. */
export function nodeCount(depth: number): number {
  checkDepth(depth);
  return 2 ** (depth + 1) - 1;
}

function checkNode(i: number, depth: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= nodeCount(depth)) {
    throw new RangeError(`merkle: node ${i} is not in a tree of depth ${depth}`);
  }
}

/** childrenOf is the pair of child indexes [2i + 1, 2i + 2] of node i (meaningless for leaves). */
export function childrenOf(i: number): [number, number] {
  if (!Number.isInteger(i) || i < 0) throw new RangeError(`merkle: node ${i} is not a node index`);
  return [2 * i + 1, 2 * i + 2];
}

/** parentOf is the parent index of node i > 0. */
export function parentOf(i: number): number {
  if (!Number.isInteger(i) || i < 1) throw new RangeError(`merkle: node ${i} has no parent`);
  return (i - 1) >> 1;
}

/** isLeaf tells whether node i of a tree of this depth is a leaf. */
export function isLeaf(i: number, depth: number): boolean {
  checkNode(i, depth);
  return i >= 2 ** depth - 1;
}

/** leafIndexOf is the leaf number in [0, 2^depth) of leaf node `nodeIndex`; throws on interior nodes. */
export function leafIndexOf(nodeIndex: number, depth: number): number {
  if (!isLeaf(nodeIndex, depth)) throw new RangeError(`merkle: node ${nodeIndex} is not a leaf at depth ${depth}`);
  return nodeIndex - (2 ** depth - 1);
}

/** nodeOfLeaf is the node index of leaf `leaf` in [0, 2^depth): the inverse of leafIndexOf. */
export function nodeOfLeaf(leaf: number, depth: number): number {
  checkDepth(depth);
  if (!Number.isInteger(leaf) || leaf < 0 || leaf >= 2 ** depth) {
    throw new RangeError(`merkle: leaf ${leaf} is not in [0, ${2 ** depth})`);
  }
  return 2 ** depth - 1 + leaf;
}
