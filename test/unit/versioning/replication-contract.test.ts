/**
 * Why the replication contract of siblings.ts exists. A client context is a plain version
 * vector, so "saw (A, 2)" reads as "saw (A, 1) and (A, 2)". That is true only if whoever can
 * see (A, 2) can also see (A, 1) or a version that dominates it. Two rules keep it true:
 * the coordinator ships its whole record (not the fresh version alone), and the context handed
 * back after a write (contextAfterWrite) never claims an earlier dot the client did not see.
 * Each test shows the loss that breaking a rule causes, and that the rule prevents it.
 */
import { describe, it, expect } from 'vitest';
import { dotKey, vvAddDot, vvEmpty, type VersionVector } from '../../../src/versioning/dvv.js';
import { type Version, applyWrite, contextAfterWrite, contextOf, newVersion, nextDot, sync } from '../../../src/versioning/siblings.js';

function write(record: Version[], actor: string, context: VersionVector, value: string) {
  const fresh = newVersion(nextDot(actor, record, context, 0), context, { value: Buffer.from(value) });
  return { fresh, record: applyWrite(record, context, fresh) };
}
const has = (record: readonly Version[], v: Version) => record.some((x) => dotKey(x.dot) === dotKey(v.dot));

/**
 * Replica A coordinates w1 (client X); replica B misses it. A then coordinates a blind w2
 * (client Y) and replicates to B. A third client reads B and writes through B.
 */
function scenario(ship: (record: Version[], fresh: Version) => Version[]) {
  const w1 = write([], 'A.1', vvEmpty(), 'x');
  let a = w1.record;
  const w2 = write(a, 'A.1', vvEmpty(), 'y');
  a = w2.record;
  let b = sync([], ship(a, w2.fresh));
  const read = b;
  const ctx = contextOf(b);
  const w3 = write(b, 'B.1', ctx, 'z');
  b = w3.record;
  a = sync(a, b);
  return { w1: w1.fresh, read, final: sync(a, b) };
}

describe('replication contract', () => {
  it('shipping only the fresh version loses an acknowledged write nobody saw', () => {
    const { w1, read, final } = scenario((_record, fresh) => [fresh]);
    expect(has(read, w1)).toBe(false); // the third client never saw w1...
    expect(has(final, w1)).toBe(false); // ...yet its write dominated it
  });

  it('shipping the whole record keeps it until a client that saw it replaces it', () => {
    const { w1, read, final } = scenario((record) => record);
    expect(has(read, w1)).toBe(true); // the third client read w1 and resolved it
    expect(final).toHaveLength(1);
  });

  it('returning context + own dot after a write would let the writer overwrite a sibling it never saw', () => {
    const w1 = write([], 'A.1', vvEmpty(), 'x'); // client X
    const w2 = write(w1.record, 'A.1', vvEmpty(), 'y'); // client Y, blind
    const naive = vvAddDot(vvEmpty(), w2.fresh.dot); // {A.1: 2} also claims w1
    expect(has(write(w2.record, 'A.1', naive, 'y2').record, w1.fresh)).toBe(false);
    const safe = contextAfterWrite(w2.record, vvEmpty(), w2.fresh.dot);
    const next = write(w2.record, 'A.1', safe, 'y2').record;
    expect(has(next, w1.fresh)).toBe(true);
    expect(has(next, w2.fresh)).toBe(true); // Y's own previous write stays too: safe, not lossy
  });

  it('contextAfterWrite adds the dot when no unseen earlier dot of the actor remains', () => {
    const w1 = write([], 'A.1', vvEmpty(), 'x');
    const ctx = contextOf(w1.record);
    const w2 = write(w1.record, 'A.1', ctx, 'y');
    const after = contextAfterWrite(w2.record, ctx, w2.fresh.dot);
    expect(after).toEqual(contextOf(w2.record));
    expect(write(w2.record, 'A.1', after, 'z').record).toHaveLength(1);
  });
});
