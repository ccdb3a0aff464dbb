import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { fcSeed } from '../storage/fc-seed.js';
import { CausalIndex } from '../../checkers/causal.js';
import { UNKNOWN_VALUE, type Operation } from '../../checkers/history.js';
import { checkNoLostWrites } from '../../checkers/no-lost-writes.js';
import { checkNoPhantoms } from '../../checkers/no-phantoms.js';
import { checkNoDominatedSiblings } from '../../checkers/no-dominated-siblings.js';
import { checkConvergence } from '../../checkers/convergence.js';
import { checkStrictReads, staleReadFraction } from '../../checkers/strict-reads.js';
import { checkSiblingBound } from '../../checkers/sibling-bound.js';
import { checkWatchCompleteness } from '../../checkers/watch-completeness.js';
import { summarize } from '../../checkers/summarize.js';
import { CLIENTS, actionArb, run } from './register-model.js';

// Every property below runs from this seed; replay a failure with DKV_SEED=<seed>.
fc.configureGlobal({ seed: fcSeed('unit/checkers/model'), numRuns: 200 });

const actionsArb = fc.array(actionArb, { maxLength: 60 });
const modeArb = fc.boolean();

describe('checkers on valid histories from the register model', () => {
  it('every checker passes', () => {
    fc.assert(
      fc.property(actionsArb, modeArb, (actions, rmwOnly) => {
        const m = run(actions, rmwOnly);
        const results = {
          noLostWrites: checkNoLostWrites(m.history, m.finalState),
          noPhantoms: checkNoPhantoms(m.history, m.finalState),
          noDominatedSiblings: checkNoDominatedSiblings(m.history, m.finalState),
          convergence: checkConvergence(m.dumps),
          strictReads: checkStrictReads(m.history),
          siblingBound: checkSiblingBound(m.history, rmwOnly ? CLIENTS : m.history.length, m.finalState),
          watch: checkWatchCompleteness(m.history, m.events),
          staleReads: staleReadFraction(m.history),
        };
        const s = summarize(results);
        expect(s.ok, s.text).toBe(true);
        expect(results.staleReads.fraction).toBeGreaterThanOrEqual(0);
        expect(results.staleReads.fraction).toBeLessThanOrEqual(1);
      }),
    );
  });

  it('CausalIndex agrees with the model on who saw whom', () => {
    fc.assert(
      fc.property(actionsArb, modeArb, (actions, rmwOnly) => {
        const m = run(actions, rmwOnly);
        const idx = new CausalIndex(m.history);
        const writes = m.history.filter((o) => o.writeId !== undefined);
        for (const u of writes)
          for (const v of writes)
            if (u.key === v.key) expect(idx.saw(u.writeId!, v.writeId!), `${u.writeId} saw ${v.writeId}`).toBe(m.past.get(u.writeId!)!.has(v.writeId!));
      }),
    );
  });
});

describe('checkers on broken variants of valid histories', () => {
  const acked = (h: readonly Operation[], id: string): boolean => h.some((o) => o.writeId === id && o.outcome === 'ok');

  it('dropping an acknowledged live value from the final state is a lost write', () => {
    fc.assert(
      fc.property(actionsArb, modeArb, fc.nat(), (actions, rmwOnly, pick) => {
        const m = run(actions, rmwOnly);
        // a value some (indeterminate, unapplied) delete had seen may legitimately vanish: not a candidate
        const deleted = new Set(m.history.filter((o) => o.kind === 'delete').flatMap((d) => [...m.past.get(d.writeId!)!]));
        const candidates = [...m.finalState].flatMap(([k, ids]) =>
          ids.filter((id) => acked(m.history, id) && !deleted.has(id)).map((id) => [k, id] as const),
        );
        fc.pre(candidates.length > 0);
        const [key, id] = candidates[pick % candidates.length];
        m.finalState.set(key, m.finalState.get(key)!.filter((x) => x !== id));
        const r = checkNoLostWrites(m.history, m.finalState);
        expect(r.violations.map((v) => v.writeIds)).toContainEqual([id]);
      }),
    );
  });

  it('a value slipped into a get is a phantom; a value its sibling had seen is dominated', () => {
    fc.assert(
      fc.property(actionsArb, modeArb, fc.nat(), (actions, rmwOnly, pick) => {
        const m = run(actions, rmwOnly);
        const gets = m.history.filter((o) => o.kind === 'get' && o.outcome === 'ok');
        fc.pre(gets.length > 0);
        const g = gets[pick % gets.length];
        const phantom = m.history.map((o) => (o === g ? { ...o, returned: [...o.returned, `${UNKNOWN_VALUE}bogus`] } : o));
        expect(checkNoPhantoms(phantom, m.finalState).ok).toBe(false);
        const u = g.returned.find((id) => m.past.get(id)!.size > 0);
        if (u === undefined) return;
        const v = [...m.past.get(u)!][0];
        const dominated = m.history.map((o) => (o === g ? { ...o, returned: [...o.returned, v] } : o));
        expect(checkNoDominatedSiblings(dominated).violations.map((x) => x.writeIds)).toContainEqual([u, v]);
      }),
    );
  });

  it('dropping the only event of an acknowledged write nothing later saw is a missed event', () => {
    fc.assert(
      fc.property(actionsArb, fc.nat(), (actions, pick) => {
        const m = run(actions);
        const unseen = m.history.filter(
          (o) => o.writeId !== undefined && o.outcome === 'ok' && ![...m.past.values()].some((p) => p.has(o.writeId!)),
        );
        fc.pre(unseen.length > 0);
        const w = unseen[pick % unseen.length];
        const r = checkWatchCompleteness(m.history, m.events.filter((e) => e.writeId !== w.writeId));
        expect(r.violations.map((v) => [v.kind, v.writeIds])).toEqual([['missed-event', [w.writeId]]]);
      }),
    );
  });

  it('a strict get that drops a value it must see is a stale strict read', () => {
    fc.assert(
      fc.property(actionsArb, fc.nat(), (actions, pick) => {
        const m = run(actions);
        const byId = new Map(m.history.filter((o) => o.writeId !== undefined).map((o) => [o.writeId!, o]));
        const deleted = new Set(m.history.filter((o) => o.kind === 'delete').flatMap((d) => [...m.past.get(d.writeId!)!]));
        const cases = m.history.flatMap((g) =>
          g.kind !== 'get' || !g.strict || g.outcome !== 'ok'
            ? []
            : g.returned
                .filter((id) => {
                  const w = byId.get(id)!;
                  const required = w.strict && w.outcome === 'ok' && w.completeTime < g.invokeTime && g.consistency!.r + w.consistency!.w > 3;
                  return required && !deleted.has(id) && !g.returned.some((u) => m.past.get(u)!.has(id));
                })
                .map((id) => [g, id] as const),
        );
        fc.pre(cases.length > 0);
        const [g, id] = cases[pick % cases.length];
        const stale = m.history.map((o) => (o === g ? { ...o, returned: o.returned.filter((x) => x !== id) } : o));
        expect(checkStrictReads(stale).violations.map((v) => v.writeIds![0])).toContain(id);
      }),
    );
  });

  it('divergent replicas are reported', () => {
    fc.assert(
      fc.property(actionsArb, (actions) => {
        const m = run(actions);
        const [key] = [...m.dumps.get('n0')!.keys()];
        fc.pre(key !== undefined);
        m.dumps.get('n1')!.set(key, [...m.dumps.get('n1')!.get(key)!, 'extra']);
        expect(checkConvergence(m.dumps).violations.map((v) => v.key)).toEqual([key]);
      }),
    );
  });
});
