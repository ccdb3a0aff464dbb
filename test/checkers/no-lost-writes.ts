/**
 * checkNoLostWrites: durability of acknowledged writes (TESTING.md T1-T8, T11-T15).
 *
 * Every acknowledged put must be in the final state of its key, or in the causal past of a
 * write that legitimately replaced it: a final value, a delete (of any outcome: a delete leaves
 * no live value to prove it happened), or another acknowledged put (if that put is itself
 * missing, it is the one reported: the root cause, once). Indeterminate puts may be present or
 * absent. An acknowledged delete is lost when a value it had seen is still live at the end
 * (a resurrection).
 */
import { CausalIndex } from './causal.js';
import {
  type CheckResult,
  type FinalState,
  type History,
  type Violation,
  type WriteId,
  describeOp,
  finalStateMap,
  fmtIds,
  isWrite,
} from './history.js';

export interface LostWritesOptions {
  /** missingKey: a written key absent from the final state reads as no live value ('empty', default) or is not checked ('skip'). */
  missingKey?: 'empty' | 'skip';
}

export interface LostWritesStats {
  keys: number;
  /** keysSkipped: written keys absent from the final state, with missingKey 'skip'. */
  keysSkipped: number;
  acknowledged: number;
  present: number;
  superseded: number;
  lost: number;
  indeterminate: number;
  indeterminatePresent: number;
  resurrected: number;
}

export function checkNoLostWrites(history: History, finalState: FinalState, opts: LostWritesOptions = {}): CheckResult<LostWritesStats> {
  const idx = new CausalIndex(history);
  const final = finalStateMap(finalState);
  const violations: Violation[] = [];
  const stats: LostWritesStats = {
    keys: 0,
    keysSkipped: 0,
    acknowledged: 0,
    present: 0,
    superseded: 0,
    lost: 0,
    indeterminate: 0,
    indeterminatePresent: 0,
    resurrected: 0,
  };
  const keys = [...new Set(history.filter(isWrite).map((op) => op.key))];
  for (const key of keys) {
    const finalIds = final.get(key);
    if (finalIds === undefined && opts.missingKey === 'skip') {
      stats.keysSkipped++;
      continue;
    }
    stats.keys++;
    const live = new Set<WriteId>(finalIds ?? []);
    const writes = idx.writesOf(key);
    const roots: WriteId[] = [...live];
    for (const w of writes) if (w.kind === 'delete' || w.outcome === 'ok') roots.push(w.writeId!);
    const covered = idx.coveredBy(roots);
    const shownFinal = finalIds === undefined ? '(key absent: no live value)' : fmtIds(finalIds);
    for (const w of writes) {
      const id = w.writeId!;
      if (w.kind === 'delete') {
        if (w.outcome !== 'ok') continue;
        for (const v of live) {
          if (!idx.saw(id, v)) continue;
          stats.resurrected++;
          violations.push({
            checker: 'noLostWrites',
            kind: 'resurrected',
            key,
            writeIds: [id, v],
            time: w.invokeTime,
            message: `key ${JSON.stringify(key)}: acknowledged ${describeOp(w)} had seen ${v}, but ${v} is live in the final state ${shownFinal}`,
          });
        }
        continue;
      }
      if (w.outcome !== 'ok') {
        stats.indeterminate++;
        if (live.has(id)) stats.indeterminatePresent++;
        continue;
      }
      stats.acknowledged++;
      if (live.has(id)) stats.present++;
      else if (covered.has(id)) stats.superseded++;
      else {
        stats.lost++;
        violations.push({
          checker: 'noLostWrites',
          kind: 'lost-write',
          key,
          writeIds: [id],
          time: w.invokeTime,
          message:
            `key ${JSON.stringify(key)}: acknowledged ${describeOp(w)} is lost: not in the final state ${shownFinal} ` +
            `and no final value, delete or acknowledged write had seen it`,
        });
      }
    }
  }
  return { ok: violations.length === 0, violations, stats };
}
