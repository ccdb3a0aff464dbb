/**
 * Clock: the only source of time in dkv. Everything that reads the time or waits takes a
 * Clock, so a whole cluster can run under a ManualClock in one process (FoundationDB-style
 * simulation). Only the composition root (node/) creates a SystemClock.
 */
export interface Timer {
  /** cancel stops the timer; cancelling a fired or cancelled timer does nothing. */
  cancel(): void;
}

export interface Clock {
  /** now is wall-clock milliseconds since the Unix epoch. Only TTL and hint expiry may use it for decisions. */
  now(): number;
  /** monotonic is milliseconds from an arbitrary origin that never goes backwards (timeouts, rates). */
  monotonic(): number;
  /** setTimeout runs fn once after ms milliseconds. */
  setTimeout(fn: () => void, ms: number): Timer;
  /** setInterval runs fn every ms milliseconds until cancelled. */
  setInterval(fn: () => void, ms: number): Timer;
  /** sleep resolves after ms milliseconds. */
  sleep(ms: number): Promise<void>;
}

/** SystemClock is the real clock; timers are unref'd so they never keep a process alive alone. */
export class SystemClock implements Clock {
  now(): number {
    return Date.now();
  }
  monotonic(): number {
    return performance.now();
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const t = setTimeout(fn, ms);
    t.unref();
    return { cancel: () => clearTimeout(t) };
  }
  setInterval(fn: () => void, ms: number): Timer {
    const t = setInterval(fn, ms);
    t.unref();
    return { cancel: () => clearInterval(t) };
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }
}
