/**
 * ChaosCluster: real `dkv serve` processes, one per node namespace of a Topology, a delay proxy
 * in front of each (optional, for T15), and the client worker in the client namespace through
 * which the test reaches them. Everything it waits for is polled with a deadline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import { Liveness, MemberStatus, type RingResponse } from '../../src/generated/dkv/v1/admin.js';
import { eventually } from '../helpers/eventually.js';
import { preferenceOf } from '../helpers/inspect.js';
import { ChaosAgent } from './agent.js';
import { NsNode, Topology } from './netns.js';

export const NODE_PORT = 7000;
export const PROXY_PORT = 7100;

export interface ChaosClusterOptions {
  nodes?: number;
  /** spares: extra node namespaces with a node that is not started (T13 joins one). */
  spares?: number;
  /** proxy: put a delay / loss proxy in front of every node (internode links only). */
  proxy?: boolean;
  /** args: serve flags for every node. */
  args?: string[];
  log?: (line: string) => void;
}

export interface LinkFaults {
  delayMs: number;
  jitterMs: number;
  loss: number;
}

interface Proxy {
  proc: ChildProcess;
  control: (f: LinkFaults) => Promise<void>;
}

/** versionId names one stored version for convergence dumps: actor:counter, † for a tombstone. */
export const versionId = (v: { actor: string; counter: number; tombstone: boolean }) => `${v.actor}:${v.counter}${v.tombstone ? '†' : ''}`;

export class ChaosCluster {
  /** nodes: the ring's members (T13 swaps a decommissioned one for a joined spare). */
  readonly nodes: NsNode[] = [];
  /** spares: nodes in their own namespaces, not running and not members. */
  readonly spares: NsNode[] = [];
  private readonly proxies: Proxy[] = [];
  readonly dataRoot = mkdtempSync(join(tmpdir(), 'dkv-chaos-'));
  agent!: ChaosAgent;
  private ringCache: RingResponse | undefined;

  private constructor(
    readonly topo: Topology,
    readonly opts: Required<ChaosClusterOptions>,
  ) {}

  static async start(o: ChaosClusterOptions = {}): Promise<ChaosCluster> {
    const opts: Required<ChaosClusterOptions> = { nodes: 5, spares: 0, proxy: true, args: [], log: () => undefined, ...o };
    const topo = await Topology.create(opts.nodes + opts.spares);
    const c = new ChaosCluster(topo, opts);
    topo.removeOnDestroy(c.dataRoot);
    try {
      opts.log(`topology ${topo.id}: bridge ${topo.bridgeNs}, nodes ${topo.nodeNs.join(' ')} (${topo.nodeIp.join(' ')}), client ${topo.clientNs} (${topo.clientIp})`);
      c.agent = await ChaosAgent.start(topo);
      for (let i = 1; i <= opts.nodes + opts.spares; i++) {
        (i <= opts.nodes ? c.nodes : c.spares).push(
          new NsNode(topo, {
            id: `n${i}`,
            number: i,
            dataDir: join(c.dataRoot, `n${i}`),
            port: NODE_PORT,
            advertisePort: opts.proxy ? PROXY_PORT : NODE_PORT,
            args: opts.args,
          }),
        );
      }
      if (opts.proxy) await Promise.all([...c.nodes, ...c.spares].map((n) => c.startProxy(n)));
      for (const n of c.nodes) {
        await n.start(n === c.nodes[0] ? [] : [c.nodes[0].advertised]);
        const up = c.nodes.filter((x) => x.running);
        await c.waitRing(up, 20_000, up.length);
      }
      await c.waitAllUp(20_000);
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  private async startProxy(n: NsNode): Promise<void> {
    const proc = this.topo.spawn(
      this.topo.nsOf(n.opts.number),
      [process.execPath, '--import', 'tsx', 'test/chaos/proxy-worker.ts', '--listen', n.advertised, '--target', n.address],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const lines: string[] = [];
    const waiters: ((l: string) => void)[] = [];
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      const w = waiters.shift();
      if (w) w(l);
      else lines.push(l);
    });
    const errs: string[] = [];
    createInterface({ input: proc.stderr! }).on('line', (l) => errs.push(l));
    const nextLine = (ms: number) =>
      new Promise<string>((resolve, reject) => {
        if (lines.length) return resolve(lines.shift()!);
        const t = setTimeout(() => reject(new Error(`proxy for ${n.id}: no answer in ${ms} ms: ${errs.join('\n')}`)), ms);
        waiters.push((l) => {
          clearTimeout(t);
          resolve(l);
        });
      });
    const ready = JSON.parse(await nextLine(30_000));
    if (!ready.ready) throw new Error(`proxy for ${n.id}: ${JSON.stringify(ready)}`);
    this.proxies.push({
      proc,
      control: async (f) => {
        proc.stdin!.write(JSON.stringify(f) + '\n');
        const a = JSON.parse(await nextLine(5_000));
        if (!a.ok) throw new Error(`proxy for ${n.id}: ${a.error}`);
      },
    });
  }

  /** setLinks applies delay / loss to every internode link (every node's proxy). */
  async setLinks(f: LinkFaults): Promise<void> {
    if (!this.opts.proxy) throw new Error('setLinks needs the proxies (proxy: true)');
    await Promise.all(this.proxies.map((p) => p.control(f)));
  }

  node(id: string): NsNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  /** seedsFor: every other node's advertised address. */
  seedsFor(n: NsNode): string[] {
    return this.nodes.filter((x) => x !== n).map((x) => x.advertised);
  }

  /** restart starts a stopped node again (seeded with every other node). */
  async restart(n: NsNode, env?: Record<string, string>, extraArgs: string[] = []): Promise<void> {
    await n.start(this.seedsFor(n), env, extraArgs);
  }

  async ring(via?: NsNode): Promise<RingResponse> {
    const candidates = via ? [via] : this.nodes.filter((n) => n.available);
    let last: unknown;
    for (const n of candidates) {
      try {
        const r = await this.agent.ring(n.address);
        if (r.nodes.length === this.nodes.length) this.ringCache = r;
        return r;
      } catch (e) {
        last = e;
      }
    }
    if (this.ringCache) return this.ringCache;
    throw last ?? new Error('no node to ask for the ring');
  }

  /** preference: a key's N primaries (node ids) from the full ring. */
  async preference(key: string): Promise<string[]> {
    return preferenceOf(await this.fullRing(), key);
  }

  /** fullRing: the current ring with every node an owner (fetched fresh: a wiped node may rejoin with new tokens). */
  async fullRing(): Promise<RingResponse> {
    const r = await this.ring();
    if (r.nodes.length !== this.nodes.length) throw new Error(`ring has ${r.nodes.length} owners, want ${this.nodes.length}`);
    return r;
  }

  /** waitRing: every given node reports `owners` ring owners and all report one checksum. */
  async waitRing(nodes: NsNode[] = this.nodes.filter((n) => n.available), timeoutMs = 20_000, owners = this.nodes.length): Promise<void> {
    await eventually(
      async () => {
        const sums = new Set<string>();
        for (const n of nodes) {
          const r = await this.agent.ring(n.address);
          if (r.nodes.length !== owners) throw new Error(`${n.id} sees ${r.nodes.length} ring owners, want ${owners}`);
          sums.add(r.checksum);
        }
        if (sums.size !== 1) throw new Error(`ring checksums differ: ${[...sums].join(', ')}`);
      },
      { timeoutMs, intervalMs: 100, what: 'ring convergence' },
    );
  }

  /** liveness: what `observer` thinks of `target`. */
  async liveness(observer: NsNode, target: string): Promise<Liveness> {
    const s = await this.agent.status(observer.address);
    return s.members.find((m) => m.nodeId === target)?.liveness ?? Liveness.LIVENESS_UNSPECIFIED;
  }

  /** waitLiveness: every available node other than target sees target as `want`. */
  async waitLiveness(target: string, want: Liveness, timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    await eventually(
      async () => {
        for (const o of this.nodes.filter((n) => n.available && n.id !== target)) {
          const l = await this.liveness(o, target);
          if (l !== want) throw new Error(`${o.id} sees ${target} as ${Liveness[l]}, want ${Liveness[want]}`);
        }
      },
      { timeoutMs, intervalMs: 100, what: `${target} ${Liveness[want]} everywhere` },
    );
    return Date.now() - t0;
  }

  /** waitAllUp: every node runs and every node sees every other one UP. */
  async waitAllUp(timeoutMs = 30_000): Promise<void> {
    await eventually(
      async () => {
        for (const o of this.nodes) {
          if (!o.available) throw new Error(`${o.id} is not running`);
          const s = await this.agent.status(o.address);
          // A decommissioned member (LEFT, then stopped) stays known; it is no longer expected up.
          const members = s.members.filter((m) => m.status !== MemberStatus.MEMBER_STATUS_LEFT);
          for (const m of members)
            if (m.nodeId !== o.id && m.liveness !== Liveness.LIVENESS_UP) throw new Error(`${o.id} sees ${m.nodeId} as ${Liveness[m.liveness]}`);
          if (members.length < this.nodes.length) throw new Error(`${o.id} knows ${members.length} members`);
        }
      },
      { timeoutMs, intervalMs: 200, what: 'every node UP everywhere' },
    );
  }

  /** hintsLeft lists the non-empty hint backlogs ("n1->n3: 12"). */
  async hintsLeft(): Promise<string[]> {
    const left: string[] = [];
    for (const n of this.nodes.filter((x) => x.available))
      for (const h of (await this.agent.status(n.address)).hints) if (Number(h.count) > 0) left.push(`${n.id}->${h.target}: ${h.count}`);
    return left;
  }

  async waitHintsDrained(timeoutMs = 30_000): Promise<void> {
    await eventually(
      async () => {
        const left = await this.hintsLeft();
        if (left.length) throw new Error(`hints left: ${left.join(', ')}`);
      },
      { timeoutMs, intervalMs: 250, what: 'every hint backlog at 0' },
    );
  }

  /**
   * dumps reads, from each node, its own stored versions of every key it is a primary of
   * (ReplicaRead: no coordination, no repair) and lists them as version ids.
   */
  async dumps(keys: string[]): Promise<{ dumps: Map<string, Map<string, string[]>>; replicasOf: Map<string, string[]>; values: Map<string, Map<string, string[]>> }> {
    const ring = await this.fullRing();
    const replicasOf = new Map<string, string[]>();
    const byNode = new Map<string, string[]>();
    for (const k of keys) {
      const pref = preferenceOf(ring, k);
      replicasOf.set(k, pref);
      for (const id of pref) byNode.set(id, [...(byNode.get(id) ?? []), k]);
    }
    const dumps = new Map<string, Map<string, string[]>>();
    const values = new Map<string, Map<string, string[]>>();
    for (const [id, ks] of byNode) {
      const m = new Map<string, string[]>();
      const vm = new Map<string, string[]>();
      for (let i = 0; i < ks.length; i += 200) {
        const res = await this.agent.replicaRead(this.node(id).address, ks.slice(i, i + 200));
        for (const r of res) {
          if (r.versions.length === 0) continue;
          m.set(r.key, r.versions.map(versionId).sort());
          vm.set(r.key, r.versions.filter((v) => !v.tombstone).map((v) => v.value).sort());
        }
      }
      dumps.set(id, m);
      values.set(id, vm);
    }
    return { dumps, replicasOf, values };
  }

  /** stop kills everything, deletes every namespace and the data directories. */
  async stop(): Promise<void> {
    try {
      this.agent?.close();
      for (const p of this.proxies) p.proc.stdin?.end();
      await Promise.all([...this.nodes, ...this.spares].map((n) => n.signal('SIGKILL').catch(() => undefined)));
    } finally {
      await this.topo.destroy();
      rmSync(this.dataRoot, { recursive: true, force: true });
    }
  }
}
