/**
 * digest: a fingerprint of one key's sibling set for Merkle anti-entropy (Merkle 1987; Dynamo
 * 2007 §4.7). Two replicas holding the same versions get the same 16 bytes whatever order the
 * versions arrive in; any difference in dots, pasts, values, tombstone flags or expiries
 * changes it (up to SHA-256 collisions). writtenAtMs is left out: it is informational and one
 * dot always carries one write time.
 */
import { createHash } from 'node:crypto';
import { dotCompare, vvEntries } from './dvv.js';
import type { Version } from './version.js';

/** DIGEST_BYTES is the digest length: SHA-256 truncated to 128 bits. */
export const DIGEST_BYTES = 16;

/**
 * digest hashes the canonical form of the versions (sorted by dot). Framing: the version count,
 * then per version a JSON header [actor, counter, past entries, tombstone, expiresAtMs,
 * value length] followed by exactly that many value bytes. A JSON array is self-delimiting and
 * the header states the value length, so two different sets never feed the same byte stream.
 */
export function digest(versions: readonly Version[]): Buffer {
  const sorted = [...versions].sort((a, b) => dotCompare(a.dot, b.dot));
  const h = createHash('sha256');
  h.update(String(sorted.length));
  for (const v of sorted) {
    h.update(JSON.stringify([v.dot.actor, v.dot.counter, vvEntries(v.past), v.tombstone, v.expiresAtMs, v.value.length]));
    h.update(v.value);
  }
  return h.digest().subarray(0, DIGEST_BYTES);
}
