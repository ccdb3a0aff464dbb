import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { levelCount, newTally, outcome, required } from '../../../src/coordinator/quorum.js';
import { isDkvError } from '../../../src/errors.js';

describe('quorum arithmetic', () => {
  it('maps levels to counts of N', () => {
    expect([1, 2, 3, 4, 5].map((n) => levelCount('quorum', n))).toEqual([1, 2, 2, 3, 3]);
    expect(levelCount('one', 5)).toBe(1);
    expect(levelCount('all', 5)).toBe(5);
  });

  it('uses explicit r / w over the level and the node default otherwise', () => {
    expect(required({ strict: false, level: 'one', r: 3 }, 'r', 3, 3, 'quorum')).toBe(3);
    expect(required({ strict: false }, 'w', 3, 3, 'quorum')).toBe(2);
    expect(required({ strict: false }, 'w', 3, 3, 'all')).toBe(3);
  });

  it('rejects R or W outside [1, N] as INVALID_ARGUMENT naming the field', () => {
    for (const r of [4, 99, 1.5, -1]) {
      const e = (() => {
        try {
          required({ strict: false, r }, 'r', 3, 3, 'quorum');
        } catch (x) {
          return x;
        }
      })();
      expect(isDkvError(e, 'INVALID_ARGUMENT')).toBe(true);
      expect(String((e as Error).message)).toMatch(/consistency\.r: must be in \[1, N=3\]/);
    }
  });

  it('a level on a cluster smaller than N counts the nodes it has; an explicit count it cannot meet is UNAVAILABLE', () => {
    expect(required({ strict: false, level: 'all' }, 'w', 3, 2, 'quorum')).toBe(2);
    let e: unknown;
    try {
      required({ strict: false, w: 3 }, 'w', 3, 2, 'quorum');
    } catch (x) {
      e = x;
    }
    expect(isDkvError(e, 'QUORUM_UNAVAILABLE')).toBe(true);
  });

  it('a tally is met exactly when `needed` succeed and impossible exactly when too many failed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.array(fc.boolean(), { maxLength: 7 }), (total, replies) => {
        const needed = Math.min(total, 1 + (replies.length % total));
        const t = newTally(needed, total);
        for (const ok of replies.slice(0, total)) {
          if (ok) t.ok++;
          else t.failed++;
        }
        const o = outcome(t);
        if (t.ok >= needed) expect(o).toBe('met');
        else if (total - t.failed < needed) expect(o).toBe('impossible');
        else expect(o).toBe('pending');
      }),
    );
  });
});
