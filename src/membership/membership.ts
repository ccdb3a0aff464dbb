import { DkvError } from '../errors.js';
import type { Clock, Timer } from '../time/clock.js';
import type { Random } from '../time/random.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { Ring, type RingNode } from '../ring/ring.js';
import { mergeRows, ownsTokens, reweighing, type GossipMessage, type MemberState } from './member-table.js';
import { ArrivalWindow, isDown, type DetectorConfig } from './failure-detector.js';
import type { Logger } from '../node/logger.js';

/** Liveness is this node's failure-detector verdict on a member. */
export type Liveness = 'up' | 'suspect' | 'down';

export interface MembershipConfig {
  clusterName: string;
  /** seeds are addresses gossiped with until other members are known. */
  seeds: string[];
  gossipIntervalMs: number;
  /** gossipTimeoutMs bounds one gossip exchange. */
  gossipTimeoutMs: number;
  /** detector tunes the phi accrual failure detector. */
  detector: DetectorConfig;
}

/** LivenessChange is one transition of a member's liveness as this node sees it. */
export interface LivenessChange {
  nodeId: string;
  from: Liveness;
  to: Liveness;
}

/**
 * Membership owns this node's view of the cluster: the gossiped member table (Dynamo 4.8),
 * the ring derived from it, and liveness. It gossips push-pull with one random peer per
 * round (and with a seed while it knows no one). The ring is rebuilt only when a row's
 * tokens or status change, so heartbeats cost nothing on the request path.
 */
export class Membership {
  private readonly table = new Map<string, MemberState>();
  /** windows[id] holds the heartbeat arrival history of peer id (phi accrual). */
  private readonly windows = new Map<string, ArrivalWindow>();
  /** verdicts[id] is the liveness last reported for id (to report transitions once). */
  private readonly verdicts = new Map<string, Liveness>();
  private readonly changeListeners: Array<(c: LivenessChange) => void> = [];
  private lastRoundAt: number | undefined;
  private currentRing: Ring = Ring.empty();
  private nextRing: Ring = Ring.empty();
  private ringKey = '';
  private timer: Timer | undefined;
  private readonly listeners: Array<() => void> = [];
  private round = 0;

  constructor(
    private self: MemberState,
    private readonly cfg: MembershipConfig,
    private readonly clock: Clock,
    private readonly random: Random,
    private readonly transport: PeerTransport,
    private readonly log: Logger,
  ) {
    this.table.set(self.nodeId, self);
    this.rebuildRing();
  }

  get selfId(): string {
    return this.self.nodeId;
  }
  selfState(): MemberState {
    return this.self;
  }

  /** start begins gossip rounds. */
  start(): void {
    this.timer ??= this.clock.setInterval(() => void this.gossipRound(), this.cfg.gossipIntervalMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** onRingChange registers a callback run after the ring changes. */
  onRingChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** updateSelf changes this node's own row (tokens, status, weight) and bumps its version. */
  updateSelf(patch: Partial<Pick<MemberState, 'tokens' | 'status' | 'weight' | 'address' | 'zone' | 'pendingTokens' | 'pendingWeight'>>): void {
    this.self = { ...this.self, ...patch, version: this.self.version + 1 };
    this.table.set(this.self.nodeId, this.self);
    this.rebuildRing();
  }

  ring(): Ring {
    return this.currentRing;
  }

  members(): MemberState[] {
    return [...this.table.values()].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  }

  member(id: string): MemberState | undefined {
    return this.table.get(id);
  }

  address(id: string): string | undefined {
    return this.table.get(id)?.address;
  }

  /** onLivenessChange registers a callback for every UP / SUSPECT / DOWN transition. */
  onLivenessChange(fn: (c: LivenessChange) => void): void {
    this.changeListeners.push(fn);
  }

  /** suspects says whether this node's own detector suspects id now. */
  suspects(id: string): boolean {
    if (id === this.self.nodeId) return false;
    const w = this.windows.get(id);
    return w !== undefined && w.phi(this.clock.monotonic()) > this.cfg.detector.phiThreshold;
  }

  /**
   * liveness is this node's verdict on id: SUSPECT when its own detector suspects id, DOWN
   * when in addition another member it considers up suspects id too (two views agree).
   */
  liveness(id: string): Liveness {
    if (!this.suspects(id)) return 'up';
    const others = [...this.table.values()]
      .filter((m) => m.nodeId !== this.self.nodeId)
      .map((m) => ({ voter: m.nodeId, suspects: m.suspects }));
    return isDown(id, true, others, (v) => !this.suspects(v)) ? 'down' : 'suspect';
  }


  /** isUsable says whether requests should be sent to id (preference-list filter): not DOWN at the last check (gossip rounds and merges re-check). */
  isUsable = (id: string): boolean => this.verdicts.get(id) !== 'down';

  /**
   * restore loads member rows kept from an earlier run (a restarted node then knows the ring
   * at once instead of serving alone on a ring of itself until gossip reaches it). Each row
   * starts a detector window as if heard from now, so a peer that stays silent is suspected.
   */
  restore(rows: readonly MemberState[]): void {
    const now = this.clock.monotonic();
    for (const r of rows) {
      if (r.nodeId === this.self.nodeId || this.table.has(r.nodeId)) continue;
      this.table.set(r.nodeId, r);
      const w = new ArrivalWindow(this.cfg.detector);
      w.heartbeat(now);
      this.windows.set(r.nodeId, w);
    }
    this.rebuildRing();
  }

  /** handleGossip merges a peer's table and answers with ours (the receiving side of push-pull). */
  handleGossip(msg: GossipMessage): GossipMessage {
    if (msg.clusterName !== this.cfg.clusterName) {
      throw new DkvError('FAILED_PRECONDITION', `gossip from cluster ${JSON.stringify(msg.clusterName)} refused: this node is in ${JSON.stringify(this.cfg.clusterName)}`);
    }
    this.merge(msg.members);
    return this.message();
  }

  /** gossipRound advances our heartbeat and exchanges tables with one peer. */
  async gossipRound(): Promise<void> {
    this.round++;
    const now = this.clock.monotonic();
    // A round that ran late means this process was paused (GC, a busy event loop, SIGSTOP):
    // that time is not held against peers, whose heartbeats could not be seen meanwhile.
    if (this.lastRoundAt !== undefined) {
      const late = now - this.lastRoundAt - this.cfg.gossipIntervalMs;
      if (late > 2 * this.cfg.gossipIntervalMs) for (const w of this.windows.values()) w.shift(late);
    }
    this.lastRoundAt = now;
    const suspects = [...this.table.keys()].filter((id) => this.suspects(id));
    this.self = { ...this.self, heartbeat: this.self.heartbeat + 1, suspects };
    this.table.set(this.self.nodeId, this.self);
    this.reportTransitions();
    const target = this.pickTarget();
    if (!target) return;
    try {
      const reply = await this.transport.gossip(target, this.message(), this.cfg.gossipTimeoutMs);
      if (reply.clusterName !== this.cfg.clusterName) return;
      this.merge(reply.members);
    } catch (e) {
      if (this.round % 50 === 1) this.log.debug(`gossip with ${target} failed: ${(e as Error).message}`);
    }
  }

  /** exchangeWith gossips with one address now (used while joining through seeds). */
  async exchangeWith(address: string): Promise<void> {
    const reply = await this.transport.gossip(address, this.message(), this.cfg.gossipTimeoutMs);
    if (reply.clusterName !== this.cfg.clusterName)
      throw new Error(`seed ${address} is in cluster ${JSON.stringify(reply.clusterName)}, not ${JSON.stringify(this.cfg.clusterName)}`);
    this.merge(reply.members);
  }

  private message(): GossipMessage {
    return { from: this.self.nodeId, clusterName: this.cfg.clusterName, members: [...this.table.values()], downVotes: [] };
  }

  /**
   * previousSelf is the row the cluster still holds for this node id from an earlier
   * incarnation (a node restarted on a wiped directory): its tokens are reused, so the node
   * takes back its own ranges instead of moving data around.
   */
  previousSelf: MemberState | undefined;

  private merge(rows: readonly MemberState[]): void {
    for (const r of rows) {
      if (r.nodeId === this.self.nodeId && r.incarnation < this.self.incarnation && r.tokens.length > 0 && r.status !== 'left') {
        if (!this.previousSelf || r.version > this.previousSelf.version) this.previousSelf = r;
      }
    }
    const now = this.clock.monotonic();
    // A row replaces ours only when its (incarnation, version, heartbeat) grew: proof of life.
    const changed = mergeRows(this.table, rows, this.self.nodeId);
    for (const r of changed) {
      let w = this.windows.get(r.nodeId);
      if (!w) this.windows.set(r.nodeId, (w = new ArrivalWindow(this.cfg.detector)));
      w.heartbeat(now);
    }
    if (changed.length > 0) {
      this.rebuildRing();
      this.reportTransitions();
    }
  }

  private reportTransitions(): void {
    for (const id of this.table.keys()) {
      if (id === this.self.nodeId) continue;
      const to = this.liveness(id);
      const from = this.verdicts.get(id) ?? 'up';
      if (to === from) continue;
      this.verdicts.set(id, to);
      if (to === 'down') this.log.warn(`${id} is DOWN (suspected here and by another member)`);
      else if (from === 'down') this.log.info(`${id} is UP again`);
      for (const fn of this.changeListeners) fn({ nodeId: id, from, to });
    }
  }

  private pickTarget(): string | undefined {
    const peers = [...this.table.values()].filter((m) => m.nodeId !== this.self.nodeId && m.status !== 'left');
    const seeds = this.cfg.seeds.filter((s) => s !== this.self.address);
    // Until others are known, and now and then afterwards, talk to a seed: it heals a
    // cluster that was partitioned into islands which each forgot the other.
    if (seeds.length > 0 && (peers.length === 0 || this.random.int(10) === 0)) return seeds[this.random.int(seeds.length)];
    if (peers.length === 0) return undefined;
    // Mostly talk to peers not suspected: rounds spent on a dead peer delay the DOWN votes
    // the live ones must exchange. Suspected peers still get a round now and then.
    const healthy = peers.filter((m) => !this.suspects(m.nodeId));
    const pool = healthy.length > 0 && this.random.int(4) !== 0 ? healthy : peers;
    return pool[this.random.int(pool.length)].address;
  }

  private rebuildRing(): void {
    const withTokens = [...this.table.values()].filter((m) => m.tokens.length > 0 && m.status !== 'left');
    const owners = withTokens.filter((m) => ownsTokens(m));
    const key = withTokens
      .map((m) => `${m.nodeId}|${m.zone}|${m.weight}|${m.status}|${m.tokens.length}|${m.tokens[0]}|${m.pendingTokens?.length ?? 0}|${m.version}|${m.incarnation}`)
      .sort()
      .join(';');
    if (key === this.ringKey) return;
    this.ringKey = key;
    this.currentRing = new Ring(dedupeTokens(owners));
    // The ring once every topology change in progress completes: joining nodes in, leaving out,
    // reweighed nodes with their pending tokens and weight.
    const future = withTokens
      .filter((m) => m.status === 'normal' || m.status === 'joining')
      .map((m) => (reweighing(m) ? { ...m, tokens: m.pendingTokens!, weight: m.pendingWeight! } : m));
    const unchanged = future.length === owners.length && withTokens.every((m) => m.status === 'normal' && !reweighing(m));
    this.nextRing = unchanged ? this.currentRing : new Ring(dedupeTokens(future));
    for (const fn of this.listeners) fn();
  }

  /**
   * futureRing is the ring once the joins and decommissions in progress complete. Writes also
   * go to the nodes it adds to a key's replicas (pending replicas), so nothing written during
   * a move is missed by the new owner.
   */
  futureRing(): Ring {
    return this.nextRing;
  }

  /** changing says which members are joining, leaving or reweighing now (one topology change at a time). */
  changing(): MemberState[] {
    return [...this.table.values()].filter((m) => m.status === 'joining' || m.status === 'leaving' || (m.status === 'normal' && reweighing(m)));
  }

  /**
   * markRemoved records that a dead node left the ring (removenode). The row is rewritten on
   * the dead node's behalf with a higher version, so gossip spreads it; a removed node must be
   * wiped before it rejoins.
   */
  markRemoved(id: string): void {
    const m = this.table.get(id);
    if (!m || id === this.self.nodeId) return;
    this.table.set(id, { ...m, status: 'left', version: m.version + 1_000_000 });
    this.rebuildRing();
  }
}

/**
 * dedupeTokens drops a token claimed by two nodes (two joins that chose concurrently) from
 * every claimant but the one with the smallest id, the same way on every node.
 */
function dedupeTokens(owners: readonly MemberState[]): RingNode[] {
  const sorted = [...owners].sort((a, b) => (a.nodeId < b.nodeId ? -1 : a.nodeId > b.nodeId ? 1 : 0));
  const taken = new Set<number>();
  return sorted.map((m) => {
    const tokens = m.tokens.filter((t) => !taken.has(t));
    for (const t of tokens) taken.add(t);
    return { id: m.nodeId, zone: m.zone, weight: m.weight, tokens };
  });
}
