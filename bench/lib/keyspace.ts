/**
 * Key choice for the load generator, YCSB style.
 *
 * Contract: keyOf(i, size) is the same bytes for the same (i, size) in every process, so a
 * preload and the workers address one key space: "k" + i in decimal, zero-padded to `size`
 * bytes (size >= 2 + digits of the largest index). A chooser returns an index in [0, n).
 */

export function keyOf(i: number, size: number): Buffer {
  const digits = String(i);
  if (digits.length + 1 > size) throw new Error(`--key-size ${size} is too small for key index ${i}`);
  return Buffer.from('k' + digits.padStart(size - 1, '0'), 'latin1');
}

/** keyTable builds every key once so the hot loop allocates nothing for keys. */
export function keyTable(n: number, size: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => keyOf(i, size));
}

/**
 * keyLookup returns i -> key: from a prebuilt table (no allocation per op) when `table` (by
 * default up to 2M keys), else built on each call (for huge key spaces and one-pass loads).
 */
export function keyLookup(n: number, size: number, table = n <= 2_000_000): (i: number) => Buffer {
  if (!table) {
    keyOf(n - 1, size); // fail early when size is too small for the largest index
    return (i) => keyOf(i, size);
  }
  const t = keyTable(n, size);
  return (i) => t[i];
}

export type Chooser = () => number;

export function uniform(n: number, rand: () => number = Math.random): Chooser {
  return () => Math.floor(rand() * n);
}

/**
 * zipfian is YCSB's ScrambledZipfianGenerator: ranks follow Zipf(theta = 0.99) by the
 * Gray et al. ("Quickly generating billion-record synthetic databases", 1994) method, and a
 * hash of the rank spreads the hot items over the key space instead of the lowest indices.
 */
export function zipfian(n: number, theta = 0.99, rand: () => number = Math.random): Chooser {
  let zetan = 0;
  for (let i = 1; i <= n; i++) zetan += 1 / Math.pow(i, theta);
  const zeta2 = 1 + 1 / Math.pow(2, theta);
  const alpha = 1 / (1 - theta);
  const eta = (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / zetan);
  const half = 1 + Math.pow(0.5, theta);
  const rank = (): number => {
    const u = rand();
    const uz = u * zetan;
    if (uz < 1) return 0;
    if (uz < half) return 1;
    return Math.min(n - 1, Math.floor(n * Math.pow(eta * u - eta + 1, alpha)));
  };
  return () => mix32(rank()) % n;
}

/** mix32 is murmur3's 32-bit finalizer: a cheap bijective scramble of the rank. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}
