import { ManualClock, flushMicrotasks } from '../../src/time/manual-clock.js';
import { SeededRandom } from '../../src/time/random.js';
import { MemoryNetwork } from '../../src/transport/memory-transport.js';
import { MemoryDisk, MemoryEngine } from '../../src/storage/memory-engine.js';
import { DkvNode } from '../../src/node/node.js';
import { local, type NodeConfig } from '../../src/node/config.js';
import { silentLogger } from '../../src/node/logger.js';
import { SkewedClock } from '../sim/skewed-clock.js';

/**
 * SimCluster runs real DkvNode code for several nodes in one process: memory engines on
 * MemoryDisks (which survive a crash unless wiped), a MemoryNetwork, a ManualClock and one
 * seeded Random. Nothing runs unless time is advanced, so every run is replayable by seed.
 */
export class SimCluster {
  readonly clock = new ManualClock();
  readonly random: SeededRandom;
  readonly net: MemoryNetwork;
  readonly nodes = new Map<string, DkvNode>();
  readonly disks = new Map<string, MemoryDisk>();
  readonly engines = new Map<string, MemoryEngine>();
  /** clocks are each node's view of the shared clock; set skewMs to skew its wall time (T7). */
  readonly clocks = new Map<string, SkewedClock>();
  private readonly order: string[] = [];
  /**
   * serveHooks: called with the method name before a node serves an internode request (the
   * simulation's crash points use it to crash a node in the middle of an exchange).
   */
  readonly serveHooks = new Map<string, (method: string) => void>();

  constructor(
    readonly seed: number,
    private readonly overrides: Partial<NodeConfig> = {},
  ) {
    this.random = new SeededRandom(seed);
    this.net = new MemoryNetwork(this.clock, this.random);
  }

  static async start(n: number, seed = 1, overrides: Partial<NodeConfig> = {}): Promise<SimCluster> {
    const c = new SimCluster(seed, overrides);
    for (let i = 1; i <= n; i++) await c.add(`n${i}`);
    await c.run(2_000);
    return c;
  }

  config(id: string): NodeConfig {
    return local({
      nodeId: id,
      listen: '127.0.0.1:0',
      advertise: id,
      engine: 'memory',
      gossipIntervalMs: 100,
      // First start: seed from the first node. A restart (also on a wiped directory) seeds
      // from every other node, as an operator's seed list would.
      seeds: this.disks.has(id) ? this.order.filter((x) => x !== id) : this.order.length && this.order[0] !== id ? [this.order[0]] : [],
      ...this.overrides,
    });
  }

  /** add creates a node and waits until it owns tokens and the ring converged. */
  async add(id: string): Promise<DkvNode> {
    const node = await this.addNoWait(id);
    await this.until(() => node.membership.selfState().tokens.length > 0, 30_000);
    await this.until(() => this.converged(), 30_000);
    return node;
  }

  /** join starts a new node seeded by the first one; it joins in the background (no waiting). */
  async join(id: string): Promise<DkvNode> {
    if (this.order.includes(id)) throw new Error(`${id} is already a member of this simulation`);
    return this.addNoWait(id);
  }

  private async addNoWait(id: string): Promise<DkvNode> {
    if (!this.order.includes(id)) this.order.push(id);
    let disk = this.disks.get(id);
    if (!disk) {
      disk = new MemoryDisk({ label: id });
      this.disks.set(id, disk);
    }
    let clock = this.clocks.get(id);
    if (!clock) {
      clock = new SkewedClock(this.clock);
      this.clocks.set(id, clock);
    }
    const engine = new MemoryEngine({ disk });
    this.engines.set(id, engine);
    const node = await DkvNode.create(this.config(id), {
      clock,
      random: new SeededRandom(this.random.uint32()),
      engine,
      transport: this.net.transport(id),
      log: silentLogger,
    });
    this.nodes.set(id, node);
    const hooks = this.serveHooks;
    const handler = new Proxy(node.handler, {
      get(target, prop, receiver) {
        const v = Reflect.get(target, prop, receiver) as unknown;
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          hooks.get(id)?.(String(prop));
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    this.net.register(id, handler);
    await node.start(false);
    return node;
  }

  /** converged says whether every running node sees every running node in one ring. */
  converged(): boolean {
    const nodes = [...this.nodes.values()];
    const sums = new Set(nodes.map((n) => n.membership.ring().checksum()));
    return sums.size === 1 && nodes.every((n) => n.membership.ring().ownerCount === nodes.length);
  }

  node(id: string): DkvNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no running node ${id}`);
    return n;
  }

  /**
   * crash kills a node like kill -9: it stops sending and answering at once and its storage
   * keeps exactly what was written (wipe: loses its directory too).
   */
  async crash(id: string, wipe = false): Promise<void> {
    const node = this.node(id);
    this.net.unregister(id);
    this.nodes.delete(id);
    node.halt();
    this.engines.get(id)!.crash(wipe ? 'disk' : 'process');
  }

  /** restart brings a crashed node back on its directory (and waits until it owns tokens). */
  async restart(id: string): Promise<DkvNode> {
    const node = await this.addNoWait(id);
    // Stop waiting if the node is crashed again meanwhile (e.g. removed while it rejoined).
    await this.until(() => node.membership.selfState().tokens.length > 0 || this.nodes.get(id) !== node, 30_000);
    return node;
  }

  /** run advances simulated time in gossip-sized steps. */
  async run(ms: number, step = 20): Promise<void> {
    for (let t = 0; t < ms; t += step) await this.clock.advance(step);
  }

  /** until advances time until cond holds, failing after maxMs of simulated time. */
  async until(cond: () => boolean, maxMs = 10_000, step = 10): Promise<void> {
    for (let t = 0; t <= maxMs; t += step) {
      if (cond()) return;
      await this.clock.advance(step);
    }
    throw new Error(`condition not met after ${maxMs} ms of simulated time (seed ${this.seed})`);
  }

  /** settle advances time until p settles and returns its outcome. */
  async settle<T>(p: Promise<T>, maxMs = 30_000): Promise<T> {
    let done = false;
    const tracked = p.finally(() => {
      done = true;
    });
    tracked.catch(() => undefined);
    await flushMicrotasks();
    await this.until(() => done, maxMs, 5);
    return tracked;
  }

  async stop(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.crash(id);
  }
}
