import type { Clock, Timer } from './clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
  every?: number;
  cancelled: boolean;
}

/**
 * ManualClock is the deterministic twin of SystemClock: time moves only when advance() is
 * called, and due timers fire in (time, creation order). `skewMs` offsets now() only, to
 * simulate a node whose wall clock is wrong (TESTING.md T7) while monotonic time stays shared.
 */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private pending: Pending[] = [];
  skewMs = 0;

  constructor(startMs = 1_700_000_000_000) {
    this.t = startMs;
  }

  now(): number {
    return this.t + this.skewMs;
  }
  monotonic(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    return this.schedule(fn, Math.max(0, ms));
  }
  setInterval(fn: () => void, ms: number): Timer {
    return this.schedule(fn, Math.max(1, ms), Math.max(1, ms));
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.setTimeout(resolve, ms));
  }

  /** pendingCount is the number of timers not yet fired or cancelled. */
  pendingCount(): number {
    return this.pending.filter((p) => !p.cancelled).length;
  }

  /**
   * advance moves time forward by ms, firing every timer due on the way in order. Timers
   * scheduled by fired callbacks fire too if they fall inside the window. Between timers it
   * yields to the microtask queue so promise chains started by a timer run before the next.
   */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flushMicrotasks();
      const next = this.popDue(end);
      if (!next) break;
      this.t = Math.max(this.t, next.at);
      if (next.every !== undefined) {
        next.at = this.t + next.every;
        next.seq = this.seq++;
        this.pending.push(next);
      }
      next.fn();
    }
    // A nested advance (a timer callback that advanced the clock itself) may have gone past end.
    this.t = Math.max(this.t, end);
    await flushMicrotasks();
  }

  private schedule(fn: () => void, ms: number, every?: number): Timer {
    const p: Pending = { at: this.t + ms, seq: this.seq++, fn, every, cancelled: false };
    this.pending.push(p);
    return {
      cancel: () => {
        p.cancelled = true;
      },
    };
  }

  private popDue(end: number): Pending | undefined {
    this.pending = this.pending.filter((p) => !p.cancelled);
    let best: Pending | undefined;
    for (const p of this.pending) {
      if (p.at > end) continue;
      if (!best || p.at < best.at || (p.at === best.at && p.seq < best.seq)) best = p;
    }
    if (best) this.pending.splice(this.pending.indexOf(best), 1);
    return best;
  }
}

/** flushMicrotasks lets queued promise callbacks run (several turns, for chained awaits). */
export async function flushMicrotasks(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}
