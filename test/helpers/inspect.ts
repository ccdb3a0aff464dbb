import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { InternodeClient, type ReplicaReadResponse } from '../../src/generated/dkv/internode/v1/internode.js';
import type { RingResponse } from '../../src/generated/dkv/v1/admin.js';
import { recordFromProto } from '../../src/storage/record-codec.js';
import { Ring } from '../../src/ring/ring.js';
import { primaries } from '../../src/ring/preference-list.js';
import { hashKey } from '../../src/ring/hash.js';
import type { Version } from '../../src/versioning/siblings.js';
import { assertTestTarget } from './target-guard.js';

/** replicaRecord reads one node's own stored record of a key (no coordination, no repair). */
export async function replicaRecord(address: string, key: string | Buffer): Promise<Version[]> {
  const c = new InternodeClient(assertTestTarget(address), credentials.createInsecure());
  try {
    const res = await new Promise<ReplicaReadResponse>((resolve, reject) =>
      c.replicaRead({ protocolVersion: 1, from: 'test', keys: [Buffer.from(key)], hintedFor: '' }, new Metadata(), { deadline: new Date(Date.now() + 5_000) }, (e: ServiceError | null, r: ReplicaReadResponse) => (e ? reject(e) : resolve(r))),
    );
    return recordFromProto(res.records[0]);
  } finally {
    c.close();
  }
}

/** liveValuesOf lists a record's non-tombstone values as strings, sorted. */
export function valuesOf(vs: Version[]): string[] {
  return vs.filter((v) => !v.tombstone).map((v) => v.value.toString()).sort();
}

/** preferenceOf computes a key's primaries from an Admin.Ring answer, as any node would. */
export function preferenceOf(ring: RingResponse, key: string | Buffer): string[] {
  const r = new Ring(ring.nodes.map((n) => ({ id: n.nodeId, zone: n.zone, weight: n.weight, tokens: n.tokens })));
  return primaries(r, hashKey(Buffer.from(key)), Math.min(ring.n, r.ownerCount));
}
