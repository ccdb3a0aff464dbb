import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { DkvClient } from '../../src/client/dkv-client.js';
import { assertTestTarget } from './target-guard.js';
import { eventually } from './eventually.js';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/cli/main.js');

export interface NodeOptions {
  id: string;
  seeds?: string[];
  extraArgs?: string[];
  /** port to listen on; 0 (default) picks a free one. A restart reuses the first port. */
  port?: number;
  dataDir?: string;
}

/**
 * TestNode is one real `dkv serve` process on 127.0.0.1 with its own data directory. The
 * process is spawned directly (node dist/cli/main.js) so signals reach it, not a wrapper.
 */
export class TestNode {
  proc: ChildProcess | undefined;
  address = '';
  port = 0;
  readonly dataDir: string;
  logs: string[] = [];
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;

  constructor(
    readonly opts: NodeOptions,
    readonly baseDir: string,
  ) {
    this.dataDir = opts.dataDir ?? join(baseDir, opts.id);
    this.port = opts.port ?? 0;
  }

  get id(): string {
    return this.opts.id;
  }

  /** start spawns the process and resolves once it prints its "serving" line. */
  async start(extra: string[] = []): Promise<void> {
    const args = [
      CLI, 'serve',
      '--listen', `127.0.0.1:${this.port}`,
      '--node-id', this.opts.id,
      '--data-dir', this.dataDir,
      '--gossip-interval', '100ms',
      '--log-level', process.env.DKV_TEST_LOG ?? 'info',
      ...(this.opts.seeds?.length ? ['--seeds', this.opts.seeds.join(',')] : []),
      ...(this.opts.extraArgs ?? []),
      ...extra,
    ];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    this.exitCode = null;
    this.exitSignal = null;
    proc.on('exit', (code, signal) => {
      this.exitCode = code;
      this.exitSignal = signal;
    });
    createInterface({ input: proc.stderr! }).on('line', (l) => {
      this.logs.push(l);
      if (process.env.DKV_TEST_LOG) process.stderr.write(`[${this.id}] ${l}\n`);
    });
    const serving = await new Promise<string>((resolvePromise, reject) => {
      const rl = createInterface({ input: proc.stdout! });
      const timer = setTimeout(() => reject(new Error(`${this.id} did not start within 15 s:\n${this.logs.join('\n')}`)), 15_000);
      rl.on('line', (l) => {
        const m = /^serving (\S+) (\S+)$/.exec(l);
        if (m) {
          clearTimeout(timer);
          resolvePromise(m[2]);
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.id} exited with ${code} before serving:\n${this.logs.join('\n')}`));
      });
    });
    this.address = assertTestTarget(serving);
    this.port = Number(serving.slice(serving.lastIndexOf(':') + 1));
  }

  get running(): boolean {
    return !!this.proc && this.exitCode === null && this.exitSignal === null;
  }

  /** kill sends a signal and, for SIGKILL / SIGTERM, waits for the process to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    if (signal === 'SIGKILL' || signal === 'SIGTERM' || signal === 'SIGINT') await exited;
  }

  client(opts: Partial<ConstructorParameters<typeof DkvClient>[0]> = {}): DkvClient {
    return new DkvClient({ nodes: [this.address], timeoutMs: 5_000, ...opts });
  }
}

/** Cluster is a set of TestNodes in one temp directory, removed by stop(). */
export class Cluster {
  readonly nodes: TestNode[] = [];
  readonly dir = mkdtempSync(join(tmpdir(), 'dkv-test-'));
  private clients: DkvClient[] = [];

  /** add starts a node; nodes after the first seed from the first. Joins are one at a time. */
  async add(id: string, extraArgs: string[] = []): Promise<TestNode> {
    const seeds = this.nodes.length ? [this.nodes[0].address] : [];
    const node = new TestNode({ id, seeds, extraArgs }, this.dir);
    this.nodes.push(node);
    await node.start();
    return node;
  }

  /**
   * start runs n nodes and waits until every node sees the same ring with all of them (each
   * join within convergeMs: throttled streams on a loaded machine need more than the default).
   */
  static async start(n: number, extraArgs: string[] = [], convergeMs = 15_000): Promise<Cluster> {
    const c = new Cluster();
    try {
      for (let i = 1; i <= n; i++) {
        await c.add(`n${i}`, extraArgs);
        await c.converged(i, convergeMs);
      }
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  node(id: string): TestNode {
    const n = this.nodes.find((x) => x.id === id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  client(nodes: TestNode[] = this.nodes, opts: Partial<ConstructorParameters<typeof DkvClient>[0]> = {}): DkvClient {
    const c = new DkvClient({ nodes: nodes.filter((n) => n.running).map((n) => n.address), timeoutMs: 5_000, ...opts });
    this.clients.push(c);
    return c;
  }

  /** converged waits until every running node reports `owners` ring owners and one checksum. */
  async converged(owners = this.nodes.filter((n) => n.running).length, timeoutMs = 15_000): Promise<string> {
    return eventually(
      async () => {
        const sums = new Set<string>();
        for (const n of this.nodes.filter((x) => x.running)) {
          const c = n.client();
          try {
            const r = await c.ring();
            if (r.nodes.length !== owners) throw new Error(`${n.id} sees ${r.nodes.length} ring owners, want ${owners}`);
            sums.add(r.checksum);
          } finally {
            c.close();
          }
        }
        if (sums.size !== 1) throw new Error(`ring checksums differ: ${[...sums].join(', ')}`);
        return [...sums][0];
      },
      { timeoutMs, what: 'ring convergence' },
    );
  }

  /**
   * settle waits until every running node can reach every other one again (after restarts,
   * peers' channels reconnect with backoff): a write at W = ALL through each node succeeds.
   */
  async settle(timeoutMs = 15_000): Promise<void> {
    const running = this.nodes.filter((n) => n.running);
    await eventually(
      async () => {
        for (const n of running) {
          const c = n.client({ attempts: 1 });
          try {
            for (let i = 0; i < 8; i++) await c.put(`__settle:${n.id}:${Date.now()}:${i}`, 'x', { consistency: { level: 'all' } });
          } finally {
            c.close();
          }
        }
      },
      { timeoutMs, what: 'every node reaching every other' },
    );
  }

  async stop(): Promise<void> {
    for (const c of this.clients) c.close();
    await Promise.all(this.nodes.map((n) => n.kill('SIGKILL')));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
