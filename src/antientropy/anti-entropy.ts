import { DkvError, invalidArgument } from '../errors.js';
import type { Clock, Timer } from '../time/clock.js';
import type { Logger } from '../node/logger.js';
import type { Membership } from '../membership/membership.js';
import { isPurgeable, type RecordStore } from '../storage/record-store.js';
import type { KeyDigestEntry, MerkleRef, PeerTransport } from '../transport/peer-transport.js';
import { encodeRecord } from '../storage/record-codec.js';
import { diffKeys, fitDepth, nextFrontier, nodeCount, rangeSize, type RingRange } from './merkle.js';
import { replicatedRanges } from './ranges.js';
import type { TreeCache } from './tree-cache.js';
import { crashPoint } from '../node/crash-point.js';

export interface AntiEntropyOptions {
  /** intervalMs is the time between background passes; 0 disables them. */
  intervalMs: number;
  /** depth is the Merkle depth used for a range (reduced for tiny ranges). */
  depth: number;
  /** pauseMs is slept between two exchanges of a pass (throttling). */
  pauseMs: number;
  /** timeoutMs bounds each internode call. */
  timeoutMs: number;
  /** n is the replication factor. */
  n: number;
  /** graceMs is the tombstone grace period: older all-tombstone records count as absent. */
  graceMs: number;
}

/** RepairProgress is what a pass reports as it goes (Admin.Repair streams it). */
export interface RepairProgress {
  rangesDone: number;
  rangesTotal: number;
  keysCompared: number;
  keysRepaired: number;
  bytesExchanged: number;
  done: boolean;
  message: string;
}

/** The deepest tree a peer may ask for, and the most nodes or leaves per request (T16). */
const MAX_DEPTH = 16;
const MAX_ITEMS = 1 << 16;
const BATCH = 200;

/**
 * AntiEntropy repairs replicas that diverged however it happened (Dynamo 4.7): for each
 * range this node replicates and each other replica, the two compare Merkle trees top-down
 * (only differing subtrees are expanded), list the keys under differing leaves, and exchange
 * the records that differ in both directions, merging by DVV sync. Bytes exchanged grow with
 * the differences, not with the data. Background passes are throttled; repair() runs one
 * pass on demand with progress.
 */
export class AntiEntropy {
  private timer: Timer | undefined;
  private passRunning: Promise<RepairProgress> | undefined;

  constructor(
    private readonly store: RecordStore,
    private readonly trees: TreeCache,
    private readonly membership: Membership,
    private readonly transport: PeerTransport,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: AntiEntropyOptions,
  ) {}

  start(): void {
    if (this.opts.intervalMs > 0) this.timer ??= this.clock.setInterval(() => void this.backgroundPass(), this.opts.intervalMs);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  // ---- responder side -------------------------------------------------------------------

  async merkleHashes(ref: MerkleRef, nodes: number[]): Promise<Buffer[]> {
    const range = checkRef(ref);
    if (nodes.length > MAX_ITEMS) throw invalidArgument('nodes', `at most ${MAX_ITEMS} per request`, MAX_ITEMS);
    const total = nodeCount(ref.depth);
    for (const i of nodes) if (!Number.isInteger(i) || i < 0 || i >= total) throw invalidArgument('nodes', `index ${i} is outside a tree of depth ${ref.depth}`);
    const tree = await this.trees.tree(range, ref.depth);
    return nodes.map((i) => tree.hash(i));
  }

  async merkleLeafKeys(ref: MerkleRef, leaves: number[]): Promise<KeyDigestEntry[]> {
    const range = checkRef(ref);
    if (leaves.length > MAX_ITEMS) throw invalidArgument('leaves', `at most ${MAX_ITEMS} per request`, MAX_ITEMS);
    for (const leaf of leaves) {
      if (!Number.isInteger(leaf) || leaf < 0 || leaf >= 2 ** ref.depth) throw invalidArgument('leaves', `leaf ${leaf} is outside a tree of depth ${ref.depth}`);
    }
    const out: KeyDigestEntry[] = [];
    for (const entries of await this.trees.entriesOfLeaves(range, ref.depth, leaves)) for (const e of entries) out.push({ key: e.key, digest: e.digest });
    // A peer's exchange found differing leaves with this node and is about to repair them.
    crashPoint('merkle.exchange');
    return out;
  }

  // ---- initiator side -------------------------------------------------------------------

  /** repair runs one full pass over every (range, peer) pair; concurrent calls share a pass. */
  repair(onProgress?: (p: RepairProgress) => void, peerFilter?: string): Promise<RepairProgress> {
    if (this.passRunning && !onProgress && !peerFilter) return this.passRunning;
    const pass = this.pass(onProgress, peerFilter);
    if (!onProgress && !peerFilter) {
      this.passRunning = pass;
      void pass.finally(() => (this.passRunning = undefined)).catch(() => undefined);
    }
    return pass;
  }

  private async backgroundPass(): Promise<void> {
    if (this.passRunning) return;
    try {
      const p = await this.repair();
      if (p.keysRepaired > 0) this.log.info(`anti-entropy: ${p.message}`);
    } catch (e) {
      this.log.warn(`anti-entropy pass failed: ${(e as Error).message}`);
    }
  }

  private async pass(onProgress?: (p: RepairProgress) => void, peerFilter?: string): Promise<RepairProgress> {
    const self = this.membership.selfId;
    const ranges = replicatedRanges(this.membership.ring(), self, this.opts.n);
    const pairs = ranges.flatMap((r) => r.replicas.filter((p) => p !== self && (!peerFilter || p === peerFilter)).map((peer) => ({ range: r.range, peer })));
    const p: RepairProgress = { rangesDone: 0, rangesTotal: pairs.length, keysCompared: 0, keysRepaired: 0, bytesExchanged: 0, done: false, message: '' };
    const skipped: string[] = [];
    for (const { range, peer } of pairs) {
      const address = this.membership.address(peer);
      if (!address || this.membership.liveness(peer) !== 'up') {
        if (!skipped.includes(peer)) skipped.push(peer);
      } else {
        try {
          await this.exchange(range, address, p);
        } catch (e) {
          if (!skipped.includes(peer)) skipped.push(peer);
          this.log.debug(`anti-entropy with ${peer} failed: ${(e as Error).message}`);
        }
      }
      p.rangesDone++;
      onProgress?.({ ...p });
      if (this.opts.pauseMs > 0) await this.clock.sleep(this.opts.pauseMs);
    }
    p.done = true;
    p.message = `compared ${p.rangesTotal} range/peer pair(s): ${p.keysCompared} key(s) under differing leaves, ${p.keysRepaired} repaired, ${p.bytesExchanged} bytes exchanged${skipped.length ? `; unreachable: ${skipped.join(', ')}` : ''}`;
    onProgress?.({ ...p });
    return p;
  }

  /** exchange compares one range with one peer and repairs both sides; stats accumulate into p. */
  async exchange(range: RingRange, address: string, p: RepairProgress): Promise<void> {
    const depth = fitDepth(range, this.opts.depth);
    const ref = { start: range.start, end: range.end, depth };
    const local = await this.trees.tree(range, depth);
    const self = this.membership.selfId;
    let frontier = [0];
    const leaves: number[] = [];
    while (frontier.length > 0) {
      const remote = await this.transport.merkleHashes(address, ref, frontier, this.opts.timeoutMs);
      p.bytesExchanged += frontier.length * 4 + remote.length * 16;
      const step = nextFrontier(local, frontier, remote);
      leaves.push(...step.differingLeaves);
      frontier = step.next;
    }
    if (leaves.length === 0) return;
    const remoteKeys = await this.transport.merkleLeafKeys(address, ref, leaves, this.opts.timeoutMs);
    const localKeys: KeyDigestEntry[] = [];
    for (const entries of await this.trees.entriesOfLeaves(range, depth, leaves)) localKeys.push(...entries);
    p.bytesExchanged += leaves.length * 4 + remoteKeys.reduce((s, e) => s + e.key.length + e.digest.length, 0);
    p.keysCompared += new Set([...localKeys, ...remoteKeys].map((e) => e.key.toString('latin1'))).size;
    const diff = diffKeys(localKeys, remoteKeys);
    const pull = [...diff.missingLocally, ...diff.different];
    const push = [...diff.missingRemotely, ...diff.different];
    for (let i = 0; i < pull.length; i += BATCH) {
      const keys = pull.slice(i, i + BATCH);
      const records = await this.transport.replicaRead(address, self, keys, this.opts.timeoutMs);
      p.bytesExchanged += records.reduce((s, r) => s + encodeRecord(r).length, 0);
      // A long-dead tombstone is never copied to a replica that lacks the key (see isPurgeable).
      const now = this.clock.now();
      const wanted = keys.map((key, j) => ({ key, versions: records[j] ?? [] })).filter((e) => !(diff.missingLocally.includes(e.key) && isPurgeable(e.versions, now, this.opts.graceMs)));
      const results = await this.store.merge(wanted);
      p.keysRepaired += results.filter((r) => r.changed).length;
      if (results.some((r) => r.changed)) crashPoint('merkle.exchange');
    }
    for (let i = 0; i < push.length; i += BATCH) {
      const keys = push.slice(i, i + BATCH);
      const records = await this.store.readMany(keys);
      p.bytesExchanged += records.reduce((s, r) => s + encodeRecord(r).length, 0);
      const now = this.clock.now();
      const entries = keys.map((key, j) => ({ key, versions: records[j] })).filter((e) => !(diff.missingRemotely.includes(e.key) && isPurgeable(e.versions, now, this.opts.graceMs)));
      if (entries.length > 0) {
        await this.transport.replicaWrite(address, self, 'anti-entropy', entries, this.opts.timeoutMs);
        crashPoint('merkle.exchange');
      }
      p.keysRepaired += diff.missingRemotely.filter((k) => keys.includes(k)).length;
    }
  }
}

function checkRef(ref: MerkleRef): RingRange {
  if (!Number.isInteger(ref.depth) || ref.depth < 0 || ref.depth > MAX_DEPTH) throw invalidArgument('depth', `must be in [0, ${MAX_DEPTH}], got ${ref.depth}`, MAX_DEPTH);
  const range = { start: ref.start >>> 0, end: ref.end >>> 0 };
  if (2 ** ref.depth > rangeSize(range)) throw new DkvError('INVALID_ARGUMENT', `depth ${ref.depth} is too deep for a range of ${rangeSize(range)} positions`);
  return range;
}
