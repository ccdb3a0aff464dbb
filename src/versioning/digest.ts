/**
 * digest: a fingerprint of one key's sibling set for Merkle anti-entropy (Merkle 1987; Dynamo
 * 2007 §4.7). Two replicas holding the same versions get the same 16 bytes whatever order the
 * versions arrive in; any difference in dots, pasts, values, tombstone flags or expiries
 * changes it (up to SHA-256 collisions). writtenAtMs is left out: it is informational and one
 * dot always carries one write time.
 *
 * Compatibility: digests are stored in every node's Merkle index and compared between nodes,
 * so the bytes hashed (the framing below) must never change without a migration; the unit
 * tests pin them with golden vectors. How they are fed to SHA-256 (one call or many) is free.
 */
import * as crypto from 'node:crypto';
import { dotCompare, vvEntries } from './dvv.js';
import type { Version } from './version.js';

/** DIGEST_BYTES is the digest length: SHA-256 truncated to 128 bits. */
export const DIGEST_BYTES = 16;

/** oneShot is crypto.hash (Node >= 20.12): one call, no Hash object; absent on older Node. */
const oneShot = (crypto as { hash?: (alg: string, data: Buffer, enc: 'buffer') => Buffer }).hash;

/**
 * digest hashes the canonical form of the versions (sorted by dot). Framing: the version count,
 * then per version a JSON header [actor, counter, past entries, tombstone, expiresAtMs,
 * value length] followed by exactly that many value bytes. A JSON array is self-delimiting and
 * the header states the value length, so two different sets never feed the same byte stream.
 * The stream is assembled in one buffer and hashed in one call (a Hash object and one update
 * per piece cost about twice as much per write).
 */
export function digest(versions: readonly Version[]): Buffer {
  const sorted = versions.length < 2 ? versions : [...versions].sort((a, b) => dotCompare(a.dot, b.dot));
  const count = String(sorted.length);
  const headers = new Array<string>(sorted.length);
  let size = count.length;
  for (let i = 0; i < sorted.length; i++) {
    const v = sorted[i];
    headers[i] = JSON.stringify([v.dot.actor, v.dot.counter, vvEntries(v.past), v.tombstone, v.expiresAtMs, v.value.length]);
    size += Buffer.byteLength(headers[i], 'utf8') + v.value.length;
  }
  const stream = Buffer.allocUnsafe(size);
  let pos = stream.write(count, 0, 'latin1');
  for (let i = 0; i < sorted.length; i++) {
    pos += stream.write(headers[i], pos, 'utf8');
    stream.set(sorted[i].value, pos);
    pos += sorted[i].value.length;
  }
  const full = oneShot ? oneShot('sha256', stream, 'buffer') : crypto.createHash('sha256').update(stream).digest();
  return full.subarray(0, DIGEST_BYTES);
}
