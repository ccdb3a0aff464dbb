/**
 * Preference lists: which nodes hold the replicas of a key (Dynamo, DeCandia et al. 2007,
 * §4.3 "the first N distinct physical nodes clockwise", and §4.6 sloppy quorum with hinted
 * handoff; riak_core's `riak_core_apl` for primaries-plus-annotated-fallbacks).
 *
 * Walk order (the "extended preference list"): start at the token owning the key hash, walk
 * clockwise over tokens and let ReplicaPicker (replica-picker.ts) pick distinct nodes. With
 * `zoneAware` (default) and token owners in >= 2 zones, the first min(n, zones) picks are in
 * distinct zones (a node in an already used zone is deferred until every zone is used, then
 * picked first); otherwise the order is plain clockwise. The first pick is always the owner.
 *
 * Primaries are the first n entries of that order (all nodes when fewer than n own tokens).
 * With `usable`, every unusable primary is dropped and stands replaced, in its slot, by the
 * next usable node further along the same order (never a primary or an earlier fallback),
 * marked `primary: false, hintedFor: <primary>`; if none is left the slot is dropped.
 * Fallbacks do not try to match the zone of the primary they stand in for.
 *
 * Cost: the primaries for (token index, n, zoneAware) are computed once per Ring, on first use,
 * and cached (the Ring is immutable); a lookup is then one binary search plus building the
 * result from cached, frozen entries. Fallbacks are walked per call, only when some primary is
 * unusable, and only as far as needed. `usable` is called once per primary and once per
 * candidate fallback; it may itself call preferenceList.
 */
import { ReplicaPicker } from './replica-picker.js';
import type { Ring } from './ring.js';

/** PreferenceEntry is one replica of a key. */
export interface PreferenceEntry {
  /** nodeId is the node to send the replica to. */
  readonly nodeId: string;
  /** primary is true for one of the key's first n distinct nodes, false for a fallback. */
  readonly primary: boolean;
  /** hintedFor (fallbacks only) is the unusable primary this node holds the write for. */
  readonly hintedFor?: string;
}

export interface PreferenceOptions {
  /** usable says whether a node can take part now (up, not shunned); absent: every node can. */
  usable?: (nodeId: string) => boolean;
  /** zoneAware spreads primaries over zones (see the file comment). Default true. */
  zoneAware?: boolean;
}

interface RingCache {
  /** walks[(n << 1) | zoneAware][tokenIndex]: member indexes of the primaries. */
  readonly walks: Map<number, Array<Int32Array | undefined>>;
  /** primaryEntries[m]: the frozen `{ nodeId, primary: true }` of member m. */
  readonly primaryEntries: readonly PreferenceEntry[];
  /** pickers[zoneAware ? 1 : 0]: reused state for walks that run no caller code. */
  readonly pickers: [ReplicaPicker, ReplicaPicker];
  /** zoneOf[m]: zone index of member m. */
  readonly zoneOf: Int32Array;
}

const caches = new WeakMap<Ring, RingCache>();

/**
 * preferenceList returns the replicas of the key at `keyHash` (a uint32 from hashKey): the
 * primaries in walk order, each replaced by a fallback when `usable` rejects it (see the file
 * comment). n >= 0; a ring without tokens gives [].
 */
export function preferenceList(ring: Ring, keyHash: number, n: number, opts?: PreferenceOptions): PreferenceEntry[] {
  checkN(n);
  const start = ring.ownerIndex(keyHash);
  if (start < 0 || n === 0) return [];
  const zoneAware = opts?.zoneAware ?? true;
  const cache = cacheFor(ring);
  const prim = primaryWalk(ring, cache, start, n, zoneAware);
  const usable = opts?.usable;
  const out: PreferenceEntry[] = [];
  if (usable === undefined) {
    for (let s = 0; s < prim.length; s++) out.push(cache.primaryEntries[prim[s]]);
    return out;
  }
  const up: boolean[] = [];
  let down = 0;
  for (let s = 0; s < prim.length; s++) {
    up.push(usable(ring.nodeIdAt(prim[s])));
    if (!up[s]) down++;
  }
  const subs = down === 0 ? [] : fallbacks(ring, cache, start, prim.length, down, usable, zoneAware);
  for (let s = 0, f = 0; s < prim.length; s++) {
    if (up[s]) out.push(cache.primaryEntries[prim[s]]);
    else if (f < subs.length) out.push({ nodeId: subs[f++], primary: false, hintedFor: ring.nodeIdAt(prim[s]) });
  }
  return out;
}

/**
 * fallbacks returns up to `want` usable nodes from the walk at token index `start`, after its
 * first `skip` picks (the primaries), stopping as soon as it has them. It uses its own picker
 * because `usable` is caller code and may itself compute preference lists.
 */
function fallbacks(
  ring: Ring,
  cache: RingCache,
  start: number,
  skip: number,
  want: number,
  usable: (nodeId: string) => boolean,
  zoneAware: boolean,
): string[] {
  const picker = new ReplicaPicker(cache.zoneOf, ring.zoneCount, zoneAware);
  picker.reset(ring.ownerCount);
  const out: string[] = [];
  let seen = 0;
  const collect = (): void => {
    for (; seen < picker.count && out.length < want; seen++) {
      const id = ring.nodeIdAt(picker.out[seen]);
      if (seen >= skip && usable(id)) out.push(id);
    }
  };
  const total = ring.tokenCount;
  let done = false;
  for (let step = 0; step < total && !done && out.length < want; step++) {
    const t = start + step < total ? start + step : start + step - total;
    done = picker.offer(ring.ownerAt(t));
    collect();
  }
  if (!done && out.length < want) {
    picker.finish();
    collect();
  }
  return out;
}

/** primaries returns the ids of the key's primaries, ignoring liveness (preferenceList without usable). */
export function primaries(ring: Ring, keyHash: number, n: number, opts?: { zoneAware?: boolean }): string[] {
  checkN(n);
  const start = ring.ownerIndex(keyHash);
  if (start < 0 || n === 0) return [];
  const prim = primaryWalk(ring, cacheFor(ring), start, n, opts?.zoneAware ?? true);
  const out: string[] = new Array(prim.length);
  for (let s = 0; s < prim.length; s++) out[s] = ring.nodeIdAt(prim[s]);
  return out;
}

/**
 * walkOrder returns the member indexes of the first `limit` distinct nodes of the walk that
 * starts at token index `start` (the extended preference list). Exposed for ownership metrics.
 */
export function walkOrder(ring: Ring, start: number, limit: number, zoneAware: boolean): Int32Array {
  if (start < 0 || start >= ring.tokenCount) return new Int32Array(0);
  return walk(ring, cacheFor(ring), start, Math.min(limit, ring.ownerCount), zoneAware);
}

function checkN(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`preferenceList: n must be an integer >= 0, got ${n}`);
}

function cacheFor(ring: Ring): RingCache {
  let c = caches.get(ring);
  if (c === undefined) {
    const primaryEntries = ring.nodes().map((node) => Object.freeze({ nodeId: node.id, primary: true }));
    const zoneOf = Int32Array.from({ length: ring.size }, (_, m) => ring.zoneIndexAt(m));
    const pickers: [ReplicaPicker, ReplicaPicker] = [
      new ReplicaPicker(zoneOf, ring.zoneCount, false),
      new ReplicaPicker(zoneOf, ring.zoneCount, true),
    ];
    c = { walks: new Map(), primaryEntries, pickers, zoneOf };
    caches.set(ring, c);
  }
  return c;
}

function primaryWalk(ring: Ring, cache: RingCache, start: number, n: number, zoneAware: boolean): Int32Array {
  const key = (Math.min(n, ring.ownerCount) << 1) | (zoneAware ? 1 : 0);
  let perToken = cache.walks.get(key);
  if (perToken === undefined) {
    perToken = new Array<Int32Array | undefined>(ring.tokenCount);
    cache.walks.set(key, perToken);
  }
  let hit = perToken[start];
  if (hit === undefined) {
    hit = walk(ring, cache, start, Math.min(n, ring.ownerCount), zoneAware);
    perToken[start] = hit;
  }
  return hit;
}

/**
 * walk returns the first `limit` picks (limit <= ring.ownerCount) of the walk from token index
 * `start`, as a fresh array. The first k picks do not depend on limit, so a longer walk
 * extends a shorter one: that is what makes fallbacks "further along" (fallbacks() walks the
 * same order, stopping early).
 */
function walk(ring: Ring, cache: RingCache, start: number, limit: number, zoneAware: boolean): Int32Array {
  const picker = cache.pickers[zoneAware ? 1 : 0];
  picker.reset(limit);
  const total = ring.tokenCount;
  let done = limit === 0;
  for (let step = 0; step < total && !done; step++) {
    let t = start + step;
    if (t >= total) t -= total;
    done = picker.offer(ring.ownerAt(t));
  }
  if (!done) picker.finish();
  return picker.out.slice(0, picker.count);
}
