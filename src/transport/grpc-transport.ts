import { credentials, Metadata, status as Status, type CallOptions, type Client, type ServiceError } from '@grpc/grpc-js';
import { DkvError } from '../errors.js';
import { InternodeClient, type StreamRangeResponse, type ChangeFeedResponse, type ForwardResponse, type GossipResponse, type MerkleHashesResponse, type MerkleLeafKeysResponse, type ReplicaReadResponse } from '../generated/dkv/internode/v1/internode.js';
import { fromServiceError } from '../api/status.js';
import { recordFromProto, recordToProto } from '../storage/record-codec.js';
import type { GossipMessage } from '../membership/member-table.js';
import type { FeedRequest, FeedSink } from '../watch/feed.js';
import { decodeCursor, encodeCursor, type RangeCursor, type RangeSink } from '../rebalance/range-stream.js';
import type { Version } from '../versioning/siblings.js';
import type { ForwardOp, ForwardResult, KeyDigestEntry, MerkleRef, PeerTransport, Purpose, ReplicaEntry } from './peer-transport.js';
import { Coalescer } from './coalescer.js';
import { forwardResultFromWire, forwardToWire, memberFromWire, memberToWire, PROTOCOL_VERSION, purposeToWire } from './internode-codec.js';

/** CHANNEL_OPTIONS keep reconnects quick after a peer restarts and messages large enough for batches. */
const CHANNEL_OPTIONS = {
  'grpc.initial_reconnect_backoff_ms': 100,
  'grpc.max_reconnect_backoff_ms': 1_000,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.max_receive_message_length': 64 * 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024 * 1024,
};

/**
 * GrpcTransport is the real PeerTransport: one pooled channel (InternodeClient) per peer
 * address, every call with a deadline, failures mapped to domain errors (PEER_UNAVAILABLE,
 * DEADLINE_EXCEEDED, or the peer's own error code).
 */
export class GrpcTransport implements PeerTransport {
  private readonly clients = new Map<string, InternodeClient>();

  private client(address: string): InternodeClient {
    let c = this.clients.get(address);
    if (!c) {
      c = new InternodeClient(address, credentials.createInsecure(), CHANNEL_OPTIONS);
      this.clients.set(address, c);
    }
    return c;
  }

  /**
   * Replica writes and reads to one peer travel batched: one call per peer at a time, and the
   * items added meanwhile go together in the next (Coalescer). Each item keeps its own
   * deadline (Date.now() ms): one that waited past it is failed with DEADLINE_EXCEEDED without
   * being sent, and a batch's call deadline is its earliest item's.
   */
  private readonly writes = new Coalescer<{ address: string; from: string; purpose: Purpose; entries: ReplicaEntry[]; deadline: number }, void>(
    async (_, items) => {
      const { address, from, purpose } = items[0];
      const req = {
        protocolVersion: PROTOCOL_VERSION,
        from,
        purpose: purposeToWire(purpose),
        entries: items.flatMap((it) => it.entries.map((e) => ({ key: e.key, record: recordToProto(e.versions), hintedFor: e.hintedFor ?? '' }))),
      };
      await call((cb, opts) => this.client(address).replicaWrite(req, new Metadata(), opts, cb), timeLeft(items), address);
      return items.map(() => undefined);
    },
    { expired: (it) => expiredError(it.address, it.deadline) },
  );

  private readonly reads = new Coalescer<{ address: string; from: string; keys: Buffer[]; hintedFor: string; deadline: number }, Version[][]>(
    async (_, items) => {
      const { address, from, hintedFor } = items[0];
      const keys = items.flatMap((it) => it.keys);
      const res = await call<ReplicaReadResponse>(
        (cb, opts) => this.client(address).replicaRead({ protocolVersion: PROTOCOL_VERSION, from, keys, hintedFor }, new Metadata(), opts, cb),
        timeLeft(items),
        address,
      );
      const records = res.records.map(recordFromProto);
      let at = 0;
      return items.map((it) => records.slice(at, (at += it.keys.length)));
    },
    { expired: (it) => expiredError(it.address, it.deadline) },
  );

  replicaWrite(address: string, from: string, purpose: Purpose, entries: ReplicaEntry[], timeoutMs: number): Promise<void> {
    return this.writes.add(`${address}\0${from}\0${purpose}`, { address, from, purpose, entries, deadline: Date.now() + Math.max(1, timeoutMs) });
  }

  replicaRead(address: string, from: string, keys: Buffer[], timeoutMs: number, hintedFor = ''): Promise<Version[][]> {
    return this.reads.add(`${address}\0${from}\0${hintedFor}`, { address, from, keys, hintedFor, deadline: Date.now() + Math.max(1, timeoutMs) });
  }

  async forward(address: string, from: string, op: ForwardOp, hops: number, timeoutMs: number): Promise<ForwardResult> {
    const res = await call<ForwardResponse>((cb, opts) => this.client(address).forward(forwardToWire(from, op, hops), new Metadata(), opts, cb), timeoutMs, address);
    return forwardResultFromWire(res);
  }

  async gossip(address: string, msg: GossipMessage, timeoutMs: number): Promise<GossipMessage> {
    const req = { protocolVersion: PROTOCOL_VERSION, from: msg.from, clusterName: msg.clusterName, members: msg.members.map(memberToWire), downVotes: msg.downVotes };
    const res = await call<GossipResponse>((cb, opts) => this.client(address).gossip(req, new Metadata(), opts, cb), timeoutMs, address);
    return { from: res.from, clusterName: msg.clusterName, members: res.members.map(memberFromWire).filter((m) => m !== undefined), downVotes: res.downVotes };
  }

  async merkleHashes(address: string, ref: MerkleRef, nodes: number[], timeoutMs: number): Promise<Buffer[]> {
    const req = { protocolVersion: PROTOCOL_VERSION, range: { start: ref.start, end: ref.end }, depth: ref.depth, nodes };
    const res = await call<MerkleHashesResponse>((cb, opts) => this.client(address).merkleHashes(req, new Metadata(), opts, cb), timeoutMs, address);
    return res.hashes;
  }

  async merkleLeafKeys(address: string, ref: MerkleRef, leaves: number[], timeoutMs: number): Promise<KeyDigestEntry[]> {
    const req = { protocolVersion: PROTOCOL_VERSION, range: { start: ref.start, end: ref.end }, depth: ref.depth, leaves };
    const res = await call<MerkleLeafKeysResponse>((cb, opts) => this.client(address).merkleLeafKeys(req, new Metadata(), opts, cb), timeoutMs, address);
    return res.keys;
  }

  changeFeed(address: string, req: FeedRequest, sink: FeedSink): () => void {
    const call = this.client(address).changeFeed(
      { protocolVersion: PROTOCOL_VERSION, key: req.key ?? Buffer.alloc(0), prefix: req.prefix ?? Buffer.alloc(0), fromSeq: req.fromSeq, incarnation: req.incarnation },
      new Metadata(),
    );
    let ended = false;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      sink.end(err);
    };
    call.on('data', (m: ChangeFeedResponse) =>
      sink.send({ seq: m.seq, incarnation: m.incarnation, resync: m.resync || undefined, change: m.key.length > 0 ? { key: m.key, versions: recordFromProto(m.record ?? { versions: [] }) } : undefined }),
    );
    call.on('error', (e: ServiceError) => end(fromServiceError(e)));
    call.on('end', () => end());
    return () => {
      ended = true;
      call.cancel();
    };
  }

  streamRange(address: string, range: { start: number; end: number }, after: RangeCursor | undefined, maxBytesPerS: number, sink: RangeSink): () => void {
    const call = this.client(address).streamRange({ protocolVersion: PROTOCOL_VERSION, range, afterKey: encodeCursor(after), maxBytesPerS }, new Metadata());
    let ended = false;
    const end = (err?: Error) => {
      if (ended) return;
      ended = true;
      sink.end(err);
    };
    call.on('data', (m: StreamRangeResponse) => {
      const entries = m.entries.map((e) => ({ key: e.key, versions: recordFromProto(e.record ?? { versions: [] }) }));
      sink.send({ entries, last: decodeCursor(m.lastKey), done: m.done, bytes: entries.reduce((s, e) => s + e.key.length, 0) + m.entries.reduce((s, e) => s + (e.record ? e.record.versions.reduce((t, v) => t + v.value.length + 32, 0) : 0), 0) });
    });
    call.on('error', (e: ServiceError) => end(fromServiceError(e)));
    call.on('end', () => end());
    return () => {
      ended = true;
      call.cancel();
    };
  }

  close(): void {
    for (const c of this.clients.values()) (c as Client).close();
    this.clients.clear();
  }
}

type Callback<T> = (err: ServiceError | null, res: T) => void;

/** timeLeft is the time until the earliest deadline of a batch's items (at least 1 ms). */
function timeLeft(items: ReadonlyArray<{ deadline: number }>): number {
  let d = Infinity;
  for (const it of items) d = Math.min(d, it.deadline);
  return Math.max(1, d - Date.now());
}

/** expiredError fails an item that waited for its batch past its deadline (it was never sent). */
function expiredError(address: string, deadline: number): DkvError | undefined {
  if (Date.now() < deadline) return undefined;
  return new DkvError('DEADLINE_EXCEEDED', `${address}: the deadline passed while waiting for an earlier call to the peer to finish (never sent)`);
}

/** call runs one unary call with a deadline and maps its failure to a DkvError naming the peer. */
function call<T>(start: (cb: Callback<T>, opts: Partial<CallOptions>) => unknown, timeoutMs: number, address: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start(
      (err, res) => {
        if (!err) return resolve(res);
        const d = fromServiceError(err);
        // "No connection established" means the call never left this node; any other
        // UNAVAILABLE (a connection dropped mid-call) may have been processed by the peer.
        const maybeApplied: Record<string, number> = err.code === Status.UNAVAILABLE && !/No connection established/.test(err.details ?? '') ? { maybeApplied: 1 } : {};
        reject(new DkvError(d.code, `${address}: ${d.message}`, { ...d.details, ...maybeApplied }, { cause: err }));
      },
      { deadline: new Date(Date.now() + Math.max(1, timeoutMs)) },
    );
  });
}
