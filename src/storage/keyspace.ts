/**
 * Keyspace: how one LevelDB directory is shared by everything a node stores. The first byte
 * of every engine key names its keyspace; the rest is owned by that keyspace's module.
 *
 *   byte 0   keyspace                 rest of the key (owner)
 *   -------  -----------------------  ------------------------------------------------------
 *   0x00     reserved, never written  (so no keyspace ever starts at the empty key)
 *   0x01     META   node metadata     utf-8 name, e.g. "incarnation", "dot-counter" (node/)
 *   0x02-0f  reserved for more node-level singletons (ring state, membership snapshot)
 *   0x10     DATA   data records      the user key, verbatim (storage/record-codec values)
 *   0x20     HINT   hinted handoff    owned by handoff/ (e.g. target node, then user key)
 *   0x30     CHANGELOG change log     owned by watch/ (e.g. big-endian sequence number)
 *   0x40     EXPIRY TTL index          8-byte big-endian expiry ms, then the user key (storage/record-store)
 *   0x50     DIGEST Merkle index       4-byte big-endian ring position, then the user key -> record digest (antientropy/)
 *   0x51     TOMBSTONE index           8-byte big-endian delete time ms, then the user key (storage/record-store)
 *   0x41-4f, 0x52-fe  free, for later keyspaces: claim one here
 *   0xff     reserved, never written  (so the prefix successor of any keyspace is one byte)
 *
 * Contracts:
 *   - Keyspaces never overlap: rangeOf(space) covers exactly the keys whose first byte is
 *     `space`, so a scan of one keyspace never sees another's keys.
 *   - Inside DATA, engine key order is user-key order (unsigned bytes): the prefix is one
 *     constant byte, so range scans over user keys map to range scans over data keys.
 *   - Ids are persistent: a byte, once used, is never reassigned to a different meaning.
 */
import { type KeyRange, StorageError } from './engine.js';

/** Keyspace ids (first key byte). See the table in the header. */
export const Keyspace = {
  Meta: 0x01,
  Data: 0x10,
  Hint: 0x20,
  ChangeLog: 0x30,
  Expiry: 0x40,
  Digest: 0x50,
  Tombstone: 0x51,
} as const;

/** KeyspaceId is one of the allocated keyspace bytes. */
export type KeyspaceId = (typeof Keyspace)[keyof typeof Keyspace];

/** keyIn prefixes suffix with the keyspace byte (a fresh Buffer). */
export function keyIn(space: KeyspaceId, suffix: Buffer): Buffer {
  const out = Buffer.allocUnsafe(suffix.length + 1);
  out[0] = space;
  suffix.copy(out, 1);
  return out;
}

/** suffixOf strips the keyspace byte; throws STORAGE_INVALID if key is not in space. */
export function suffixOf(space: KeyspaceId, key: Buffer): Buffer {
  if (key.length === 0 || key[0] !== space) {
    throw new StorageError('STORAGE_INVALID', `key is not in keyspace 0x${space.toString(16).padStart(2, '0')}`);
  }
  return key.subarray(1);
}

/** keyspaceOf returns the first byte of an engine key, or undefined for the empty key. */
export function keyspaceOf(key: Buffer): number | undefined {
  return key.length === 0 ? undefined : key[0];
}

/** dataKey is the engine key of a user key. */
export function dataKey(userKey: Buffer): Buffer {
  return keyIn(Keyspace.Data, userKey);
}

/** userKeyOf inverts dataKey; the result is a view sharing memory with dataKey. */
export function userKeyOf(key: Buffer): Buffer {
  return suffixOf(Keyspace.Data, key);
}

/** metaKey is the engine key of a node metadata entry; name is utf-8 and non-empty. */
export function metaKey(name: string): Buffer {
  if (name.length === 0) throw new StorageError('STORAGE_INVALID', 'meta key name must not be empty');
  return keyIn(Keyspace.Meta, Buffer.from(name, 'utf8'));
}

/** rangeOf is the [gte, lt) range covering exactly one keyspace. */
export function rangeOf(space: KeyspaceId): { gte: Buffer; lt: Buffer } {
  return { gte: Buffer.from([space]), lt: Buffer.from([space + 1]) };
}

/**
 * prefixRange is the [gte, lt) range of every key starting with prefix. lt is the prefix's
 * successor (drop trailing 0xff bytes, increment the last); an all-0xff or empty prefix has
 * no successor, so lt is then omitted (open upper bound).
 */
export function prefixRange(prefix: Buffer): { gte: Buffer; lt?: Buffer } {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) return { gte: Buffer.from(prefix) };
  const lt = Buffer.from(prefix.subarray(0, end));
  lt[end - 1]++;
  return { gte: Buffer.from(prefix), lt };
}

/**
 * dataRange maps a range over user keys to the equivalent range over data keys, keeping
 * limit and reverse. Missing bounds become the DATA keyspace edges.
 */
export function dataRange(r: KeyRange = {}): KeyRange {
  const out: KeyRange = { limit: r.limit, reverse: r.reverse };
  const space = rangeOf(Keyspace.Data);
  // Both gt and gte (or lt and lte) pass through so the engine rejects them as it would.
  if (r.gt) out.gt = dataKey(r.gt);
  if (r.gte) out.gte = dataKey(r.gte);
  if (!r.gt && !r.gte) out.gte = space.gte;
  if (r.lt) out.lt = dataKey(r.lt);
  if (r.lte) out.lte = dataKey(r.lte);
  if (!r.lt && !r.lte) out.lt = space.lt;
  return out;
}
