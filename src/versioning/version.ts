/**
 * Version: one sibling of a key (a value or a tombstone) with its dotted version vector
 * (Preguiça et al. 2010). This file holds the type, its constructor and the invariant check
 * shared by the constructor and the record codec, so nothing that could not be read back is
 * ever written.
 */
import { type Dot, type VersionVector, vvEntries, vvGet } from './dvv.js';

/**
 * Version is one stored sibling. It is a Dvv (dot + past), so every function of dvv.ts applies.
 * Invariants (see versionProblem): the dot has a non-empty actor and a counter ≥ 1; past holds
 * counters ≥ 1 for non-empty actors; the dot is newer than past[dot.actor]; a tombstone's value
 * is empty; both times are safe non-negative integers.
 */
export interface Version {
  /** dot identifies the write that created this version. */
  readonly dot: Dot;
  /** past is the context the writer had seen (never includes the dot itself). */
  readonly past: VersionVector;
  /** value is the stored bytes; empty for a tombstone. Never mutate: it may share memory. */
  readonly value: Buffer;
  /** tombstone marks a delete. */
  readonly tombstone: boolean;
  /** expiresAtMs is the absolute expiry in Unix ms; 0 means never. */
  readonly expiresAtMs: number;
  /** writtenAtMs is the coordinator's wall clock at the write; informational, never compared. */
  readonly writtenAtMs: number;
}

/** VersionFields are the parts of a version the caller chooses; the dot and past come from the write. */
export interface VersionFields {
  readonly value: Buffer;
  /** tombstone defaults to false. */
  readonly tombstone?: boolean;
  /** expiresAtMs defaults to 0 (never). */
  readonly expiresAtMs?: number;
  /** writtenAtMs defaults to 0. */
  readonly writtenAtMs?: number;
}

/** MAX_ACTOR_LENGTH bounds an actor string (UTF-16 units); node ids plus incarnation fit easily. */
export const MAX_ACTOR_LENGTH = 256;

function isCounter(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 1;
}

/** dotProblem describes why a dot is malformed, or returns undefined when it is valid. */
export function dotProblem(dot: Dot | undefined): string | undefined {
  if (dot === undefined) return 'missing dot';
  if (typeof dot.actor !== 'string' || dot.actor.length === 0) return 'dot has an empty actor';
  if (dot.actor.length > MAX_ACTOR_LENGTH) return `dot actor longer than ${MAX_ACTOR_LENGTH}`;
  if (!isCounter(dot.counter)) return `dot counter ${String(dot.counter)} is not a safe integer ≥ 1`;
  return undefined;
}

/** versionProblem describes the first broken invariant of v, or returns undefined when v is valid. */
export function versionProblem(v: Version): string | undefined {
  const bad = dotProblem(v.dot);
  if (bad !== undefined) return bad;
  for (const [actor, counter] of v.past) {
    if (actor.length === 0) return 'past has an empty actor';
    if (actor.length > MAX_ACTOR_LENGTH) return `past actor longer than ${MAX_ACTOR_LENGTH}`;
    if (!isCounter(counter)) return `past counter ${String(counter)} for ${actor} is not a safe integer ≥ 1`;
  }
  if (v.dot.counter <= vvGet(v.past, v.dot.actor)) {
    return `dot ${v.dot.actor}:${v.dot.counter} is covered by its own past`;
  }
  if (!Buffer.isBuffer(v.value)) return 'value is not a Buffer';
  if (v.tombstone && v.value.length !== 0) return 'tombstone carries a value';
  if (!Number.isSafeInteger(v.expiresAtMs) || v.expiresAtMs < 0) return 'expiresAtMs is not a safe integer ≥ 0';
  if (!Number.isSafeInteger(v.writtenAtMs) || v.writtenAtMs < 0) return 'writtenAtMs is not a safe integer ≥ 0';
  return undefined;
}

/**
 * newVersion builds the version a coordinator stores for a write: `past` is exactly the
 * client's context, as DVV requires. Throws RangeError when an invariant would break (a dot
 * not newer than the context means the caller did not use nextDot).
 */
export function newVersion(dot: Dot, context: VersionVector, fields: VersionFields): Version {
  const v: Version = {
    dot: { actor: dot.actor, counter: dot.counter },
    past: context,
    value: fields.value,
    tombstone: fields.tombstone ?? false,
    expiresAtMs: fields.expiresAtMs ?? 0,
    writtenAtMs: fields.writtenAtMs ?? 0,
  };
  const bad = versionProblem(v);
  if (bad !== undefined) throw new RangeError(`newVersion: ${bad}`);
  return v;
}

/**
 * isExpired says whether the version's TTL has passed at nowMs (expiresAtMs ≠ 0 and
 * ≤ nowMs). Only reads consult it: expiry never decides causality.
 */
export function isExpired(v: Version, nowMs: number): boolean {
  return v.expiresAtMs !== 0 && v.expiresAtMs <= nowMs;
}

/**
 * compareContent is a total order on everything but the dot (tombstone, expiry, write time,
 * value bytes, past). Two copies of one write are always equal under it; sync uses it only to
 * pick deterministically between copies that disagree (which a correct system never makes).
 */
export function compareContent(a: Version, b: Version): number {
  if (a.tombstone !== b.tombstone) return a.tombstone ? 1 : -1;
  if (a.expiresAtMs !== b.expiresAtMs) return a.expiresAtMs - b.expiresAtMs;
  if (a.writtenAtMs !== b.writtenAtMs) return a.writtenAtMs - b.writtenAtMs;
  const byValue = Buffer.compare(a.value, b.value);
  if (byValue !== 0) return byValue;
  const pa = vvEntries(a.past);
  const pb = vvEntries(b.past);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i][0] !== pb[i][0]) return pa[i][0] < pb[i][0] ? -1 : 1;
    if (pa[i][1] !== pb[i][1]) return pa[i][1] - pb[i][1];
  }
  return pa.length - pb.length;
}
