import { Keyspace, metaKey } from '../../src/storage/keyspace.js';
import type { FaultOp } from '../../src/storage/memory-engine.js';
import type { SeededRandom } from '../../src/time/random.js';
import type { SimCluster } from '../helpers/sim-cluster.js';

/** Fault is one injected fault, as the schedule drew it (printed in failure reports). */
export interface Fault {
  at: number;
  kind: string;
  detail: string;
}

export const FAULT_KINDS = ['alone', 'majority', 'bridge', 'one-way', 'lossy', 'slow', 'duplicate', 'crash', 'crash-point', 'wipe', 'disk-full', 'pause', 'skew'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** STRICT_FAULT_KINDS: TESTING.md T3 is T2's partitions with strict requests (no lost disks). */
export const STRICT_FAULT_KINDS: readonly FaultKind[] = ['alone', 'majority', 'bridge', 'one-way', 'lossy', 'slow', 'duplicate', 'pause', 'crash', 'crash-point', 'disk-full'];

/**
 * CRASH_POINTS (TESTING.md T5): where a 'crash-point' fault kills its node, as kill -9 would,
 * at the first moment the point is reached while the fault is armed:
 * - after-local-write: a data record was just written locally, before any acknowledgement;
 * - mid-hint: a hint was just stored, or just deleted after delivery (mid replay);
 * - mid-stream: a join or decommission stream just confirmed a cursor;
 * - mid-merkle: the node is serving a Merkle exchange (hashes or leaf keys) to a peer.
 */
export const CRASH_POINTS = ['after-local-write', 'mid-hint', 'mid-stream', 'mid-merkle'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

const STREAM_PROGRESS = metaKey('stream-progress');

const pick = <T>(r: SeededRandom, xs: readonly T[]): T => xs[r.int(xs.length)];

function shuffled<T>(r: SeededRandom, xs: readonly T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * FaultScheduler injects one fault at a time for a drawn duration, then heals it, for as
 * long as run() is allowed to go (TESTING.md T2-T8, T15): partitions of every shape (one node
 * alone, majority / minority, a bridge node seeing both sides, one-way), message loss, delay
 * and duplication, crash and restart, crash at a named point (T5), crash with a wiped
 * directory, a full disk (T14), pauses, and wall-clock skew.
 * Every choice comes from the simulation's seeded Random.
 */
export class FaultScheduler {
  readonly injected: Fault[] = [];
  private stopped = false;
  private readonly down = new Set<string>();
  /** protected nodes are under a topology change: they may crash, but are never wiped. */
  private readonly protected = new Set<string>();
  /** paused nodes are stopped processes: they serve no client either. */
  readonly paused = new Set<string>();
  /** retired nodes left the cluster for good: never restarted. */
  private readonly retired = new Set<string>();

  constructor(
    private readonly sim: SimCluster,
    private readonly random: SeededRandom,
    private readonly ids: readonly string[],
  ) {}

  stop(): void {
    this.stopped = true;
  }

  /** run keeps injecting faults until stop(); each lasts 300-3000 ms of simulated time. */
  async run(): Promise<void> {
    while (!this.stopped) {
      await this.sim.clock.sleep(100 + this.random.int(700));
      if (this.stopped) break;
      const heal = await this.inject();
      await this.sim.clock.sleep(300 + this.random.int(2_700));
      await heal();
    }
  }

  /** kinds limits the faults drawn (strict mode draws only partitions, pauses and crashes). */
  kinds: readonly FaultKind[] = FAULT_KINDS;

  protect(id: string): void {
    this.protected.add(id);
  }

  unprotect(id: string): void {
    this.protected.delete(id);
  }

  /** retire: the node has left (decommissioned, or removed after a wipe); never restart it. */
  retire(id: string): void {
    this.retired.add(id);
    this.down.delete(id);
  }

  /** healAll restores every link, clock and node (restarting crashed ones). */
  async healAll(): Promise<void> {
    this.sim.net.heal();
    this.paused.clear();
    for (const c of this.sim.clocks.values()) c.skewMs = 0;
    for (const id of [...this.down]) {
      if (!this.retired.has(id)) await this.sim.restart(id);
      this.down.delete(id);
    }
  }

  /**
   * armCrash makes `victim` crash, as kill -9 would, the first time it reaches `point` (after
   * the write that reaches it applies, before its caller resumes). The caller restarts it (the
   * scheduler at the end of the fault; crashAndRestartAt after a pause).
   */
  armCrash(victim: string, point: CrashPoint): { fired: () => boolean; disarm: () => void } {
    let crashed = false;
    const engine = this.sim.engines.get(victim)!;
    const disarm = () => {
      if (engine.fault === onWrite) engine.fault = undefined;
      if (this.sim.serveHooks.get(victim) === onServe) this.sim.serveHooks.delete(victim);
    };
    const fire = () => {
      if (crashed || this.stopped || !this.sim.nodes.has(victim)) return;
      crashed = true;
      disarm();
      queueMicrotask(() => {
        if (!this.sim.nodes.has(victim)) return;
        void this.sim.crash(victim);
        this.down.add(victim);
        this.record('crash-point', `${victim} crashed at ${point}`);
      });
    };
    const onWrite = (op: FaultOp): undefined => {
      if (op.kind === 'write' && op.ops.some((o) => matchesPoint(point, o.key))) fire();
      return undefined;
    };
    const onServe = (method: string) => {
      if (method === 'merkleHashes' || method === 'merkleLeafKeys') fire();
    };
    if (point === 'mid-merkle') this.sim.serveHooks.set(victim, onServe);
    else engine.fault = onWrite;
    this.record('crash-point', `${victim} armed at ${point}`);
    return { fired: () => crashed, disarm };
  }

  /** crashAndRestartAt arms a crash point on victim and restarts it restartMs after it fires. */
  async crashAndRestartAt(victim: string, point: CrashPoint, restartMs: number): Promise<void> {
    const armed = this.armCrash(victim, point);
    while (!armed.fired() && !this.stopped) await this.sim.clock.sleep(20);
    armed.disarm();
    if (!armed.fired()) return;
    await this.sim.clock.sleep(restartMs);
    if (this.retired.has(victim) || !this.down.has(victim)) return;
    this.down.delete(victim);
    await this.sim.restart(victim);
  }

  private record(kind: string, detail: string): void {
    this.injected.push({ at: this.sim.clock.monotonic(), kind, detail });
  }

  private async inject(): Promise<() => Promise<void>> {
    const r = this.random;
    const net = this.sim.net;
    const live = this.ids.filter((id) => !this.down.has(id) && this.sim.nodes.has(id));
    const order = shuffled(r, this.ids);
    const kind = pick(r, this.kinds);
    switch (kind) {
      case 'alone':
      case 'majority': {
        const cut = kind === 'alone' ? 1 : Math.floor(order.length / 2);
        const [a, b] = [order.slice(0, cut), order.slice(cut)];
        net.partition(a, b);
        this.record('partition', `${a.join(',')} | ${b.join(',')}`);
        return async () => net.heal();
      }
      case 'bridge': {
        // {1,2,3} / {3,4,5}: the bridge node sees both sides, the sides do not see each other.
        const bridge = order[0];
        const rest = order.slice(1);
        const half = Math.ceil(rest.length / 2);
        net.partition(rest.slice(0, half), rest.slice(half));
        this.record('bridge', `${rest.slice(0, half).join(',')} | ${rest.slice(half).join(',')} bridged by ${bridge}`);
        return async () => net.heal();
      }
      case 'one-way': {
        const [a, b] = order;
        net.block(a, b);
        this.record('one-way', `${a} -> ${b} dropped`);
        return async () => net.heal();
      }
      case 'lossy':
      case 'slow':
      case 'duplicate': {
        const fault = kind === 'lossy' ? { drop: 0.5 } : kind === 'slow' ? { delayMs: 25, jitterMs: 100 } : { duplicate: 0.3 };
        for (const a of this.ids) for (const b of this.ids) if (a !== b) net.setFault(a, b, fault);
        this.record(kind, JSON.stringify(fault));
        return async () => net.heal();
      }
      case 'crash-point': {
        const victim = live.length > 1 ? pick(r, live) : undefined;
        if (!victim) return async () => undefined;
        const armed = this.armCrash(victim, pick(r, CRASH_POINTS));
        return async () => {
          armed.disarm();
          if (!armed.fired() || this.retired.has(victim) || !this.down.has(victim)) return;
          await this.sim.restart(victim);
          this.down.delete(victim);
        };
      }
      case 'disk-full': {
        // T14: every write on the victim's disk fails with STORAGE_FULL until space returns.
        const victim = pick(r, live);
        const engine = this.sim.engines.get(victim);
        if (!engine || engine.fault) return async () => undefined;
        const full = (op: FaultOp) => (op.kind === 'write' ? ('STORAGE_FULL' as const) : undefined);
        engine.fault = full;
        this.record('disk-full', victim);
        return async () => {
          if (engine.fault === full) engine.fault = undefined;
        };
      }
      case 'crash':
      case 'wipe': {
        const candidates = kind === 'wipe' ? live.filter((id) => !this.protected.has(id)) : live;
        if (live.length <= 1 || candidates.length === 0) return async () => undefined;
        const victim = pick(r, candidates);
        await this.sim.crash(victim, kind === 'wipe');
        this.down.add(victim);
        this.record(kind, victim);
        return async () => {
          if (this.retired.has(victim) || !this.down.has(victim)) return;
          await this.sim.restart(victim);
          this.down.delete(victim);
        };
      }
      case 'pause': {
        // A paused process neither sends nor answers: cut all its links both ways.
        const victim = pick(r, live);
        net.partition([victim], this.ids.filter((x) => x !== victim));
        this.paused.add(victim);
        this.record('pause', victim);
        return async () => {
          this.paused.delete(victim);
          net.heal();
        };
      }
      case 'skew': {
        const victim = pick(r, this.ids);
        const clock = this.sim.clocks.get(victim)!;
        clock.skewMs = (r.next() < 0.5 ? -1 : 1) * 300_000;
        this.record('skew', `${victim} ${clock.skewMs > 0 ? '+' : ''}${clock.skewMs / 1000}s`);
        return async () => {
          clock.skewMs = 0;
        };
      }
    }
  }
}

function matchesPoint(point: CrashPoint, key: Buffer): boolean {
  if (point === 'after-local-write') return key[0] === Keyspace.Data;
  if (point === 'mid-hint') return key[0] === Keyspace.Hint;
  return point === 'mid-stream' && key.equals(STREAM_PROGRESS);
}
