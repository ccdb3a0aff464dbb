import { describe, it, expect } from 'vitest';
import { checkConvergence } from '../../checkers/convergence.js';
import { checkWatchCompleteness } from '../../checkers/watch-completeness.js';
import { checkNoLostWrites } from '../../checkers/no-lost-writes.js';
import { staleReadFraction } from '../../checkers/strict-reads.js';
import { summarize } from '../../checkers/summarize.js';
import { Builder } from './build.js';

describe('checkConvergence', () => {
  it('reports each divergent key with every replica group', () => {
    const r = checkConvergence(
      {
        n1: { a: ['d1', 'd2'], b: ['d3'] },
        n2: { a: ['d2', 'd1'], b: ['d3'], c: ['d9'] },
        n3: { a: ['d1'], c: ['d8'] },
      },
      { timeToConverge: 1234 },
    );
    expect(r.ok).toBe(false);
    expect(r.violations.map((v) => v.key)).toEqual(['a', 'c']);
    expect(r.violations[0].message).toBe('key "a" diverges across 3 replicas: n1,n2=[d1, d2]  n3=[d1]');
    expect(r.stats).toEqual({ replicas: 3, keys: 3, divergentKeys: 2, timeToConverge: 1234 });
  });

  it('passes when replicas agree (order aside), and compares only holders by default', () => {
    const dumps = new Map([
      ['n1', new Map([['a', ['x', 'y']]])],
      ['n2', new Map([['a', ['y', 'x']], ['b', ['z']]])],
    ]);
    const r = checkConvergence(dumps);
    expect(r.ok).toBe(true);
    expect(r.stats.timeToConverge).toBeNull();
    const strictOwners = checkConvergence(dumps, { replicasOf: () => ['n1', 'n2'] });
    expect(strictOwners.violations.map((v) => v.message)).toEqual(['key "b" diverges across 2 replicas: n1 (missing)=[]  n2=[z]']);
  });
});

describe('checkWatchCompleteness', () => {
  it('fails on a missed event and on a duplicate', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'p/a');
    const w2 = b.put('c1', 'p/b');
    const r = checkWatchCompleteness(b.history(), [
      { key: 'p/b', writeId: w2, time: 7 },
      { key: 'p/b', writeId: w2, time: 9 },
    ]);
    expect(r.ok).toBe(false);
    expect(r.violations.map((v) => [v.kind, v.writeIds])).toEqual([
      ['duplicate-event', [w2]],
      ['missed-event', [w1]],
    ]);
    expect(r.violations[0].message).toBe('key "p/b": w2 delivered more than once (again at event #1 (t=9))');
    expect(r.stats).toMatchObject({ expected: 2, delivered: 1, missed: 1, duplicates: 1 });
  });

  it('accepts a write skipped in favour of a later event that saw it, transitively', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const w2 = b.put('c1', 'k', { ctx: [w1], outcome: 'timeout' }); // indeterminate: need not appear
    const d = b.del('c1', 'k', { ctx: [w2] });
    const r = checkWatchCompleteness(b.history(), [{ key: 'k', writeId: d, kind: 'delete' }]);
    expect(r.ok).toBe(true);
    expect(r.stats).toMatchObject({ expected: 2, delivered: 1, superseded: 1 });
  });

  it('accepts a write covered by the context of a delivered event of its key (e.g. a folded delete), given versions', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const w2 = b.put('c2', 'k');
    const versions: Record<string, string> = { [w1]: 'n1#a:7', [w2]: 'n2#b:3' };
    const events = [{ key: 'k', writeId: w2, context: new Map([['n1#a', 9], ['n2#b', 3]]) }];
    const covered = checkWatchCompleteness(b.history(), events, { versionOf: (id) => versions[id] });
    expect(covered.violations).toEqual([]);
    expect(covered.stats).toMatchObject({ expected: 2, delivered: 1, superseded: 1, coveredByContext: 1, missed: 0 });
    // The same events without versions, or with a context that stops short of w1, miss w1.
    expect(checkWatchCompleteness(b.history(), events).violations.map((v) => v.writeIds)).toEqual([[w1]]);
    const short = [{ key: 'k', writeId: w2, context: new Map([['n1#a', 6]]) }];
    expect(checkWatchCompleteness(b.history(), short, { versionOf: (id) => versions[id] }).violations.map((v) => v.writeIds)).toEqual([[w1]]);
    // A context of another key covers nothing here.
    const otherKey = [{ key: 'k', writeId: w2 }, { key: 'j', context: new Map([['n1#a', 9]]) }];
    expect(checkWatchCompleteness(b.history(), otherKey, { versionOf: (id) => versions[id] }).stats.missed).toBe(1);
  });

  it('accepts a put coalesced into a later delete event without a write id, only if a delete that saw it came first', () => {
    // As a real watch does after a partition: the minority's put w2 reaches the watch session
    // after the tombstone of a read-resolve-delete that had seen it; only DELETE is sent.
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const w2 = b.put('c2', 'k', { ctx: [w1] });
    const d = b.del('c1', 'k', { ctx: [w2] }); // invoked t=5
    const other = b.put('c3', 'j'); // j: no delete saw it
    const dj = b.del('c3', 'j', { ctx: [] });
    const r = checkWatchCompleteness(b.history(), [{ key: 'k', kind: 'delete', time: 7 }, { key: 'j', kind: 'delete', time: 20 }]);
    expect(r.violations.map((v) => v.writeIds)).toEqual([[other]]);
    expect(r.stats).toMatchObject({ expected: 5, delivered: 2, superseded: 2, missed: 1 });
    expect(d).toBeDefined();
    // The same delete event delivered before the delete was invoked supersedes nothing.
    const early = checkWatchCompleteness(b.history(), [{ key: 'k', kind: 'delete', time: 4 }]);
    expect(early.violations.map((v) => v.writeIds)).toEqual([[w1], [w2], [other], [dj]]);
  });

  it('scopes to the watched prefix and start time, and flags events outside it or on the wrong key', () => {
    const b = new Builder();
    b.put('c1', 'p/early');
    const w = b.put('c1', 'p/x');
    b.put('c1', 'q/other'); // not watched: no event needed
    const d = b.del('c1', 'p/x', { ctx: [w] });
    const events = [
      { key: 'p/x', writeId: w },
      { key: 'p/x', kind: 'delete' as const }, // no write id: delivers the acknowledged deletes of p/x
      { key: 'p/x', writeId: 'w404' }, // e.g. an indeterminate write not passed in: only counted
    ];
    const ok = checkWatchCompleteness(b.history(), events, { prefix: 'p/', since: 3 });
    expect(ok.violations).toEqual([]);
    expect(ok.stats).toMatchObject({ expected: 2, delivered: 2, unknownEvents: 1 });
    // Delivered before the delete that saw w was invoked: it cannot stand for that delete.
    const early = [{ key: 'p/x', kind: 'delete' as const, time: 0 }];
    const anonymousEarly = checkWatchCompleteness(b.history(), early, { prefix: 'p/', since: 3 });
    expect(anonymousEarly.violations.map((v) => v.writeIds)).toEqual([[w]]);
    const bad = checkWatchCompleteness(b.history(), [{ key: 'q/other', writeId: w }, { key: 'p/x', writeId: d }], { prefix: 'p/' });
    expect(bad.violations.map((v) => v.kind)).toEqual(['outside-watch', 'wrong-key', 'missed-event']);
  });
});

describe('summarize', () => {
  it('prints one line per check, the first violations, and a JSON-able object', () => {
    const b = new Builder();
    const lost = Array.from({ length: 7 }, () => b.put('c1', 'k'));
    const s = summarize(
      { noLostWrites: checkNoLostWrites(b.history(), { k: [] }), staleReads: staleReadFraction(b.history()) },
      { maxViolations: 2 },
    );
    expect(s.ok).toBe(false);
    const lines = s.text.split('\n');
    expect(lines[0]).toBe('dkv history check: FAIL (1 of 2 checks failed: noLostWrites)');
    expect(lines[1]).toMatch(/^ {2}FAIL noLostWrites {2}7 violations; keys=1 .*lost=7/);
    expect(lines[2]).toMatch(/^ {7}- key "k": acknowledged put w1 /);
    expect(lines[4]).toBe('       ... and 5 more');
    expect(lines[5]).toMatch(/^ {2}PASS staleReads {4}gets=0 stale=0 fraction=0$/);
    expect(JSON.parse(JSON.stringify(s.json))).toEqual(s.json);
    expect(s.json.checks.noLostWrites).toMatchObject({ ok: false, violations: lost.length });
    expect(s.json.checks.noLostWrites.firstViolations).toHaveLength(2);
  });
});
