/**
 * Key hashing: maps a key's bytes to a position on the ring space [0, 2^32).
 *
 * Contract: the result depends only on the key bytes (no seed from configuration, no
 * platform endianness), so every node and every client places a key at the same position.
 * Changing this function re-homes every key in every cluster: treat it as a wire format.
 *
 * Algorithm: MurmurHash3 x86_32 (Austin Appleby, 2011; public domain), seed 0, written from
 * the published description. It was chosen over the first four bytes of node:crypto md5
 * because it runs on the hot path of every request; `scripts/ring-balance.ts` measures both
 * (murmur3 is several times faster for typical short keys, with no native call). Murmur3 is
 * not collision-resistant against an adversary; the ring only needs good dispersion.
 */

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/** hashKey returns the unsigned 32-bit ring position of a key (MurmurHash3 x86_32, seed 0). */
export function hashKey(key: Uint8Array): number {
  return murmur3x86_32(key, 0);
}

/**
 * murmur3x86_32 is MurmurHash3 x86_32 of `data` with an unsigned 32-bit `seed`; the result is
 * an unsigned 32-bit integer. Blocks are read little-endian, as in the reference.
 */
export function murmur3x86_32(data: Uint8Array, seed: number): number {
  const len = data.length;
  const tailStart = len & ~3;
  let h = seed | 0;
  let i = 0;
  for (; i < tailStart; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, C1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, C2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (len & 3) {
    case 3:
      k ^= data[i + 2] << 16;
    // falls through
    case 2:
      k ^= data[i + 1] << 8;
    // falls through
    case 1:
      k ^= data[i];
      k = Math.imul(k, C1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, C2);
      h ^= k;
  }
  h ^= len;
  // Final avalanche (fmix32).
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
