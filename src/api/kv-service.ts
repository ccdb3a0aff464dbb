import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { DkvError } from '../errors.js';
import type {
  DeleteRequest,
  DeleteResponse,
  GetRequest,
  GetResponse,
  KVServer,
  PutRequest,
  PutResponse,
  WatchRequest,
  WatchResponse,
} from '../generated/dkv/v1/kv.js';
import type { Coordinator } from '../coordinator/coordinator.js';
import { encodeContext } from '../storage/record-codec.js';
import { toServiceError } from './status.js';
import { validateConsistency, validateContext, validateKey, validateTtl, validateValue, type Limits } from './validate.js';
import { timeoutOf, toSibling, toWireReceipt } from './wire.js';

/** Gate admits requests while the node serves and counts those in flight (graceful stop). */
export interface Gate {
  enter(): void;
  leave(): void;
}

/** WatchHandler serves KV.Watch; absent until the watch feature is wired. */
export type WatchHandler = (call: ServerWritableStream<WatchRequest, WatchResponse>) => void;

/**
 * kvService implements dkv.v1.KV over the coordinator. It validates every request before
 * anything is stored (SPEC section 4) and maps every failure through api/status.ts.
 */
export function kvService(coordinator: Coordinator, limits: Limits, gate: Gate, watch?: WatchHandler): KVServer & UntypedServiceImplementation {
  async function unary<Req, Res>(call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>, fn: (req: Req, timeoutMs?: number) => Promise<Res>) {
    try {
      gate.enter();
    } catch (e) {
      cb(toServiceError(e), null);
      return;
    }
    try {
      cb(null, await fn(call.request, timeoutOf(call)));
    } catch (e) {
      cb(toServiceError(e), null);
    } finally {
      gate.leave();
    }
  }

  return {
    get: (call: ServerUnaryCall<GetRequest, GetResponse>, cb: sendUnaryData<GetResponse>) =>
      unary(call, cb, async (req, timeoutMs) => {
        const key = validateKey(req.key, limits);
        const consistency = validateConsistency(req.consistency);
        const r = await coordinator.get(key, consistency, timeoutMs);
        return { siblings: r.live.map(toSibling), context: r.versions.length ? encodeContext(r.context) : Buffer.alloc(0), receipt: toWireReceipt(r.receipt) };
      }),

    put: (call: ServerUnaryCall<PutRequest, PutResponse>, cb: sendUnaryData<PutResponse>) =>
      unary(call, cb, async (req, timeoutMs) => {
        const key = validateKey(req.key, limits);
        const value = validateValue(key, req.value, limits);
        const ttlMs = validateTtl(req.ttlMs);
        const context = validateContext(req.context);
        const consistency = validateConsistency(req.consistency);
        const r = await coordinator.write({ kind: 'put', key, value, context, ttlMs, consistency }, 0, timeoutMs);
        return { context: encodeContext(r.context), receipt: toWireReceipt(r.receipt) };
      }),

    delete: (call: ServerUnaryCall<DeleteRequest, DeleteResponse>, cb: sendUnaryData<DeleteResponse>) =>
      unary(call, cb, async (req, timeoutMs) => {
        const key = validateKey(req.key, limits);
        const context = validateContext(req.context);
        const consistency = validateConsistency(req.consistency);
        const r = await coordinator.write({ kind: 'delete', key, context, consistency }, 0, timeoutMs);
        return { receipt: toWireReceipt(r.receipt) };
      }),

    watch: (call: ServerWritableStream<WatchRequest, WatchResponse>) => {
      if (watch) return watch(call);
      call.emit('error', toServiceError(new DkvError('NOT_IMPLEMENTED', 'KV.Watch is not built yet in this version of dkv (see the Watch issue); use Get to poll')));
    },
  };
}
