/**
 * The chaos tier's load: logical clients doing blind writes, read-resolve-writes, deletes and
 * reads on a few hot keys at W = R = 2, each operation recorded in a HistoryRecorder
 * (test/checkers) as it is invoked and as it completes. Requests go through the client worker
 * (ChaosAgent) to a node chosen at random among those whose process runs and is not stopped,
 * as a real client with a node list would do. Nothing is retried: a failed or timed-out write
 * is recorded as such (indeterminate), and the next operation goes on.
 */
import { SeededRandom } from '../../src/time/random.js';
import { HistoryRecorder, type Operation, type Outcome } from '../checkers/index.js';
import { OpError, type ChaosAgent } from './agent.js';
import { clock, type NsNode } from './netns.js';

export const CONSISTENCY = { r: 2, w: 2 } as const;
export const RECORDED = { r: 2, w: 2, n: 3 } as const;

export interface OpCounts {
  /** ok: acknowledged operations of every kind. */
  ok: number;
  /** failed: reads that failed (a failed read changes nothing). */
  failed: number;
  /** indeterminate: writes that failed or timed out (they may or may not have happened). */
  indeterminate: number;
  gets: number;
  puts: number;
  deletes: number;
}

export interface OpMeta {
  node: string;
  error?: string;
  phase: string;
}

const now = clock;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class Workload {
  readonly rec = new HistoryRecorder({ now });
  /** versions: each acknowledged write's version ("actor:counter", from its receipt). */
  readonly versions = new Map<string, string>();
  /** meta: per operation id, the node it went to and its error. */
  readonly meta = new Map<number, OpMeta>();
  readonly counts = new Map<string, OpCounts>();
  /** strictPhases: phases whose every request is strict (primaries only, no sloppy quorum: T3). */
  readonly strictPhases = new Set<string>();

  constructor(
    private readonly agent: ChaosAgent,
    readonly random: SeededRandom,
    private readonly timeoutMs = 4_000,
  ) {}

  countsOf(phase: string): OpCounts {
    let c = this.counts.get(phase);
    if (!c) this.counts.set(phase, (c = { ok: 0, failed: 0, indeterminate: 0, gets: 0, puts: 0, deletes: 0 }));
    return c;
  }

  /**
   * sentTo tallies the requests sent to `nodeId` with an id of at least `from` (a value of
   * rec.count taken earlier) by kind and outcome, with the first error: scenario evidence.
   */
  sentTo(nodeId: string, from: number): string {
    const tally = new Map<string, number>();
    let firstError: string | undefined;
    for (const op of this.rec.history().slice(from)) {
      const m = this.meta.get(op.id);
      if (m?.node !== nodeId) continue;
      const k = `${op.kind} ${Number.isFinite(op.completeTime) ? op.outcome : 'pending'}`;
      tally.set(k, (tally.get(k) ?? 0) + 1);
      firstError ??= m.error;
    }
    if (tally.size === 0) return 'none';
    return `${[...tally].map(([k, n]) => `${k} ${n}`).join(', ')}${firstError ? `; first error: ${firstError.slice(0, 160)}` : ''}`;
  }

  private finish(phase: string, op: Operation, e: unknown): void {
    const outcome: Outcome = e instanceof OpError && e.timeout ? 'timeout' : 'fail';
    this.rec.complete(op, outcome);
    const m = this.meta.get(op.id);
    if (m) m.error = e instanceof Error ? e.message : String(e);
    const c = this.countsOf(phase);
    if (op.kind === 'get') c.failed++;
    else c.indeterminate++;
  }

  private ok(phase: string, op: Operation, values?: string[]): void {
    this.rec.complete(op, 'ok', values ?? []);
    this.countsOf(phase).ok++;
  }

  /** get reads a key at R = 2 (or `r`) and records it; returns the answer or undefined. */
  async get(phase: string, client: string, node: NsNode, key: string, r = 2): Promise<{ op: Operation; context: string } | undefined> {
    const strict = this.strictPhases.has(phase);
    const op = this.rec.invoke({ client, kind: 'get', key, strict, consistency: { ...RECORDED, r } });
    this.meta.set(op.id, { node: node.id, phase });
    this.countsOf(phase).gets++;
    try {
      const a = await this.agent.get(node.address, key, { r, strict }, this.timeoutMs);
      this.ok(phase, op, a.values);
      return { op, context: a.context };
    } catch (e) {
      this.finish(phase, op, e);
      return undefined;
    }
  }

  /** put writes a unique value, blind (no context) or carrying the context of `read`. */
  async put(phase: string, client: string, node: NsNode, key: string, read?: { op: Operation; context: string }, w = 2): Promise<Operation> {
    const strict = this.strictPhases.has(phase);
    const op = this.rec.invoke({ client, kind: 'put', key, strict, consistency: { ...RECORDED, w }, ...(read ? { context: read.op } : {}) });
    this.meta.set(op.id, { node: node.id, phase });
    this.countsOf(phase).puts++;
    try {
      const res = await this.agent.put(node.address, key, op.value!, read?.context ?? '', { w, strict }, this.timeoutMs);
      if (res.receipt?.version) this.versions.set(op.writeId!, res.receipt.version);
      this.ok(phase, op);
    } catch (e) {
      this.finish(phase, op, e);
    }
    return op;
  }

  /** delete removes what `read` saw. */
  async delete(phase: string, client: string, node: NsNode, key: string, read: { op: Operation; context: string }, w = 2): Promise<Operation> {
    const strict = this.strictPhases.has(phase);
    const op = this.rec.invoke({ client, kind: 'delete', key, strict, consistency: { ...RECORDED, w }, context: read.op });
    this.meta.set(op.id, { node: node.id, phase });
    this.countsOf(phase).deletes++;
    try {
      const res = await this.agent.delete(node.address, key, read.context, { w, strict }, this.timeoutMs);
      if (res.receipt?.version) this.versions.set(op.writeId!, res.receipt.version);
      this.ok(phase, op);
    } catch (e) {
      this.finish(phase, op, e);
    }
    return op;
  }

  /**
   * start runs `clients` logical clients on `keys` until stop() (which waits for every
   * operation in flight to complete). Mix per step: 35% a blind put, 20% a get alone, 35% a
   * get then a put carrying its context (read-resolve-write), 10% a get then a delete.
   * Each request goes to a node from `targets()` (running and not stopped), or, one time in
   * ten, from `anyRunning()` (a stopped node too: that request hangs until its deadline, is
   * recorded as timed out, and may still be applied when the node continues).
   */
  start(phase: string, keys: string[], targets: () => NsNode[], anyRunning: () => NsNode[] = targets, clients = 4): { stop: () => Promise<void> } {
    let stopping = false;
    const r = this.random;
    const pick = <T>(xs: T[]) => xs[r.int(xs.length)];
    const choose = (): NsNode | undefined => {
      const nodes = r.next() < 0.1 ? anyRunning() : targets();
      return nodes.length ? pick(nodes) : undefined;
    };
    const loop = async (c: number) => {
      const name = `${phase}/c${c}`;
      while (!stopping) {
        await sleep(2 + r.int(20));
        const node = choose();
        if (!node) {
          await sleep(50);
          continue;
        }
        const key = pick(keys);
        const roll = r.next();
        if (roll < 0.35) {
          await this.put(phase, name, node, key);
          continue;
        }
        const read = await this.get(phase, name, node, key);
        if (!read || roll < 0.55) continue;
        const again = choose();
        if (!again) continue;
        if (roll < 0.9) await this.put(phase, name, again, key, read);
        else await this.delete(phase, name, again, key, read);
      }
    };
    const running = Array.from({ length: clients }, (_, c) => loop(c));
    return {
      stop: async () => {
        stopping = true;
        await Promise.all(running);
      },
    };
  }
}
