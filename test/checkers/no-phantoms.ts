/**
 * checkNoPhantoms: no get and no final state ever holds a value that no write produced
 * (TESTING.md T1: "0 values never written").
 *
 * A returned write id is a phantom when no put (acknowledged or indeterminate) produced it, when
 * it names a delete (a tombstone surfaced as a value), or when that put was for another key.
 * A get that returns the value of a put invoked only after the get completed is reported as
 * 'future-value' (a value cannot be read before anyone began writing it).
 */
import { CausalIndex } from './causal.js';
import {
  type CheckResult,
  type FinalState,
  type History,
  type Operation,
  type Violation,
  type WriteId,
  UNKNOWN_VALUE,
  describeOp,
  finalStateMap,
  fmtTime,
} from './history.js';

export interface PhantomStats {
  gets: number;
  valuesChecked: number;
  phantoms: number;
  futureValues: number;
}

export function checkNoPhantoms(history: History, finalState: FinalState): CheckResult<PhantomStats> {
  const idx = new CausalIndex(history);
  const violations: Violation[] = [];
  const stats: PhantomStats = { gets: 0, valuesChecked: 0, phantoms: 0, futureValues: 0 };

  const check = (key: string, id: WriteId, where: string, get?: Operation): void => {
    stats.valuesChecked++;
    const w = idx.write(id);
    let why: string | undefined;
    if (!w) {
      why = id.startsWith(UNKNOWN_VALUE)
        ? `value ${JSON.stringify(id.slice(UNKNOWN_VALUE.length))}, which no write produced`
        : `${id}, which no write produced`;
    } else if (w.kind === 'delete') why = `${id}, which is a delete (a tombstone, never a live value)`;
    else if (w.key !== key) why = `${id}, which was written under key ${JSON.stringify(w.key)}`;
    if (why !== undefined) {
      stats.phantoms++;
      violations.push({
        checker: 'noPhantoms',
        kind: 'phantom',
        key,
        writeIds: [id],
        ...(get ? { time: get.invokeTime } : {}),
        message: `key ${JSON.stringify(key)}: ${where} returned ${why}`,
      });
      return;
    }
    if (get && w && w.invokeTime > get.completeTime) {
      stats.futureValues++;
      violations.push({
        checker: 'noPhantoms',
        kind: 'future-value',
        key,
        writeIds: [id],
        time: get.invokeTime,
        message: `key ${JSON.stringify(key)}: ${where} returned ${id}, whose put was invoked only later (t=${fmtTime(w.invokeTime)})`,
      });
    }
  };

  for (const op of history) {
    if (op.kind !== 'get' || op.outcome !== 'ok') continue;
    stats.gets++;
    for (const id of op.returned) check(op.key, id, describeOp(op), op);
  }
  for (const [key, ids] of finalStateMap(finalState)) for (const id of ids) check(key, id, 'the final state');
  return { ok: violations.length === 0, violations, stats };
}
