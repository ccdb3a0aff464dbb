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
