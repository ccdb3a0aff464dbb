/**
 * record-codec: the bytes of a stored record (dkv.record.v1.Record) and of the opaque client
 * context (dkv.record.v1.Context), and the conversion to and from the generated messages the
 * internode layer ships. This file and the transports are the only users of the generated
 * record types; the rest of the core speaks Version and VersionVector (dotted version
 * vectors, Preguiça et al. 2010).
 *
 * Contracts:
 * - Encoding is canonical: versions in dot order, past entries in actor order, zero fields
 *   omitted, so equal sibling sets give equal bytes on every replica.
 * - Encoding refuses (RangeError) a version that decoding would reject, so nothing unreadable
 *   is ever stored.
 * - decodeRecord/recordFromProto throw RecordCorruptError on anything malformed; the decoded
 *   values are fresh Buffers (the generated decoder copies them), safe to keep.
 * - decodeContext throws ContextError for client-supplied garbage (the API maps it to
 *   INVALID_ARGUMENT); an empty buffer is the empty context of a blind write.
 */
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import {
  Context as ContextMsg,
  type Dot as DotMsg,
  Record as RecordMsg,
  type Version as VersionMsg,
} from '../generated/dkv/record/v1/record.js';
import { type VersionVector, dotCompare, vvEntries } from '../versioning/dvv.js';
import { sortedByDot } from '../versioning/siblings.js';
import { type Version, MAX_ACTOR_LENGTH, versionProblem } from '../versioning/version.js';

/** MAX_CONTEXT_ENTRIES bounds the actors a client context may name. */
export const MAX_CONTEXT_ENTRIES = 1000;

/** MAX_COUNTER bounds a context counter: no node issues that many dots, so a larger one is forged. */
export const MAX_COUNTER = 2 ** 48;

/** ContextError: the client context bytes are not a valid context. code is stable. */
export class ContextError extends Error {
  readonly code = 'INVALID_CONTEXT' as const;
  constructor(message: string, options?: ErrorOptions) {
    super(`invalid context: ${message}`, options);
    this.name = 'ContextError';
  }
}

/** RecordCorruptError: stored or received record bytes break the record invariants. code is stable. */
export class RecordCorruptError extends Error {
  readonly code = 'RECORD_CORRUPT' as const;
  constructor(message: string, options?: ErrorOptions) {
    super(`corrupt record: ${message}`, options);
    this.name = 'RecordCorruptError';
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * One writer reused by every encode: encoding is synchronous, so calls never interleave, and
 * reuse halves the cost of a typical record (no per-call buffer growth). finish() copies the
 * bytes out and resets it. A writer that grew past REUSE_LIMIT, or an encode that threw
 * halfway, is replaced so no large buffer or half-written state is kept.
 */
const REUSE_LIMIT = 256 * 1024;
let writer = new BinaryWriter();

function finishWith(encode: (w: BinaryWriter) => BinaryWriter): Buffer {
  let out: Uint8Array;
  try {
    out = encode(writer).finish();
  } catch (err) {
    writer = new BinaryWriter();
    throw err;
  }
  if (out.byteLength > REUSE_LIMIT) writer = new BinaryWriter();
  return asBuffer(out);
}

function vvToDots(vv: VersionVector): DotMsg[] {
  return vvEntries(vv).map(([actor, counter]) => ({ actor, counter }));
}

function versionToProto(v: Version): VersionMsg {
  const bad = versionProblem(v);
  if (bad !== undefined) throw new RangeError(`refusing to encode an invalid version: ${bad}`);
  return {
    dot: { actor: v.dot.actor, counter: v.dot.counter },
    past: vvToDots(v.past),
    value: v.value,
    tombstone: v.tombstone,
    expiresAtMs: v.expiresAtMs,
    writtenAtMs: v.writtenAtMs,
  };
}

/**
 * recordToProto converts a sibling set to the generated message, versions in dot order.
 * Values are shared, not copied. Throws RangeError on an invalid version or a repeated dot.
 */
export function recordToProto(versions: readonly Version[]): RecordMsg {
  const ordered = sortedByDot(versions);
  for (let i = 1; i < ordered.length; i++) {
    if (dotCompare(ordered[i - 1].dot, ordered[i].dot) === 0) {
      throw new RangeError(`refusing to encode a record with dot ${ordered[i].dot.actor}:${ordered[i].dot.counter} twice`);
    }
  }
  return { versions: ordered.map(versionToProto) };
}

/** encodeRecord is the stored bytes of a sibling set (canonical; see the file comment). */
export function encodeRecord(versions: readonly Version[]): Buffer {
  const msg = recordToProto(versions);
  return finishWith((w) => RecordMsg.encode(msg, w));
}

function versionFromProto(m: VersionMsg, index: number): Version {
  if (m.dot === undefined) throw new RecordCorruptError(`version ${index}: missing dot`);
  const past = new Map<string, number>();
  for (const d of m.past) {
    if (past.has(d.actor)) throw new RecordCorruptError(`version ${index}: past names ${d.actor} twice`);
    past.set(d.actor, d.counter);
  }
  const v: Version = {
    dot: { actor: m.dot.actor, counter: m.dot.counter },
    past,
    value: m.value,
    tombstone: m.tombstone,
    expiresAtMs: m.expiresAtMs,
    writtenAtMs: m.writtenAtMs,
  };
  const bad = versionProblem(v);
  if (bad !== undefined) throw new RecordCorruptError(`version ${index}: ${bad}`);
  return v;
}

/**
 * recordFromProto validates a received message and converts it: every dot present and valid,
 * pasts without repeats or zero counters, versions strictly ascending by dot (so no write
 * appears twice). Throws RecordCorruptError otherwise.
 */
export function recordFromProto(msg: RecordMsg): Version[] {
  const out: Version[] = [];
  for (let i = 0; i < msg.versions.length; i++) {
    const v = versionFromProto(msg.versions[i], i);
    const prev = out[out.length - 1];
    if (prev !== undefined && dotCompare(prev.dot, v.dot) >= 0) {
      throw new RecordCorruptError(`version ${i}: versions not strictly ordered by dot`);
    }
    out.push(v);
  }
  return out;
}

/** decodeRecord parses stored bytes; any malformation throws RecordCorruptError (with the cause). */
export function decodeRecord(buf: Uint8Array): Version[] {
  let msg: RecordMsg;
  try {
    msg = RecordMsg.decode(buf);
  } catch (err) {
    throw new RecordCorruptError(err instanceof Error ? err.message : String(err), { cause: err });
  }
  return recordFromProto(msg);
}

/** encodeContext is the opaque context bytes handed to clients: entries in actor order, zeros omitted. */
export function encodeContext(vv: VersionVector): Buffer {
  const msg = { entries: vvToDots(vv) };
  return finishWith((w) => ContextMsg.encode(msg, w));
}

/**
 * decodeContext parses client context bytes. Rejects (ContextError) unparsable bytes, more than
 * MAX_CONTEXT_ENTRIES entries, an empty or over-long actor, an actor named twice, and counters
 * that are not safe non-negative integers. A zero counter is accepted and means "absent".
 */
export function decodeContext(buf: Uint8Array): VersionVector {
  let msg: ContextMsg;
  try {
    msg = ContextMsg.decode(buf);
  } catch (err) {
    throw new ContextError(`unparsable bytes (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  if (msg.entries.length > MAX_CONTEXT_ENTRIES) {
    throw new ContextError(`${msg.entries.length} entries, more than ${MAX_CONTEXT_ENTRIES}`);
  }
  const seen = new Set<string>();
  const entries: Array<[string, number]> = [];
  for (const { actor, counter } of msg.entries) {
    if (actor.length === 0) throw new ContextError('an entry has an empty actor');
    if (actor.length > MAX_ACTOR_LENGTH) throw new ContextError(`an actor is longer than ${MAX_ACTOR_LENGTH}`);
    if (seen.has(actor)) throw new ContextError(`actor ${JSON.stringify(actor)} appears twice`);
    seen.add(actor);
    if (!Number.isSafeInteger(counter) || counter < 0 || counter > MAX_COUNTER) {
      throw new ContextError(`counter for ${JSON.stringify(actor)} is not an integer in [0, 2^48]`);
    }
    if (counter > 0) entries.push([actor, counter]);
  }
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const vv = new Map(entries);
  // dkv hands out contexts in one canonical encoding; anything else (trailing bytes, a field
  // the decoder would silently stop at, reordered entries) was not produced by dkv.
  if (!Buffer.from(buf).equals(encodeContext(vv))) throw new ContextError('not in the canonical form dkv produces (extra or reordered bytes)');
  return vv;
}
