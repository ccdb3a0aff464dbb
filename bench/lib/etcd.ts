/**
 * etcd.ts — a minimal etcd v3 KV client for the load generator (bench only).
 *
 * Contracts:
 * - Calls etcd's gRPC service `etcdserverpb.KV` methods `Range` and `Put` with
 *   @grpc/grpc-js `makeUnaryRequest` and hand-written serializers (no .proto, no codegen):
 *   RangeRequest{1: key}, serializable false (field 7 absent) = a linearizable read, the
 *   default of etcd's own clients; PutRequest{1: key, 2: value}.
 * - Answers are decoded as far as a real client would use them: Range returns the first
 *   KeyValue's value (or none), Put its header's revision. Unknown fields are skipped.
 * - The target passes assertTestTarget before the channel exists; every call carries the
 *   deadline it is given.
 */
import { Client, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { assertTestTarget } from '../../test/helpers/target-guard.js';

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

export function encodeRangeRequest(key: Buffer): Buffer {
  return asBuffer(new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(key).finish());
}

export function encodePutRequest(key: Buffer, value: Buffer): Buffer {
  return asBuffer(new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(key).tag(2, WireType.LengthDelimited).bytes(value).finish());
}

/** decodeRangeResponse returns the value of the first kvs entry (RangeResponse field 2, KeyValue field 5). */
export function decodeRangeResponse(buf: Buffer): { value: Uint8Array | undefined; count: number } {
  const r = new BinaryReader(buf);
  let value: Uint8Array | undefined;
  let count = 0;
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 2 && wt === WireType.LengthDelimited) {
      const kv = new BinaryReader(r.bytes());
      while (kv.pos < kv.len) {
        const [f, w] = kv.tag();
        if (f === 5 && w === WireType.LengthDelimited && value === undefined) value = kv.bytes();
        else kv.skip(w, f);
      }
    } else if (no === 4 && wt === WireType.Varint) count = Number(r.int64());
    else r.skip(wt, no);
  }
  return { value, count };
}

/** decodePutResponse returns the header's revision (PutResponse field 1, ResponseHeader field 3). */
export function decodePutResponse(buf: Buffer): { revision: number } {
  const r = new BinaryReader(buf);
  let revision = 0;
  while (r.pos < r.len) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === WireType.LengthDelimited) {
      const h = new BinaryReader(r.bytes());
      while (h.pos < h.len) {
        const [f, w] = h.tag();
        if (f === 3 && w === WireType.Varint) revision = Number(h.int64());
        else h.skip(w, f);
      }
    } else r.skip(wt, no);
  }
  return { revision };
}

const identity = (b: Buffer) => b;

export class EtcdKV {
  private readonly client: Client;

  constructor(target: string) {
    this.client = new Client(assertTestTarget(target), credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  }

  ready(deadline: number): Promise<void> {
    return new Promise((res, rej) => this.client.waitForReady(deadline, (e) => (e ? rej(e) : res())));
  }

  range(key: Buffer, deadline: number, cb: (e: ServiceError | null, r?: { value: Uint8Array | undefined }) => void): void {
    this.client.makeUnaryRequest('/etcdserverpb.KV/Range', identity, decodeRangeResponse, encodeRangeRequest(key), new Metadata(), { deadline }, (e, r) => cb(e, r));
  }

  put(key: Buffer, value: Buffer, deadline: number, cb: (e: ServiceError | null, r?: { revision: number }) => void): void {
    this.client.makeUnaryRequest('/etcdserverpb.KV/Put', identity, decodePutResponse, encodePutRequest(key, value), new Metadata(), { deadline }, (e, r) => cb(e, r));
  }

  close(): void {
    this.client.close();
  }
}
