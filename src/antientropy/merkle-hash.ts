/**
 * Hashes of Merkle leaves and interior nodes (Merkle 1987; Dynamo 2007 §4.7).
 *
 * Every hash is SHA-256 truncated to HASH_BYTES = 16 bytes, with a one-byte domain tag in
 * front (0x00 leaf, 0x01 interior), as in RFC 6962 §2.1, so a leaf's bytes can never be read
 * as an interior node's. An interior node hashes the CONCATENATION of its children, never
 * their XOR: with XOR, two replicas whose leaves differ by the same delta in two places
 * (or hold the same leaf hashes in swapped leaves) get equal parents and the difference is
 * never found (test/unit/antientropy/merkle-hash.test.ts shows it).
 *
 * Empty subtrees: an empty leaf hashes to EMPTY_HASH (16 zero bytes), and a node whose two
 * children are both EMPTY_HASH is EMPTY_HASH too. So a fresh tree is all zeros (a zero-filled
 * buffer, free to allocate) and an empty subtree is recognised without hashing. A real SHA-256
 * output equals zero with probability 2^-128, which we accept.
 */
import { createHash } from 'node:crypto';
import { DIGEST_BYTES } from '../versioning/digest.js';

/** HASH_BYTES is the size of every leaf and node hash. */
export const HASH_BYTES = 16;

const LEAF_TAG = Buffer.from([0x00]);
const NODE_TAG = Buffer.from([0x01]);
const ZERO = Buffer.alloc(HASH_BYTES);

/** EMPTY_HASH is the hash of an empty leaf and of an all-empty subtree. Never mutate it. */
export const EMPTY_HASH: Buffer = Buffer.alloc(HASH_BYTES);

/** KeyDigest is one key and the 16-byte digest of its record (versioning/digest.ts). */
export interface KeyDigest {
  readonly key: Buffer;
  readonly digest: Buffer;
}

/** LeafEntry is a key, its ring position (hashKey(key), the caller's duty) and its record digest. */
export interface LeafEntry extends KeyDigest {
  readonly pos: number;
}

/** isEmptyHash tells whether `h` equals EMPTY_HASH. */
export function isEmptyHash(h: Uint8Array): boolean {
  return h.length === HASH_BYTES && ZERO.equals(h);
}

/** compareEntries orders entries by ring position, then by key bytes (the leaf hash order). */
export function compareEntries(a: LeafEntry, b: LeafEntry): number {
  return a.pos - b.pos || Buffer.compare(a.key, b.key);
}

/**
 * leafHash is the hash of one leaf's entries, whatever order they are given in.
 * Encoding, after the leaf tag, per entry in (pos, key bytes) order: the key length as a
 * 4-byte big-endian unsigned integer, the key bytes, then the DIGEST_BYTES-byte digest. The
 * length prefix and the fixed digest size make the stream parse one way only. Positions are
 * not hashed: they are a function of the key. Throws RangeError on a digest of the wrong
 * size or on a key listed twice (a replica holds one record per key).
 */
export function leafHash(entries: readonly LeafEntry[]): Buffer {
  if (entries.length === 0) return Buffer.alloc(HASH_BYTES);
  const sorted = [...entries].sort(compareEntries);
  const h = createHash('sha256');
  h.update(LEAF_TAG);
  const len = Buffer.alloc(4);
  for (let i = 0; i < sorted.length; i++) {
    const e = sorted[i];
    if (e.digest.length !== DIGEST_BYTES) {
      throw new RangeError(`merkle: digest of ${e.digest.length} bytes, want ${DIGEST_BYTES}`);
    }
    if (i > 0 && sorted[i - 1].pos === e.pos && sorted[i - 1].key.equals(e.key)) {
      throw new RangeError(`merkle: key ${e.key.toString('hex')} listed twice in one leaf`);
    }
    len.writeUInt32BE(e.key.length, 0);
    h.update(len);
    h.update(e.key);
    h.update(e.digest);
  }
  return h.digest().subarray(0, HASH_BYTES);
}

/**
 * nodeHash is the hash of an interior node from its children's hashes: EMPTY_HASH when both
 * are empty, else SHA-256(0x01 || left || right) truncated. Order matters: swapping the
 * children changes the result.
 */
export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_BYTES || right.length !== HASH_BYTES) {
    throw new RangeError(`merkle: child hashes must be ${HASH_BYTES} bytes`);
  }
  if (ZERO.equals(left) && ZERO.equals(right)) return Buffer.alloc(HASH_BYTES);
  return createHash('sha256').update(NODE_TAG).update(left).update(right).digest().subarray(0, HASH_BYTES);
}
