/**
 * ring-balance: prints how evenly the token allocator spreads the key space and exits 1 if a
 * bound is violated. Run: node --import tsx scripts/ring-balance.ts
 *
 * Bounds (the allocator's correctness properties, also asserted in test/unit/ring/):
 *   primary max/mean for 3, 5, 10 equal nodes          <= 1.10
 *   weight-2 node / weight-1 node primary ownership     within 2 ± 5%
 *   fraction moved when a 4th node joins 3              <= 1.1 × 1/4
 *   replicated (n = 3) max/mean, 5 and 10 nodes in one zone and 6 and 9 nodes in 3 zones
 *                                                       <= 1.15
 * Each figure is the worst over SEEDS. Throughput lines are informational only.
 */
import { createHash } from 'node:crypto';
import {
  allocateTokens,
  buildRing,
  hashKey,
  type MemberSpec,
  movedFraction,
  ownership,
  preferenceList,
  primaries,
  type Ring,
  replicatedOwnership,
} from '../src/ring/index.js';
import { SeededRandom } from '../src/time/random.js';

const SEEDS = [1, 2, 3, 4, 5, 42, 1234, 20240611];

interface Row {
  figure: string;
  worst: number;
  bound: string;
  ok: boolean;
}
const rows: Row[] = [];

function members(k: number, zones: number): MemberSpec[] {
  return Array.from({ length: k }, (_, i) => ({ id: `n${String(i).padStart(2, '0')}`, zone: `z${i % zones}`, weight: 1 }));
}

function maxOverMean(shares: ReadonlyMap<string, number>): number {
  const values = [...shares.values()];
  return Math.max(...values) / (values.reduce((s, v) => s + v, 0) / values.length);
}

function worstOver(seeds: readonly number[], f: (seed: number) => number): number {
  return Math.max(...seeds.map(f));
}

function check(figure: string, worst: number, bound: string, ok: boolean): void {
  rows.push({ figure, worst, bound, ok });
}

// Primary balance.
const rings = new Map<string, Ring>();
function ring(k: number, zones: number, seed: number): Ring {
  const key = `${k}/${zones}/${seed}`;
  let r = rings.get(key);
  if (r === undefined) {
    r = buildRing(members(k, zones), {}, new SeededRandom(seed));
    rings.set(key, r);
  }
  return r;
}
for (const k of [3, 5, 10]) {
  const worst = worstOver(SEEDS, (seed) => maxOverMean(ownership(ring(k, 1, seed))));
  check(`primary max/mean, ${k} nodes`, worst, '<= 1.10', worst <= 1.1);
}

// Weights: a weight-2 node against every weight-1 node, in three join orders.
const orders: MemberSpec[][] = [
  [{ id: 'a', zone: 'z', weight: 1 }, { id: 'b', zone: 'z', weight: 1 }, { id: 'big', zone: 'z', weight: 2 }],
  [{ id: 'big', zone: 'z', weight: 2 }, { id: 'a', zone: 'z', weight: 1 }, { id: 'b', zone: 'z', weight: 1 }],
  [{ id: 'a', zone: 'z', weight: 1 }, { id: 'big', zone: 'z', weight: 2 }, { id: 'b', zone: 'z', weight: 1 }, { id: 'c', zone: 'z', weight: 1 }],
];
let lowRatio = Infinity;
let highRatio = 0;
for (const seed of SEEDS) {
  for (const order of orders) {
    const own = ownership(buildRing(order, {}, new SeededRandom(seed)));
    for (const m of order.filter((x) => x.weight === 1)) {
      const ratio = (own.get('big') as number) / (own.get(m.id) as number);
      lowRatio = Math.min(lowRatio, ratio);
      highRatio = Math.max(highRatio, ratio);
    }
  }
}
check('weight-2 / weight-1 ownership (lowest)', lowRatio, '>= 1.90', lowRatio >= 1.9);
check('weight-2 / weight-1 ownership (highest)', highRatio, '<= 2.10', highRatio <= 2.1);

// Movement when a 4th node joins 3.
const moved = worstOver(SEEDS, (seed) => {
  const random = new SeededRandom(seed);
  const three = buildRing(members(3, 1), {}, random);
  const tokens = allocateTokens(three, 'n03', 1, { zone: 'z0' }, random);
  return movedFraction(three, three.withNode({ id: 'n03', zone: 'z0', weight: 1, tokens }));
});
check('fraction moved, 3 -> 4 nodes', moved, '<= 0.275', moved <= 0.275);

// Replicated ownership at n = 3 (zone-aware lists, the default).
for (const [k, zones] of [[3, 1], [5, 1], [10, 1], [6, 3], [9, 3]] as const) {
  const worst = worstOver(SEEDS, (seed) => maxOverMean(replicatedOwnership(ring(k, zones, seed), 3)));
  check(`replicated n=3 max/mean, ${k} nodes, ${zones} zone${zones > 1 ? 's' : ''}`, worst, '<= 1.15', worst <= 1.15);
}

const width = Math.max(...rows.map((r) => r.figure.length));
console.log(`${'figure'.padEnd(width)}  worst of ${SEEDS.length} seeds  bound      result`);
for (const r of rows) {
  console.log(`${r.figure.padEnd(width)}  ${r.worst.toFixed(4).padStart(17)}  ${r.bound.padEnd(9)}  ${r.ok ? 'ok' : 'VIOLATED'}`);
}

// Informational throughput.
function rate(label: string, ops: number, f: () => void): void {
  f(); // warm up
  const t0 = performance.now();
  f();
  const seconds = (performance.now() - t0) / 1000;
  console.log(`${label.padEnd(width)}  ${(ops / seconds / 1e6).toFixed(2).padStart(8)} M/s`);
}
const keys = Array.from({ length: 200_000 }, (_, i) => new TextEncoder().encode(`user:${i}:profile`));
let sink = 0;
console.log('');
rate('hashKey (murmur3), ~18-byte keys', keys.length, () => {
  for (const k of keys) sink ^= hashKey(k);
});
rate('md5 first 4 bytes (for comparison)', keys.length, () => {
  for (const k of keys) sink ^= createHash('md5').update(k).digest().readUInt32BE(0);
});
const ten = ring(10, 1, 1);
const hashes = keys.map(hashKey);
rate('primaries n=3, 10 nodes', hashes.length, () => {
  for (const h of hashes) sink ^= primaries(ten, h, 3).length;
});
rate('preferenceList n=3, 10 nodes', hashes.length, () => {
  for (const h of hashes) sink ^= preferenceList(ten, h, 3).length;
});
rate('preferenceList n=3, 1 node down', hashes.length, () => {
  for (const h of hashes) sink ^= preferenceList(ten, h, 3, { usable: (id) => id !== 'n04' }).length;
});
const nine = ring(9, 1, 1);
const t0 = performance.now();
allocateTokens(nine, 'n09', 1, { zone: 'z0' }, new SeededRandom(1));
console.log(`${'allocateTokens, 10th node joining'.padEnd(width)}  ${(performance.now() - t0).toFixed(0).padStart(8)} ms`);
if (sink === 0.5) console.log(''); // keeps the loops from being optimized away

const failed = rows.filter((r) => !r.ok);
if (failed.length > 0) {
  console.error(`\n${failed.length} bound(s) violated`);
  process.exit(1);
}
