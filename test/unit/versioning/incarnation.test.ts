/**
 * T8 at the pure level (Riak's kv679): node n1 loses its data directory, so it loses both its
 * records and its node-wide dot counter. It restarts as a new incarnation ("n1.2"), a new actor.
 * These tests show that a write it then coordinates is kept beside (or after) the versions of
 * its previous incarnation, and the counter-example: restarting as the OLD actor with a reset
 * counter reissues dots the cluster has already seen, and a later sync silently drops the write.
 */
import { describe, it, expect } from 'vitest';
import { type Dot, type VersionVector, dotKey, dvvConcurrent, dvvCoveredBy, vvEmpty } from '../../../src/versioning/dvv.js';
import { type Version, applyWrite, contextOf, newVersion, nextDot, sync } from '../../../src/versioning/siblings.js';

interface Node {
  actor: string;
  counter: number;
  record: Version[];
}

/** coordinate is one write through `node`, its whole record shipped to `peers` (which sync it). */
function coordinate(node: Node, context: VersionVector, value: string, peers: Node[]): Version {
  const dot: Dot = nextDot(node.actor, node.record, context, node.counter);
  node.counter = dot.counter;
  const fresh = newVersion(dot, context, { value: Buffer.from(value) });
  node.record = applyWrite(node.record, context, fresh);
  for (const p of peers) p.record = sync(p.record, node.record);
  return fresh;
}

const has = (record: readonly Version[], v: Version) => record.some((x) => dotKey(x.dot) === dotKey(v.dot));

/** Before the wipe: three read-modify-write rounds through n1, replicated to n2. */
function beforeWipe(): { n1: Node; n2: Node; old: Version } {
  const n1: Node = { actor: 'n1.1', counter: 0, record: [] };
  const n2: Node = { actor: 'n2.1', counter: 0, record: [] };
  let old = coordinate(n1, vvEmpty(), 'v1', [n2]);
  old = coordinate(n1, contextOf(n1.record), 'v2', [n2]);
  old = coordinate(n1, contextOf(n1.record), 'v3', [n2]);
  expect(old.dot).toEqual({ actor: 'n1.1', counter: 3 });
  expect(n2.record).toEqual([old]);
  return { n1, n2, old };
}

function wipe(n1: Node, newActor: string): void {
  n1.record = [];
  n1.counter = 0;
  n1.actor = newActor;
}

describe('T8: a wiped node restarts as a new incarnation', () => {
  it('a blind write through the new incarnation is kept as a sibling, never silently dominated', () => {
    const { n1, n2, old } = beforeWipe();
    wipe(n1, 'n1.2');
    const fresh = coordinate(n1, vvEmpty(), 'after-wipe', [n2]);
    expect(fresh.dot).toEqual({ actor: 'n1.2', counter: 1 });
    expect(dvvConcurrent(fresh, old)).toBe(true);
    expect(has(n2.record, fresh) && has(n2.record, old)).toBe(true);
    // Anti-entropy restores the wiped replica: it gets the old version back beside the new one.
    n1.record = sync(n1.record, n2.record);
    expect(n1.record).toEqual(n2.record);
    expect(n1.record).toHaveLength(2);
  });

  it('a write with a context read before the wipe replaces the old versions legitimately', () => {
    const { n1, n2, old } = beforeWipe();
    const ctx = contextOf(n2.record);
    wipe(n1, 'n1.2');
    const fresh = coordinate(n1, ctx, 'resolved', [n2]);
    expect(dvvCoveredBy(old, fresh)).toBe(true); // the client had seen `old`
    expect(n2.record).toEqual([fresh]);
  });

  it('a later write by the new incarnation is not dominated by versions of the previous one', () => {
    const { n1, n2 } = beforeWipe();
    wipe(n1, 'n1.2');
    const first = coordinate(n1, vvEmpty(), 'a', [n2]);
    const second = coordinate(n1, contextOf([first]), 'b', [n2]);
    for (const v of n2.record) expect(dvvCoveredBy(second, v)).toBe(false);
    expect(has(n2.record, second)).toBe(true);
    expect(n2.record).toHaveLength(2); // the old "v3" and "b"; "a" was replaced by its reader
  });

  it('counter-example: reusing the old actor with a reset counter loses a write silently', () => {
    const { n1, n2, old } = beforeWipe();
    wipe(n1, 'n1.1'); // same actor, counter back to 0: what incarnations prevent
    const fresh = coordinate(n1, vvEmpty(), 'after-wipe', [n2]);
    expect(fresh.dot).toEqual({ actor: 'n1.1', counter: 1 });
    // The reissued dot n1.1:1 is covered by `old`'s past (its writer saw the first "v1"), so
    // DVV reads the new write as an ancestor of `old`: the acknowledged write vanishes.
    expect(dvvCoveredBy(fresh, old)).toBe(true);
    expect(has(n1.record, fresh)).toBe(true); // acknowledged by the coordinator...
    expect(has(n2.record, fresh)).toBe(false); // ...gone from the replica after one sync...
    n1.record = sync(n1.record, n2.record);
    expect(has(n1.record, fresh)).toBe(false); // ...and everywhere after anti-entropy.
  });

  it('counter-example: a reissued dot collides with a different write of the same dot', () => {
    const n1: Node = { actor: 'n1.1', counter: 0, record: [] };
    const n2: Node = { actor: 'n2.1', counter: 0, record: [] };
    const before = coordinate(n1, vvEmpty(), 'before', [n2]);
    wipe(n1, 'n1.1');
    const after = coordinate(n1, vvEmpty(), 'after', [n2]);
    expect(after.dot).toEqual(before.dot);
    // Two different writes under one dot: sync keeps only one of them.
    expect(n2.record).toHaveLength(1);
    expect(has(n2.record, before) && n2.record[0].value.toString() === 'before' && n1.record[0].value.toString() === 'after').toBe(true);
    expect(sync(n1.record, n2.record)).toHaveLength(1);
  });
});
