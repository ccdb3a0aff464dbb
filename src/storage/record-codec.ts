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

/**
 * Hand-written encoders for Record and Context, the messages encoded on every write: they
 * write byte for byte what the generated encoders write (fields in number order, zero values
 * and empty strings omitted, minimal varints, length-prefixed nested messages), sized first
 * and written once into one Buffer. The unit tests compare them with the generated encoders
 * on random input. The result may be a slice of Node's shared buffer pool (Buffer.allocUnsafe):
 * a caller that keeps it for long copies it (LevelDB and the change log copy what they store).
 */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

function putVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[pos++] = n;
  return pos;
}

/** dotSize is the body size of a Dot message (actor field 1, counter field 2). */
function dotSize(actor: string, counter: number): number {
  const n = Buffer.byteLength(actor, 'utf8');
  return (n > 0 ? 1 + varintSize(n) + n : 0) + (counter !== 0 ? 1 + varintSize(counter) : 0);
}

/** putDot writes a Dot field `tag` (length-prefixed) whose body is `size` bytes. */
function putDot(buf: Buffer, pos: number, tag: number, size: number, actor: string, counter: number): number {
  buf[pos++] = tag;
  pos = putVarint(buf, pos, size);
  if (actor !== '') {
    buf[pos++] = 10;
    pos = putVarint(buf, pos, Buffer.byteLength(actor, 'utf8'));
    pos += buf.write(actor, pos, 'utf8');
  }
  if (counter !== 0) {
    buf[pos++] = 16;
    pos = putVarint(buf, pos, counter);
  }
  return pos;
}

/** versionSize is the body size of a Version message; its past entries come from vvEntries. */
function versionSize(v: Version, past: ReadonlyArray<[string, number]>): number {
  const d = dotSize(v.dot.actor, v.dot.counter);
  let size = 1 + varintSize(d) + d;
  for (const [actor, counter] of past) {
    const p = dotSize(actor, counter);
    size += 1 + varintSize(p) + p;
  }
  if (v.value.length !== 0) size += 1 + varintSize(v.value.length) + v.value.length;
  if (v.tombstone) size += 2;
  if (v.expiresAtMs !== 0) size += 1 + varintSize(v.expiresAtMs);
  if (v.writtenAtMs !== 0) size += 1 + varintSize(v.writtenAtMs);
  return size;
}

function vvToDots(vv: VersionVector): DotMsg[] {
  return vvEntries(vv).map(([actor, counter]) => ({ actor, counter }));
}

/** versionToProto converts one version checked by checkedRecord. */
function versionToProto(v: Version): VersionMsg {
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
  return { versions: checkedRecord(versions).map(versionToProto) };
}

/** checkedRecord is the versions in dot order; RangeError on a repeated dot or an invalid version. */
function checkedRecord(versions: readonly Version[]): readonly Version[] {
  const ordered = sortedByDot(versions);
  for (let i = 1; i < ordered.length; i++) {
    if (dotCompare(ordered[i - 1].dot, ordered[i].dot) === 0) {
      throw new RangeError(`refusing to encode a record with dot ${ordered[i].dot.actor}:${ordered[i].dot.counter} twice`);
    }
  }
  for (const v of ordered) {
    const bad = versionProblem(v);
    if (bad !== undefined) throw new RangeError(`refusing to encode an invalid version: ${bad}`);
  }
  return ordered;
}

/**
 * encodeRecord is the stored bytes of a sibling set (canonical; see the file comment): the
 * bytes RecordMsg.encode(recordToProto(versions)) writes, with the same RangeErrors.
 */
export function encodeRecord(versions: readonly Version[]): Buffer {
  const ordered = checkedRecord(versions);
  const pasts = ordered.map((v) => vvEntries(v.past));
  const sizes = ordered.map((v, i) => versionSize(v, pasts[i]));
  let total = 0;
  for (const size of sizes) total += 1 + varintSize(size) + size;
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (let i = 0; i < ordered.length; i++) {
    const v = ordered[i];
    out[pos++] = 10;
    pos = putVarint(out, pos, sizes[i]);
    pos = putDot(out, pos, 10, dotSize(v.dot.actor, v.dot.counter), v.dot.actor, v.dot.counter);
    for (const [actor, counter] of pasts[i]) pos = putDot(out, pos, 18, dotSize(actor, counter), actor, counter);
    if (v.value.length !== 0) {
      out[pos++] = 26;
      pos = putVarint(out, pos, v.value.length);
      out.set(v.value, pos);
      pos += v.value.length;
    }
    if (v.tombstone) {
      out[pos++] = 32;
      out[pos++] = 1;
    }
    if (v.expiresAtMs !== 0) {
      out[pos++] = 40;
      pos = putVarint(out, pos, v.expiresAtMs);
    }
    if (v.writtenAtMs !== 0) {
      out[pos++] = 48;
      pos = putVarint(out, pos, v.writtenAtMs);
    }
  }
  return out;
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
  const entries = vvEntries(vv);
  let total = 0;
  for (const [actor, counter] of entries) {
    const d = dotSize(actor, counter);
    total += 1 + varintSize(d) + d;
  }
  const out = Buffer.allocUnsafe(total);
  let pos = 0;
  for (const [actor, counter] of entries) pos = putDot(out, pos, 10, dotSize(actor, counter), actor, counter);
  return out;
}

/**
 * decodeContext parses client context bytes. Rejects (ContextError) unparsable bytes, more than
 * MAX_CONTEXT_ENTRIES entries, an empty or over-long actor, an actor named twice, and counters
 * that are not safe non-negative integers. A zero counter is accepted and means "absent".
 */
export function decodeContext(buf: Uint8Array): VersionVector {
  return canonicalContext(buf) ?? decodeContextChecked(buf);
}

/**
 * canonicalContext parses context bytes only if they are exactly what encodeContext writes
 * (every check decodeContextChecked makes, done while reading); for anything else it returns
 * undefined and decodeContextChecked decides, with its error messages. Contexts are parsed on
 * every write, and nearly all come straight from an earlier response.
 */
function canonicalContext(buf: Uint8Array): VersionVector | undefined {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const vv = new Map<string, number>();
  let pos = 0;
  let prev: string | undefined;
  const varint = (): number => {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8 && pos < b.length; i++) {
      const byte = b[pos++];
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) return byte === 0 && i > 0 ? -1 : n; // a trailing zero byte is not minimal
      scale *= 0x80;
    }
    return -1; // truncated, or longer than any counter dkv accepts
  };
  while (pos < b.length) {
    if (b[pos++] !== 10) return undefined;
    const len = varint();
    if (len < 0 || pos + len > b.length) return undefined;
    const end = pos + len;
    if (b[pos++] !== 10) return undefined;
    const alen = varint();
    if (alen <= 0 || pos + alen > end) return undefined;
    const actor = b.toString('utf8', pos, pos + alen);
    pos += alen;
    // Replacement characters may stand for invalid bytes: the checked path judges those.
    if (actor.length > MAX_ACTOR_LENGTH || actor.includes('\uFFFD') || (prev !== undefined && prev >= actor)) return undefined;
    if (pos >= end || b[pos++] !== 16) return undefined;
    const counter = varint();
    if (counter < 1 || counter > MAX_COUNTER || pos !== end) return undefined;
    vv.set(actor, counter);
    prev = actor;
    if (vv.size > MAX_CONTEXT_ENTRIES) return undefined;
  }
  return vv;
}

/** decodeContextChecked is decodeContext through the generated decoder, with its errors. */
function decodeContextChecked(buf: Uint8Array): VersionVector {
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
