/**
 * checkSiblingBound: no successful get (and, if given, no key of the final state) holds more
 * than `bound` siblings (TESTING.md T9: two clients doing read-resolve-write rounds keep at
 * most 2 siblings; Riak's "sibling explosion" is the failure this catches).
 */
import { type CheckResult, type FinalState, type History, type Violation, describeOp, finalStateMap, fmtIds } from './history.js';

export interface SiblingBoundStats {
  bound: number;
  /** answers: ok gets plus final-state keys examined. */
  answers: number;
  maxSiblings: number;
  overBound: number;
}

export function checkSiblingBound(history: History, bound: number, finalState?: FinalState): CheckResult<SiblingBoundStats> {
  const violations: Violation[] = [];
  const stats: SiblingBoundStats = { bound, answers: 0, maxSiblings: 0, overBound: 0 };
  const check = (key: string, ids: readonly string[], where: string, time?: number): void => {
    stats.answers++;
    stats.maxSiblings = Math.max(stats.maxSiblings, ids.length);
    if (ids.length <= bound) return;
    stats.overBound++;
    violations.push({
      checker: 'siblingBound',
      kind: 'too-many-siblings',
      key,
      writeIds: [...ids],
      ...(time !== undefined ? { time } : {}),
      message: `key ${JSON.stringify(key)}: ${where} returned ${ids.length} siblings (bound ${bound}): ${fmtIds(ids)}`,
    });
  };
  for (const op of history) if (op.kind === 'get' && op.outcome === 'ok') check(op.key, op.returned, describeOp(op), op.invokeTime);
  if (finalState) for (const [key, ids] of finalStateMap(finalState)) check(key, ids, 'the final state');
  return { ok: violations.length === 0, violations, stats };
}
