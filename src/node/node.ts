import { DkvError } from '../errors.js';
import { SystemClock, type Clock, type Timer } from '../time/clock.js';
import { systemRandom, type Random } from '../time/random.js';
import type { StorageEngine } from '../storage/engine.js';
import { LevelEngine } from '../storage/level-engine.js';
import { MemoryEngine } from '../storage/memory-engine.js';
import { RecordStore } from '../storage/record-store.js';
import { Membership } from '../membership/membership.js';
import { reweighing, type MemberState, type MemberStatus } from '../membership/member-table.js';
import { Coordinator } from '../coordinator/coordinator.js';
import type { ForwardOp, InternodeHandler, PeerTransport, Purpose, ReplicaEntry } from '../transport/peer-transport.js';
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
import { Topology, type ChangePlan } from './topology.js';
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
    this.topology = new Topology({ config, membership, rebalancer, store, clock, random, log, persistSelf: () => this.persistSelf(), stopping: () => this.stopping });
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
  readonly topology: Topology;

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
      (config.engine === 'memory' ? new MemoryEngine() : new LevelEngine({ location: config.dataDir, cacheSize: config.levelCacheBytes, maxOpenFiles: config.levelMaxOpenFiles }));
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
    }
    // A join, decommission or reweigh cut short by a crash resumes where its streams stopped.
    const change = this.topology.start(me);
    if (waitForJoin) await change;
  }

  /** decommission makes this node leave (topology.ts); refused while another change runs. */
  decommission(): Promise<void> {
    return this.topology.decommission();
  }

  /** setWeight changes this node's weight online (topology.ts); returns the plan it runs. */
  setWeight(weight: number): Promise<ChangePlan & { tokens: number[] }> {
    return this.topology.setWeight(weight);
  }

  planReweigh(weight: number): Promise<ChangePlan & { tokens: number[] }> {
    return this.topology.planReweigh(weight);
  }

  planJoin(id: string, weight: number, zone: string): Promise<ChangePlan> {
    return this.topology.planJoin(id, weight, zone);
  }

  refuseWhileChanging(except?: string): void {
    this.topology.refuseWhileChanging(except);
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
    await this.topology.loop?.catch(() => undefined);
    this.transport.close();
    await this.store.close();
  }
}
