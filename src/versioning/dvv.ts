/**
 * Dotted version vectors (Preguiça, Baquero, Almeida, Fonte, Gonçalves 2010, "Dotted Version
 * Vectors: Logical Clocks for Optimistic Replication"), in the per-sibling form: every stored
 * version carries the dot of the write that created it and `past`, the version vector the
 * writer had seen. Comparing two versions then needs one lookup (paper §4: x < y iff x's dot
 * is in y's causal history), and a coordinator never has to invent causality it did not see.
 *
 * Everything here is pure. Version vectors are immutable maps that never store a zero entry
 * (an absent actor means 0), and every function that builds one inserts actors in ascending
 * order, so `vvEntries` is usually a plain copy.
 */

/** Dot names one write: the coordinating actor ("<nodeId>.<incarnation>") and its counter (≥ 1). */
export interface Dot {
  readonly actor: string;
  readonly counter: number;
}

/** VersionVector maps actor -> highest counter seen; an absent actor is 0. Treat as immutable. */
export type VersionVector = ReadonlyMap<string, number>;

/** Dvv is one version's clock: its own dot plus the causal past its writer had seen. */
export interface Dvv {
  readonly dot: Dot;
  readonly past: VersionVector;
}

const EMPTY: VersionVector = new Map();

/** vvEmpty is the vector of a client that has seen nothing (a blind write's context). */
export function vvEmpty(): VersionVector {
  return EMPTY;
}

/** vvGet returns the actor's counter, 0 when absent. */
export function vvGet(vv: VersionVector, actor: string): number {
  return vv.get(actor) ?? 0;
}

/** vvCovers says whether the vector has seen the dot (dot.counter ≤ vv[dot.actor]). */
export function vvCovers(vv: VersionVector, dot: Dot): boolean {
  return dot.counter <= vvGet(vv, dot.actor);
}

function byActor(a: readonly [string, number], b: readonly [string, number]): number {
  return a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0;
}

/**
 * vvEntries lists the non-zero entries sorted by actor (code-unit order): the canonical order
 * used on the wire and in digests.
 */
export function vvEntries(vv: VersionVector): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  let sorted = true;
  for (const [actor, counter] of vv) {
    if (counter === 0) continue;
    if (out.length > 0 && out[out.length - 1][0] >= actor) sorted = false;
    out.push([actor, counter]);
  }
  if (!sorted) out.sort(byActor);
  return out;
}

/**
 * vvFromEntries builds a vector; zero counters are dropped and a repeated actor keeps its
 * highest counter. Callers that must reject repeats (the context decoder) check before.
 */
export function vvFromEntries(entries: Iterable<readonly [string, number]>): VersionVector {
  const acc = new Map<string, number>();
  for (const [actor, counter] of entries) {
    if (counter > (acc.get(actor) ?? 0)) acc.set(actor, counter);
  }
  return new Map(vvEntries(acc));
}

/** vvJoin is the pointwise maximum: the least upper bound of the two vectors. */
export function vvJoin(a: VersionVector, b: VersionVector): VersionVector {
  if (a.size === 0) return b;
  if (b.size === 0) return a;
  const acc = new Map<string, number>(a);
  let changed = false;
  for (const [actor, counter] of b) {
    if (counter > (acc.get(actor) ?? 0)) {
      acc.set(actor, counter);
      changed = true;
    }
  }
  return changed ? new Map(vvEntries(acc)) : a;
}

/** vvAddDot returns the vector that has also seen the dot. */
export function vvAddDot(vv: VersionVector, dot: Dot): VersionVector {
  if (vvCovers(vv, dot)) return vv;
  const acc = new Map<string, number>(vv);
  acc.set(dot.actor, dot.counter);
  return new Map(vvEntries(acc));
}

/** vvDescends says whether a ≥ b pointwise (a has seen everything b has). Reflexive. */
export function vvDescends(a: VersionVector, b: VersionVector): boolean {
  for (const [actor, counter] of b) {
    if (counter > vvGet(a, actor)) return false;
  }
  return true;
}

/** vvEquals compares vectors as functions (absent = 0), ignoring insertion order. */
export function vvEquals(a: VersionVector, b: VersionVector): boolean {
  return vvDescends(a, b) && vvDescends(b, a);
}

/** dotEquals says whether two dots name the same write. */
export function dotEquals(a: Dot, b: Dot): boolean {
  return a.counter === b.counter && a.actor === b.actor;
}

/** dotCompare orders dots by actor (code-unit order), then counter: the stored sibling order. */
export function dotCompare(a: Dot, b: Dot): number {
  if (a.actor !== b.actor) return a.actor < b.actor ? -1 : 1;
  return a.counter - b.counter;
}

/** dotKey is a string naming the dot, for use as a Map or Set key. */
export function dotKey(dot: Dot): string {
  return `${dot.actor}\u0000${dot.counter}`;
}

/**
 * dvvCoveredBy says whether y strictly dominates x: y's writer had seen x's write
 * (vvCovers(y.past, x.dot)) and they are not the same write. By construction a version's dot
 * is never covered by its own past (the dot is newer than the context it was written with).
 */
export function dvvCoveredBy(x: Dvv, y: Dvv): boolean {
  return vvCovers(y.past, x.dot) && !dotEquals(x.dot, y.dot);
}

/** dvvConcurrent says whether neither dominates the other and they are different writes. */
export function dvvConcurrent(x: Dvv, y: Dvv): boolean {
  return !dotEquals(x.dot, y.dot) && !vvCovers(y.past, x.dot) && !vvCovers(x.past, y.dot);
}
