import { describe, expect, it } from 'vitest';
import { replicatedOwnership } from '../../../src/ring/ownership.js';
import { Ring } from '../../../src/ring/ring.js';
import { TokenSplitter } from '../../../src/ring/token-splitter.js';
import { grow, members, SEEDS } from './fixtures.js';

/**
 * The splitter scores every candidate by an incremental replica-set diff; after each token its
 * running replicated ownership must equal a full recount on the resulting ring.
 */
describe('TokenSplitter', () => {
  const cases: Array<{ name: string; nodes: number; zones: number; joinerZone: number; zoneAware: boolean }> = [
    { name: 'one zone', nodes: 4, zones: 1, joinerZone: 0, zoneAware: true },
    { name: 'three zones, joiner in an existing zone', nodes: 5, zones: 3, joinerZone: 2, zoneAware: true },
    { name: 'two zones, joiner in a new zone', nodes: 4, zones: 2, joinerZone: 2, zoneAware: true },
    { name: 'zones but plain lists', nodes: 5, zones: 3, joinerZone: 0, zoneAware: false },
  ];
  for (const c of cases) {
    it(`tracks replicated ownership exactly (${c.name})`, () => {
      for (const seed of SEEDS.slice(0, 3)) {
        const ring = grow(members(c.nodes, c.zones), seed, 12);
        const nodes = ring.nodes();
        const joiner = nodes.length;
        const zoneNames = [...nodes.map((n) => n.zone), `z${c.joinerZone}`];
        const zoneIds = [...new Set(zoneNames)];
        const positions = Array.from({ length: ring.tokenCount }, (_, i) => ring.tokenAt(i));
        const owners = Array.from({ length: ring.tokenCount }, (_, i) => ring.ownerAt(i));
        const splitter = new TokenSplitter(positions, owners, joiner, {
          weights: [...nodes.map((n) => n.weight), 1],
          zones: zoneNames.map((z) => zoneIds.indexOf(z)),
          zoneAware: c.zoneAware,
          replicas: 3,
        });
        const mine: number[] = [];
        for (let k = 0; k < 12; k++) {
          mine.push(splitter.add(Math.floor(2 ** 32 / 60), seed + k));
          const after = new Ring([...nodes, { id: 'zz-joiner', zone: `z${c.joinerZone}`, weight: 1, tokens: mine }]);
          const expected = replicatedOwnership(after, 3, { zoneAware: c.zoneAware });
          for (let m = 0; m <= joiner; m++) {
            const id = m === joiner ? 'zz-joiner' : nodes[m].id;
            expect(splitter.replicatedShare(m), `seed ${seed}, token ${k}, ${id}`).toBeCloseTo(expected.get(id) as number, 9);
          }
        }
      }
    });
  }
});
