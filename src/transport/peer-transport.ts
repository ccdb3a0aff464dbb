import type { Version } from '../versioning/siblings.js';
import type { VersionVector } from '../versioning/dvv.js';
import type { ConsistencyRequest } from '../coordinator/quorum.js';
import type { Receipt } from '../coordinator/receipt.js';
import type { GossipMessage } from '../membership/member-table.js';
import type { FeedRequest, FeedSink } from '../watch/feed.js';
import type { RangeCursor, RangeSink } from '../rebalance/range-stream.js';

/** Purpose says why records are written to a replica (limits never apply to any of them). */
export type Purpose = 'write' | 'read-repair' | 'hint' | 'anti-entropy' | 'stream';

/** ReplicaEntry is one key's versions sent to a replica. */
export interface ReplicaEntry {
  key: Buffer;
  versions: Version[];
  /** hintedFor names the primary a fallback stores this write for; undefined for primaries. */
  hintedFor?: string;
}

/** ForwardOp is a client write forwarded to a replica of its key to coordinate. */
export type ForwardOp =
  | { kind: 'put'; key: Buffer; value: Buffer; context: VersionVector; ttlMs: number; consistency: ConsistencyRequest }
  | { kind: 'delete'; key: Buffer; context: VersionVector; consistency: ConsistencyRequest };

export interface ForwardResult {
  context: VersionVector;
  receipt: Receipt;
}

/**
 * InternodeHandler is what a node serves to its peers (proto/dkv/internode/v1). The gRPC
 * server adapts it to the wire; the memory transport calls it directly. `deadline` is an
 * absolute monotonic time after which the caller no longer waits.
 */
/** RangeRef is a ring range (start, end] with the Merkle depth both sides use. */
export interface MerkleRef {
  start: number;
  end: number;
  depth: number;
}

/** KeyDigestEntry is a key with the digest of its record. */
export interface KeyDigestEntry {
  key: Buffer;
  digest: Buffer;
}

export interface InternodeHandler {
  replicaWrite(from: string, purpose: Purpose, entries: ReplicaEntry[]): Promise<void>;
  replicaRead(from: string, keys: Buffer[], hintedFor?: string): Promise<Version[][]>;
  forward(from: string, op: ForwardOp, hops: number, timeoutMs: number): Promise<ForwardResult>;
  gossip(msg: GossipMessage): Promise<GossipMessage>;
  merkleHashes(ref: MerkleRef, nodes: number[]): Promise<Buffer[]>;
  merkleLeafKeys(ref: MerkleRef, leaves: number[]): Promise<KeyDigestEntry[]>;
  /** changeFeed streams this node's change log into sink; returns the cancel function. */
  changeFeed(req: FeedRequest, sink: FeedSink): () => void;
  /** streamRange streams this node's records of a ring range (start, end] after a cursor. */
  streamRange(range: { start: number; end: number }, after: RangeCursor | undefined, maxBytesPerS: number, sink: RangeSink): () => void;
}

/**
 * PeerTransport reaches other nodes by address. Every call has a timeout: a call that does
 * not complete in time rejects with DEADLINE_EXCEEDED; an unreachable peer rejects with
 * PEER_UNAVAILABLE. Implementations: grpc-transport.ts (real) and memory-transport.ts (twin).
 */
export interface PeerTransport {
  replicaWrite(address: string, from: string, purpose: Purpose, entries: ReplicaEntry[], timeoutMs: number): Promise<void>;
  replicaRead(address: string, from: string, keys: Buffer[], timeoutMs: number, hintedFor?: string): Promise<Version[][]>;
  forward(address: string, from: string, op: ForwardOp, hops: number, timeoutMs: number): Promise<ForwardResult>;
  gossip(address: string, msg: GossipMessage, timeoutMs: number): Promise<GossipMessage>;
  merkleHashes(address: string, ref: MerkleRef, nodes: number[], timeoutMs: number): Promise<Buffer[]>;
  merkleLeafKeys(address: string, ref: MerkleRef, leaves: number[], timeoutMs: number): Promise<KeyDigestEntry[]>;
  /** changeFeed opens a peer's change feed (no deadline: it lives until cancelled or broken). */
  changeFeed(address: string, req: FeedRequest, sink: FeedSink): () => void;
  /** streamRange opens a peer's range stream (no deadline; cancel to stop). */
  streamRange(address: string, range: { start: number; end: number }, after: RangeCursor | undefined, maxBytesPerS: number, sink: RangeSink): () => void;
  /** close releases every channel. */
  close(): void;
}
