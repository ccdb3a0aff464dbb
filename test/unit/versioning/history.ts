/**
 * A tiny model of one key replicated on a few nodes, driven by a list of operations, used by
 * the property tests. It follows the replication contract of siblings.ts: the coordinator
 * issues the dot from its own record (nextDot with a node-wide floor), applies the write
 * (applyWrite) and ships its whole resulting record; receivers sync. Beside the DVV state it
 * keeps the ground truth: for every write, the set of writes its client had really seen
 * (transitively), so tests can check that DVV domination is exactly real causality.
 */
import fc from 'fast-check';
import { type VersionVector, dotKey, vvEmpty } from '../../../src/versioning/dvv.js';
import {
  type Version,
  applyWrite,
  contextAfterWrite,
  contextOf,
  newVersion,
  nextDot,
  sync,
} from '../../../src/versioning/siblings.js';

export type Op =
  /** a client reads a quorum (the listed replicas, merged) and keeps its context. */
  | { readonly kind: 'read'; readonly client: number; readonly replicas: readonly number[] }
  /** a client writes via a coordinator with its (possibly stale) context; the record goes to shipTo. */
  | { readonly kind: 'write'; readonly client: number; readonly coordinator: number; readonly shipTo: readonly number[]; readonly tombstone: boolean }
  /** anti-entropy or handoff: `to` merges `from`'s record. */
  | { readonly kind: 'sync'; readonly from: number; readonly to: number }
  /** the node spends dots on other keys (node-wide counter), leaving gaps in this key's dots. */
  | { readonly kind: 'otherKeys'; readonly node: number; readonly count: number }
  /** the node loses its data directory and restarts as a new incarnation. */
  | { readonly kind: 'wipe'; readonly node: number };

export const REPLICAS = 3;
export const CLIENTS = 3;

const idx = (n: number) => fc.integer({ min: 0, max: n - 1 });
const subset = fc.uniqueArray(idx(REPLICAS), { minLength: 1, maxLength: REPLICAS });

/** opArb generates operations; wipes are optional because they destroy unreplicated writes. */
export function opArb(withWipes: boolean): fc.Arbitrary<Op> {
  const ops: Array<fc.WeightedArbitrary<Op>> = [
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('read' as const), client: idx(CLIENTS), replicas: subset }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('write' as const),
        client: idx(CLIENTS),
        coordinator: idx(REPLICAS),
        shipTo: fc.uniqueArray(idx(REPLICAS), { maxLength: REPLICAS }),
        tombstone: fc.boolean(),
      }),
    },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const), from: idx(REPLICAS), to: idx(REPLICAS) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('otherKeys' as const), node: idx(REPLICAS), count: fc.integer({ min: 1, max: 5 }) }) },
  ];
  if (withWipes) ops.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('wipe' as const), node: idx(REPLICAS) }) });
  return fc.oneof(...ops);
}

/** historyArb generates operation lists long enough to build real sibling sets. */
export function historyArb(withWipes: boolean, maxLength = 80): fc.Arbitrary<Op[]> {
  return fc.array(opArb(withWipes), { maxLength, size: 'max' });
}

interface Client {
  context: VersionVector;
  /** seen is the ground truth matching context: every write the client has really observed. */
  seen: Set<string>;
}

export interface History {
  /** replicas[i] is node i's record for the key. */
  replicas: Version[][];
  /** every version ever written, by dot key. */
  written: Map<string, Version>;
  /** truth.get(k) is what the writer of k had really seen (dot keys), transitively closed. */
  truth: Map<string, Set<string>>;
  /** destroyed holds writes whose every copy and every successor was lost in a wipe. */
  destroyed: Set<string>;
  /** snapshots are every replica state the run passed through (valid records). */
  snapshots: Version[][];
}

function observe(seen: Set<string>, versions: readonly Version[], truth: Map<string, Set<string>>): void {
  for (const v of versions) {
    const k = dotKey(v.dot);
    seen.add(k);
    for (const s of truth.get(k) ?? []) seen.add(s);
  }
}

/** run executes the operations from an empty key and returns the final state and the truth. */
export function run(ops: readonly Op[]): History {
  const replicas: Version[][] = Array.from({ length: REPLICAS }, () => []);
  const incarnation = Array.from({ length: REPLICAS }, () => 1);
  const counter = Array.from({ length: REPLICAS }, () => 0);
  const clients: Client[] = Array.from({ length: CLIENTS }, () => ({ context: vvEmpty(), seen: new Set<string>() }));
  const h: History = { replicas, written: new Map(), truth: new Map(), destroyed: new Set(), snapshots: [[]] };
  for (const op of ops) {
    switch (op.kind) {
      case 'read': {
        const merged = op.replicas.reduce<Version[]>((acc, r) => sync(acc, replicas[r]), []);
        const seen = new Set<string>();
        observe(seen, merged, h.truth);
        clients[op.client] = { context: contextOf(merged), seen };
        break;
      }
      case 'write': {
        const c = clients[op.client];
        const actor = `n${op.coordinator}.${incarnation[op.coordinator]}`;
        const local = replicas[op.coordinator];
        const dot = nextDot(actor, local, c.context, counter[op.coordinator]);
        counter[op.coordinator] = dot.counter;
        const k = dotKey(dot);
        const fresh = newVersion(dot, c.context, { value: op.tombstone ? Buffer.alloc(0) : Buffer.from(k), tombstone: op.tombstone });
        h.written.set(k, fresh);
        h.truth.set(k, new Set(c.seen));
        const record = applyWrite(local, c.context, fresh);
        replicas[op.coordinator] = record;
        for (const r of op.shipTo) replicas[r] = sync(replicas[r], record);
        const after = contextAfterWrite(record, c.context, dot);
        if (after !== c.context) c.seen.add(k);
        c.context = after;
        break;
      }
      case 'sync':
        replicas[op.to] = sync(replicas[op.to], replicas[op.from]);
        break;
      case 'otherKeys':
        counter[op.node] += op.count;
        break;
      case 'wipe': {
        replicas[op.node] = [];
        incarnation[op.node] += 1;
        counter[op.node] = 0;
        const evidence = new Set<string>();
        for (const r of replicas) observe(evidence, r, h.truth);
        for (const k of h.written.keys()) if (!evidence.has(k)) h.destroyed.add(k);
        break;
      }
    }
    for (const r of replicas) h.snapshots.push(r);
  }
  return h;
}

/** fullSync is anti-entropy to quiescence: every replica ends with the merge of all. */
export function fullSync(replicas: readonly Version[][]): Version[] {
  return replicas.reduce<Version[]>((acc, r) => sync(acc, r), []);
}

/** canonical renders a sibling set as comparable text (dots, pasts, values, flags). */
export function canonical(versions: readonly Version[]): string {
  return JSON.stringify(
    [...versions]
      .map((v) => [v.dot.actor, v.dot.counter, [...v.past].sort(), v.value.toString('hex'), v.tombstone, v.expiresAtMs, v.writtenAtMs])
      .sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)),
  );
}
