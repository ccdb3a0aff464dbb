import { invalidArgument } from '../errors.js';

export type FsyncMode = 'never' | 'batch' | 'always';
export type ConsistencyName = 'one' | 'quorum' | 'all';

/**
 * NodeConfig is everything a node is configured with, validated once at start-up by
 * validateConfig. Durations are milliseconds, sizes bytes.
 */
export interface NodeConfig {
  /** nodeId is the node's stable id in the cluster; defaults to the advertised address. */
  nodeId: string;
  /** listen is the HOST:PORT the gRPC server binds (port 0 picks a free port). */
  listen: string;
  /** advertise is the HOST:PORT peers and clients use to reach this node; defaults to listen. */
  advertise: string;
  /** dataDir holds the node's LevelDB; a new or wiped directory gives the node a new incarnation. */
  dataDir: string;
  /** engine selects the storage engine: 'level' (LevelDB on disk) or 'memory' (tests only). */
  engine: 'level' | 'memory';
  /** seeds are HOST:PORT addresses of existing members to join through; empty starts a new cluster. */
  seeds: string[];
  /** clusterName must match between nodes: gossip from another cluster is refused. */
  clusterName: string;
  /** zone is the node's failure domain; replicas spread over distinct zones where zones exist. */
  zone: string;
  /** weight is the node's relative capacity; its share of the ring is proportional to it. */
  weight: number;
  /** tokensPerWeight is how many ring tokens one unit of weight gets. */
  tokensPerWeight: number;
  /** n is the replication factor: every key lives on n distinct nodes. */
  n: number;
  /** defaultConsistency applies when a request leaves consistency unspecified. */
  defaultConsistency: ConsistencyName;
  /** fsync: 'never' acknowledges after the write reaches LevelDB's log in the page cache;
   * 'batch' and 'always' acknowledge after an fsync shared by the writes that arrive together
   * (group commit); 'batch' also waits up to fsyncWindowMs to gather more writes. */
  fsync: FsyncMode;
  /** fsyncWindowMs is how long 'batch' mode waits to gather writes into one sync. */
  fsyncWindowMs: number;
  /** maxKeyBytes is the largest key accepted. */
  maxKeyBytes: number;
  /** maxValueBytes is the largest key + value accepted (--max-value-bytes, at most 4 MiB). */
  maxValueBytes: number;
  /** maxSiblings is the most siblings a client write may leave on a key. */
  maxSiblings: number;
  /** cacheBytes is the hot-key cache's memory budget (what cached records keep alive, see
   * recordCost in storage/record-store.ts); 0 disables the cache. The default, 32 MiB, holds
   * about 24,000 records of 100-byte values or 14,000 of 1 KiB. */
  cacheBytes: number;
  /** levelCacheBytes is LevelDB's own block cache. */
  levelCacheBytes: number;
  /** levelMaxOpenFiles bounds the table files LevelDB keeps open. LevelDB memory-maps open
   * tables, and every page a read or a compaction touches stays in the node's RSS while its
   * table is open: this bounds the file-backed part of the RSS (at most about this many × 2 MiB
   * tables) at the price of reopening tables (index and filter blocks) on a data set with more
   * tables than this. */
  levelMaxOpenFiles: number;
  /** replicaTimeoutMs is the deadline of one internode replica read or write. */
  replicaTimeoutMs: number;
  /** requestTimeoutMs is the longest a coordinator works on a client request without a deadline. */
  requestTimeoutMs: number;
  /** expirySweepIntervalMs is how often expired values are purged from storage. */
  expirySweepIntervalMs: number;
  /** tombstoneGraceMs is how long a tombstone is kept before it may be purged. */
  tombstoneGraceMs: number;
  /** gossipIntervalMs is the period of gossip rounds. */
  gossipIntervalMs: number;
  /** phiThreshold is the phi accrual detector's suspicion threshold (higher: slower, fewer false alarms). */
  phiThreshold: number;
  /** hintedHandoff enables sloppy quorum fallbacks and hints; off leaves repair to anti-entropy. */
  hintedHandoff: boolean;
  /** maxHintWindowMs: hints older than this are dropped (anti-entropy repairs those keys). */
  maxHintWindowMs: number;
  /** maxHintBytes bounds the hints held for any one target node. */
  maxHintBytes: number;
  /** hintReplayIntervalMs is how often hints are offered to targets that are UP. */
  hintReplayIntervalMs: number;
  /** hintReplayKeysPerSecond throttles delivery to each returning node. */
  hintReplayKeysPerSecond: number;
  /** antiEntropyIntervalMs is the time between background Merkle anti-entropy passes; 0 disables them. */
  antiEntropyIntervalMs: number;
  /** antiEntropyPauseMs is slept between two range exchanges of a pass (throttling). */
  antiEntropyPauseMs: number;
  /** merkleDepth is the depth of each range's Merkle tree (2^depth leaves). */
  merkleDepth: number;
  /** changelogRetentionMs: change-log entries older than this are trimmed (watch resume window). */
  changelogRetentionMs: number;
  /** changelogMaxEntries: at most this many change-log entries are kept. */
  changelogMaxEntries: number;
  /** watchBufferLimit: a watcher with more events than this waiting to be read is cut off. */
  watchBufferLimit: number;
  /** streamBytesPerS throttles each range stream of a join or decommission (0 = unthrottled). */
  streamBytesPerS: number;
  /**
   * cleanupGraceMs: once the ring has stayed unchanged this long after a topology change, the
   * node deletes by itself the data of ranges it no longer replicates (rebalance/auto-cleanup.ts);
   * 0 disables automatic cleanup (dkv cleanup still works).
   */
  cleanupGraceMs: number;
  /** shutdownGraceMs is how long SIGTERM waits for in-flight requests before cancelling them. */
  shutdownGraceMs: number;
}

const KIB = 1024;
const MIB = 1024 * KIB;

/** local is the preset for a laptop or a test: fast gossip, small caches. */
export function local(overrides: Partial<NodeConfig> = {}): NodeConfig {
  const listen = overrides.listen ?? '127.0.0.1:7001';
  const advertise = overrides.advertise ?? listen;
  return {
    nodeId: advertise,
    listen,
    advertise,
    dataDir: './data/node',
    engine: 'level',
    seeds: [],
    clusterName: 'dkv',
    zone: '',
    weight: 1,
    tokensPerWeight: 64,
    n: 3,
    defaultConsistency: 'quorum',
    fsync: 'never',
    fsyncWindowMs: 2,
    maxKeyBytes: 1 * KIB,
    maxValueBytes: 10 * KIB,
    maxSiblings: 100,
    cacheBytes: 32 * MIB,
    levelCacheBytes: 8 * MIB,
    levelMaxOpenFiles: 128,
    replicaTimeoutMs: 2_000,
    requestTimeoutMs: 5_000,
    expirySweepIntervalMs: 1_000,
    tombstoneGraceMs: 4 * 3600_000,
    gossipIntervalMs: 200,
    phiThreshold: 8,
    hintedHandoff: true,
    maxHintWindowMs: 3 * 3600_000,
    maxHintBytes: 256 * MIB,
    hintReplayIntervalMs: 500,
    hintReplayKeysPerSecond: 5_000,
    antiEntropyIntervalMs: 30_000,
    antiEntropyPauseMs: 5,
    merkleDepth: 12,
    changelogRetentionMs: 3600_000,
    changelogMaxEntries: 1_000_000,
    watchBufferLimit: 10_000,
    streamBytesPerS: 16 * MIB,
    cleanupGraceMs: 3600_000,
    shutdownGraceMs: 5_000,
    ...overrides,
    ...(overrides.nodeId === undefined ? { nodeId: advertise } : {}),
  };
}

/** lan is the preset for nodes on a LAN: slower gossip, larger caches. */
export function lan(overrides: Partial<NodeConfig> = {}): NodeConfig {
  return local({ cacheBytes: 256 * MIB, levelCacheBytes: 64 * MIB, gossipIntervalMs: 1_000, antiEntropyIntervalMs: 10 * 60_000, ...overrides });
}

/** validateConfig checks every field once; the error names the flag and the limit. */
export function validateConfig(c: NodeConfig): NodeConfig {
  const intIn = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw invalidArgument(name, `must be an integer in [${min}, ${max}], got ${v}`);
  };
  if (!c.nodeId || /[\s\x00-\x1f]/.test(c.nodeId) || c.nodeId.length > 200) throw invalidArgument('node-id', 'must be 1-200 characters without spaces or control characters');
  parseHostPort(c.listen, 'listen');
  parseHostPort(c.advertise, 'advertise');
  for (const s of c.seeds) parseHostPort(s, 'seeds');
  intIn('n', c.n, 1, 15);
  if (!(c.weight > 0 && c.weight <= 100)) throw invalidArgument('weight', `must be in (0, 100], got ${c.weight}`);
  intIn('max-value-bytes', c.maxValueBytes, 16, 4 * MIB);
  intIn('max-key-bytes', c.maxKeyBytes, 1, Math.min(64 * KIB, c.maxValueBytes));
  intIn('max-siblings', c.maxSiblings, 1, 10_000);
  intIn('cache-bytes', c.cacheBytes, 0, 64 * 1024 * MIB);
  intIn('fsync-window-ms', c.fsyncWindowMs, 0, 1_000);
  if (!['never', 'batch', 'always'].includes(c.fsync)) throw invalidArgument('fsync', `must be never, batch or always, got ${c.fsync}`);
  if (!['one', 'quorum', 'all'].includes(c.defaultConsistency)) throw invalidArgument('default-consistency', 'must be one, quorum or all');
  if (!(c.phiThreshold >= 1 && c.phiThreshold <= 50)) throw invalidArgument('phi-threshold', `must be in [1, 50], got ${c.phiThreshold}`);
  intIn('gossip-interval', c.gossipIntervalMs, 10, 60_000);
  intIn('merkle-depth', c.merkleDepth, 1, 16);
  intIn('level-max-open-files', c.levelMaxOpenFiles, 20, 100_000);
  intIn('changelog-max-entries', c.changelogMaxEntries, 10, 100_000_000);
  intIn('watch-buffer', c.watchBufferLimit, 10, 1_000_000);
  intIn('anti-entropy-interval', c.antiEntropyIntervalMs, 0, 7 * 24 * 3600_000);
  intIn('cleanup-grace', c.cleanupGraceMs, 0, 30 * 24 * 3600_000);
  if (c.hintedHandoff && c.tombstoneGraceMs <= c.maxHintWindowMs)
    throw invalidArgument('tombstone-grace', `must be longer than --max-hint-window (${c.maxHintWindowMs} ms): a hint older than a purged tombstone could bring deleted data back`);
  if (!['level', 'memory'].includes(c.engine)) throw invalidArgument('engine', 'must be level or memory');
  return c;
}

/** parseHostPort splits "HOST:PORT" ("[::1]:7001" for IPv6). */
export function parseHostPort(s: string, field: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw invalidArgument(field, `expected HOST:PORT, got ${JSON.stringify(s)}`);
  return { host: m[1] ?? m[2], port };
}
