/**
 * Test-only crash points for the chaos tier (TESTING.md T5: "crash points").
 *
 * DKV_CRASH_AT=<point>:<count>[,<point>:<count>...] makes the process kill itself with SIGKILL
 * (exactly what `kill -9` does: no cleanup, no flush, nothing written after) the <count>-th time
 * execution reaches the named point. The points sit in windows a crash must not corrupt:
 *
 *   coordinator.local-written  a primary coordinating a write has stored it locally, no replica
 *                              has it yet and the client has no answer
 *   hints.delivered            a hint batch was stored by its target but not yet deleted here
 *   stream.merged              a range stream chunk was stored by the joining / rejoining node,
 *                              its cursor not yet saved
 *   merkle.exchange            an anti-entropy exchange that found differing leaves is under
 *                              way: this node wrote a repair (pulled records merged here, or
 *                              records pushed to the peer), or a peer just asked it for the keys
 *                              under differing leaves; the rest of the exchange not yet done
 *
 * Without DKV_CRASH_AT (production) crashPoint() returns at its first test of an empty map. The
 * variable is read once, at startup; a malformed value stops the node from starting.
 */
import { writeSync } from 'node:fs';

export const CRASH_POINTS = ['coordinator.local-written', 'hints.delivered', 'stream.merged', 'merkle.exchange'] as const;
export type CrashPointName = (typeof CRASH_POINTS)[number];

/** parseCrashAt reads a DKV_CRASH_AT value into point -> count (count >= 1). */
export function parseCrashAt(spec: string | undefined): Map<CrashPointName, number> {
  const out = new Map<CrashPointName, number>();
  if (!spec) return out;
  for (const part of spec.split(',')) {
    const m = /^([a-z.-]+):([1-9][0-9]{0,6})$/.exec(part.trim());
    if (!m || !(CRASH_POINTS as readonly string[]).includes(m[1]))
      throw new Error(`DKV_CRASH_AT: expected <point>:<count> with point one of ${CRASH_POINTS.join(', ')}, got ${JSON.stringify(part)}`);
    out.set(m[1] as CrashPointName, Number(m[2]));
  }
  return out;
}

/** CrashPoints counts arrivals at each armed point and calls `die` at the armed count. */
export class CrashPoints {
  private readonly left: Map<CrashPointName, number>;

  constructor(
    armed: Map<CrashPointName, number>,
    private readonly die: (point: CrashPointName) => void,
  ) {
    this.left = new Map(armed);
  }

  reach(point: CrashPointName): void {
    if (this.left.size === 0) return;
    const n = this.left.get(point);
    if (n === undefined) return;
    if (n > 1) {
      this.left.set(point, n - 1);
      return;
    }
    this.left.delete(point);
    this.die(point);
  }
}

function selfKill(point: CrashPointName): never {
  // Written synchronously so the test can tell this exit from any other; then the same signal as kill -9.
  try {
    writeSync(2, `${new Date().toISOString()} ERROR [crash-point] DKV_CRASH_AT: crashing at ${point} (SIGKILL to self)\n`);
  } finally {
    process.kill(process.pid, 'SIGKILL');
  }
  throw new Error('unreachable');
}

const points = new CrashPoints(parseCrashAt(process.env.DKV_CRASH_AT), selfKill);

/** crashPoint marks a named window (see above); a no-op unless DKV_CRASH_AT arms it. */
export function crashPoint(point: CrashPointName): void {
  points.reach(point);
}
