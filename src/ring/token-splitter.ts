/**
 * TokenSplitter: the greedy range-splitting core of allocateTokens (allocate.ts states the
 * scheme and its guarantees). It keeps a private working copy of the ring (positions as
 * numbers, exact below 2^53) and adds the joiner's tokens one at a time.
 *
 * Each step takes q positions (the joiner's remaining need / tokens left) from the start of one
 * range whose owner is still above its primary target, choosing the range whose split most
 * lowers
 *     cost = PRIMARY_WEIGHT × Σ_x (primary(x) − primaryTarget(x))²
 *          +                 Σ_x (replicated(x) − replicatedTarget(x))²
 * where replicated(x) is the key space for which x is among a key's first `replicas` picks
 * (ReplicaPicker, the rule preference lists use) and targets are proportional to weight. This
 * is the idea of Cassandra's replication-aware allocator (CASSANDRA-7032): a split changes the
 * replica sets of only the few ranges whose walk reaches it, so each candidate is scored
 * exactly. PRIMARY_WEIGHT = 16 keeps primary balance (what moves data and what the bounds are
 * about) well inside 10% while still reaching ~5–10% on replicated balance (measured by
 * scripts/ring-balance.ts). While the cluster has at most `replicas` nodes every key is on
 * every node, the replicated term is constant and is skipped: the rule is then "largest range
 * of the node most above target".
 */
import { ReplicaPicker } from './replica-picker.js';
import { RING_SIZE } from './ring.js';

const PRIMARY_WEIGHT = 16;

export interface SplitterMembers {
  /** weights per member; the joiner is one of them. */
  readonly weights: readonly number[];
  /** zones: zone index per member (indexes < weights.length). */
  readonly zones: readonly number[];
  /** zoneAware: balance for zone-spread preference lists (else plain clockwise lists). */
  readonly zoneAware: boolean;
  /** replicas: the replication factor whose replicated ownership is balanced (>= 1). */
  readonly replicas: number;
}

export class TokenSplitter {
  private readonly positions: number[];
  private readonly owners: number[];
  /** Shares are fractions of the ring. */
  private readonly primary: Float64Array;
  private readonly replicated: Float64Array;
  private readonly primaryTarget: Float64Array;
  private readonly replicatedTarget: Float64Array;
  private readonly replicaAware: boolean;
  private readonly delta: Float64Array;
  private readonly touched: number[] = [];
  private limit = 0;
  private old!: ReplicaPicker;
  private next!: ReplicaPicker;

  /**
   * @param positions ascending tokens of the current ring (at least one).
   * @param owners member index per token; the joiner owns none yet (a join) or keeps the
   *   tokens it has (a reweigh that grows a node).
   * @param joiner the member index of the joining node.
   */
  constructor(
    positions: readonly number[],
    owners: readonly number[],
    private readonly joiner: number,
    private readonly members: SplitterMembers,
  ) {
    this.positions = [...positions];
    this.owners = [...owners];
    const count = members.weights.length;
    const totalWeight = members.weights.reduce((s, w) => s + w, 0);
    // The joiner may already own tokens (a reweigh adds to an existing node's tokens).
    const ownersAfter = new Set([...owners, joiner]).size;
    const replicaShare = Math.min(members.replicas, ownersAfter);
    this.primary = new Float64Array(count);
    this.replicated = new Float64Array(count);
    this.primaryTarget = Float64Array.from(members.weights, (w) => w / totalWeight);
    this.replicatedTarget = Float64Array.from(members.weights, (w) => (replicaShare * w) / totalWeight);
    this.replicaAware = ownersAfter > members.replicas;
    this.delta = new Float64Array(count);
    for (let i = 0; i < this.positions.length; i++) this.primary[this.owners[i]] += this.size(i) / RING_SIZE;
    this.recount();
  }

  /**
   * replicatedShare returns member m's replicated ownership as tracked incrementally (0 while
   * the replicated term is skipped). For tests: it must equal a full recount.
   */
  replicatedShare(m: number): number {
    return this.replicated[m];
  }

  /** joinerOwns returns the joiner's current primary share in ring positions. */
  joinerOwns(): number {
    return this.primary[this.joiner] * RING_SIZE;
  }

  /**
   * add places one joiner token taking about `want` positions (>= 1) and returns it.
   * `scanStart` (any integer >= 0) is where the candidate scan starts: the tie-break among
   * equally good ranges. Throws when no range has 2 or more positions left.
   */
  add(want: number, scanStart: number): number {
    const joiner = this.joiner;
    const first = !this.owners.includes(joiner);
    // The joiner's first token can change the zone count and so every list: score it on
    // primary balance only and recount replicated ownership afterwards.
    const withReplicas = this.replicaAware && !first;
    const len = this.positions.length;
    let best = -1;
    let bestCost = Infinity;
    let bestSize = 0;
    // Victims must be above target; only if rounding left none (degenerate rings) may any
    // other node's range be split.
    for (let pass = 0; pass < 2 && best < 0; pass++) {
      for (let s = 0; s < len; s++) {
        const i = (scanStart + s) % len;
        const victim = this.owners[i];
        const size = this.size(i);
        if (victim === joiner || size < 2) continue;
        if (pass === 0 && this.primary[victim] <= this.primaryTarget[victim]) continue;
        const cost = this.score(i, Math.min(want, size - 1), withReplicas);
        if (cost < bestCost - 1e-15 || (cost <= bestCost + 1e-15 && size > bestSize)) {
          best = i;
          bestCost = cost;
          bestSize = size;
        }
      }
    }
    if (best < 0) throw new RangeError('allocateTokens: no range left to split');
    const take = Math.min(want, bestSize - 1);
    if (withReplicas) {
      this.score(best, take, true); // refill delta for the chosen split
      for (const m of this.touched) this.replicated[m] += this.delta[m];
    }
    this.primary[this.owners[best]] -= take / RING_SIZE;
    this.primary[joiner] += take / RING_SIZE;
    const prev = this.positions[(best + len - 1) % len];
    const token = (prev + take) % RING_SIZE;
    // The token lies strictly inside range `best`: just before positions[best], or, in the
    // range that wraps past 2^32, possibly after the last position.
    const at = best === 0 && token > prev ? len : best;
    this.positions.splice(at, 0, token);
    this.owners.splice(at, 0, joiner);
    if (first) this.recount();
    return token;
  }

  /** recount rebuilds the pickers and replicated ownership from the working ring. */
  private recount(): void {
    const present = new Set(this.owners);
    const activeZones = new Set([...present].map((m) => this.members.zones[m])).size;
    this.limit = Math.min(this.members.replicas, present.size);
    this.old = new ReplicaPicker(this.members.zones, activeZones, this.members.zoneAware);
    this.next = new ReplicaPicker(this.members.zones, activeZones, this.members.zoneAware);
    this.replicated.fill(0);
    if (!this.replicaAware) return;
    for (let i = 0; i < this.positions.length; i++) {
      this.old.reset(this.limit);
      this.walkFrom(this.old, i);
      const share = this.size(i) / RING_SIZE;
      for (let k = 0; k < this.old.count; k++) this.replicated[this.old.out[k]] += share;
    }
  }

  /**
   * score returns the change in cost if the joiner took `take` positions from the start of the
   * range ending at token i; with `withReplicas` it leaves the replicated-ownership change per
   * member in delta/touched.
   */
  private score(i: number, take: number, withReplicas: boolean): number {
    const victim = this.owners[i];
    const q = take / RING_SIZE;
    const dv = this.primary[victim] - this.primaryTarget[victim];
    let cost = PRIMARY_WEIGHT * ((dv - q) ** 2 - dv ** 2);
    if (!withReplicas) return cost;
    for (const m of this.touched) this.delta[m] = 0;
    this.touched.length = 0;
    const { old, next, owners } = this;
    // The new range (prev, prev + take] has the joiner then the walk from i; range i keeps its
    // replicas but loses `take` positions.
    next.reset(this.limit);
    next.offer(this.joiner);
    this.walkFrom(next, i);
    this.credit(next, q);
    old.reset(this.limit);
    this.walkFrom(old, i);
    this.credit(old, -q);
    // Earlier ranges whose walk reaches token i meet the joiner first from now on. Walking back,
    // the first range whose walk completes before i is unaffected, and so is every range before
    // it (ReplicaPicker's monotonicity).
    const len = this.positions.length;
    for (let back = 1; back < len; back++) {
      const j = (i - back + len) % len;
      old.reset(this.limit);
      next.reset(this.limit);
      let done = false;
      for (let s = 0, t = j; s < back && !done; s++, t = t + 1 === len ? 0 : t + 1) {
        const m = owners[t];
        done = old.offer(m);
        next.offer(m);
      }
      if (done) break;
      next.offer(this.joiner);
      this.walkFrom(old, i);
      this.walkFrom(next, i);
      const share = this.size(j) / RING_SIZE;
      this.credit(next, share);
      this.credit(old, -share);
    }
    for (const m of this.touched) {
      const e = this.replicated[m] - this.replicatedTarget[m];
      cost += (e + this.delta[m]) ** 2 - e ** 2;
    }
    return cost;
  }

  /** walkFrom feeds picker the owners clockwise from token i until it is done or has seen all. */
  private walkFrom(picker: ReplicaPicker, i: number): void {
    const owners = this.owners;
    const len = owners.length;
    for (let s = 0, t = i; s < len; s++, t = t + 1 === len ? 0 : t + 1) if (picker.offer(owners[t])) return;
    picker.finish();
  }

  /** credit adds `amount` to the replicated delta of every member the picker picked. */
  private credit(picker: ReplicaPicker, amount: number): void {
    for (let k = 0; k < picker.count; k++) {
      const m = picker.out[k];
      if (this.delta[m] === 0 && !this.touched.includes(m)) this.touched.push(m);
      this.delta[m] += amount;
    }
  }

  /** size is the width of the range ending at token i. */
  private size(i: number): number {
    const p = this.positions;
    if (p.length === 1) return RING_SIZE;
    return i === 0 ? p[0] + RING_SIZE - p[p.length - 1] : p[i] - p[i - 1];
  }
}
