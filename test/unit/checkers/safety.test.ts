import { describe, it, expect } from 'vitest';
import { checkNoLostWrites } from '../../checkers/no-lost-writes.js';
import { checkNoPhantoms } from '../../checkers/no-phantoms.js';
import { checkNoDominatedSiblings } from '../../checkers/no-dominated-siblings.js';
import { Builder } from './build.js';

describe('checkNoLostWrites', () => {
  it('fails a lossy history and names the key, write and times', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const w2 = b.put('c2', 'k'); // concurrent blind write: a sibling
    const r = checkNoLostWrites(b.history(), { k: [w2] });
    expect(r.ok).toBe(false);
    expect(r.violations).toHaveLength(1);
    expect(r.violations[0]).toMatchObject({ kind: 'lost-write', key: 'k', writeIds: [w1], time: 1 });
    expect(r.violations[0].message).toMatch(/key "k": acknowledged put w1 by c1 \(invoked t=1, completed t=2, ok\) is lost.*\[w2\]/);
    expect(r.stats).toMatchObject({ acknowledged: 2, present: 1, lost: 1 });
  });

  it('passes when every acknowledged write is live or superseded, transitively', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const g1 = b.get('c2', 'k', [w1]);
    const w2 = b.put('c2', 'k', { ctx: g1 }); // saw w1
    const w3 = b.put('c1', 'k', { ctx: [w2] }); // saw w2, so w1 transitively
    const w4 = b.put('c3', 'k'); // concurrent sibling
    const r = checkNoLostWrites(b.history(), new Map([['k', [w3, w4]]]));
    expect(r.violations).toEqual([]);
    expect(r.stats).toMatchObject({ acknowledged: 4, present: 2, superseded: 2, lost: 0 });
  });

  it('accepts indeterminate writes both present and absent', () => {
    const b = new Builder();
    const ok = b.put('c1', 'k');
    const failedPresent = b.put('c1', 'k', { outcome: 'fail' });
    b.put('c2', 'k', { outcome: 'timeout' }); // absent
    b.start('c3', 'put', 'k'); // never completed, absent
    const pending = b.start('c3', 'put', 'k'); // never completed, present
    const r = checkNoLostWrites(b.history(), { k: [ok, failedPresent, pending.writeId!] });
    expect(r.ok).toBe(true);
    expect(r.stats).toMatchObject({ acknowledged: 1, indeterminate: 4, indeterminatePresent: 2 });
  });

  it('counts a delete (of any outcome) that saw a write as superseding it', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const w2 = b.put('c1', 'k', { ctx: [w1] });
    b.del('c2', 'k', { ctx: [w2], outcome: 'timeout' });
    const w3 = b.put('c1', 'j');
    b.del('c1', 'j', { ctx: [w3] });
    expect(checkNoLostWrites(b.history(), { k: [] }).ok).toBe(true); // key j absent: no live value
  });

  it('reports the lost acknowledged superseder once, not the writes it replaced', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const w2 = b.put('c1', 'k', { ctx: [w1] });
    const r = checkNoLostWrites(b.history(), { k: [] });
    expect(r.violations.map((v) => v.writeIds)).toEqual([[w2]]);
  });

  it('does not let an indeterminate superseder that left no trace excuse a loss', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    b.put('c1', 'k', { ctx: [w1], outcome: 'fail' }); // absent, nothing saw it
    expect(checkNoLostWrites(b.history(), { k: [] }).violations.map((v) => v.writeIds)).toEqual([[w1]]);
  });

  it('reports a resurrection: a value an acknowledged delete had seen is live at the end', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const d = b.del('c2', 'k', { ctx: [w1] });
    const r = checkNoLostWrites(b.history(), { k: [w1] });
    expect(r.violations).toMatchObject([{ kind: 'resurrected', key: 'k', writeIds: [d, w1] }]);
  });

  it('treats a key missing from the final state as empty, or skips it on request', () => {
    const b = new Builder();
    b.put('c1', 'k');
    expect(checkNoLostWrites(b.history(), {}).ok).toBe(false);
    const skipped = checkNoLostWrites(b.history(), {}, { missingKey: 'skip' });
    expect(skipped.ok).toBe(true);
    expect(skipped.stats.keysSkipped).toBe(1);
  });
});

describe('checkNoPhantoms', () => {
  it('fails on a value no write produced, in a get or in the final state', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    b.get('c2', 'k', [w1, 'made-up']);
    const r = checkNoPhantoms(b.history(), { k: [w1, 'w99'] });
    expect(r.ok).toBe(false);
    expect(r.violations.map((v) => v.kind)).toEqual(['phantom', 'phantom']);
    expect(r.violations[0].message).toMatch(/key "k": get #1 by c2 .* returned value "made-up", which no write produced/);
    expect(r.violations[1].message).toMatch(/the final state returned w99, which no write produced/);
  });

  it('fails on a tombstone returned as a value, a value from another key, and a value from the future', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'other');
    const d = b.del('c1', 'k');
    const early = b.start('c2', 'get', 'k');
    b.rec.complete(early, 'ok');
    const late = b.put('c3', 'k');
    const g = b.get('c2', 'k', []);
    const h = b.history();
    h[early.id] = { ...h[early.id], returned: [late] }; // returned before the put was even invoked
    h[g.id] = { ...h[g.id], returned: [w1, d] }; // a delete has no value: patch its id in
    const r = checkNoPhantoms(h, {});
    expect(r.violations.map((v) => v.kind)).toEqual(['future-value', 'phantom', 'phantom']);
    expect(r.violations[1].message).toMatch(/written under key "other"/);
    expect(r.violations[2].message).toMatch(/is a delete/);
  });

  it('passes when every value comes from a put, acknowledged or indeterminate', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k', { outcome: 'timeout' });
    const pending = b.start('c2', 'put', 'k');
    b.get('c3', 'k', [w1, pending.writeId!]);
    b.get('c3', 'k', [], { outcome: 'fail' });
    const r = checkNoPhantoms(b.history(), { k: [w1] });
    expect(r.ok).toBe(true);
    expect(r.stats).toMatchObject({ gets: 1, valuesChecked: 3, phantoms: 0 });
  });
});

describe('checkNoDominatedSiblings', () => {
  it('fails when a get returns a value together with one that had seen it, transitively', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const w2 = b.put('c1', 'k', { ctx: [w1] });
    const w3 = b.put('c1', 'k', { ctx: [w2] });
    b.get('c2', 'k', [w1, w3]);
    const r = checkNoDominatedSiblings(b.history());
    expect(r.violations).toMatchObject([{ kind: 'dominated-sibling', key: 'k', writeIds: [w3, w1] }]);
    expect(r.violations[0].message).toMatch(/returned w1 together with w3, but w3 had seen w1/);
  });

  it('fails on a dominated pair or a duplicate in the final state', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const w2 = b.put('c1', 'k', { ctx: [w1] });
    const r = checkNoDominatedSiblings(b.history(), { k: [w2, w1], j: [w1, w1] });
    expect(r.violations.map((v) => v.kind)).toEqual(['dominated-sibling', 'duplicate-sibling']);
  });

  it('passes on concurrent siblings and on a resolved value', () => {
    const b = new Builder();
    const w1 = b.put('c1', 'k');
    const w2 = b.put('c2', 'k');
    const g = b.get('c3', 'k', [w1, w2]);
    const w3 = b.put('c3', 'k', { ctx: g });
    const w4 = b.put('c1', 'k', { ctx: [w1] }); // saw w1 only: concurrent with w3
    b.get('c3', 'k', [w3, w4]);
    expect(checkNoDominatedSiblings(b.history(), { k: [w3, w4] }).ok).toBe(true);
  });
});
