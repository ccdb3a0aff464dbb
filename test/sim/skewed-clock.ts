import type { Clock, Timer } from '../../src/time/clock.js';

/**
 * SkewedClock is one node's view of a shared clock whose wall time is off by skewMs
 * (TESTING.md T7): timers and monotonic time are the shared ones, only now() is skewed, so
 * only decisions that read the wall clock (TTL, hint expiry) can see the skew.
 */
export class SkewedClock implements Clock {
  skewMs = 0;
  constructor(private readonly base: Clock) {}
  now(): number {
    return this.base.now() + this.skewMs;
  }
  monotonic(): number {
    return this.base.monotonic();
  }
  setTimeout(fn: () => void, ms: number): Timer {
    return this.base.setTimeout(fn, ms);
  }
  setInterval(fn: () => void, ms: number): Timer {
    return this.base.setInterval(fn, ms);
  }
  sleep(ms: number): Promise<void> {
    return this.base.sleep(ms);
  }
}
