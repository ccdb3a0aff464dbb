import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { DkvError, invalidArgument } from '../errors.js';
import type {
  ChangeFeedRequest,
  ChangeFeedResponse,
  ForwardRequest,
  ForwardResponse,
  GossipRequest,
  GossipResponse,
  InternodeServer,
  MerkleHashesRequest,
  MerkleHashesResponse,
  MerkleLeafKeysRequest,
  MerkleLeafKeysResponse,
  ReplicaReadRequest,
  ReplicaReadResponse,
  ReplicaWriteRequest,
  ReplicaWriteResponse,
  StreamRangeRequest,
  StreamRangeResponse,
} from '../generated/dkv/internode/v1/internode.js';
import { recordFromProto, recordToProto } from '../storage/record-codec.js';
import { toServiceError } from '../api/status.js';
import { timeoutOf } from '../api/wire.js';
import type { InternodeHandler, MerkleRef } from './peer-transport.js';
import type { Limits } from '../api/validate.js';
import { decodeCursor, encodeCursor } from '../rebalance/range-stream.js';
import { forwardFromWire, forwardResultToWire, memberFromWire, memberToWire, PROTOCOL_VERSION, purposeFromWire } from './internode-codec.js';

/** MAX_REPLICA_KEY bounds keys on replica paths (limits do not apply there, but sanity does). */
const MAX_REPLICA_KEY = 64 * 1024;

function merkleRef(req: { range?: { start: number; end: number }; depth: number }): MerkleRef {
  if (!req.range) throw invalidArgument('range', 'is required');
  return { start: req.range.start, end: req.range.end, depth: req.depth };
}

/**
 * internodeService adapts an InternodeHandler to dkv.internode.v1.Internode. Requests from a
 * peer speaking another protocol version are refused with FAILED_PRECONDITION.
 */
export function internodeService(h: InternodeHandler, nodeId: string, limits: Limits): InternodeServer & UntypedServiceImplementation {
  function unary<Req extends { protocolVersion?: number }, Res>(call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>, fn: (req: Req) => Promise<Res>) {
    const v = call.request.protocolVersion;
    if (v !== undefined && v !== PROTOCOL_VERSION) {
      cb(toServiceError(new DkvError('FAILED_PRECONDITION', `internode protocol version ${v} is not supported by ${nodeId} (speaks ${PROTOCOL_VERSION})`)), null);
      return;
    }
    fn(call.request).then(
      (res) => cb(null, res),
      (e) => cb(toServiceError(e), null),
    );
  }

  return {
    replicaWrite: (call: ServerUnaryCall<ReplicaWriteRequest, ReplicaWriteResponse>, cb: sendUnaryData<ReplicaWriteResponse>) =>
      unary(call, cb, async (req) => {
        for (const e of req.entries) if (e.key.length === 0 || e.key.length > MAX_REPLICA_KEY) throw invalidArgument('entries.key', `must be 1 to ${MAX_REPLICA_KEY} bytes`);
        const entries = req.entries.map((e) => ({ key: e.key, versions: recordFromProto(e.record ?? { versions: [] }), hintedFor: e.hintedFor || undefined }));
        await h.replicaWrite(req.from, purposeFromWire(req.purpose), entries);
        return { nodeId };
      }),
    replicaRead: (call: ServerUnaryCall<ReplicaReadRequest, ReplicaReadResponse>, cb: sendUnaryData<ReplicaReadResponse>) =>
      unary(call, cb, async (req) => {
        const records = await h.replicaRead(req.from, req.keys, req.hintedFor || undefined);
        return { nodeId, records: records.map(recordToProto) };
      }),
    forward: (call: ServerUnaryCall<ForwardRequest, ForwardResponse>, cb: sendUnaryData<ForwardResponse>) =>
      unary(call, cb, async (req) => {
        const op = forwardFromWire(req, limits);
        const r = await h.forward(req.from, op, req.hops, timeoutOf(call) ?? 5_000);
        return forwardResultToWire(op.kind, r);
      }),
    gossip: (call: ServerUnaryCall<GossipRequest, GossipResponse>, cb: sendUnaryData<GossipResponse>) =>
      unary(call, cb, async (req) => {
        const reply = await h.gossip({ from: req.from, clusterName: req.clusterName, members: req.members.map(memberFromWire).filter((m) => m !== undefined), downVotes: req.downVotes });
        return { from: reply.from, members: reply.members.map(memberToWire), downVotes: reply.downVotes };
      }),
    merkleHashes: (call: ServerUnaryCall<MerkleHashesRequest, MerkleHashesResponse>, cb: sendUnaryData<MerkleHashesResponse>) =>
      unary(call, cb, async (req) => ({ hashes: await h.merkleHashes(merkleRef(req), req.nodes) })),
    merkleLeafKeys: (call: ServerUnaryCall<MerkleLeafKeysRequest, MerkleLeafKeysResponse>, cb: sendUnaryData<MerkleLeafKeysResponse>) =>
      unary(call, cb, async (req) => ({ keys: await h.merkleLeafKeys(merkleRef(req), req.leaves) })),
    streamRange: (call: ServerWritableStream<StreamRangeRequest, StreamRangeResponse>) => {
      const r = call.request;
      if (!r.range) {
        call.emit('error', toServiceError(invalidArgument('range', 'is required')));
        return;
      }
      const cancel = h.streamRange({ start: r.range.start, end: r.range.end }, decodeCursor(r.afterKey), r.maxBytesPerS, {
        send: (c) => call.write({ entries: c.entries.map((e) => ({ key: e.key, record: recordToProto(e.versions), hintedFor: '' })), lastKey: encodeCursor(c.last), done: c.done }),
        end: (err) => (err ? call.emit('error', toServiceError(err)) : call.end()),
      });
      call.on('cancelled', cancel);
    },
    changeFeed: (call: ServerWritableStream<ChangeFeedRequest, ChangeFeedResponse>) => {
      const r = call.request;
      if (r.protocolVersion !== undefined && r.protocolVersion !== PROTOCOL_VERSION) {
        call.emit('error', toServiceError(new DkvError('FAILED_PRECONDITION', `internode protocol version ${r.protocolVersion} is not supported by ${nodeId}`)));
        return;
      }
      const cancel = h.changeFeed(
        { key: r.key.length ? r.key : undefined, prefix: r.prefix, fromSeq: r.fromSeq, incarnation: r.incarnation },
        {
          send: (m) =>
            call.write({ seq: m.seq, incarnation: m.incarnation, resync: !!m.resync, key: m.change?.key ?? Buffer.alloc(0), record: m.change ? recordToProto(m.change.versions) : undefined }),
          end: (err) => (err ? call.emit('error', toServiceError(err)) : call.end()),
        },
      );
      call.on('cancelled', cancel);
      call.on('close', cancel);
    },
  };
}
