/**
 * checkWatchCompleteness: a watcher on a key or prefix sees every acknowledged write there.
 *
 * Pass the history (or just its writes): only acknowledged writes on watched keys, invoked at
 * or after `since`, must be delivered; the other writes are used to follow seen-sets. Each such
 * write must appear in the events at least once, or be superseded by an event of the same key
 * for a write that had seen it (transitively: a coalescing watcher may skip it). A write id
 * delivered twice is a 'duplicate-event'. An event whose key differs from its write's key, or
 * (when `prefix`/`keys` is given) lies outside the watch, is reported. A delete event without
 * a write id counts as delivering the acknowledged deletes of its key (never as a duplicate).
 * Events naming no known write (e.g. an indeterminate write left out) are only counted.
 *
 * With `versionOf` (each write's version "actor:counter", from its receipt) and events that
 * carry their causal `context`, a write is also superseded when a delivered event of its key
 * has a context covering its version: the watcher was shown a state that includes the write
 * or what replaced it (e.g. a delete folded into a later event). The no-lost-writes checker
 * keeps contexts honest: a context covering a write nothing had seen shows up there as a loss.
 *
 * A real watch reports a delete without naming it (dkv's DELETE event carries a causal
 * context, not a client's write id), and it coalesces: a put that reaches the watch session
 * only after a tombstone that dominates it (a write from the minority side of a partition,
 * deleted by a read-resolve-delete right after the heal) is never sent on its own. So a delete
 * event without a write id also supersedes what a delete of its key had seen (transitively),
 * provided that delete was invoked before the event was delivered (events without a time: any
 * delete of the key). A delete event that came before any such delete supersedes nothing.
 */
import { CausalIndex } from './causal.js';
import { type CheckResult, type History, type Operation, type Violation, type WriteId, describeOp, isWrite } from './history.js';

export interface WatchEvent {
  key: string;
  /** writeId: the write that caused the event (map a value with HistoryRecorder.writeIdOf). */
  writeId?: WriteId;
  kind?: 'put' | 'delete';
  /** time: when it was delivered, for messages only. */
  time?: number;
  /** context: the event's causal context (actor -> counter), when known. */
  context?: ReadonlyMap<string, number>;
}

export interface WatchOptions {
  /** prefix: the watched prefix; keys: the watched keys. Neither: every key written is watched. */
  prefix?: string;
  keys?: readonly string[];
  /** since: writes invoked before this time (the watch start) need not be delivered. */
  since?: number;
  /** versionOf: a write's version "actor:counter" (its dot), when known. */
  versionOf?: (id: WriteId) => string | undefined;
}

export interface WatchStats {
  expected: number;
  delivered: number;
  superseded: number;
  /** coveredByContext: superseded writes found only through an event's context. */
  coveredByContext: number;
  missed: number;
  events: number;
  duplicates: number;
  unknownEvents: number;
}

export function checkWatchCompleteness(
  acknowledgedWrites: History,
  watchEvents: readonly WatchEvent[],
  opts: WatchOptions = {},
): CheckResult<WatchStats> {
  const idx = new CausalIndex(acknowledgedWrites);
  const scoped = opts.prefix !== undefined || opts.keys !== undefined;
  const keySet = new Set(opts.keys ?? []);
  const watched = (key: string): boolean =>
    !scoped || keySet.has(key) || (opts.prefix !== undefined && key.startsWith(opts.prefix));
  const violations: Violation[] = [];
  const stats: WatchStats = { expected: 0, delivered: 0, superseded: 0, coveredByContext: 0, missed: 0, events: watchEvents.length, duplicates: 0, unknownEvents: 0 };

  const count = new Map<WriteId, number>();
  const byKey = new Map<string, WriteId[]>();
  const contexts = new Map<string, ReadonlyMap<string, number>[]>();
  const anonymousDeletes = new Set<string>();
  /** latestAnonymousDelete: per key, the latest delivery time of a delete event without a write id (Infinity: one without a time). */
  const latestAnonymousDelete = new Map<string, number>();
  watchEvents.forEach((ev, i) => {
    const at = `event #${i}${ev.time !== undefined ? ` (t=${ev.time})` : ''}`;
    if (ev.context) push(contexts, ev.key, ev.context);
    if (scoped && !watched(ev.key))
      violations.push({ checker: 'watchCompleteness', kind: 'outside-watch', key: ev.key, message: `${at} for key ${JSON.stringify(ev.key)} lies outside the watch` });
    if (ev.writeId === undefined) {
      if (ev.kind === 'delete') {
        anonymousDeletes.add(ev.key);
        latestAnonymousDelete.set(ev.key, Math.max(latestAnonymousDelete.get(ev.key) ?? -Infinity, ev.time ?? Infinity));
      }
      return;
    }
    const w = idx.write(ev.writeId);
    if (!w) stats.unknownEvents++;
    else if (w.key !== ev.key)
      violations.push({
        checker: 'watchCompleteness',
        kind: 'wrong-key',
        key: ev.key,
        writeIds: [ev.writeId],
        message: `${at} delivered ${ev.writeId} under key ${JSON.stringify(ev.key)}, but it was written under ${JSON.stringify(w.key)}`,
      });
    const n = (count.get(ev.writeId) ?? 0) + 1;
    count.set(ev.writeId, n);
    if (n === 2) {
      stats.duplicates++;
      violations.push({
        checker: 'watchCompleteness',
        kind: 'duplicate-event',
        key: ev.key,
        writeIds: [ev.writeId],
        message: `key ${JSON.stringify(ev.key)}: ${ev.writeId} delivered more than once (again at ${at})`,
      });
    }
    const list = byKey.get(ev.key);
    if (list) list.push(ev.writeId);
    else byKey.set(ev.key, [ev.writeId]);
  });

  const deletesOf = new Map<string, Operation[]>();
  for (const d of acknowledgedWrites)
    if (d.kind === 'delete') {
      const list = deletesOf.get(d.key);
      if (list) list.push(d);
      else deletesOf.set(d.key, [d]);
    }
  /** supersededByAnonymousDelete: a delete of w's key that had seen w was invoked before a delete event of that key was delivered. */
  const supersededByAnonymousDelete = (w: Operation): boolean => {
    const latest = latestAnonymousDelete.get(w.key);
    if (latest === undefined) return false;
    return (deletesOf.get(w.key) ?? []).some((d) => d.invokeTime < latest && idx.saw(d.writeId!, w.writeId!));
  };

  for (const w of acknowledgedWrites) {
    if (!isWrite(w) || w.outcome !== 'ok' || !watched(w.key)) continue;
    if (opts.since !== undefined && w.invokeTime < opts.since) continue;
    stats.expected++;
    const id = w.writeId!;
    if (count.has(id) || (w.kind === 'delete' && anonymousDeletes.has(w.key))) {
      stats.delivered++;
      continue;
    }
    if (idx.sawBy(id, byKey.get(w.key) ?? []) !== undefined || supersededByAnonymousDelete(w)) {
      stats.superseded++;
      continue;
    }
    const version = opts.versionOf?.(id);
    if (version !== undefined && (contexts.get(w.key) ?? []).some((c) => covers(c, version))) {
      stats.superseded++;
      stats.coveredByContext++;
      continue;
    }
    stats.missed++;
    violations.push({
      checker: 'watchCompleteness',
      kind: 'missed-event',
      key: w.key,
      writeIds: [id],
      time: w.invokeTime,
      message: `key ${JSON.stringify(w.key)}: acknowledged ${describeOp(w)} never reached the watcher, and no delivered write had seen it`,
    });
  }
  return { ok: violations.length === 0, violations, stats };
}

function push<V>(m: Map<string, V[]>, k: string, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

/** covers says whether a context (actor -> counter) includes the version "actor:counter". */
function covers(context: ReadonlyMap<string, number>, version: string): boolean {
  const i = version.lastIndexOf(':');
  const counter = Number(version.slice(i + 1));
  return i > 0 && Number.isFinite(counter) && (context.get(version.slice(0, i)) ?? 0) >= counter;
}
