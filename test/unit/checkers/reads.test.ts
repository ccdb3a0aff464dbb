import { describe, it, expect } from 'vitest';
import { checkStrictReads, checkStrictWriteQuorum, staleReadFraction, type QuorumModel } from '../../checkers/strict-reads.js';
import type { Operation } from '../../checkers/history.js';
import { checkSiblingBound } from '../../checkers/sibling-bound.js';
import { Builder } from './build.js';
import { HistoryRecorder } from '../../checkers/history.js';

const Q = { r: 2, w: 2, n: 3 };
const strict = { strict: true, consistency: Q };

describe('checkStrictReads', () => {
  it('fails a strict get that misses a strict write acknowledged before it began', () => {
    const b = new Builder();
    const w0 = b.put('c1', 'k', strict);
    const w1 = b.put('c2', 'k', strict); // concurrent with w0: did not see it
    const g = b.get('c3', 'k', [w0], strict);
    const r = checkStrictReads(b.history());
    expect(r.ok).toBe(false);
    expect(r.violations).toMatchObject([{ kind: 'stale-strict-read', key: 'k', writeIds: [w1, w0], time: g.invokeTime }]);
    expect(r.violations[0].message).toMatch(
      /key "k": strict get #2 by c3 \(invoked t=5, completed t=6, ok\) at r=2 missed strict put w2 by c2 \(invoked t=3, completed t=4, ok\) at w=2.*returned \[w1\], none of which is or had seen w2/,
    );
    expect(r.stats).toEqual({ strictGets: 1, staleStrictGets: 1, missedWrites: 1 });
  });

  it('fails a strict get that returns a value an acknowledged strict delete had seen', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k', strict);
    const d = b.del('c1', 'k', { ...strict, ctx: [w1] });
    b.get('c2', 'k', [w1], strict);
    expect(checkStrictReads(b.history()).violations).toMatchObject([{ writeIds: [d, w1] }]);
  });

  it('accepts a write superseded transitively by a returned value, or by a delete', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k', strict);
    const w2 = b.put('c1', 'k', { ...strict, ctx: [w1], outcome: 'timeout' });
    const w3 = b.put('c2', 'k', { ...strict, ctx: [w2] });
    b.get('c3', 'k', [w3], strict);
    const x = b.put('c1', 'j', strict);
    b.del('c2', 'j', { ctx: [x], outcome: 'fail' }); // may have happened: nothing left to return
    b.get('c3', 'j', [], strict);
    expect(checkStrictReads(b.history()).violations).toEqual([]);
  });

  // Regression (simulation seed 138, T3): on the simulation's manual clock a delete can be
  // invoked in the very millisecond a get completes; its tombstone may be what the get saw.
  it('counts a delete invoked at the instant the get completes as possibly seen, and a later one as not', () => {
    const times = [1, 2, 3, 5, 5, 6];
    const rec = new HistoryRecorder({ now: () => times.shift()! });
    const w = rec.complete(rec.invoke({ client: 'c1', kind: 'put', key: 'k', ...strict }), 'ok');
    const g = rec.invoke({ client: 'c2', kind: 'get', key: 'k', ...strict });
    const d = rec.invoke({ client: 'c3', kind: 'delete', key: 'k', context: [w.writeId!], ...strict });
    rec.complete(g, 'ok', []);
    rec.complete(d, 'ok');
    expect(g.completeTime).toBe(d.invokeTime);
    expect(checkStrictReads(rec.history()).violations).toEqual([]);
    const late = [1, 2, 3, 4, 5, 6];
    const rec2 = new HistoryRecorder({ now: () => late.shift()! });
    const w2 = rec2.complete(rec2.invoke({ client: 'c1', kind: 'put', key: 'k', ...strict }), 'ok');
    const g2 = rec2.invoke({ client: 'c2', kind: 'get', key: 'k', ...strict });
    rec2.complete(g2, 'ok', []);
    rec2.complete(rec2.invoke({ client: 'c3', kind: 'delete', key: 'k', context: [w2.writeId!], ...strict }), 'ok');
    expect(checkStrictReads(rec2.history()).violations.map((v) => v.writeIds)).toEqual([[w2.writeId]]);
  });

  it('checks only strict pairs with R + W > N that were acknowledged before the get began', () => {
    const b = new Builder();
    b.put('c1', 'a', { consistency: Q }); // not strict
    b.put('c1', 'b', { strict: true, consistency: { r: 2, w: 1, n: 3 } }); // 2 + 1 = N
    b.put('c1', 'c', { ...strict, outcome: 'fail' }); // indeterminate
    const overlap = b.start('c1', 'put', 'd', strict);
    b.get('c2', 'a', [], strict);
    b.get('c2', 'b', [], strict);
    b.get('c2', 'c', [], strict);
    const g = b.start('c2', 'get', 'd', strict);
    b.rec.complete(overlap, 'ok'); // acknowledged after the get began
    b.rec.complete(g, 'ok', []);
    b.put('c1', 'e', strict);
    b.get('c2', 'e', [], { consistency: Q }); // the get is not strict
    const r = checkStrictReads(b.history());
    expect(r.violations).toEqual([]);
    expect(r.stats.strictGets).toBe(4);
  });

  it('applies the default consistency (R = W = 2, N = 3) to operations recorded without one', () => {
    const b = new Builder();
    b.put('c1', 'k', { strict: true });
    b.get('c2', 'k', [], { strict: true });
    expect(checkStrictReads(b.history()).ok).toBe(false);
    expect(checkStrictReads(b.history(), { defaultConsistency: { r: 1, w: 1, n: 3 } }).ok).toBe(true);
  });
});

/**
 * A 5-node cluster where key k's primaries are a, b, c (d and e are not primaries). cuts lists
 * directed drops (from -> to) with the time window they were in force.
 */
function cluster(contact: Record<number, string>, cuts: Array<{ from: string; to: string; at: [number, number] }>): QuorumModel {
  const down = (x: string, y: string, t: number) => cuts.some((c) => c.from === x && c.to === y && c.at[0] <= t && t <= c.at[1]);
  return {
    primariesOf: () => ['a', 'b', 'c'],
    contactOf: (op: Operation) => contact[op.id] ?? 'a',
    canTalk: (x, y, from, to) => {
      for (let t = from; t <= to; t++) if (!down(x, y, t) && !down(y, x, t)) return true;
      return false;
    },
  };
}
const isolate = (n: string, at: [number, number]) =>
  ['a', 'b', 'c', 'd', 'e'].filter((x) => x !== n).flatMap((x) => [{ from: x, to: n, at }, { from: n, to: x, at }]);

describe('checkStrictWriteQuorum', () => {
  it('fails a strict write acknowledged through an isolated primary (it reaches only itself)', () => {
    const b = new Builder();
    const w = b.put('c1', 'k', strict); // t = 1..2, via a
    const r = checkStrictWriteQuorum(b.history(), cluster({}, isolate('a', [0, 10])));
    expect(r.ok).toBe(false);
    expect(r.violations).toMatchObject([{ kind: 'strict-write-under-quorum', key: 'k', writeIds: [w] }]);
    expect(r.violations[0].message).toMatch(/at w=2 via a was acknowledged, but at most 1 of its primaries \[a, b, c\]/);
    expect(r.stats).toEqual({ strictWrites: 1, underQuorum: 1 });
  });

  it('counts primaries from the ring, not the nodes on the coordinator side: a minority of non-primaries with one primary is under quorum', () => {
    const b = new Builder();
    b.put('c1', 'k', strict); // #0 via d, with d and a cut off from b, c, e
    const cuts = ['b', 'c', 'e'].flatMap((x) => ['a', 'd'].flatMap((y) => [{ from: x, to: y, at: [0, 10] as [number, number] }, { from: y, to: x, at: [0, 10] as [number, number] }]));
    expect(checkStrictWriteQuorum(b.history(), cluster({ 0: 'd' }, cuts)).stats.underQuorum).toBe(1);
    // The majority side {b, c, e} holds two primaries: a write through e (forwarded to b or c) is fine,
    // although a, a primary, is partitioned away (a fallback would stand in, and not count).
    const b2 = new Builder();
    b2.put('c1', 'k', strict);
    expect(checkStrictWriteQuorum(b2.history(), cluster({ 0: 'e' }, cuts)).violations).toEqual([]);
  });

  it('needs both directions: a primary whose answers are dropped is not reachable', () => {
    const b = new Builder();
    b.put('c1', 'k', strict); // via a; b and c can hear a but a hears nobody
    const cuts = [{ from: 'b', to: 'a', at: [0, 10] as [number, number] }, { from: 'c', to: 'a', at: [0, 10] as [number, number] }];
    expect(checkStrictWriteQuorum(b.history(), cluster({}, cuts)).stats.underQuorum).toBe(1);
  });

  it('accepts a write when the partition held for only part of its flight, and ignores unacknowledged or non-strict writes', () => {
    const b = new Builder();
    b.put('c1', 'k', strict); // t = 1..2: a isolated only at t = 1
    b.put('c1', 'k', { ...strict, outcome: 'timeout' }); // indeterminate
    b.put('c1', 'k', { consistency: Q }); // sloppy: may be acknowledged by fallbacks
    const r = checkStrictWriteQuorum(b.history(), cluster({}, [...isolate('a', [0, 1]), ...isolate('a', [3, 100])]));
    expect(r.violations).toEqual([]);
    expect(r.stats).toEqual({ strictWrites: 1, underQuorum: 0 });
  });

  it('honours W: a strict W = 1 write through an isolated primary is fine', () => {
    const b = new Builder();
    b.put('c1', 'k', { strict: true, consistency: { r: 3, w: 1, n: 3 } });
    expect(checkStrictWriteQuorum(b.history(), cluster({}, isolate('a', [0, 10]))).ok).toBe(true);
  });
});

describe('staleReadFraction', () => {
  it('is the fraction of successful gets that missed an acknowledged write, strict or not', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    b.get('c2', 'k', []); // stale
    b.get('c2', 'k', [w1]);
    const w2 = b.put('c1', 'k', { ctx: [w1] });
    b.get('c2', 'k', [w2]);
    b.get('c2', 'k', [], { outcome: 'timeout' }); // not counted
    const s = staleReadFraction(b.history());
    expect(s.ok).toBe(true);
    expect(s.stats).toEqual({ gets: 3, stale: 1, fraction: 1 / 3 });
    expect(s.fraction).toBe(1 / 3);
    expect(staleReadFraction([]).fraction).toBe(0);
  });
});

describe('checkSiblingBound', () => {
  it('fails when a get or the final state holds more siblings than the bound', () => {
    const b = new Builder();
    const ids = [b.put('c1', 'k'), b.put('c2', 'k'), b.put('c3', 'k')];
    b.get('c1', 'k', ids);
    const r = checkSiblingBound(b.history(), 2, { k: ids });
    expect(r.ok).toBe(false);
    expect(r.violations.map((v) => v.kind)).toEqual(['too-many-siblings', 'too-many-siblings']);
    expect(r.violations[0].message).toMatch(/key "k": get #3 by c1 .* returned 3 siblings \(bound 2\): \[w1, w2, w3\]/);
    expect(r.stats).toMatchObject({ bound: 2, maxSiblings: 3, overBound: 2 });
  });

  it('passes at the bound (T9: two clients resolving in turn)', () => {
    const b = new Builder();
    let a = b.put('c1', 'k');
    let c = b.put('c2', 'k');
    for (let i = 0; i < 100; i++) {
      const g1 = b.get('c1', 'k', [a, c]);
      const g2 = b.get('c2', 'k', [a, c]);
      a = b.put('c1', 'k', { ctx: g1 });
      c = b.put('c2', 'k', { ctx: g2 });
    }
    expect(checkSiblingBound(b.history(), 2, { k: [a, c] }).ok).toBe(true);
  });
});
