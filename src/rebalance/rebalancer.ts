import { DkvError } from '../errors.js';
import type { Clock } from '../time/clock.js';
import type { Logger } from '../node/logger.js';
import type { Membership } from '../membership/membership.js';
import type { RecordStore } from '../storage/record-store.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import type { AntiEntropy, RepairProgress } from '../antientropy/anti-entropy.js';
import type { TreeCache } from '../antientropy/tree-cache.js';
import { fitDepth, type RingRange } from '../antientropy/merkle.js';
import { scanDigests } from '../antientropy/digest-index.js';
import { encodeRecord } from '../storage/record-codec.js';
import { metaKey } from '../storage/keyspace.js';
import { hashKey } from '../ring/hash.js';
import { primaries } from '../ring/preference-list.js';
import type { Ring } from '../ring/ring.js';
import { moves, type Move } from './plan.js';
import type { RangeCursor } from './range-stream.js';
import { crashPoint } from '../node/crash-point.js';

export type OperationKind = 'join' | 'decommission' | 'reweigh' | 'removenode' | 'cleanup';

/** StreamKind is an operation that streams ranges: this node joins, leaves or is reweighed. */
export type StreamKind = 'join' | 'decommission' | 'reweigh';

/** OperationStatus is a long operation's progress (Admin.Status lists them). */
export interface OperationStatus {
  kind: OperationKind;
  state: 'running' | 'done' | 'failed';
  done: number;
  total: number;
  bytes: number;
  rateBytesPerS: number;
  etaMs: number;
  message: string;
}

interface Progress {
  kind: StreamKind;
  /** dir: 'pull' streams the range from `peer` (comma-separated sources) into this node; 'push' sends it to `peer`. Absent in records of older versions: pull for join, push for decommission. */
  ranges: Array<{ start: number; end: number; peer: string; done: boolean; cursor?: string; dir?: 'pull' | 'push' }>;
  bytes: number;
}

export interface RebalancerOptions {
  n: number;
  /** streamBytesPerS throttles each range stream (0 = unthrottled). */
  streamBytesPerS: number;
  merkleDepth: number;
  timeoutMs: number;
}

/**
 * Rebalancer moves data when the ring changes (the Cassandra bootstrap / decommission /
 * removenode model): a JOINING node pulls each range it will own from a current replica;
 * a LEAVING node pushes each range it holds to the node that will own it. Streams are
 * throttled and resumable: the last confirmed key of every range is kept in the node's
 * metadata, so a crash of either side continues from there, not from zero. Each moved range is
 * then checked by comparing Merkle roots, and reconciled by an anti-entropy exchange if writes
 * landed meanwhile. While a move runs, coordinators also send writes to the new owners; since
 * that fan-out can be cut short, every range is reconciled once more with the node giving it up
 * just before the change completes (runStreams).
 */
export class Rebalancer {
  private readonly ops: OperationStatus[] = [];
  private stopped = false;

  constructor(
    private readonly store: RecordStore,
    private readonly membership: Membership,
    private readonly transport: PeerTransport,
    private readonly antiEntropy: AntiEntropy,
    private readonly trees: TreeCache,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly opts: RebalancerOptions,
  ) {}

  /** stop makes running streams give up at their next step (the node is stopping or crashed). */
  stop(): void {
    this.stopped = true;
  }

  private checkStopped(): void {
    if (this.stopped) throw new DkvError('NOT_SERVING', 'the node is stopping; the stream resumes from its last confirmed key on restart');
  }

  operations(): OperationStatus[] {
    return this.ops.slice(-10);
  }

  running(): OperationStatus | undefined {
    return this.ops.find((o) => o.state === 'running');
  }

  /**
   * plannedMoves lists the ranges a join (self joining), a decommission (self leaving) or a
   * reweigh of this node (to the pending tokens of its member row) moves. A reweigh's moves
   * are those that involve this node: it pulls what it gains and pushes what it gives up
   * (the node checks beforehand that the plan has no other move).
   */
  plannedMoves(kind: StreamKind): Move[] {
    const self = this.membership.selfId;
    const cur = this.membership.ring();
    if (kind === 'join') {
      const future = this.membership.futureRing();
      return moves(cur.node(self) ? cur.withoutNode(self) : cur, future.node(self) ? future : cur, this.opts.n).filter((m) => m.to === self);
    }
    if (kind === 'reweigh') return moves(cur, this.membership.futureRing(), this.opts.n).filter((m) => m.to === self || m.from.includes(self));
    return moves(cur, cur.withoutNode(self), this.opts.n).filter((m) => m.from.includes(self));
  }

  /** runStreams performs (or resumes) the join, decommission or reweigh streams of this node. */
  async runStreams(kind: StreamKind): Promise<void> {
    const op = this.start(kind);
    const self = this.membership.selfId;
    try {
      const saved = await this.store.getMeta('stream-progress');
      let p = saved ? (JSON.parse(saved.toString('utf8')) as Progress) : undefined;
      if (!p || p.kind !== kind) {
        p = {
          kind,
          bytes: 0,
          ranges: this.plannedMoves(kind).map((m) => {
            const dir = m.to === self ? ('pull' as const) : ('push' as const);
            return { start: m.range.start, end: m.range.end, peer: dir === 'pull' ? m.from.join(',') : m.to, done: false, dir };
          }),
        };
        await this.saveProgress(p);
      } else {
        this.log.info(`${kind}: resuming: ${p.ranges.filter((r) => r.done).length}/${p.ranges.length} ranges already done, ${p.bytes} bytes streamed before`);
      }
      op.total = p.ranges.length;
      op.done = p.ranges.filter((r) => r.done).length;
      const startBytes = p.bytes;
      const startedAt = this.clock.monotonic();
      for (const r of p.ranges) {
        if (r.done) continue;
        this.checkStopped();
        const range = { start: r.start, end: r.end };
        const dir = r.dir ?? (kind === 'join' ? 'pull' : 'push');
        if (dir === 'pull') await this.pull(range, r.peer.split(','), r, p, op);
        else await this.push(range, r.peer, r, p, op);
        await this.verify(range, dir === 'pull' ? r.peer.split(',') : [r.peer]);
        r.done = true;
        op.done++;
        await this.saveProgress(p);
        const secs = (this.clock.monotonic() - startedAt) / 1000;
        op.rateBytesPerS = secs > 0 ? (p.bytes - startBytes) / secs : 0;
        op.etaMs = op.done > 0 ? Math.round(((this.clock.monotonic() - startedAt) / op.done) * (op.total - op.done)) : 0;
      }
      // Catch-up: a range is marked done once streamed, but the node giving it up keeps serving
      // it until the change completes. A write that node takes for the range afterwards reaches
      // the new owner only through the coordinator's fan-out, which a lost message, or a crash
      // of that node between its local write and the fan-out (a W = 1 write is acknowledged by
      // then, and its hint dies with the process), cuts short: the record's only copy is then on
      // a node that stops replicating the range (and leaves, or cleans it up). So, before the
      // change completes, every range is reconciled once more, on every run (a resumed run
      // included), with the node on the other side that gives it up: a pushed range with its
      // new owner (one that cannot be checked fails the run, which is retried); a pulled range
      // with each source leaving its replica set, if it is up (a source down at this point keeps
      // such a write only until its cleanup: best effort, as the streams' own verify).
      for (const r of p.ranges) {
        this.checkStopped();
        const range = { start: r.start, end: r.end };
        if ((r.dir ?? (kind === 'join' ? 'pull' : 'push')) === 'push') {
          await this.catchUp(range, r.peer);
          continue;
        }
        const future = this.membership.futureRing();
        const keeps = future.ownerCount > 0 ? primaries(future, r.end, Math.min(this.opts.n, future.ownerCount)) : [];
        for (const source of r.peer.split(',')) if (source !== self && !keeps.includes(source)) await this.verify(range, [source]);
      }
      op.message = `${kind} streamed ${p.bytes - startBytes} bytes in this run (${p.bytes} in all) over ${p.ranges.length} range(s)`;
      this.log.info(op.message);
      await this.store.putMeta('stream-progress', Buffer.from('{}'));
      op.state = 'done';
    } catch (e) {
      op.state = 'failed';
      op.message = (e as Error).message;
      throw e;
    }
  }

  /** pull streams one range from the first source that answers, resuming at the cursor. */
  private async pull(range: RingRange, sources: string[], r: Progress['ranges'][number], p: Progress, op: OperationStatus): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      this.checkStopped();
      const source = sources[attempt % sources.length];
      const address = this.membership.address(source);
      if (address && this.membership.liveness(source) !== 'down') {
        try {
          await new Promise<void>((resolve, reject) => {
            let chain = Promise.resolve();
            this.transport.streamRange(address, range, r.cursor ? decodeCursorB64(r.cursor) : undefined, this.opts.streamBytesPerS, {
              send: (c) => {
                chain = chain.then(async () => {
                  if (c.entries.length) {
                    await this.store.merge(c.entries);
                    crashPoint('stream.merged');
                  }
                  if (c.last) r.cursor = encodeCursorB64(c.last);
                  p.bytes += c.bytes;
                  op.bytes = p.bytes;
                  await this.saveProgress(p);
                });
                return true;
              },
              end: (err) => void chain.then(() => (err ? reject(err) : resolve()), reject),
            });
          });
          return;
        } catch (e) {
          this.log.warn(`streaming (${range.start}, ${range.end}] from ${source} failed: ${(e as Error).message}; retrying from the last confirmed key`);
        }
      }
      if (attempt > 200) throw new DkvError('PEER_UNAVAILABLE', `no replica of (${range.start}, ${range.end}] could stream it`);
      await this.clock.sleep(Math.min(2_000, 200 * (attempt + 1)));
    }
  }

  /** push sends one range's records to its new owner in batches, resuming at the cursor. */
  private async push(range: RingRange, to: string, r: Progress['ranges'][number], p: Progress, op: OperationStatus): Promise<void> {
    const self = this.membership.selfId;
    for (let attempt = 0; ; attempt++) {
      this.checkStopped();
      const address = this.membership.address(to);
      try {
        if (!address) throw new DkvError('PEER_UNAVAILABLE', `no address for ${to}`);
        let batch: Array<{ key: Buffer; pos: number }> = [];
        const startedAt = this.clock.monotonic();
        let sent = 0;
        const flush = async () => {
          const records = await this.store.readMany(batch.map((b) => b.key));
          const entries = batch.map((b, i) => ({ key: b.key, versions: records[i] })).filter((e) => e.versions.length > 0);
          const bytes = entries.reduce((s, e) => s + e.key.length + encodeRecord(e.versions).length, 0);
          if (entries.length) await this.transport.replicaWrite(address, self, 'stream', entries, this.opts.timeoutMs);
          const last = batch[batch.length - 1];
          r.cursor = encodeCursorB64({ pos: last.pos, key: last.key });
          p.bytes += bytes;
          op.bytes = p.bytes;
          sent += bytes;
          batch = [];
          await this.saveProgress(p);
          if (this.opts.streamBytesPerS > 0) {
            const wait = startedAt + (sent / this.opts.streamBytesPerS) * 1000 - this.clock.monotonic();
            if (wait > 0) await this.clock.sleep(wait);
          }
        };
        for await (const e of scanDigests(this.store, range, r.cursor ? decodeCursorB64(r.cursor) : undefined)) {
          this.checkStopped();
          batch.push({ key: e.key, pos: e.pos });
          if (batch.length >= 200) await flush();
        }
        if (batch.length) await flush();
        return;
      } catch (e) {
        if (this.stopped || attempt > 200) throw e;
        this.log.warn(`pushing (${range.start}, ${range.end}] to ${to} failed: ${(e as Error).message}; retrying from the last confirmed key`);
        await this.clock.sleep(Math.min(2_000, 200 * (attempt + 1)));
      }
    }
  }

  /** verify compares the range's Merkle root with each peer and reconciles a difference. */
  private async verify(range: RingRange, peers: string[]): Promise<void> {
    for (const peer of peers) {
      const address = this.membership.address(peer);
      if (!address || this.membership.liveness(peer) === 'down') continue;
      try {
        await this.reconcile(range, peer, address);
        return;
      } catch (e) {
        this.log.warn(`checking (${range.start}, ${range.end}] against ${peer} failed: ${(e as Error).message}`);
      }
    }
  }

  /**
   * catchUp reconciles a pushed range with its new owner and, unlike verify, does not give up:
   * it retries like a push and throws if the owner cannot be checked (see runStreams).
   */
  private async catchUp(range: RingRange, to: string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      this.checkStopped();
      const address = this.membership.address(to);
      try {
        if (!address) throw new DkvError('PEER_UNAVAILABLE', `no address for ${to}`);
        await this.reconcile(range, to, address);
        return;
      } catch (e) {
        if (this.stopped || attempt >= 20) throw e;
        this.log.warn(`catching up (${range.start}, ${range.end}] with ${to} failed: ${(e as Error).message}; retrying`);
        await this.clock.sleep(Math.min(2_000, 200 * (attempt + 1)));
      }
    }
  }

  /** reconcile compares the range's Merkle root with peer's and runs an exchange if they differ. */
  private async reconcile(range: RingRange, peer: string, address: string): Promise<void> {
    const depth = fitDepth(range, this.opts.merkleDepth);
    const mine = (await this.trees.tree(range, depth)).root();
    const [theirs] = await this.transport.merkleHashes(address, { ...range, depth }, [0], this.opts.timeoutMs);
    if (theirs && Buffer.compare(theirs, mine) !== 0) {
      const p: RepairProgress = { rangesDone: 0, rangesTotal: 1, keysCompared: 0, keysRepaired: 0, bytesExchanged: 0, done: false, message: '' };
      await this.antiEntropy.exchange(range, address, p);
      this.log.info(`range (${range.start}, ${range.end}] reconciled with ${peer} after streaming: ${p.keysRepaired} key(s)`);
    }
  }

  /** removeNode marks a dead node as left and re-replicates what this node now holds for it. */
  async removeNode(id: string): Promise<OperationStatus> {
    const op = this.start('removenode');
    this.membership.markRemoved(id);
    try {
      const r = await this.antiEntropy.repair((p) => {
        op.done = p.rangesDone;
        op.total = p.rangesTotal;
        op.bytes = p.bytesExchanged;
      });
      op.message = `${id} removed; re-replication on this node: ${r.message}`;
      op.state = 'done';
    } catch (e) {
      op.state = 'failed';
      op.message = (e as Error).message;
    }
    return op;
  }

  /**
   * cleanup deletes the records of keys this node replicates neither in the current ring nor
   * in the ring of the change in progress (futureRing). Safety contract: every key is checked
   * against both rings as they are at the moment it is deleted, not only when the scan saw it,
   * so a change that starts meanwhile (gossip arriving, or this node starting a reweigh) never
   * loses a key this node is about to receive or keep. With `auto` (the grace-period cleanup),
   * it does nothing while any topology change is in progress and stops as soon as one starts
   * or the ring changes: what is left is deleted by the next cleanup.
   */
  async cleanup(opts: { auto?: boolean } = {}): Promise<OperationStatus & { complete: boolean }> {
    const op = this.start('cleanup');
    const self = this.membership.selfId;
    const mine = (r: Ring, key: Buffer) => r.ownerCount > 0 && primaries(r, hashKey(key), Math.min(this.opts.n, r.ownerCount)).includes(self);
    const startRing = this.membership.ring();
    const interrupted = () => opts.auto && (this.membership.changing().length > 0 || this.membership.ring() !== startRing);
    if (this.membership.ring().ownerCount === 0 || interrupted()) {
      op.message = 'skipped: a topology change is in progress or this node knows no ring yet';
      op.state = 'done';
      return { ...op, complete: false };
    }
    const gone: Buffer[] = [];
    for await (const e of scanDigests(this.store, { start: 0, end: 0 })) {
      op.total++;
      if (!mine(this.membership.ring(), e.key) && !mine(this.membership.futureRing(), e.key)) gone.push(e.key);
    }
    let stopped = false;
    for (const key of gone) {
      if (interrupted()) {
        stopped = true;
        break;
      }
      // Checked again now: the rings may have changed since the scan.
      if (mine(this.membership.ring(), key) || mine(this.membership.futureRing(), key)) continue;
      if (await this.store.drop(key)) op.done++;
    }
    op.message = `${opts.auto ? 'automatic cleanup ' : ''}deleted ${op.done} record(s) of ranges this node no longer replicates, kept ${op.total - op.done}${stopped ? ' (stopped early: the ring changed)' : ''}`;
    op.state = 'done';
    this.log.info(`cleanup: ${op.message}`);
    return { ...op, complete: !stopped };
  }

  private start(kind: OperationKind): OperationStatus {
    const op: OperationStatus = { kind, state: 'running', done: 0, total: 0, bytes: 0, rateBytesPerS: 0, etaMs: 0, message: '' };
    this.ops.push(op);
    return op;
  }

  /**
   * saveProgress records the confirmed cursors through the group committer (no fsync of its
   * own: after a power loss a stream resumes from an older cursor, which re-sends some keys
   * and merges them idempotently).
   */
  private async saveProgress(p: Progress): Promise<void> {
    await this.store.commit([{ type: 'put', key: metaKey('stream-progress'), value: Buffer.from(JSON.stringify(p), 'utf8') }]);
  }
}

function encodeCursorB64(c: RangeCursor): string {
  return `${c.pos}:${c.key.toString('base64')}`;
}

function decodeCursorB64(s: string): RangeCursor {
  const i = s.indexOf(':');
  return { pos: Number(s.slice(0, i)), key: Buffer.from(s.slice(i + 1), 'base64') };
}
