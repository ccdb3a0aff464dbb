import type { Clock, Timer } from '../time/clock.js';
import type { Random } from '../time/random.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { Ring, type RingNode } from '../ring/ring.js';
import { mergeRows, ownsTokens, type GossipMessage, type MemberState } from './member-table.js';
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
  /** suspectAfterMs: a member whose heartbeat has not advanced for this long is suspect. */
  suspectAfterMs: number;
}

/**
 * Membership owns this node's view of the cluster: the gossiped member table (Dynamo 4.8),
 * the ring derived from it, and liveness. It gossips push-pull with one random peer per
 * round (and with a seed while it knows no one). The ring is rebuilt only when a row's
 * tokens or status change, so heartbeats cost nothing on the request path.
 */
export class Membership {
  private readonly table = new Map<string, MemberState>();
  /** lastAdvance[id] is the monotonic time at which id's heartbeat last grew. */
  private readonly lastAdvance = new Map<string, number>();
  private currentRing: Ring = Ring.empty();
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
  updateSelf(patch: Partial<Pick<MemberState, 'tokens' | 'status' | 'weight' | 'address' | 'zone'>>): void {
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

  /** knowsOthers says whether any member besides this node is known. */
  knowsOthers(): boolean {
    return this.table.size > 1;
  }

  /** liveness is this node's verdict on id (this node is always up). */
  liveness(id: string): Liveness {
    if (id === this.self.nodeId) return 'up';
    const since = this.lastAdvance.get(id);
    if (since === undefined) return 'suspect';
    return this.clock.monotonic() - since > this.cfg.suspectAfterMs ? 'suspect' : 'up';
  }

  /** isUsable says whether requests should be sent to id (preference-list filter). */
  isUsable = (id: string): boolean => this.liveness(id) !== 'down';

  /** handleGossip merges a peer's table and answers with ours (the receiving side of push-pull). */
  handleGossip(msg: GossipMessage): GossipMessage {
    if (msg.clusterName !== this.cfg.clusterName) {
      throw new Error(`gossip from cluster ${JSON.stringify(msg.clusterName)} refused: this node is in ${JSON.stringify(this.cfg.clusterName)}`);
    }
    this.merge(msg.members);
    return this.message();
  }

  /** gossipRound advances our heartbeat and exchanges tables with one peer. */
  async gossipRound(): Promise<void> {
    this.round++;
    this.self = { ...this.self, heartbeat: this.self.heartbeat + 1 };
    this.table.set(this.self.nodeId, this.self);
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

  private merge(rows: readonly MemberState[]): void {
    const now = this.clock.monotonic();
    // A row replaces ours only when its (incarnation, version, heartbeat) grew: proof of life.
    const changed = mergeRows(this.table, rows, this.self.nodeId);
    for (const r of changed) this.lastAdvance.set(r.nodeId, now);
    if (changed.length > 0) this.rebuildRing();
  }

  private pickTarget(): string | undefined {
    const peers = [...this.table.values()].filter((m) => m.nodeId !== this.self.nodeId && m.status !== 'left');
    const seeds = this.cfg.seeds.filter((s) => s !== this.self.address);
    // Until others are known, and now and then afterwards, talk to a seed: it heals a
    // cluster that was partitioned into islands which each forgot the other.
    if (seeds.length > 0 && (peers.length === 0 || this.random.int(10) === 0)) return seeds[this.random.int(seeds.length)];
    if (peers.length === 0) return undefined;
    return peers[this.random.int(peers.length)].address;
  }

  private rebuildRing(): void {
    const owners = [...this.table.values()].filter((m) => ownsTokens(m) && m.tokens.length > 0);
    const key = owners
      .map((m) => `${m.nodeId}|${m.zone}|${m.weight}|${m.status}|${m.tokens.length}|${m.tokens[0]}|${m.version}|${m.incarnation}`)
      .sort()
      .join(';');
    if (key === this.ringKey) return;
    this.ringKey = key;
    this.currentRing = new Ring(dedupeTokens(owners));
    for (const fn of this.listeners) fn();
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
