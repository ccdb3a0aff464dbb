import { status as Status } from '@grpc/grpc-js';
import { DkvClient, DkvRequestError } from '../../src/client/dkv-client.js';
import { checkNoLostWrites, checkNoPhantoms, HistoryRecorder, type FinalState } from '../checkers/index.js';

/**
 * WriteLoad runs `clients` writers, each blind-writing new keys (`${prefix}:${client}:${i}`,
 * one unique value per put) at consistency W through its own node, every operation recorded
 * in a HistoryRecorder (test/checkers) as it is invoked and as it completes: an error answer
 * is 'fail', a deadline 'timeout' (both indeterminate). judge() reads every written key at
 * R = ALL afterwards and runs checkNoLostWrites and checkNoPhantoms over the history.
 */
export class WriteLoad {
  readonly recorder = new HistoryRecorder({ now: () => performance.now() });
  private stopped = false;
  private readonly runs: Promise<void>[];
  acknowledged = 0;
  failed = 0;

  constructor(
    private readonly addresses: string[][],
    private readonly opts: { w: number; n: number; prefix: string; pauseMs?: number },
  ) {
    this.runs = addresses.map((nodes, k) => this.writer(`c${k}`, nodes));
  }

  private async writer(client: string, nodes: string[]): Promise<void> {
    const c = new DkvClient({ nodes, timeoutMs: 5_000, attempts: 1 });
    try {
      for (let i = 0; !this.stopped; i++) {
        const key = `${this.opts.prefix}:${client}:${i}`;
        const op = this.recorder.invoke({ client, kind: 'put', key, consistency: { r: this.opts.w, w: this.opts.w, n: this.opts.n } });
        try {
          await c.put(key, op.value!, { consistency: { w: this.opts.w }, context: Buffer.alloc(0) });
          this.recorder.complete(op, 'ok');
          this.acknowledged++;
        } catch (e) {
          this.recorder.complete(op, e instanceof DkvRequestError && e.code === Status.DEADLINE_EXCEEDED ? 'timeout' : 'fail');
          this.failed++;
        }
        await new Promise((r) => setTimeout(r, this.opts.pauseMs ?? 20));
      }
    } finally {
      c.close();
    }
  }

  /** stop ends the writers and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.runs);
  }

  /** keys lists every key a put was invoked for (acknowledged or not). */
  keys(): string[] {
    return [...new Set(this.recorder.history().map((o) => o.key))];
  }

  /** acknowledgedKeys lists the keys of acknowledged puts. */
  acknowledgedKeys(): string[] {
    return this.recorder.history().filter((o) => o.outcome === 'ok').map((o) => o.key);
  }

  /** judge reads the final state at R = ALL through `reader` and runs the checkers. */
  async judge(reader: DkvClient): Promise<{ lost: ReturnType<typeof checkNoLostWrites>; phantoms: ReturnType<typeof checkNoPhantoms>; final: FinalState }> {
    const values = new Map<string, string[]>();
    const keys = this.keys();
    for (let i = 0; i < keys.length; i += 32)
      await Promise.all(
        keys.slice(i, i + 32).map(async (k) => values.set(k, (await reader.get(k, { level: 'all' })).values.map(String))),
      );
    const final = this.recorder.finalState(values);
    const history = this.recorder.history();
    return { lost: checkNoLostWrites(history, final), phantoms: checkNoPhantoms(history, final), final };
  }
}
