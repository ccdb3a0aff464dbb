/**
 * ChaosAgent: the host-side handle of the client worker (agent-worker.ts) that runs inside the
 * topology's client namespace. The test process never opens a socket to a node: it sends each
 * request to the worker over a pipe, and the worker sends it to the node over the private
 * bridge. Every node address goes through assertTestTarget here as well as in the worker.
 */
import { createInterface } from 'node:readline';
import type { ChildProcess } from 'node:child_process';
import type { ConsistencyOptions } from '../../src/client/dkv-client.js';
import type { CleanupResponse, DecommissionResponse, StatusResponse, RingResponse } from '../../src/generated/dkv/v1/admin.js';
import type { Receipt } from '../../src/generated/dkv/v1/kv.js';
import { assertTestTarget } from '../helpers/target-guard.js';
import type { Topology } from './netns.js';

/** OpError is a failed request: gRPC status code (or -1: agent / transport trouble) and message. */
export class OpError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    readonly dkvCode: string | undefined,
    message: string,
  ) {
    super(`${codeName}: ${message}`);
    this.name = 'OpError';
  }
  /** timeout: no answer in time (DEADLINE_EXCEEDED, or the agent's own guard). */
  get timeout(): boolean {
    return this.code === 4 || this.code === -2;
  }
}

export interface ReadAnswer {
  values: string[];
  /** context: base64. */
  context: string;
  receipt?: Receipt;
}

/** AgentWatchEvent: one watch event as the worker reports it (values as strings; at: worker's Date.now()). */
export interface AgentWatchEvent {
  kind: 'created' | 'put' | 'delete' | 'expire' | 'resync';
  key: string;
  values: string[];
  /** context: the event's causal context (base64 of dkv.record.v1 context); deleted: it carries a delete. */
  context?: string;
  deleted?: boolean;
  at: number;
}

export interface ReplicaVersion {
  actor: string;
  counter: number;
  tombstone: boolean;
  value: string;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class ChaosAgent {
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly stderr: string[] = [];
  private exited = false;
  private nextWatch = 1;
  private readonly watchers = new Map<number, { onEvent: (e: AgentWatchEvent) => void; onEnd: (why: string) => void }>();

  private constructor(
    private readonly proc: ChildProcess,
    private readonly allowed: ReadonlySet<string>,
  ) {}

  static async start(topo: Topology): Promise<ChaosAgent> {
    const proc = topo.spawn(topo.clientNs, [process.execPath, '--import', 'tsx', 'test/chaos/agent-worker.ts'], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, DKV_CHAOS_ALLOWED: [...topo.allowed].join(',') },
    });
    const agent = new ChaosAgent(proc, topo.allowed);
    createInterface({ input: proc.stderr! }).on('line', (l) => {
      agent.stderr.push(l);
      if (agent.stderr.length > 200) agent.stderr.shift();
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`client worker did not start within 30 s: ${agent.stderr.join('\n')}`)), 30_000);
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        let m: { id?: number; ready?: boolean; ok?: boolean; result?: unknown; error?: { code: number; codeName: string; dkvCode?: string; message: string } };
        try {
          m = JSON.parse(l);
        } catch {
          agent.stderr.push(`(stdout) ${l}`);
          return;
        }
        const wm = m as { watch?: number; event?: AgentWatchEvent; end?: string };
        if (wm.watch !== undefined) {
          const w = agent.watchers.get(wm.watch);
          if (w && wm.event) w.onEvent(wm.event);
          if (w && wm.end !== undefined) w.onEnd(wm.end);
          return;
        }
        if (m.ready) {
          clearTimeout(timer);
          resolve();
          return;
        }
        const p = m.id === undefined ? undefined : agent.pending.get(m.id);
        if (!p) return;
        agent.pending.delete(m.id!);
        clearTimeout(p.timer);
        if (m.ok) p.resolve(m.result);
        else p.reject(new OpError(m.error!.code, m.error!.codeName, m.error!.dkvCode, m.error!.message));
      });
      proc.once('exit', (code, sig) => {
        agent.exited = true;
        clearTimeout(timer);
        reject(new Error(`client worker exited (${code ?? sig}): ${agent.stderr.join('\n')}`));
        for (const [, p] of agent.pending) {
          clearTimeout(p.timer);
          p.reject(new OpError(-1, 'AGENT', undefined, `client worker exited (${code ?? sig})`));
        }
        agent.pending.clear();
      });
    });
    return agent;
  }

  /** call sends one request; the host guard answers 'timeout' if the worker stays silent. */
  call<T>(req: Record<string, unknown> & { op: string; node: string; timeoutMs?: number }): Promise<T> {
    assertTestTarget(req.node, this.allowed);
    if (this.exited) return Promise.reject(new OpError(-1, 'AGENT', undefined, 'client worker is not running'));
    const id = this.next++;
    const guardMs = (req.timeoutMs ?? 4_000) + 5_000;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new OpError(-2, 'AGENT_TIMEOUT', undefined, `no answer from the client worker within ${guardMs} ms`));
      }, guardMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.proc.stdin!.write(JSON.stringify({ id, ...req }) + '\n');
    });
  }

  get(node: string, key: string, consistency: ConsistencyOptions, timeoutMs = 4_000): Promise<ReadAnswer> {
    return this.call({ op: 'get', node, key, consistency, timeoutMs });
  }
  put(node: string, key: string, value: string, context: string, consistency: ConsistencyOptions, timeoutMs = 4_000): Promise<{ receipt?: Receipt }> {
    return this.call({ op: 'put', node, key, value, context, consistency, timeoutMs });
  }
  delete(node: string, key: string, context: string, consistency: ConsistencyOptions, timeoutMs = 4_000): Promise<{ receipt?: Receipt }> {
    return this.call({ op: 'delete', node, key, context, consistency, timeoutMs });
  }
  status(node: string, timeoutMs = 2_000): Promise<StatusResponse> {
    return this.call({ op: 'status', node, timeoutMs });
  }
  /** decommission asks `node` itself to leave (SDK Admin.decommission); it streams its ranges, then is LEFT. */
  decommission(node: string, timeoutMs = 10_000): Promise<DecommissionResponse> {
    return this.call({ op: 'decommission', node, timeoutMs });
  }
  /** cleanup makes `node` delete what it no longer replicates (SDK Admin.cleanup). */
  cleanup(node: string, timeoutMs = 60_000): Promise<CleanupResponse> {
    return this.call({ op: 'cleanup', node, timeoutMs });
  }
  ring(node: string, timeoutMs = 2_000): Promise<RingResponse> {
    return this.call({ op: 'ring', node, timeoutMs });
  }
  replicaRead(node: string, keys: string[], timeoutMs = 4_000): Promise<{ key: string; versions: ReplicaVersion[] }[]> {
    return this.call({ op: 'replicaRead', node, keys, timeoutMs });
  }

  /**
   * watch starts an SDK watch on `prefix` in the worker, able to resume on any of `nodes`;
   * events arrive through onEvent until stop().
   */
  async watch(nodes: string[], prefix: string, onEvent: (e: AgentWatchEvent) => void, onEnd: (why: string) => void): Promise<{ stop: () => Promise<void> }> {
    for (const n of nodes) assertTestTarget(n, this.allowed);
    const id = this.nextWatch++;
    this.watchers.set(id, { onEvent, onEnd });
    await this.call({ op: 'watchStart', node: nodes[0], nodes, prefix, watch: id });
    return {
      stop: async () => {
        await this.call({ op: 'watchStop', node: nodes[0], watch: id }).catch(() => undefined);
        this.watchers.delete(id);
      },
    };
  }

  get logs(): string[] {
    return [...this.stderr];
  }

  close(): void {
    if (!this.exited) this.proc.stdin!.end();
  }
}
