/**
 * ReplicaPicker: the one definition of which nodes a clockwise walk picks as replicas. Both
 * preference lists (preference-list.ts) and the token allocator (token-splitter.ts) feed it
 * token owners in walk order, so the allocator balances exactly the lists that serve requests.
 *
 * Rule (Dynamo 2007 §4.3 "N distinct physical nodes", plus the rack rule of Cassandra's
 * NetworkTopologyStrategy): a node already met is skipped. When zone spreading is on and the
 * token owners span >= 2 zones, then while some zone is still unused a node whose zone is used
 * is deferred; the moment every zone is used, the deferred nodes are picked first, in the order
 * they were met, and from then on every new node is picked. So the first node is always the
 * key's owner, the first min(n, zones) nodes are in distinct zones, and without zones the
 * order is plain clockwise. If the walk ends before `limit` nodes, finish() picks the deferred.
 *
 * Monotonicity (the allocator relies on it): for any position P, a walk started one token
 * earlier has picked at least as many nodes by P, so it completes no later.
 *
 * Members and zones are small integers (indexes). Not reentrant: reset() starts a new walk.
 */
export class ReplicaPicker {
  /** out[0..count) are the picked member indexes, in pick order. */
  readonly out: Int32Array;
  count = 0;
  private limit = 0;
  private readonly spread: boolean;
  private readonly met: Uint8Array;
  private readonly zoneUsed: Uint8Array;
  private zonesUsed = 0;
  private readonly deferred: Int32Array;
  private deferredCount = 0;

  /**
   * @param zoneOf zone index of every member (indexes in [0, zoneOf.length)).
   * @param activeZones number of distinct zones among members that own tokens.
   * @param zoneAware whether to spread over zones (only effective when activeZones >= 2).
   */
  constructor(
    private readonly zoneOf: ArrayLike<number>,
    private readonly activeZones: number,
    zoneAware: boolean,
  ) {
    const members = zoneOf.length;
    this.out = new Int32Array(members);
    this.met = new Uint8Array(members);
    this.zoneUsed = new Uint8Array(members);
    this.deferred = new Int32Array(members);
    this.spread = zoneAware && activeZones > 1;
  }

  /** reset starts a walk that stops after `limit` picks. */
  reset(limit: number): void {
    // Every used zone has a pick, so clearing the picks' zones clears them all.
    for (let k = 0; k < this.count; k++) {
      this.met[this.out[k]] = 0;
      this.zoneUsed[this.zoneOf[this.out[k]]] = 0;
    }
    for (let k = 0; k < this.deferredCount; k++) this.met[this.deferred[k]] = 0;
    this.count = 0;
    this.deferredCount = 0;
    this.zonesUsed = 0;
    this.limit = limit;
  }

  /** done is true once `limit` nodes are picked. */
  get done(): boolean {
    return this.count >= this.limit;
  }

  /** offer feeds the owner of the next token on the walk; returns done. */
  offer(m: number): boolean {
    if (this.count >= this.limit || this.met[m] !== 0) return this.count >= this.limit;
    this.met[m] = 1;
    if (this.spread && this.zonesUsed < this.activeZones) {
      const z = this.zoneOf[m];
      if (this.zoneUsed[z] !== 0) {
        this.deferred[this.deferredCount++] = m;
        return false;
      }
      this.zoneUsed[z] = 1;
      this.zonesUsed++;
      this.out[this.count++] = m;
      if (this.zonesUsed === this.activeZones) this.flush();
      return this.count >= this.limit;
    }
    this.out[this.count++] = m;
    return this.count >= this.limit;
  }

  /** finish ends a walk that met every token: deferred nodes fill the remaining picks. */
  finish(): void {
    this.flush();
  }

  /** includes reports whether member m is among the picks. */
  includes(m: number): boolean {
    for (let k = 0; k < this.count; k++) if (this.out[k] === m) return true;
    return false;
  }

  private flush(): void {
    let k = 0;
    while (k < this.deferredCount && this.count < this.limit) this.out[this.count++] = this.deferred[k++];
    // If the limit cut the flush short the walk is over; the leftovers stay recorded so that
    // reset() clears their marks.
    if (k === this.deferredCount) this.deferredCount = 0;
  }
}
