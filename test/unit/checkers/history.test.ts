import { describe, it, expect } from 'vitest';
import { HistoryRecorder, UNKNOWN_VALUE } from '../../checkers/history.js';
import { CausalIndex } from '../../checkers/causal.js';
import { Builder } from './build.js';

describe('HistoryRecorder', () => {
  it('numbers operations, gives writes unique ids and values, and times every event', () => {
    const rec = new HistoryRecorder({ valuePrefix: 'val-' });
    const p = rec.invoke({ client: 'c1', kind: 'put', key: 'k', strict: true, consistency: { r: 2, w: 2 } });
    expect(p).toMatchObject({ id: 0, writeId: 'w1', value: 'val-w1', invokeTime: 1, completeTime: Infinity, outcome: 'timeout', seen: [] });
    rec.complete(p, 'ok');
    const g = rec.invoke({ client: 'c2', kind: 'get', key: 'k' });
    rec.complete(g, 'ok', ['val-w1', 'nobody-wrote-this']);
    expect(g.returned).toEqual(['w1', `${UNKNOWN_VALUE}nobody-wrote-this`]);
    const d = rec.invoke({ client: 'c2', kind: 'delete', key: 'k', context: g });
    expect(d).toMatchObject({ writeId: 'w2', seen: ['w1', `${UNKNOWN_VALUE}nobody-wrote-this`] });
    expect(d.value).toBeUndefined();
    const h = rec.history();
    expect(h.map((o) => [o.invokeTime, o.completeTime, o.outcome])).toEqual([
      [1, 2, 'ok'],
      [3, 4, 'ok'],
      [5, Infinity, 'timeout'], // never completed: indeterminate
    ]);
    expect(rec.writeIdOf('val-w1')).toBe('w1');
    expect(rec.finalState({ k: ['val-w1'] })).toEqual(new Map([['k', ['w1']]]));
  });

  it('uses the injected clock and explicit values', () => {
    let t = 100;
    const rec = new HistoryRecorder({ now: () => t });
    const p = rec.invoke({ client: 'c', kind: 'put', key: 'k', value: 'x' });
    t = 105;
    rec.complete(p, 'fail');
    expect([p.invokeTime, p.completeTime, p.outcome, rec.writeIdOf('x')]).toEqual([100, 105, 'fail', 'w1']);
  });

  it('refuses misuse: duplicate values, double completion, contexts from failed gets, values on writes', () => {
    const rec = new HistoryRecorder();
    const p = rec.invoke({ client: 'c', kind: 'put', key: 'k', value: 'x' });
    expect(() => rec.invoke({ client: 'c', kind: 'put', key: 'k', value: 'x' })).toThrow(/written twice/);
    expect(() => rec.complete(p, 'ok', ['x'])).toThrow(/only an ok get/);
    rec.complete(p, 'ok');
    expect(() => rec.complete(p, 'ok')).toThrow(/completed twice/);
    const g = rec.invoke({ client: 'c', kind: 'get', key: 'k' });
    expect(() => rec.invoke({ client: 'c', kind: 'put', key: 'k', context: g })).toThrow(/completed ok get/);
    rec.complete(g, 'timeout');
    expect(() => rec.invoke({ client: 'c', kind: 'put', key: 'k', context: g })).toThrow(/completed ok get/);
    expect(() => new HistoryRecorder().complete(p, 'ok')).toThrow(/not from this recorder/);
  });
});

describe('CausalIndex', () => {
  it('follows seen-sets transitively, within one key only', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const w2 = b.put('c1', 'k', { ctx: [w1] });
    const w3 = b.put('c2', 'k', { ctx: [w2] });
    const x = b.put('c2', 'other', { ctx: [w3] }); // a context from another key is ignored
    const idx = new CausalIndex(b.history());
    expect([idx.saw(w3, w1), idx.saw(w3, w2), idx.saw(w2, w1)]).toEqual([true, true, true]);
    expect([idx.saw(w1, w3), idx.saw(w1, w1), idx.saw(x, w3), idx.saw(w3, 'nope')]).toEqual([false, false, false, false]);
    expect([...idx.coveredBy([w3])].sort()).toEqual([w1, w2]);
    expect(idx.sawBy(w1, [x, w2])).toBe(w2);
  });

  it('cuts cycles (impossible in real histories) instead of looping', () => {
    const b = new Builder();
    const a = b.put('c', 'k', { ctx: ['w2'] });
    const c = b.put('c', 'k', { ctx: [a] });
    const idx = new CausalIndex(b.history());
    expect(idx.saw(c, a)).toBe(true);
    expect(idx.saw(a, c)).toBe(true);
    expect(idx.coveredBy([a]).has(c)).toBe(true);
  });

  it('handles a 20,000-write read-modify-write chain without deep recursion', () => {
    const b = new Builder();
    let prev = b.put('c', 'k');
    const first = prev;
    for (let i = 0; i < 20_000; i++) prev = b.put('c', 'k', { ctx: [prev] });
    const idx = new CausalIndex(b.history());
    expect(idx.saw(prev, first)).toBe(true);
    expect(idx.coveredBy([prev]).size).toBe(20_000);
  });

  it('refuses a write id used twice', () => {
    const h = new Builder();
    h.put('c', 'k');
    const ops = h.history();
    expect(() => new CausalIndex([...ops, { ...ops[0], id: 1 }])).toThrow(/used twice/);
  });
});
