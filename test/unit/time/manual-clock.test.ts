import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../src/time/manual-clock.js';

describe('ManualClock', () => {
  it('fires timers in time order and ends an advance at start + ms', async () => {
    const clock = new ManualClock();
    const t0 = clock.monotonic();
    const fired: number[] = [];
    clock.setTimeout(() => fired.push(clock.monotonic() - t0), 30);
    clock.setTimeout(() => fired.push(clock.monotonic() - t0), 10);
    await clock.advance(50);
    expect(fired).toEqual([10, 30]);
    expect(clock.monotonic() - t0).toBe(50);
  });

  // Regression (simulation seed 3584): a timer callback that advanced the clock itself (the
  // simulation restarting a node from inside a fault) was undone when the outer advance ended,
  // so time went backwards and a read appeared to return a write invoked after it completed.
  it('never moves time backwards when an advance runs inside another', async () => {
    const clock = new ManualClock();
    const t0 = clock.monotonic();
    const seen: number[] = [];
    clock.setTimeout(() => void clock.advance(100).then(() => seen.push(clock.monotonic() - t0)), 5);
    await clock.advance(20);
    seen.push(clock.monotonic() - t0);
    expect(seen[0]).toBeGreaterThanOrEqual(105);
    expect(seen[1]).toBeGreaterThanOrEqual(seen[0]);
  });
});
