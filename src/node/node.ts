import { DkvError } from '../errors.js';
import { SystemClock, type Clock, type Timer } from '../time/clock.js';
import { systemRandom, type Random } from '../time/random.js';
import type { StorageEngine } from '../storage/engine.js';
import { LevelEngine } from '../storage/level-engine.js';
import { MemoryEngine } from '../storage/memory-engine.js';
import { RecordStore } from '../storage/record-store.js';
import { Membership } from '../membership/membership.js';
import { describeChange, reweighing, type MemberState, type MemberStatus } from '../membership/member-table.js';
import { Coordinator } from '../coordinator/coordinator.js';
import type { ForwardOp, InternodeHandler, PeerTransport, Purpose, ReplicaEntry } from '../transport/peer-transport.js';
import { allocateTokens } from '../ring/allocate.js';
import type { Move } from '../rebalance/plan.js';
import { checkWeight, joinPlan, reweighPlan, type PlanOptions } from '../rebalance/change-plan.js';
import { measurePlan, type PlanSize } from '../rebalance/plan-size.js';
import { HintStore } from '../handoff/hint-store.js';
import { HintReplayer } from '../handoff/replayer.js';
import { AntiEntropy } from '../antientropy/anti-entropy.js';
import { TreeCache } from '../antientropy/tree-cache.js';
import { TombstonePurger } from '../antientropy/tombstone-purger.js';
import { ChangeLog } from '../watch/change-log.js';
import { serveFeed } from '../watch/feed.js';
import { serveRange } from '../rebalance/range-stream.js';
import { Rebalancer } from '../rebalance/rebalancer.js';
import { AutoCleanup } from '../rebalance/auto-cleanup.js';
import { WatchSession, type WatchEvent } from '../watch/watch-session.js';
import type { ResumeToken } from '../watch/token.js';
import { sync, type Version } from '../versioning/siblings.js';
import type { NodeConfig } from './config.js';
import { consoleLogger, type Logger } from './logger.js';

/** NodeDeps are the seams a node is built from; the defaults are the real ones. */
export interface NodeDeps {
  clock?: Clock;
  random?: Random;
  engine?: StorageEngine;
  transport: PeerTransport;
  log?: Logger;
}

/** PersistedSelf is this node's own member row as kept in its data directory across restarts. */
interface PersistedSelf {
  tokens: number[];
  status: MemberStatus;
  weight: number;
  zone: string;
  version: number;
  /** pendingTokens / pendingWeight: a reweigh in progress (absent: none). */
  pendingTokens?: number[];
  pendingWeight?: number;
}

/** ChangePlan is what a topology change would move, for dry-runs and the operation log. */
export interface ChangePlan {
  moves: Move[];
  size: PlanSize;
}


/**
 * DkvNode is the composition root: it wires storage, membership, the coordinator and the
 * internode handler of one node from injected seams, and owns its lifecycle. It has no
 * network server of its own (api/server.ts serves it over gRPC; the simulation registers its
 * handler on a MemoryNetwork), so a whole cluster can run in one process.
 */
export class DkvNode {
  readonly startedAt: number;
  private timers: Timer[] = [];
  private inFlight = 0;
  private stopping = false;
  private drained: (() => void) | undefined;
  private joinLoop: Promise<void> | undefined;

  private constructor(
    readonly config: NodeConfig,
    readonly clock: Clock,
    readonly random: Random,
    readonly store: RecordStore,
    readonly membership: Membership,
    readonly coordinator: Coordinator,
    readonly transport: PeerTransport,
    readonly log: Logger,
    readonly hints: HintStore | undefined,
    readonly antiEntropy: AntiEntropy,
    readonly purger: TombstonePurger,
    readonly changeLog: ChangeLog,
    readonly rebalancer: Rebalancer,
  ) {
    this.startedAt = clock.monotonic();
    this.autoCleanup = new AutoCleanup(membership, rebalancer, store, clock, log, config.cleanupGraceMs);
    membership.onRingChange(() => void this.persistPeers());
    this.replayer = hints
      ? new HintReplayer(hints, membership, transport, clock, log, {
          intervalMs: config.hintReplayIntervalMs,
          batchKeys: 200,
          maxKeysPerSecond: config.hintReplayKeysPerSecond,
          timeoutMs: config.replicaTimeoutMs,
        }, (entries) => this.writeLocal(entries), config.n)
      : undefined;
  }

  readonly replayer: HintReplayer | undefined;
  readonly autoCleanup: AutoCleanup;

  /**
   * readLocal reads this node's own replica of a key; as a fallback for hintedFor it also
   * returns what it holds for that primary.
   */
  async readLocal(key: Buffer, hintedFor?: string): Promise<Version[]> {
    const own = await this.store.read(key);
    if (!hintedFor || !this.hints) return own;
    return sync(own, await this.hints.get(hintedFor, key));
  }

  /** writeLocal merges replica entries: hinted ones into the hint store, the rest into records. */
  async writeLocal(entries: ReplicaEntry[]): Promise<void> {
    const own = entries.filter((e) => !e.hintedFor || e.hintedFor === this.id || !this.hints);
    const hinted = entries.filter((e) => !own.includes(e));
    if (own.length > 0) await this.store.merge(own.map((e) => ({ key: e.key, versions: e.versions })));
    for (const e of hinted) await this.hints!.add(e.hintedFor!, e.key, e.versions);
  }

  /** create opens the node's storage and identity; call start() to join and serve. */
  static async create(config: NodeConfig, deps: NodeDeps): Promise<DkvNode> {
    const clock = deps.clock ?? new SystemClock();
    const random = deps.random ?? systemRandom();
    const log = deps.log ?? consoleLogger(config.nodeId);
    const engine =
      deps.engine ??
      (config.engine === 'memory' ? new MemoryEngine() : new LevelEngine({ location: config.dataDir, cacheSize: config.levelCacheBytes }));
    const store = await RecordStore.open(engine, config.nodeId, { fsync: config.fsync, fsyncWindowMs: config.fsyncWindowMs, cacheBytes: config.cacheBytes }, clock);
    const saved = await store.getMeta('member');
    const persisted: PersistedSelf | undefined = saved ? (JSON.parse(saved.toString('utf8')) as PersistedSelf) : undefined;
    const self: MemberState = {
      nodeId: config.nodeId,
      address: config.advertise,
      zone: config.zone,
      weight: persisted?.weight ?? config.weight,
      tokens: persisted?.tokens ?? [],
      status: persisted?.status ?? 'joining',
      ...(persisted?.pendingTokens?.length ? { pendingTokens: persisted.pendingTokens, pendingWeight: persisted.pendingWeight } : {}),
      incarnation: store.incarnation,
      version: (persisted?.version ?? 0) + 1,
      heartbeat: 0,
      suspects: [],
    };
    const membership = new Membership(
      self,
      {
        clusterName: config.clusterName,
        seeds: config.seeds.filter((s) => s !== config.advertise),
        gossipIntervalMs: config.gossipIntervalMs,
        gossipTimeoutMs: Math.max(500, config.gossipIntervalMs * 5),
        detector: { phiThreshold: config.phiThreshold, windowSize: 100, minMeanMs: config.gossipIntervalMs / 2, firstIntervalMs: config.gossipIntervalMs * 2, maxIntervalMs: config.gossipIntervalMs * 10 },
      },
      clock,
      random,
      deps.transport,
      log,
    );
    // The peers known before a restart: the ring is known at once, never a ring of one.
    const savedPeers = await store.getMeta('peers');
    if (savedPeers) membership.restore((JSON.parse(savedPeers.toString('utf8')) as MemberState[]).map((m) => ({ ...m, suspects: [] })));
    const hints = config.hintedHandoff ? await HintStore.open(store, clock, { windowMs: config.maxHintWindowMs, maxBytesPerTarget: config.maxHintBytes }) : undefined;
    const node: { current?: DkvNode } = {};
    const coordinator = new Coordinator({
      config,
      store,
      membership,
      transport: deps.transport,
      clock,
      log,
      hints,
      readLocal: (key, hintedFor) => node.current!.readLocal(key, hintedFor),
      writeLocal: (entries) => node.current!.writeLocal(entries),
    });
    const trees = new TreeCache(store);
    const antiEntropy = new AntiEntropy(store, trees, membership, deps.transport, clock, log, {
      intervalMs: config.antiEntropyIntervalMs,
      depth: config.merkleDepth,
      pauseMs: config.antiEntropyPauseMs,
      timeoutMs: config.replicaTimeoutMs,
      n: config.n,
      graceMs: config.tombstoneGraceMs,
    });
    const purger = new TombstonePurger(store, membership, deps.transport, clock, log, {
      graceMs: config.tombstoneGraceMs,
      intervalMs: Math.max(1_000, Math.min(60_000, Math.floor(config.tombstoneGraceMs / 4))),
      batch: 500,
      n: config.n,
      timeoutMs: config.replicaTimeoutMs,
    });
    const rebalancer = new Rebalancer(store, membership, deps.transport, antiEntropy, trees, clock, log, {
      n: config.n,
      streamBytesPerS: config.streamBytesPerS,
      merkleDepth: config.merkleDepth,
      timeoutMs: config.replicaTimeoutMs,
    });
    const changeLog = await ChangeLog.open(store, clock, { retentionMs: config.changelogRetentionMs, maxEntries: config.changelogMaxEntries });
    store.setChangeSink(changeLog);
    node.current = new DkvNode(config, clock, random, store, membership, coordinator, deps.transport, log, hints, antiEntropy, purger, changeLog, rebalancer);
    return node.current;
  }

  get id(): string {
    return this.config.nodeId;
  }

  /** handler is what this node serves to peers. */
  readonly handler: InternodeHandler = {
    replicaWrite: (_from: string, _purpose: Purpose, entries: ReplicaEntry[]) => this.admit(() => this.writeLocal(entries)),
    replicaRead: (_from: string, keys: Buffer[], hintedFor?: string) => this.admit(() => Promise.all(keys.map((k) => this.readLocal(k, hintedFor)))),
    forward: (_from: string, op: ForwardOp, hops: number, timeoutMs: number) => this.admit(() => this.coordinator.write(op, hops, timeoutMs)),
    gossip: async (msg) => this.membership.handleGossip(msg),
    merkleHashes: (ref, nodes) => this.admit(() => this.antiEntropy.merkleHashes(ref, nodes)),
    merkleLeafKeys: (ref, leaves) => this.admit(() => this.antiEntropy.merkleLeafKeys(ref, leaves)),
    changeFeed: (req, sink) => {
      if (this.stopping) {
        sink.end(new DkvError('NOT_SERVING', `${this.id} is shutting down`));
        return () => undefined;
      }
      return serveFeed(this.changeLog, this.clock, req, sink);
    },
    streamRange: (range, after, maxBytesPerS, sink) => {
      if (this.stopping) {
        sink.end(new DkvError('NOT_SERVING', `${this.id} is shutting down`));
        return () => undefined;
      }
      return serveRange(this.store, this.clock, range, after, maxBytesPerS, sink);
    },
  };

  private readonly watches = new Set<WatchSession>();

  /**
   * watch starts a client watch served by this node; events go to emit. The caller closes
   * the returned session when the client goes away; stop() closes every session.
   */
  watch(req: { key?: Buffer; prefix?: Buffer }, resume: ResumeToken | undefined, emit: (e: WatchEvent) => void): WatchSession {
    if (this.stopping) throw new DkvError('NOT_SERVING', `${this.id} is shutting down`);
    const session = new WatchSession(
      {
        membership: this.membership,
        transport: this.transport,
        localFeed: (r, sink) => serveFeed(this.changeLog, this.clock, r, sink),
        clock: this.clock,
        log: this.log,
        n: this.config.n,
      },
      req,
      resume,
      emit,
    );
    this.watches.add(session);
    const close = session.close.bind(session);
    session.close = () => {
      this.watches.delete(session);
      close();
    };
    session.start();
    return session;
  }

  /**
   * start joins the ring (first node: takes tokens alone; otherwise through the seeds, as soon
   * as one answers), then gossips and sweeps expired values in the background. It resolves
   * once the node owns tokens, unless `waitForJoin` is false.
   */
  async start(waitForJoin = true): Promise<void> {
    this.membership.start();
    this.replayer?.start();
    this.antiEntropy.start();
    this.purger.start();
    await this.autoCleanup.start();
    this.timers.push(this.clock.setInterval(() => void this.sweep(), this.config.expirySweepIntervalMs));
    this.timers.push(this.clock.setInterval(() => void this.changeLog.trim().catch((e) => this.log.warn(`change log trim failed: ${(e as Error).message}`)), 5_000));
    const me = this.membership.selfState();
    if (me.tokens.length > 0) {
      this.log.info(`restarted with ${me.tokens.length} tokens (${me.status}), incarnation ${this.store.incarnation}`);
      this.membership.updateSelf({ address: this.config.advertise });
      await this.persistSelf();
      // A join or decommission cut short by a crash resumes where its streams stopped.
      if (me.status === 'joining') this.joinLoop = this.finishJoin();
      if (me.status === 'leaving') this.joinLoop = this.finishDecommission();
      if (me.status === 'normal' && reweighing(me)) this.joinLoop = this.finishReweigh();
      if (waitForJoin) await this.joinLoop;
      return;
    }
    this.joinLoop = this.join();
    if (waitForJoin) await this.joinLoop;
  }

  /** finishJoin streams the ranges this joining node will own, then makes it NORMAL. */
  private async finishJoin(): Promise<void> {
    await this.untilDone('join', async () => {
      await this.rebalancer.runStreams('join');
      this.membership.updateSelf({ status: 'normal' });
      await this.persistSelf();
      this.log.info(`join complete: NORMAL; ring has ${this.membership.ring().ownerCount} node(s)`);
    });
  }

  /**
   * untilDone runs a join or decommission step until it succeeds or the node stops: a failed
   * attempt (peers unreachable, a full disk) is retried from the confirmed cursors after a
   * growing pause, so a node never stays JOINING or LEAVING, blocking every other topology
   * change, because of a transient failure. Each failure stays visible in Admin.Status.
   */
  private async untilDone(what: string, step: () => Promise<void>): Promise<void> {
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        await step();
        return;
      } catch (e) {
        if (this.stopping) return;
        const pause = Math.min(30_000, 1_000 * 2 ** Math.min(attempt, 5));
        this.log.error(`${what} failed: ${(e as Error).message}; retrying in ${pause / 1000}s from the last confirmed keys`);
        await this.clock.sleep(pause);
      }
    }
  }

  /**
   * decommission makes this node leave: LEAVING while it pushes every range it holds to the
   * node that will own it (it keeps serving meanwhile), then LEFT. Refused while another
   * topology change is in progress.
   */
  async decommission(): Promise<void> {
    const me = this.membership.selfState();
    if (me.status !== 'normal') throw new DkvError('FAILED_PRECONDITION', `${this.id} is ${me.status}; only a NORMAL node can be decommissioned`);
    this.refuseWhileChanging();
    if (this.membership.ring().ownerCount <= 1) throw new DkvError('FAILED_PRECONDITION', `${this.id} is the last node owning data; decommissioning it would lose every key`);
    this.membership.updateSelf({ status: 'leaving' });
    try {
      await this.persistSelf();
    } catch (e) {
      // Not LEAVING unless it is on disk: a restart must resume what the others were told.
      this.membership.updateSelf({ status: 'normal' });
      throw e;
    }
    this.joinLoop = this.finishDecommission();
  }

  /** refuseWhileChanging enforces one topology change at a time, naming the one running. */
  refuseWhileChanging(except?: string): void {
    const busy = this.membership.changing().filter((m) => m.nodeId !== except);
    if (busy.length > 0) throw new DkvError('FAILED_PRECONDITION', `a topology change is in progress (${busy.map(describeChange).join(', ')}); one at a time: retry when it completes`);
  }

  /**
   * planReweigh returns what setting this node's weight would move, changing nothing
   * (rebalance/change-plan.ts). Refused (FAILED_PRECONDITION) unless this node is NORMAL and no
   * other change is in progress; INVALID_ARGUMENT for a weight outside (0, MAX_WEIGHT].
   */
  async planReweigh(weight: number): Promise<ChangePlan & { tokens: number[] }> {
    checkWeight(weight);
    const me = this.membership.selfState();
    if (me.status !== 'normal') throw new DkvError('FAILED_PRECONDITION', `${this.id} is ${me.status}; only a NORMAL node can be reweighed`);
    this.refuseWhileChanging();
    const cur = this.membership.ring();
    const plan = reweighPlan(cur, this.id, weight, this.planOptions());
    return { ...plan, size: await measurePlan(this.store, cur, this.id, this.config.n, plan.moves) };
  }

  private planOptions(): PlanOptions {
    return { n: this.config.n, tokensPerWeight: this.config.tokensPerWeight };
  }

  /**
   * setWeight changes this node's weight online: it computes its new tokens (kept when growing,
   * a subset when shrinking), publishes them as pending (writes to the moving ranges then also
   * reach their new owners), pulls the ranges it gains and pushes those it gives up, then
   * takes the new tokens and weight. Resumes after a crash. Returns the plan it runs.
   */
  async setWeight(weight: number): Promise<ChangePlan & { tokens: number[] }> {
    const plan = await this.planReweigh(weight);
    const me = this.membership.selfState();
    const sameTokens = plan.tokens.length === me.tokens.length && plan.tokens.every((t, i) => t === me.tokens[i]);
    if (sameTokens) {
      this.membership.updateSelf({ weight });
      await this.persistSelf();
      return plan;
    }
    this.membership.updateSelf({ pendingTokens: plan.tokens, pendingWeight: weight });
    await this.persistSelf();
    this.log.info(`reweighing ${me.weight} -> ${weight}: ${me.tokens.length} -> ${plan.tokens.length} tokens, ${plan.moves.length} range move(s)`);
    this.joinLoop = this.finishReweigh();
    return plan;
  }

  private async finishReweigh(): Promise<void> {
    await this.untilDone('reweigh', async () => {
      await this.rebalancer.runStreams('reweigh');
      const me = this.membership.selfState();
      this.membership.updateSelf({ tokens: me.pendingTokens ?? me.tokens, weight: me.pendingWeight ?? me.weight, pendingTokens: [], pendingWeight: 0 });
      await this.persistSelf();
      this.log.info(`reweigh complete: weight ${this.membership.selfState().weight}, ${this.membership.selfState().tokens.length} tokens`);
    });
  }

  /**
   * planJoin returns what a new node `id` of `weight` in `zone` joining now would move (the
   * join dry-run, answered by any member). The joining node draws its own tokens when it
   * starts, so its real ranges differ; their number, shares and sizes are what to expect.
   */
  async planJoin(id: string, weight: number, zone: string): Promise<ChangePlan> {
    const m = this.membership.member(id);
    if (m && m.status !== 'left') throw new DkvError('FAILED_PRECONDITION', `${id} is already a member (${m.status})`);
    const cur = this.membership.ring();
    const plan = joinPlan(cur, id, weight, zone, this.planOptions());
    return { moves: plan.moves, size: await measurePlan(this.store, cur, this.id, this.config.n, plan.moves) };
  }

  private async finishDecommission(): Promise<void> {
    await this.untilDone('decommission', async () => {
      await this.rebalancer.runStreams('decommission');
      this.membership.updateSelf({ status: 'left' });
      await this.persistSelf();
      await this.announce();
      this.log.info('decommission complete: LEFT the ring; this node can be stopped');
    });
  }

  /**
   * announce pushes this node's row to every member it can reach, so that a node stopped as
   * soon as it reports LEFT is not left in the others' rings as a LEAVING node that is down
   * (its ranges would keep a dead primary). Members it cannot reach learn it by gossip from
   * those it reached.
   */
  private async announce(): Promise<void> {
    const peers = this.membership.members().filter((m) => m.nodeId !== this.id && m.status !== 'left' && this.membership.liveness(m.nodeId) === 'up');
    await Promise.all(
      peers.map((m) =>
        this.membership.exchangeWith(m.address).catch((e) => this.log.warn(`could not tell ${m.nodeId} this node left (${(e as Error).message}); gossip will`)),
      ),
    );
  }

  private async join(): Promise<void> {
    const seeds = this.config.seeds.filter((s) => s !== this.config.advertise);
    let attempt = 0;
    while (seeds.length > 0 && !this.stopping) {
      for (const seed of seeds) {
        try {
          await this.membership.exchangeWith(seed);
        } catch (e) {
          if (attempt % 10 === 0) this.log.warn(`seed ${seed} did not answer: ${(e as Error).message}; retrying`);
        }
      }
      if (this.membership.ring().ownerCount > 0) break;
      attempt++;
      await this.clock.sleep(Math.min(2_000, 100 * attempt));
    }
    // One topology change at a time: wait while another node joins or leaves.
    for (let waited = 0; !this.stopping && this.membership.changing().some((m) => m.nodeId !== this.id); waited++) {
      if (waited % 20 === 0) this.log.info(`waiting to join: ${this.membership.changing().filter((m) => m.nodeId !== this.id).map(describeChange).join(', ')} in progress`);
      await this.clock.sleep(500);
    }
    if (this.stopping) return;
    const self = this.membership.selfState();
    const previous = this.membership.previousSelf;
    // A wiped node takes back its own tokens (it streams its ranges again as JOINING).
    const ring = previous ? this.membership.ring().withoutNode(this.id) : this.membership.ring();
    const tokens = previous
      ? [...previous.tokens]
      : allocateTokens(ring.ownerCount > 0 ? ring : undefined, this.id, self.weight, { tokensPerWeight: this.config.tokensPerWeight, replicas: this.config.n, zone: self.zone }, this.random);
    if (previous) this.log.info(`this node id held ${previous.tokens.length} tokens in incarnation ${previous.incarnation}: taking them back`);
    const first = ring.ownerCount === 0;
    this.membership.updateSelf({ tokens, status: first ? 'normal' : 'joining' });
    await this.persistSelf();
    this.log.info(`took ${tokens.length} tokens (${first ? 'first node: NORMAL' : 'JOINING: streaming the ranges it will own'})`);
    if (!first) await this.finishJoin();
  }

  private peersSaving = false;

  /** persistPeers keeps the member table (as of the latest ring change) for the next restart. */
  private async persistPeers(): Promise<void> {
    if (this.peersSaving || this.stopping) return;
    this.peersSaving = true;
    try {
      const rows = this.membership.members().filter((m) => m.nodeId !== this.id);
      await this.store.putMeta('peers', Buffer.from(JSON.stringify(rows), 'utf8'));
    } catch (e) {
      if (!this.stopping) this.log.warn(`could not save the member table: ${(e as Error).message}`);
    } finally {
      this.peersSaving = false;
    }
  }

  private async persistSelf(): Promise<void> {
    const s = this.membership.selfState();
    const p: PersistedSelf = { tokens: [...s.tokens], status: s.status, weight: s.weight, zone: s.zone, version: s.version, ...(reweighing(s) ? { pendingTokens: [...s.pendingTokens!], pendingWeight: s.pendingWeight } : {}) };
    await this.store.putMeta('member', Buffer.from(JSON.stringify(p), 'utf8'));
  }

  private async sweep(): Promise<void> {
    try {
      await this.store.sweepExpired();
    } catch (e) {
      if (!this.stopping) this.log.warn(`expiry sweep failed: ${(e as Error).message}`);
    }
  }

  /** enter / leave bracket every client request (the gate of api/kv-service.ts). */
  enter(): void {
    if (this.stopping) throw new DkvError('NOT_SERVING', `${this.id} is shutting down`);
    this.inFlight++;
  }
  leave(): void {
    this.inFlight--;
    if (this.inFlight === 0) this.drained?.();
  }

  private async admit<T>(fn: () => Promise<T>): Promise<T> {
    this.enter();
    try {
      return await fn();
    } finally {
      this.leave();
    }
  }

  /**
   * halt stops every background activity at once and closes the transport, without waiting
   * for anything: the simulation's model of a process crash (the storage engine is crashed
   * separately). Requests already running finish or fail on their own.
   */
  halt(): void {
    this.stopping = true;
    this.stopBackground();
    this.transport.close();
  }

  /** stopBackground ends watches, gossip, hint replay, anti-entropy, purges and timers. */
  private stopBackground(): void {
    for (const w of [...this.watches]) w.close();
    this.membership.stop();
    this.replayer?.stop();
    this.antiEntropy.stop();
    this.purger.stop();
    this.rebalancer.stop();
    this.autoCleanup.stop();
    for (const t of this.timers) t.cancel();
  }

  /** stop refuses new requests, waits up to shutdownGraceMs for in-flight ones, and closes storage. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.inFlight > 0) {
      await Promise.race([new Promise<void>((r) => (this.drained = r)), this.clock.sleep(this.config.shutdownGraceMs)]);
    }
    this.stopBackground();
    await this.joinLoop?.catch(() => undefined);
    this.transport.close();
    await this.store.close();
  }
}
