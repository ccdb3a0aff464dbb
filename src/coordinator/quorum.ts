import { DkvError, invalidArgument } from '../errors.js';
import type { ConsistencyName } from '../node/config.js';

/** ConsistencyRequest is a request's consistency choice in domain terms (SPEC section 3). */
export interface ConsistencyRequest {
  /** level applies to R and W unless r / w is given; undefined = the node default. */
  level?: ConsistencyName;
  /** r is an explicit read quorum. */
  r?: number;
  /** w is an explicit write quorum. */
  w?: number;
  /** strict counts primaries only (no sloppy quorum). */
  strict: boolean;
}

export function levelCount(level: ConsistencyName, n: number): number {
  switch (level) {
    case 'one':
      return 1;
    case 'quorum':
      return Math.floor(n / 2) + 1;
    case 'all':
      return n;
  }
}

/**
 * required is how many replica replies a read ('r') or a write ('w') needs. `configuredN` is
 * the cluster's N, `effectiveN` = min(N, nodes owning tokens): a cluster smaller than N
 * serves with what it has, so level counts use effectiveN. An explicit r / w outside
 * [1, configuredN] is INVALID_ARGUMENT; one above effectiveN cannot be met and is UNAVAILABLE.
 */
export function required(c: ConsistencyRequest, kind: 'r' | 'w', configuredN: number, effectiveN: number, fallbackLevel: ConsistencyName): number {
  const explicit = kind === 'r' ? c.r : c.w;
  if (explicit !== undefined && explicit !== 0) {
    if (!Number.isInteger(explicit) || explicit < 1 || explicit > configuredN)
      throw invalidArgument(`consistency.${kind}`, `must be in [1, N=${configuredN}], got ${explicit}`, configuredN);
    if (explicit > effectiveN)
      throw new DkvError('QUORUM_UNAVAILABLE', `consistency.${kind}=${explicit} needs ${explicit} replicas but the cluster has only ${effectiveN} node(s) owning data`, { needed: explicit, available: effectiveN });
    return explicit;
  }
  return levelCount(c.level ?? fallbackLevel, effectiveN);
}

/** ReplyTally counts replies against a quorum (pure state, no I/O). */
export interface ReplyTally {
  readonly needed: number;
  readonly total: number;
  ok: number;
  failed: number;
}

export function newTally(needed: number, total: number): ReplyTally {
  return { needed, total, ok: 0, failed: 0 };
}

/** outcome is 'met' once `needed` replies succeeded, 'impossible' once too many failed to ever meet it. */
export function outcome(t: ReplyTally): 'met' | 'impossible' | 'pending' {
  if (t.ok >= t.needed) return 'met';
  if (t.total - t.failed < t.needed) return 'impossible';
  return 'pending';
}

/**
 * checkQuorums validates both explicit counts of a request, also the one the operation does
 * not use (a Put with r = 4 is as malformed as a Get with r = 4).
 */
export function checkQuorums(c: ConsistencyRequest, configuredN: number): void {
  for (const kind of ['r', 'w'] as const) {
    const v = c[kind];
    if (v !== undefined && v !== 0 && (!Number.isInteger(v) || v < 1 || v > configuredN))
      throw invalidArgument(`consistency.${kind}`, `must be in [1, N=${configuredN}], got ${v}`, configuredN);
  }
}
