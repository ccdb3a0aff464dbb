/**
 * T9 at the pure level: Riak's sibling explosion. Two clients update one key in interleaved
 * read-resolve-write rounds: client X reads, then client Y writes with the context of its own
 * earlier read (now stale), then X writes with the context it just read. Each client resolves
 * by set union of the values it read plus its new item. Riak's vnode vector clocks let the
 * sibling count grow with every round here; dotted version vectors keep it at 2.
 */
import { describe, it, expect } from 'vitest';
import { type VersionVector, dotKey, vvCovers, vvEmpty } from '../../../src/versioning/dvv.js';
import { type Version, applyWrite, contextOf, newVersion, nextDot, sync } from '../../../src/versioning/siblings.js';

const ROUNDS = 100;

interface Client {
  context: VersionVector;
  values: Set<string>;
}

const decode = (v: Version): string[] => JSON.parse(v.value.toString('utf8')) as string[];
const encode = (items: Set<string>): Buffer => Buffer.from(JSON.stringify([...items].sort()));

/**
 * explode runs the rounds. Client c reads from replica readFrom(c) and writes through the
 * coordinator on replica writeVia(c); after each write the replicas sync (the coordinator ships
 * its whole record, then pulls theirs).
 */
function explode(replicaCount: number, readFrom: (client: number) => number, writeVia: (client: number) => number) {
  const replicas: Version[][] = Array.from({ length: replicaCount }, () => []);
  const actors = replicas.map((_, i) => `n${i + 1}.1`);
  const counters = replicas.map(() => 0);
  const clients: Client[] = [0, 1].map(() => ({ context: vvEmpty(), values: new Set<string>() }));
  const written: Version[] = [];
  const items: string[] = [];
  const maxDuringRound: number[] = [];
  const afterRound: number[] = [];

  const read = (c: number) => {
    const versions = replicas[readFrom(c)];
    clients[c] = { context: contextOf(versions), values: new Set(versions.flatMap(decode)) };
  };
  const write = (c: number, item: string) => {
    const r = writeVia(c);
    const { context, values } = clients[c];
    const dot = nextDot(actors[r], replicas[r], context, counters[r]);
    counters[r] = dot.counter;
    items.push(item);
    const fresh = newVersion(dot, context, { value: encode(new Set([...values, item])) });
    written.push(fresh);
    replicas[r] = applyWrite(replicas[r], context, fresh);
    for (let i = 0; i < replicas.length; i++) if (i !== r) replicas[i] = sync(replicas[i], replicas[r]);
    for (let i = 0; i < replicas.length; i++) if (i !== r) replicas[r] = sync(replicas[r], replicas[i]);
  };

  for (let round = 0; round < ROUNDS; round++) {
    const x = round % 2;
    const y = 1 - x;
    read(x);
    write(y, `y${round}`);
    const mid = Math.max(...replicas.map((r) => r.length));
    write(x, `x${round}`);
    maxDuringRound.push(Math.max(mid, ...replicas.map((r) => r.length)));
    afterRound.push(Math.max(...replicas.map((r) => r.length)));
  }
  return { final: replicas[0], replicas, written, items, maxDuringRound, afterRound };
}

function expectBounded(result: ReturnType<typeof explode>): void {
  const { final, replicas, written, items, afterRound, maxDuringRound } = result;
  expect(items.length).toBe(2 * ROUNDS);
  for (const r of replicas) expect(r).toEqual(final);
  expect(final.length).toBeLessThanOrEqual(2);
  // The stale write really does add a sibling mid-round (the scenario is not vacuous)...
  expect(Math.max(...maxDuringRound)).toBe(3);
  // ...and the next resolving write folds it away again.
  expect(Math.max(...afterRound)).toBeLessThanOrEqual(2);
  // Every value ever written is in the union of the final siblings' values...
  const union = new Set(final.flatMap(decode));
  for (const item of items) expect(union.has(item)).toBe(true);
  // ...and every written version is present or causally covered by a present one.
  const present = new Set(final.map((v) => dotKey(v.dot)));
  for (const w of written) {
    expect(present.has(dotKey(w.dot)) || final.some((p) => vvCovers(p.past, w.dot))).toBe(true);
  }
}

describe('T9 sibling explosion (pure level)', () => {
  it('one coordinator: at most 2 siblings after 100 rounds, and no value lost', () => {
    expectBounded(explode(1, () => 0, () => 0));
  });

  it('two coordinators on two replicas that sync after each write: same bounds', () => {
    expectBounded(explode(2, (c) => c, (c) => c));
  });

  it('two coordinators where each client reads one replica and writes through the other', () => {
    expectBounded(explode(2, (c) => c, (c) => 1 - c));
  });
});
