/**
 * A tiny model of registers with siblings, used to generate VALID histories for the checkers'
 * property tests. Each key lives on N = 3 replicas; a replica holds entries (puts and delete
 * tombstones), each with its explicit causal past (the ids it had seen, transitively), which
 * is what DVVs encode. Applying or merging keeps every entry no other entry had seen, so
 * causality is honoured exactly, nothing acknowledged is dropped, and quorums intersect:
 * acknowledged writes reach at least w replicas, gets merge r replicas.
 */
import fc from 'fast-check';
import { HistoryRecorder, type Operation, type Outcome, type WriteId } from '../../checkers/history.js';
import type { WatchEvent } from '../../checkers/watch-completeness.js';

export const N = 3;
export const CLIENTS = 3;
export const KEYS = ['a', 'b'] as const;

export type Action =
  | { t: 'get'; client: number; key: number; strict: boolean; order: number[]; r: number; outcome: Outcome }
  | {
      t: 'write';
      kind: 'put' | 'delete';
      client: number;
      key: number;
      /** ctx: carry the client's last context (else blind). */
      ctx: boolean;
      strict: boolean;
      order: number[];
      w: number;
      outcome: Outcome;
      /** applied: replicas reached (at least w when ok). */
      applied: number;
      /** pending: a non-ok write that never completes. */
      pending: boolean;
    }
  | { t: 'sync'; key: number; from: number; to: number };

const perm = fc.shuffledSubarray([0, 1, 2], { minLength: N, maxLength: N });
const outcomeArb = fc.oneof(
  { arbitrary: fc.constant<Outcome>('ok'), weight: 4 },
  { arbitrary: fc.constant<Outcome>('fail'), weight: 1 },
  { arbitrary: fc.constant<Outcome>('timeout'), weight: 1 },
);
const common = { client: fc.nat({ max: CLIENTS - 1 }), key: fc.nat({ max: KEYS.length - 1 }), strict: fc.boolean(), order: perm, outcome: outcomeArb };

export const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { arbitrary: fc.record({ t: fc.constant('get' as const), r: fc.integer({ min: 1, max: N }), ...common }), weight: 4 },
  {
    arbitrary: fc.record({
      t: fc.constant('write' as const),
      kind: fc.oneof({ arbitrary: fc.constant('put' as const), weight: 5 }, { arbitrary: fc.constant('delete' as const), weight: 1 }),
      ctx: fc.boolean(),
      w: fc.integer({ min: 1, max: N }),
      applied: fc.integer({ min: 0, max: N }),
      pending: fc.boolean(),
      ...common,
    }),
    weight: 5,
  },
  { arbitrary: fc.record({ t: fc.constant('sync' as const), key: fc.nat({ max: KEYS.length - 1 }), from: fc.nat({ max: N - 1 }), to: fc.nat({ max: N - 1 }) }), weight: 2 },
);

interface Entry {
  id: WriteId;
  live: boolean;
}

export interface ModelRun {
  history: Operation[];
  finalState: Map<string, WriteId[]>;
  dumps: Map<string, Map<string, string[]>>;
  events: WatchEvent[];
  /** past: the model's own causal past of every write. */
  past: Map<WriteId, Set<WriteId>>;
}

/**
 * run executes actions. In rmwOnly mode (T9), every write carries a context read at R = N after
 * the client's previous write (the model reads first when the client has none) and gets read
 * all replicas, so each client has at most one live write: at most CLIENTS siblings.
 */
export function run(actions: readonly Action[], rmwOnly = false): ModelRun {
  const rec = new HistoryRecorder();
  const past = new Map<WriteId, Set<WriteId>>();
  const replicas = KEYS.map(() => Array.from({ length: N }, () => [] as Entry[]));
  const contexts = new Map<string, Operation>(); // `${client}/${key}` -> last ok get
  const events: WatchEvent[] = [];
  const announced = new Set<WriteId>();
  const values = new Map<WriteId, string>(); // write id -> value written

  const merge = (...lists: Entry[][]): Entry[] => {
    const all = new Map<WriteId, Entry>();
    for (const l of lists) for (const e of l) all.set(e.id, e);
    const es = [...all.values()];
    return es.filter((e) => !es.some((f) => past.get(f.id)!.has(e.id))).sort((a, b) => (a.id < b.id ? -1 : 1));
  };
  const get = (client: number, key: number, order: number[], r: number, strict: boolean, outcome: Outcome): Operation => {
    const op = rec.invoke({ client: `c${client}`, kind: 'get', key: KEYS[key], strict, consistency: { r, w: 2, n: N } });
    const merged = merge(...order.slice(0, r).map((i) => replicas[key][i]));
    rec.complete(op, outcome, outcome === 'ok' ? merged.filter((e) => e.live).map((e) => values.get(e.id)!) : []);
    if (outcome === 'ok') contexts.set(`${client}/${key}`, op);
    return op;
  };
  for (const a of actions) {
    if (a.t === 'get') get(a.client, a.key, a.order, rmwOnly ? N : a.r, a.strict, a.outcome);
    else if (a.t === 'sync') {
      const merged = merge(replicas[a.key][a.from], replicas[a.key][a.to]);
      replicas[a.key][a.to] = merged;
    } else {
      const ck = `${a.client}/${a.key}`;
      if (rmwOnly && !contexts.has(ck)) get(a.client, a.key, a.order, N, false, 'ok');
      const ctx = rmwOnly || a.ctx ? contexts.get(ck) : undefined;
      const op = rec.invoke({ client: `c${a.client}`, kind: a.kind, key: KEYS[a.key], context: ctx, strict: a.strict, consistency: { r: 2, w: a.w, n: N } });
      const id = op.writeId!;
      if (op.value !== undefined) values.set(id, op.value);
      const p = new Set<WriteId>();
      for (const s of op.seen) for (const x of [s, ...past.get(s)!]) p.add(x);
      past.set(id, p);
      const reach = a.outcome === 'ok' ? Math.max(a.w, a.applied) : a.applied;
      for (const i of a.order.slice(0, reach)) replicas[a.key][i] = merge(replicas[a.key][i], [{ id, live: a.kind === 'put' }]);
      if (reach > 0 && !announced.has(id)) {
        announced.add(id);
        events.push({ key: KEYS[a.key], writeId: id, kind: a.kind });
      }
      if (a.outcome === 'ok' || !a.pending) rec.complete(op, a.outcome);
      if (rmwOnly) contexts.delete(ck);
    }
  }

  const finalState = new Map<string, WriteId[]>();
  const dumps = new Map<string, Map<string, string[]>>(Array.from({ length: N }, (_, i) => [`n${i}`, new Map()]));
  KEYS.forEach((key, k) => {
    const merged = merge(...replicas[k]);
    if (merged.length === 0) return;
    finalState.set(key, merged.filter((e) => e.live).map((e) => e.id));
    for (let i = 0; i < N; i++) dumps.get(`n${i}`)!.set(key, merged.map((e) => e.id));
  });
  return { history: rec.history(), finalState, dumps, events, past };
}
