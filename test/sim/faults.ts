import type { SeededRandom } from '../../src/time/random.js';
import type { SimCluster } from '../helpers/sim-cluster.js';

/** Fault is one injected fault, as the schedule drew it (printed in failure reports). */
export interface Fault {
  at: number;
  kind: string;
  detail: string;
}

export const FAULT_KINDS = ['alone', 'majority', 'bridge', 'one-way', 'lossy', 'slow', 'duplicate', 'crash', 'wipe', 'pause', 'skew'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** STRICT_FAULT_KINDS: TESTING.md T3 is T2's partitions with strict requests (no lost disks). */
export const STRICT_FAULT_KINDS: readonly FaultKind[] = ['alone', 'majority', 'bridge', 'one-way', 'lossy', 'slow', 'duplicate', 'pause', 'crash'];

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
 * and duplication, crash and restart, crash with a wiped directory, pauses, and wall-clock skew.
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
