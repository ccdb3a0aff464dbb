/**
 * Random: the only source of randomness in dkv (token placement, gossip peer choice, jitter).
 * SeededRandom (mulberry32) makes a simulation replayable from one seed.
 */
export interface Random {
  /** next returns a float in [0, 1). */
  next(): number;
  /** int returns an integer in [0, max). */
  int(max: number): number;
  /** uint32 returns an integer in [0, 2^32). */
  uint32(): number;
}

export class SeededRandom implements Random {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  uint32(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  next(): number {
    return this.uint32() / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
}

/** systemRandom seeds a SeededRandom from the OS; only the composition root calls it. */
export function systemRandom(): Random {
  return new SeededRandom((Math.random() * 4294967296) >>> 0);
}
