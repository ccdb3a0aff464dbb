/** Shared builders for ring tests. Every randomized helper takes an explicit seed. */
import { buildRing, type MemberSpec, Ring, type RingNode } from '../../../src/ring/index.js';
import { SeededRandom } from '../../../src/time/random.js';

/** members returns k weight-1 nodes n00, n01, … spread round-robin over `zones` zones. */
export function members(k: number, zones = 1): MemberSpec[] {
  return Array.from({ length: k }, (_, i) => ({ id: `n${String(i).padStart(2, '0')}`, zone: `z${i % zones}`, weight: 1 }));
}

/** grow builds a ring by joining `specs` one at a time with allocateTokens (seeded). */
export function grow(specs: readonly MemberSpec[], seed: number, tokensPerWeight = 64): Ring {
  return buildRing(specs, { tokensPerWeight }, new SeededRandom(seed));
}

/** randomRing places `tokensEach` uniformly random tokens per node (no allocator), deduplicated. */
export function randomRing(k: number, zones: number, tokensEach: number, seed: number): Ring {
  const random = new SeededRandom(seed);
  const used = new Set<number>();
  const nodes: RingNode[] = members(k, zones).map((m) => {
    const tokens: number[] = [];
    while (tokens.length < tokensEach) {
      const t = random.uint32();
      if (!used.has(t)) {
        used.add(t);
        tokens.push(t);
      }
    }
    return { ...m, tokens };
  });
  return new Ring(nodes);
}

/** maxOverMean is max / mean of the values (1 = perfectly even). */
export function maxOverMean(shares: ReadonlyMap<string, number>): number {
  const values = [...shares.values()];
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  return Math.max(...values) / mean;
}

/** SEEDS are the seeds every balance test runs with; a failure message names the seed. */
export const SEEDS = [1, 2, 3, 42, 20240611];
