/**
 * checkNoDominatedSiblings: a get (or the final state) never returns v together with u when u's
 * write had seen v, transitively (TESTING.md T1, T8). Such a pair means the store failed to
 * apply causality: v was replaced by u and must not survive beside it. The same write returned
 * twice in one answer is reported too ('duplicate-sibling': one write applied as two siblings).
 */
import { CausalIndex } from './causal.js';
import {
  type CheckResult,
  type FinalState,
  type History,
  type Operation,
  type Violation,
  type WriteId,
  describeOp,
  finalStateMap,
  fmtIds,
} from './history.js';

export interface DominatedStats {
  /** answers: ok gets plus final-state keys examined. */
  answers: number;
  dominated: number;
  duplicates: number;
}

export function checkNoDominatedSiblings(history: History, finalState?: FinalState): CheckResult<DominatedStats> {
  const idx = new CausalIndex(history);
  const violations: Violation[] = [];
  const stats: DominatedStats = { answers: 0, dominated: 0, duplicates: 0 };

  const check = (key: string, ids: readonly WriteId[], where: string, get?: Operation): void => {
    stats.answers++;
    const time = get ? { time: get.invokeTime } : {};
    const seen = new Set<WriteId>();
    for (const id of ids) {
      if (!seen.has(id)) {
        seen.add(id);
        continue;
      }
      stats.duplicates++;
      violations.push({
        checker: 'noDominatedSiblings',
        kind: 'duplicate-sibling',
        key,
        writeIds: [id],
        ...time,
        message: `key ${JSON.stringify(key)}: ${where} returned ${id} more than once: ${fmtIds(ids)}`,
      });
    }
    const distinct = [...seen];
    for (const u of distinct)
      for (const v of distinct) {
        if (u === v || !idx.saw(u, v)) continue;
        stats.dominated++;
        violations.push({
          checker: 'noDominatedSiblings',
          kind: 'dominated-sibling',
          key,
          writeIds: [u, v],
          ...time,
          message: `key ${JSON.stringify(key)}: ${where} returned ${v} together with ${u}, but ${u} had seen ${v}: ${fmtIds(ids)}`,
        });
      }
  };

  for (const op of history) if (op.kind === 'get' && op.outcome === 'ok') check(op.key, op.returned, describeOp(op), op);
  if (finalState) for (const [key, ids] of finalStateMap(finalState)) check(key, ids, 'the final state');
  return { ok: violations.length === 0, violations, stats };
}
