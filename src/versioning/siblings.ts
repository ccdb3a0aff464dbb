/**
 * Sibling sets: what a replica stores for one key, reconciled with dotted version vectors
 * (Preguiça et al. 2010). All functions are pure and return arrays sorted by dotCompare, so
 * every replica that holds the same versions encodes the same bytes.
 *
 * Contract that makes a context (a plain version vector) safe. A vector cannot say "saw (A, 9)
 * but not (A, 5)", so every holder of (A, 9) must also hold (A, 5) or a version dominating it:
 * 1. a coordinator issues a dot from its full local record of the key (nextDot) and applies
 *    the write to that record (applyWrite);
 * 2. it replicates that whole resulting record (receivers sync), never the fresh version alone;
 * 3. the context returned to the writer is contextAfterWrite, never context + dot blindly;
 * 4. a node that lost its data comes back as a new actor (incarnation), never reissuing dots.
 * Breaking any of these lets a write dominate a version its client never saw: silent loss
 * (test/unit/versioning/replication-contract.test.ts and incarnation.test.ts show each case).
 * riak's dvvset relies on rules 1 and 2 the same way.
 */
import { type Dot, type VersionVector, dotCompare, dotEquals, dvvCoveredBy, vvAddDot, vvCovers, vvEquals, vvFromEntries, vvGet } from './dvv.js';
import { type Version, compareContent, isExpired } from './version.js';

export { type Version, type VersionFields, newVersion, isExpired, versionProblem, compareContent } from './version.js';
export { digest } from './digest.js';

function byDot(a: Version, b: Version): number {
  return dotCompare(a.dot, b.dot);
}

/** sortedByDot returns the versions in dot order, copying only when they are not already. */
export function sortedByDot(versions: readonly Version[]): readonly Version[] {
  for (let i = 1; i < versions.length; i++) {
    if (dotCompare(versions[i - 1].dot, versions[i].dot) >= 0) return [...versions].sort(byDot);
  }
  return versions;
}

/**
 * contextOf is what a client that read these versions has seen: the join of every version's
 * past and dot. A write carrying it replaces all of them.
 */
export function contextOf(versions: readonly Version[]): VersionVector {
  const acc = new Map<string, number>();
  const see = (actor: string, counter: number) => {
    if (counter > (acc.get(actor) ?? 0)) acc.set(actor, counter);
  };
  for (const v of versions) {
    for (const [actor, counter] of v.past) see(actor, counter);
    see(v.dot.actor, v.dot.counter);
  }
  return vvFromEntries(acc);
}

/**
 * sync merges two replicas' sibling sets (DVV sync): the union, with each write once, minus
 * every version whose dot another version's past covers. On causally well-formed inputs
 * (records built by applyWrite and sync) this keeps exactly the versions of either side that
 * the other side does not dominate, and it is idempotent, commutative and associative.
 * Should two entries carry the same dot (one write) but differ, the greater by
 * compareContent is kept, so the result never depends on argument order.
 * Sibling limits are never applied here: sync serves handoff, read repair and anti-entropy.
 */
export function sync(a: readonly Version[], b: readonly Version[]): Version[] {
  const all = [...a, ...b].sort(byDot);
  const unique: Version[] = [];
  for (const v of all) {
    const last = unique[unique.length - 1];
    if (last !== undefined && dotEquals(last.dot, v.dot)) {
      if (compareContent(v, last) > 0) unique[unique.length - 1] = v;
    } else {
      unique.push(v);
    }
  }
  return unique.filter((x) => !unique.some((y) => dvvCoveredBy(x, y)));
}

/**
 * applyWrite is a coordinator's update (DVV update): drop the local versions the client's
 * context covers, add the fresh version. `fresh.past` must equal the context (build it with
 * newVersion) and its dot must come from nextDot over this same `local`; violations throw
 * RangeError, because either would make a later sync drop a write silently.
 */
export function applyWrite(local: readonly Version[], context: VersionVector, fresh: Version): Version[] {
  if (!vvEquals(fresh.past, context)) throw new RangeError('applyWrite: fresh.past must equal the context');
  const out: Version[] = [];
  for (const v of local) {
    if (dotEquals(v.dot, fresh.dot)) throw new RangeError(`applyWrite: dot ${fresh.dot.actor}:${fresh.dot.counter} reused`);
    if (vvCovers(v.past, fresh.dot)) throw new RangeError('applyWrite: fresh dot already seen by a local version');
    if (!vvCovers(context, v.dot)) out.push(v);
  }
  out.push(fresh);
  return out.sort(byDot);
}

/**
 * nextDot issues the coordinator's dot for a write: counter = max(floor, context[actor], every
 * counter of actor in local dots and pasts) + 1. `floor` is the node-wide counter (strictly
 * increasing across keys and persisted), so a dot is never reissued even after a record is
 * purged; the maximum with what the record and context know is a second guard.
 */
export function nextDot(actor: string, local: readonly Version[], context: VersionVector, floor: number): Dot {
  if (actor.length === 0) throw new RangeError('nextDot: empty actor');
  if (!Number.isSafeInteger(floor) || floor < 0) throw new RangeError('nextDot: floor must be a safe integer ≥ 0');
  let max = Math.max(floor, vvGet(context, actor));
  for (const v of local) {
    if (v.dot.actor === actor && v.dot.counter > max) max = v.dot.counter;
    const seen = vvGet(v.past, actor);
    if (seen > max) max = seen;
  }
  if (max >= Number.MAX_SAFE_INTEGER) throw new RangeError('nextDot: counter exhausted');
  return { actor, counter: max + 1 };
}

/**
 * contextAfterWrite is the context to return to the client whose write created `dot` in
 * `record` (applyWrite's result at the coordinator). Ideally it is context + dot, but a version
 * vector cannot say "saw (A, 9) but not (A, 5)": if the record still holds an earlier
 * dot of the same actor that the client's context does not cover, adding the dot would let the
 * client's next write dominate a version it never saw. Then the context is returned unchanged
 * (the client's next write keeps its previous one as a sibling: safe, never lossy).
 */
export function contextAfterWrite(record: readonly Version[], context: VersionVector, dot: Dot): VersionVector {
  for (const v of record) {
    if (v.dot.actor === dot.actor && v.dot.counter < dot.counter && !vvCovers(context, v.dot)) return context;
  }
  return vvAddDot(context, dot);
}

/** liveValues are the versions a read returns as values: not tombstones, not expired at nowMs. */
export function liveValues(versions: readonly Version[], nowMs: number): Version[] {
  return versions.filter((v) => !v.tombstone && !isExpired(v, nowMs));
}

/**
 * isDead says whether the key reads as absent: every version is a tombstone or expired
 * (true for an empty set). The versions are still kept until garbage collection, so their
 * causality keeps dominating older replicas' values.
 */
export function isDead(versions: readonly Version[], nowMs: number): boolean {
  return versions.every((v) => v.tombstone || isExpired(v, nowMs));
}

/** siblingCount is the number of stored versions, tombstones and expired ones included. */
export function siblingCount(versions: readonly Version[]): number {
  return versions.length;
}

/**
 * exceedsSiblingLimit says whether applying a write with this context to `local` would leave
 * more than `limit` versions, so the API can refuse it (FAILED_PRECONDITION) before storing
 * anything. Apply it to client writes only, never to sync, handoff or repair.
 */
export function exceedsSiblingLimit(local: readonly Version[], context: VersionVector, limit: number): boolean {
  let kept = 1;
  for (const v of local) if (!vvCovers(context, v.dot)) kept++;
  return kept > limit;
}

/**
 * sameVersions says whether two records (as sync returns them, sorted by dot) hold the same
 * versions: the same dots in the same tombstone state. Copies of one write are otherwise equal.
 */
export function sameVersions(a: readonly Version[], b: readonly Version[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (!dotEquals(a[i].dot, b[i].dot) || a[i].tombstone !== b[i].tombstone) return false;
  }
  return true;
}
