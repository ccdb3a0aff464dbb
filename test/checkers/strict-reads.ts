/**
 * Read freshness: checkStrictReads (TESTING.md T3) and staleReadFraction (T2, informational).
 *
 * A successful get MISSES an acknowledged write w (w acknowledged before the get was invoked,
 * same key) when:
 * - w is a put, and no returned value is w or a write that had seen w (transitively), and no
 *   delete invoked before the get completed (or at the same instant: they were concurrent) had
 *   seen w (its tombstone leaves nothing to return);
 * - w is a delete, and the get returned a value that w had seen (the deleted value came back).
 *
 * checkStrictReads reports every miss where both the get and the write ran with strict and
 * R + W > N (the get's r, the write's w; N from either op, else the option, else 3; a missing
 * consistency means the option's default, R = W = 2). staleReadFraction counts, over all
 * successful gets, those that missed anything (strict or not); it never fails.
 */
import { type Bits, CausalIndex, bitsHas, bitsNew, bitsOr, bitsSet } from './causal.js';
import { type CheckResult, type Consistency, type History, type Operation, type Violation, describeOp, fmtIds, isWrite } from './history.js';

export interface ReadCheckOptions {
  /** defaultConsistency: for operations recorded without one; default { r: 2, w: 2, n: 3 }. */
  defaultConsistency?: Consistency;
}

interface Miss {
  write: Operation;
  /** why: the returned value a missed delete had seen, if any. */
  why: string;
}

/** ReadIndex finds, for a get, the acknowledged writes it missed among those `qualifies` accepts. */
class ReadIndex {
  readonly idx: CausalIndex;
  private readonly acked = new Map<string, Operation[]>();
  private readonly deletes = new Map<string, Operation[]>();

  constructor(history: History) {
    this.idx = new CausalIndex(history);
    for (const op of history) {
      if (!isWrite(op)) continue;
      if (op.outcome === 'ok') push(this.acked, op.key, op);
      if (op.kind === 'delete') push(this.deletes, op.key, op);
    }
    for (const list of this.acked.values()) list.sort((a, b) => a.completeTime - b.completeTime);
  }

  missed(get: Operation, qualifies: (w: Operation) => boolean): Miss[] {
    const { idx } = this;
    const covered: Bits = bitsNew(idx.sizeOf(get.key));
    for (const id of get.returned) {
      const w = idx.write(id);
      if (!w || w.key !== get.key || w.kind !== 'put') continue;
      bitsSet(covered, idx.indexOf(id));
      bitsOr(covered, idx.past(id));
    }
    for (const d of this.deletes.get(get.key) ?? []) if (d.invokeTime <= get.completeTime) bitsOr(covered, idx.past(d.writeId!));
    const out: Miss[] = [];
    for (const w of this.acked.get(get.key) ?? []) {
      if (w.completeTime >= get.invokeTime) break;
      if (!qualifies(w)) continue;
      if (w.kind === 'put') {
        if (!bitsHas(covered, idx.indexOf(w.writeId!)))
          out.push({ write: w, why: `it returned ${fmtIds(get.returned)}, none of which is or had seen ${w.writeId}` });
      } else {
        const back = get.returned.find((v) => idx.saw(w.writeId!, v));
        if (back !== undefined) out.push({ write: w, why: `it returned ${back}, which that delete had seen` });
      }
    }
    return out;
  }
}

function push<V>(m: Map<string, V[]>, k: string, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

const DEFAULT: Required<Consistency> = { r: 2, w: 2, n: 3 };

export interface StrictReadStats {
  /** strictGets: successful strict gets examined. */
  strictGets: number;
  /** staleStrictGets: those that missed at least one qualifying write. */
  staleStrictGets: number;
  missedWrites: number;
}

export function checkStrictReads(history: History, opts: ReadCheckOptions = {}): CheckResult<StrictReadStats> {
  const def = { ...DEFAULT, ...opts.defaultConsistency };
  const reads = new ReadIndex(history);
  const violations: Violation[] = [];
  const stats: StrictReadStats = { strictGets: 0, staleStrictGets: 0, missedWrites: 0 };
  for (const get of history) {
    if (get.kind !== 'get' || get.outcome !== 'ok' || !get.strict) continue;
    stats.strictGets++;
    const r = get.consistency?.r ?? def.r;
    const qualifies = (w: Operation): boolean => {
      const n = get.consistency?.n ?? w.consistency?.n ?? def.n;
      return w.strict && r + (w.consistency?.w ?? def.w) > n;
    };
    const misses = reads.missed(get, qualifies);
    if (misses.length > 0) stats.staleStrictGets++;
    for (const { write, why } of misses) {
      stats.missedWrites++;
      violations.push({
        checker: 'strictReads',
        kind: 'stale-strict-read',
        key: get.key,
        writeIds: [write.writeId!, ...get.returned],
        time: get.invokeTime,
        message:
          `key ${JSON.stringify(get.key)}: strict ${describeOp(get)} at r=${r} missed strict ${describeOp(write)} ` +
          `at w=${write.consistency?.w ?? def.w}, acknowledged before the get began: ${why}`,
      });
    }
  }
  return { ok: violations.length === 0, violations, stats };
}

export interface StaleReadStats {
  gets: number;
  stale: number;
  /** fraction: stale / gets, 0 when there were no successful gets. */
  fraction: number;
}

/** staleReadFraction is informational: ok is always true and violations always empty. */
export function staleReadFraction(history: History): CheckResult<StaleReadStats> & { fraction: number } {
  const reads = new ReadIndex(history);
  let gets = 0;
  let stale = 0;
  for (const get of history) {
    if (get.kind !== 'get' || get.outcome !== 'ok') continue;
    gets++;
    if (reads.missed(get, () => true).length > 0) stale++;
  }
  const fraction = gets === 0 ? 0 : stale / gets;
  return { ok: true, violations: [], stats: { gets, stale, fraction }, fraction };
}

/**
 * The cluster a strict write ran in, as far as its quorum is concerned (checkStrictWriteQuorum).
 *
 * PRIMARIES are the key's first N distinct nodes on the ring: a property of the ring, not of
 * who is up. A partitioned or DOWN primary is still a primary (an unreachable one); a fallback
 * standing in for it is never a primary, whatever the coordinator's view of liveness. So
 * "W primaries reachable" is not "W nodes on the coordinator's side of the partition", nor
 * "W of the coordinator's preference list" (which holds fallbacks under a partition).
 *
 * REACHABLE is about the node that coordinated the write: the contacted node coordinates if it
 * is a primary; otherwise it forwards to a primary it can reach, or, if none answers,
 * coordinates itself. A primary p counts for coordinator c when p is c, or when c and p could
 * exchange a request AND its answer (both directions: a one-way cut makes p unreachable) at
 * some instant while the write was in flight. Partitions may change during the write, so any
 * instant in [invoke, complete] counts: the check can miss a violation but never invents one.
 */
export interface QuorumModel {
  /** primariesOf: the key's N primaries (node ids) from the ring, in any order. */
  primariesOf(key: string): readonly string[];
  /** contactOf: the node the client sent the request to. */
  contactOf(op: Operation): string;
  /** canTalk: a and b could exchange a message both ways at some instant in [from, to]. */
  canTalk(a: string, b: string, from: number, to: number): boolean;
}

export interface StrictWriteStats {
  /** strictWrites: acknowledged strict writes examined. */
  strictWrites: number;
  /** underQuorum: those acknowledged with fewer than W primaries reachable from any possible coordinator. */
  underQuorum: number;
}

/**
 * checkStrictWriteQuorum (TESTING.md T3): no strict write is acknowledged unless at least W of
 * its key's primaries were reachable from a node that could have coordinated it (see
 * QuorumModel). Only acknowledged strict writes are checked; failed and timed-out ones may
 * have landed anywhere.
 */
export function checkStrictWriteQuorum(history: History, model: QuorumModel, opts: ReadCheckOptions = {}): CheckResult<StrictWriteStats> {
  const def = { ...DEFAULT, ...opts.defaultConsistency };
  const violations: Violation[] = [];
  const stats: StrictWriteStats = { strictWrites: 0, underQuorum: 0 };
  for (const op of history) {
    if (!isWrite(op) || op.outcome !== 'ok' || !op.strict) continue;
    stats.strictWrites++;
    const w = op.consistency?.w ?? def.w;
    const prim = model.primariesOf(op.key);
    const contact = model.contactOf(op);
    const from = op.invokeTime;
    const to = op.completeTime;
    const talk = (a: string, b: string) => a === b || model.canTalk(a, b, from, to);
    const coordinators = new Set([contact, ...prim.filter((p) => talk(contact, p))]);
    let best = 0;
    let bestBy = contact;
    for (const c of coordinators) {
      const n = prim.filter((p) => talk(c, p)).length;
      if (n > best) [best, bestBy] = [n, c];
    }
    if (best >= w) continue;
    stats.underQuorum++;
    violations.push({
      checker: 'strictWriteQuorum',
      kind: 'strict-write-under-quorum',
      key: op.key,
      writeIds: [op.writeId!],
      time: op.invokeTime,
      message:
        `key ${JSON.stringify(op.key)}: strict ${describeOp(op)} at w=${w} via ${contact} was acknowledged, but at most ${best} of its ` +
        `primaries [${prim.join(', ')}] were reachable from any node that could coordinate it (best: ${bestBy})`,
    });
  }
  return { ok: violations.length === 0, violations, stats };
}
