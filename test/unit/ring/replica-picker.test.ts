import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ReplicaPicker } from '../../../src/ring/replica-picker.js';

/** countsAlong returns the number of picks after each offered owner (no finish). */
function countsAlong(picker: ReplicaPicker, owners: readonly number[], limit: number): number[] {
  picker.reset(limit);
  return owners.map((m) => (picker.offer(m), picker.count));
}

describe('ReplicaPicker', () => {
  it('picks distinct members, one per zone first, then the deferred in meeting order', () => {
    const zoneOf = [0, 0, 1, 1, 2];
    const p = new ReplicaPicker(zoneOf, 3, true);
    p.reset(5);
    for (const m of [0, 1, 0, 2, 3, 4]) p.offer(m);
    expect([...p.out.subarray(0, p.count)]).toEqual([0, 2, 4, 1, 3]);
    const plain = new ReplicaPicker(zoneOf, 3, false);
    plain.reset(3);
    for (const m of [0, 1, 0, 2, 3, 4]) plain.offer(m);
    expect([...plain.out.subarray(0, plain.count)]).toEqual([0, 1, 2]);
    // finish() hands out the deferred when the walk ends before every zone is met.
    p.reset(3);
    p.offer(0);
    p.offer(1);
    p.finish();
    expect([...p.out.subarray(0, p.count)]).toEqual([0, 1]);
  });

  it('is monotone: a walk started one token earlier has at least as many picks at every point', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        (members, zones, raw, limit, zoneAware) => {
          const zoneOf = Array.from({ length: members }, (_, m) => m % zones);
          const owners = raw.map((x) => x % members);
          const active = new Set(owners.map((m) => zoneOf[m])).size;
          const p = new ReplicaPicker(zoneOf, active, zoneAware);
          const later = countsAlong(p, owners.slice(1), limit);
          const earlier = countsAlong(p, owners, limit).slice(1);
          later.forEach((c, k) => expect(earlier[k]).toBeGreaterThanOrEqual(c));
        },
      ),
    );
  });
});
