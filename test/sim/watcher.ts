import type { DkvNode } from '../../src/node/node.js';
import type { WatchEvent as NodeWatchEvent } from '../../src/watch/watch-session.js';
import { decodeToken } from '../../src/watch/token.js';
import type { SeededRandom } from '../../src/time/random.js';
import type { SimCluster } from '../helpers/sim-cluster.js';
import type { HistoryRecorder, WatchEvent } from '../checkers/index.js';

/**
 * SimWatcher is a client watching a prefix for the whole simulation, as the SDK does: it
 * reads the events of one node's watch, and when that node crashes it resumes on another live
 * node with the last token it received (issue 8: "when the serving node goes down, the SDK
 * reconnects to another node with the token"). Events are turned into the checker's form the
 * way a client sees them: a PUT delivers the live values it lists that no earlier event for
 * that key listed (a later event repeats the siblings still live); a DELETE delivers the
 * key's acknowledged deletes.
 */
export class SimWatcher {
  readonly events: WatchEvent[] = [];
  /** since: when the first watch was confirmed (CREATED); earlier writes need not arrive. */
  since: number | undefined;
  resyncs = 0;
  reconnects = 0;
  private node: DkvNode | undefined;
  private close: (() => void) | undefined;
  private token: Buffer | undefined;
  private readonly shown = new Map<string, Set<string>>();

  constructor(
    private readonly sim: SimCluster,
    private readonly rec: HistoryRecorder,
    private readonly random: SeededRandom,
    private readonly prefix: string,
  ) {}

  /** start watches through a random live node and waits until the watch is confirmed. */
  async start(): Promise<void> {
    this.connect();
    await this.sim.until(() => this.since !== undefined, 30_000);
  }

  /** check resumes elsewhere when the serving node is no longer the running instance. */
  check(): void {
    const id = this.node?.id;
    if (this.node && id !== undefined && this.sim.nodes.get(id) === this.node) return;
    this.reconnects++;
    this.connect();
  }

  stop(): void {
    this.close?.();
    this.close = undefined;
  }

  private connect(): void {
    this.stop();
    const live = [...this.sim.nodes.values()].filter((n) => n.membership.selfState().status === 'normal');
    const node = live[this.random.int(live.length)];
    this.node = node;
    const resume = this.token ? decodeToken(this.token) : undefined;
    const session = node.watch({ prefix: Buffer.from(this.prefix) }, resume, (e) => this.onEvent(node, e));
    this.close = () => session.close();
  }

  private onEvent(from: DkvNode, e: NodeWatchEvent): void {
    if (from !== this.node) return;
    this.token = e.token;
    if (e.kind === 'created') {
      this.since ??= this.sim.clock.monotonic();
      return;
    }
    if (e.kind === 'resync') {
      this.resyncs++;
      return;
    }
    const key = e.key!.toString();
    const time = this.sim.clock.monotonic();
    let shown = this.shown.get(key);
    if (!shown) this.shown.set(key, (shown = new Set()));
    for (const v of e.live) {
      const id = this.rec.writeIdOf(v.value.toString());
      if (id === undefined || shown.has(id)) continue;
      shown.add(id);
      this.events.push({ key, writeId: id, kind: 'put', time, context: e.context });
    }
    // A delete (also one folded into a PUT, flagged `deleted`) names no value; its context
    // covers what it deleted.
    if (e.deleted) this.events.push({ key, kind: 'delete', time, context: e.context });
    else if (e.kind === 'put') this.events.push({ key, time, context: e.context });
  }
}
