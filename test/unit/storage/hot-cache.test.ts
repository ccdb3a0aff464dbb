/** HotCache: byte budget, LRU order, oversize refusal and stats, plus a model-based property. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HotCache, cacheKeyOf } from '../../../src/storage/hot-cache.js';
import { fcSeed } from './fc-seed.js';

const bytes = (v: Buffer) => v.length;
const val = (n: number) => Buffer.alloc(n, 1);

describe('HotCache', () => {
  it('evicts least recently used first; get() refreshes recency, peek()/has() do not', () => {
    const c = new HotCache<Buffer>({ maxBytes: 80, sizeOf: bytes }); // entry cost = 1 (key) + 9
    for (const k of ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h']) c.set(k, val(9));
    expect(c.stats().bytes).toBe(80);
    c.get('a');
    c.peek('b');
    c.has('b');
    c.set('i', val(9));
    expect(c.keys()).toEqual(['c', 'd', 'e', 'f', 'g', 'h', 'a', 'i']);
    c.set('c', val(9)); // overwrite moves to the end without evicting
    expect(c.keys()).toEqual(['d', 'e', 'f', 'g', 'h', 'a', 'i', 'c']);
    expect(c.stats().evictions).toBe(1);
  });

  it('evicts as many entries as a bigger value needs', () => {
    const c = new HotCache<Buffer>({ maxBytes: 160, sizeOf: bytes });
    for (const k of ['a', 'b', 'c', 'd']) c.set(k, val(19)); // 20 each, 80 total
    c.set('big', val(17)); // 20
    c.set('x', val(19));
    c.set('y', val(19));
    c.set('z', val(19)); // now 160 exactly
    expect(c.stats()).toMatchObject({ bytes: 160, entries: 8, evictions: 0 });
    c.set('w', val(19));
    expect(c.keys()[0]).toBe('b');
    expect(c.stats().evictions).toBe(1);
  });

  it('refuses entries bigger than maxBytes/8 and drops the stale value for that key', () => {
    const c = new HotCache<Buffer>({ maxBytes: 800, sizeOf: bytes });
    expect(c.set('k', val(99))).toBe(true); // cost 100 = maxBytes/8: allowed
    expect(c.set('k', val(100))).toBe(false); // cost 101: refused
    expect(c.get('k')).toBeUndefined();
    expect(c.stats()).toMatchObject({ refused: 1, entries: 0, bytes: 0 });
  });

  it('keys Buffers by their latin1 form, so binary keys round-trip', () => {
    const c = new HotCache<string>({ maxBytes: 1000, sizeOf: (v) => v.length });
    const k = Buffer.from([0x00, 0xff, 0x80, 0x41]);
    c.set(k, 'v');
    expect(c.get(Buffer.from(k))).toBe('v');
    expect(c.get(cacheKeyOf(k))).toBe('v');
    expect(Buffer.from(c.keys()[0], 'latin1')).toEqual(k);
    expect(c.stats().bytes).toBe(4 + 1);
  });

  it('counts hits, misses, and keeps counters across clear(); maxBytes 0 caches nothing', () => {
    const c = new HotCache<Buffer>({ maxBytes: 1000, sizeOf: bytes });
    c.set('a', val(1));
    c.get('a');
    c.get('a');
    c.get('b');
    expect(c.delete('a')).toBe(true);
    expect(c.delete('a')).toBe(false);
    c.set('c', val(1));
    c.clear();
    expect(c.stats()).toEqual({ hits: 2, misses: 1, bytes: 0, entries: 0, evictions: 0, refused: 0, maxBytes: 1000 });
    c.resetCounters();
    expect(c.stats().hits).toBe(0);
    const none = new HotCache<Buffer>({ maxBytes: 0, sizeOf: bytes });
    expect(none.set('a', val(0))).toBe(false);
    expect(() => new HotCache<Buffer>({ maxBytes: -1, sizeOf: bytes })).toThrow(RangeError);
    expect(() => new HotCache<Buffer>({ maxBytes: 10, sizeOf: () => Number.NaN }).set('a', val(1))).toThrow(RangeError);
  });

  it('matches an LRU model and never exceeds its budget (property)', () => {
    const seed = fcSeed('HotCache model');
    type Op =
      | { kind: 'get' | 'delete'; key: string }
      | { kind: 'set'; key: string; size: number }
      | { kind: 'clear' };
    const keyArb = fc.constantFrom('a', 'b', 'c', 'dd', 'ee', 'fff', 'g', 'h', 'i', 'jj', 'k', 'l');
    const opArb: fc.Arbitrary<Op> = fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('set' as const), key: keyArb, size: fc.nat(40) }) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('get' as const), key: keyArb }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: keyArb }) },
      { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.array(opArb, { maxLength: 200 }), (maxBytes, ops) => {
        const cache = new HotCache<Buffer>({ maxBytes, sizeOf: bytes });
        // The model: an array in LRU order (least recent first) and plain counters.
        let model: { key: string; cost: number }[] = [];
        const m = { hits: 0, misses: 0, evictions: 0, refused: 0 };
        const total = () => model.reduce((n, e) => n + e.cost, 0);
        for (const op of ops) {
          if (op.kind === 'get') {
            const i = model.findIndex((e) => e.key === op.key);
            const got = cache.get(op.key);
            if (i < 0) {
              m.misses++;
              expect(got).toBeUndefined();
            } else {
              m.hits++;
              expect(got?.length).toBe(model[i].cost - op.key.length);
              model.push(...model.splice(i, 1));
            }
          } else if (op.kind === 'set') {
            model = model.filter((e) => e.key !== op.key);
            const cost = op.key.length + op.size;
            const ok = cost <= maxBytes / 8;
            expect(cache.set(op.key, val(op.size))).toBe(ok);
            if (!ok) m.refused++;
            else {
              while (total() + cost > maxBytes && model.length > 0) {
                model.shift();
                m.evictions++;
              }
              model.push({ key: op.key, cost });
            }
          } else if (op.kind === 'delete') {
            const had = model.some((e) => e.key === op.key);
            expect(cache.delete(op.key)).toBe(had);
            model = model.filter((e) => e.key !== op.key);
          } else {
            cache.clear();
            model = [];
          }
          const st = cache.stats();
          expect(st.bytes).toBeLessThanOrEqual(maxBytes);
          expect(cache.keys()).toEqual(model.map((e) => e.key));
          expect(st).toEqual({ ...m, bytes: total(), entries: model.length, maxBytes });
        }
      }),
      { seed, numRuns: 300 },
    );
  });
});
