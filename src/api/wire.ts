import type { Sibling } from '../generated/dkv/v1/kv.js';
import type { Version } from '../versioning/siblings.js';
import type { ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';

/** Conversions between domain types and dkv.v1 wire messages (the only place they meet). */

export function toSibling(v: Version): Sibling {
  return { value: v.value, expiresAtMs: v.expiresAtMs, writtenAtMs: v.writtenAtMs };
}

/** timeoutOf is the milliseconds left before the call's gRPC deadline; undefined when it has none. */
export function timeoutOf(call: ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown>): number | undefined {
  const d = call.getDeadline();
  if (d === Infinity) return undefined;
  const at = d instanceof Date ? d.getTime() : Number(d);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(1, at - Date.now());
}

export { receiptToWire as toWireReceipt } from '../transport/internode-codec.js';
