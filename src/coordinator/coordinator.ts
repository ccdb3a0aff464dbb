import { DkvError, isDkvError } from '../errors.js';
import type { Clock } from '../time/clock.js';
import type { Logger } from '../node/logger.js';
import type { NodeConfig } from '../node/config.js';
import type { Membership } from '../membership/membership.js';
import { isPurgeable, type RecordStore } from '../storage/record-store.js';
import type { ForwardOp, ForwardResult, PeerTransport, Purpose, ReplicaEntry } from '../transport/peer-transport.js';
import { hashKey } from '../ring/hash.js';
import { preferenceList, primaries, type PreferenceEntry } from '../ring/preference-list.js';
import { vvCovers, type Dot, type VersionVector } from '../versioning/dvv.js';
import { applyWrite, contextAfterWrite, contextOf, liveValues, newVersion, nextDot, sameVersions, sync, type Version } from '../versioning/siblings.js';
import { gather, type Gathered } from './gather.js';
import { checkQuorums, required, type ConsistencyRequest } from './quorum.js';
import type { Receipt, ReplicaAck } from './receipt.js';
import { crashPoint } from '../node/crash-point.js';

export interface GetResult {
  /** versions is the merged record (tombstones and expired versions included). */
  versions: Version[];
  /** live is what the client sees: values neither deleted nor expired. */
  live: Version[];
  context: VersionVector;
  receipt: Receipt;
}

export interface CoordinatorDeps {
  config: Pick<NodeConfig, 'n' | 'defaultConsistency' | 'maxSiblings' | 'replicaTimeoutMs' | 'requestTimeoutMs' | 'tombstoneGraceMs'>;
  store: RecordStore;
  membership: Membership;
  transport: PeerTransport;
  clock: Clock;
  log: Logger;
  /**
   * hints records a write a primary did not acknowledge, on this node, for later delivery;
   * absent when hinted handoff is off (then only anti-entropy repairs such replicas).
   */
  hints?: { add(target: string, key: Buffer, versions: readonly Version[]): Promise<void> };
  /** readLocal / writeLocal reach this node's own replica (records, or hints for hintedFor). */
  readLocal(key: Buffer, hintedFor?: string): Promise<Version[]>;
  writeLocal(entries: ReplicaEntry[]): Promise<void>;
}

/**
 * Coordinator serves client requests over a key's replicas (Dynamo section 4.5): any node
 * accepts any request. A write is coordinated by a primary replica of its key when one is
 * reachable (a non-replica forwards it once), which issues the new dot and sends the new
 * version to all N replicas in parallel, answering after W acknowledgements. A read asks
 * the replicas, answers after R replies, merges them by DVV sync and sends the merged record
 * to every replica that answered with less (read repair).
 */
export class Coordinator {
  constructor(private readonly d: CoordinatorDeps) {}

  private get selfId(): string {
    return this.d.membership.selfId;
  }

  /**
   * writePlan is plan() plus the pending replicas: nodes the joins or decommissions in
   * progress will make replicas of the key. They get every write but never count towards W.
   */
  writePlan(key: Buffer): { entries: PreferenceEntry[]; n: number; pending: Set<PreferenceEntry> } {
    const p = this.plan(key);
    const pending = new Set<PreferenceEntry>();
    const future = this.d.membership.futureRing();
    if (future !== this.d.membership.ring() && future.ownerCount > 0) {
      const have = new Set(p.entries.flatMap((e) => [e.nodeId, e.hintedFor ?? e.nodeId]));
      for (const id of primaries(future, hashKey(key), Math.min(this.d.config.n, future.ownerCount))) {
        if (have.has(id)) continue;
        const e: PreferenceEntry = { nodeId: id, primary: false };
        pending.add(e);
        p.entries.push(e);
      }
    }
    return { ...p, pending };
  }

  /** plan returns the key's replicas now: primaries, or fallbacks standing in for unusable ones. */
  plan(key: Buffer): { entries: PreferenceEntry[]; n: number } {
    const ring = this.d.membership.ring();
    if (ring.ownerCount === 0) throw new DkvError('NOT_SERVING', `${this.selfId} has not joined a ring yet`);
    const n = Math.min(this.d.config.n, ring.ownerCount);
    // With hinted handoff off there is no one to hold a fallback's hint: DOWN primaries are
    // simply skipped (anti-entropy repairs them) instead of being replaced by fallbacks.
    const entries = this.d.hints
      ? preferenceList(ring, hashKey(key), n, { usable: this.d.membership.isUsable })
      : preferenceList(ring, hashKey(key), n).filter((e) => this.d.membership.isUsable(e.nodeId));
    return { entries, n };
  }

  async get(key: Buffer, c: ConsistencyRequest, timeoutMs?: number): Promise<GetResult> {
    checkQuorums(c, this.d.config.n);
    const deadline = this.deadline(timeoutMs);
    const { entries, n } = this.plan(key);
    const r = required(c, 'r', this.d.config.n, n, this.d.config.defaultConsistency);
    const counts = (e: PreferenceEntry) => !c.strict || e.primary;
    const g = await gather(entries, (e) => this.readReplica(e, key, deadline), r, counts, deadline, this.d.clock);
    if (!g.met) throw this.unavailable('read', 'R', r, n, g, counts);
    let merged: Version[] = [];
    for (const o of g.ok) merged = sync(merged, o.value);
    const purgeable = isPurgeable(merged, this.d.clock.now(), this.d.config.tombstoneGraceMs);
    const needsRepair = (v: Version[]) => !sameVersions(v, merged) && !(purgeable && v.length === 0);
    const stale = g.ok.filter((o) => needsRepair(o.value)).map((o) => o.entry);
    for (const e of stale) void this.repair(e, key, merged);
    // Replicas answering after the response still get the merged record.
    void g.settled.then(({ ok }) => {
      for (const late of ok) if (!g.ok.some((o) => o.entry === late.entry) && needsRepair(late.value)) void this.repair(late.entry, key, merged);
    });
    return {
      versions: merged,
      live: liveValues(merged, this.d.clock.now()),
      context: contextOf(merged),
      receipt: this.receipt(r, n, g.ok.map((o) => o.entry), stale.map((e) => e.nodeId)),
    };
  }

  /** write coordinates a Put or Delete (forwarding it to a primary when this node is not one). */
  async write(op: ForwardOp, hops = 0, timeoutMs?: number): Promise<ForwardResult> {
    checkQuorums(op.consistency, this.d.config.n);
    const deadline = this.deadline(timeoutMs);
    const { entries, n, pending } = this.writePlan(op.key);
    const isPrimary = entries.some((e) => e.primary && e.nodeId === this.selfId);
    if (!isPrimary && hops === 0) {
      for (const e of entries.filter((x) => x.primary)) {
        const address = this.d.membership.address(e.nodeId);
        if (!address) continue;
        try {
          return await this.d.transport.forward(address, this.selfId, op, 1, this.remaining(deadline, this.d.config.requestTimeoutMs));
        } catch (err) {
          // Fail over only when the primary certainly did not take the write (unreachable or
          // refusing to serve). After a timeout it may have coordinated it: trying another
          // coordinator would store the same client write twice, as two siblings.
          if (isDkvError(err, 'DEADLINE_EXCEEDED') || (isDkvError(err) && err.details.maybeApplied))
            throw new DkvError('QUORUM_UNAVAILABLE', `${e.nodeId} did not answer the forwarded ${op.kind} (${(err as Error).message}); it may have been applied`, {}, { cause: err });
          if (!isDkvError(err, 'PEER_UNAVAILABLE') && !isDkvError(err, 'NOT_SERVING')) throw err;
          this.d.log.debug(`forward to ${e.nodeId} failed (${(err as Error).message}); trying the next replica`);
        }
      }
      // No primary answered: coordinate here (sloppy quorum decides who stores the write).
    }
    return this.coordinate(op, entries, n, deadline, pending);
  }

  /**
   * coordinate issues the write's dot and replicates it (Dynamo 4.5 with the DVV rules that
   * keep counter-based contexts safe, cf. Riak kv679):
   * 1. as a primary holding the key, the new version is applied to the local record under the
   *    key lock and the WHOLE resulting record is shipped, so every replica that gets the new
   *    dot also gets every earlier dot of this actor for the key (a context that covers the
   *    new dot then never covers a write its holder has not seen);
   * 2. the counter exceeds everything the record, the context and this node ever issued;
   * 3. a coordinator without a local record of the key (a new key, or a fallback) writes with a
   *    one-off actor, so its dot can never make a context cover an unseen earlier write.
   */
  private async coordinate(op: ForwardOp, entries: PreferenceEntry[], n: number, deadline: number, pending: Set<PreferenceEntry>): Promise<ForwardResult> {
    const w = required(op.consistency, 'w', this.d.config.n, n, this.d.config.defaultConsistency);
    const self = entries.find((e) => e.nodeId === this.selfId);
    const now = this.d.clock.now();
    const fields = {
      value: op.kind === 'put' ? op.value : Buffer.alloc(0),
      tombstone: op.kind === 'delete',
      expiresAtMs: op.kind === 'put' && op.ttlMs > 0 ? now + op.ttlMs : 0,
      writtenAtMs: now,
    };
    const floor = await this.d.store.nextCounter();
    let dot!: Dot;
    const build = (local: Version[]): Version[] => {
      this.checkSiblingLimit(local, op.context);
      const actor = local.length > 0 && self?.primary ? this.d.store.actor : `${this.d.store.actor}.${floor.toString(36)}`;
      dot = nextDot(actor, local, op.context, floor - 1);
      return applyWrite(local, op.context, newVersion(dot, op.context, fields));
    };
    // A primary writes locally first; anyone else ships just the new version.
    const record = self?.primary ? await this.d.store.update(op.key, build) : build([]);
    if (self?.primary) crashPoint('coordinator.local-written');
    const counts = (e: PreferenceEntry) => !pending.has(e) && (!op.consistency.strict || e.primary);
    const call = (e: PreferenceEntry) => (e === self && self.primary ? Promise.resolve() : this.writeReplica(e, op.key, record, 'write', deadline));
    const g = await gather(entries, call, w, counts, deadline, this.d.clock);
    let acked = g.ok.map((o) => o.entry);
    let met = g.met;
    let settled: Promise<Array<{ ok: Array<{ entry: PreferenceEntry }> }>> = g.settled.then((x) => [x]);
    if (!met && !op.consistency.strict && this.d.hints) {
      // Sloppy quorum: primaries that failed or did not answer in time are stood in for by
      // the next healthy nodes clockwise, each holding the write as a hint for its primary.
      const missing = entries.filter((e) => e.primary && !acked.includes(e) && !pending.has(e));
      const extra = this.standIns(op.key, entries, missing);
      if (extra.length > 0) {
        const g2 = await gather(extra, call, w - acked.filter(counts).length, () => true, deadline, this.d.clock);
        acked = [...acked, ...g2.ok.map((o) => o.entry)];
        met = g2.met;
        settled = Promise.all([g.settled, g2.settled]);
      }
    }
    // Hints go only to replicas that never acknowledged, also counting acks after the response.
    void settled.then((all) => this.hintUnacknowledged(op.key, record, entries, all.flatMap((x) => x.ok.map((o) => o.entry))));
    if (!met) throw this.unavailable('write', 'W', w, n, { ...g, ok: g.ok.filter((o) => acked.includes(o.entry)) }, counts);
    return { context: contextAfterWrite(record, op.context, dot), receipt: this.receipt(w, n, acked.filter((e) => !pending.has(e)), [], dot) };
  }

  /** standIns picks, for each missing primary, the next usable node clockwise not yet used. */
  private standIns(key: Buffer, used: PreferenceEntry[], missing: PreferenceEntry[]): PreferenceEntry[] {
    const ring = this.d.membership.ring();
    const taken = new Set(used.map((e) => e.nodeId));
    const order = preferenceList(ring, hashKey(key), ring.ownerCount).map((e) => e.nodeId);
    const out: PreferenceEntry[] = [];
    for (const m of missing) {
      const next = order.find((id) => !taken.has(id) && id !== this.selfId && this.d.membership.isUsable(id));
      if (!next) break;
      taken.add(next);
      out.push({ nodeId: next, primary: false, hintedFor: m.nodeId });
    }
    return out;
  }

  /**
   * hintUnacknowledged keeps, on this node, a hint for every primary that never acknowledged
   * the write and for which no fallback did either: a replica that misses a write always gets
   * it later (SPEC 2), from a fallback, from this coordinator, or from anti-entropy.
   */
  private async hintUnacknowledged(key: Buffer, record: Version[], entries: PreferenceEntry[], acked: PreferenceEntry[]): Promise<void> {
    if (!this.d.hints) return;
    const covered = new Set(acked.map((e) => (e.primary ? e.nodeId : (e.hintedFor ?? e.nodeId))));
    const targets = new Set(entries.map((e) => (e.primary ? e.nodeId : (e.hintedFor ?? e.nodeId))));
    for (const t of targets) {
      if (covered.has(t) || t === this.selfId) continue;
      try {
        await this.d.hints.add(t, key, record);
      } catch (e) {
        this.d.log.warn(`could not keep a hint for ${t}: ${(e as Error).message}`);
      }
    }
  }

  /** checkSiblingLimit refuses a client write that would leave more than maxSiblings versions. */
  private checkSiblingLimit(local: readonly Version[], context: VersionVector): void {
    const kept = local.filter((v) => !vvCovers(context, v.dot)).length;
    if (kept + 1 > this.d.config.maxSiblings)
      throw new DkvError(
        'TOO_MANY_SIBLINGS',
        `key has ${kept} siblings the write's context has not seen; one more would exceed the limit of ${this.d.config.maxSiblings} (--max-siblings): read the key and write with its context to resolve them`,
        { limit: this.d.config.maxSiblings },
      );
  }

  private async readReplica(e: PreferenceEntry, key: Buffer, deadline: number): Promise<Version[]> {
    if (e.nodeId === this.selfId) return this.d.readLocal(key, e.hintedFor);
    const [versions] = await this.d.transport.replicaRead(this.addressOf(e.nodeId), this.selfId, [key], this.remaining(deadline), e.hintedFor);
    return versions ?? [];
  }

  private async writeReplica(e: PreferenceEntry, key: Buffer, versions: Version[], purpose: Purpose, deadline: number): Promise<void> {
    if (e.nodeId === this.selfId) {
      await this.d.writeLocal([{ key, versions, hintedFor: e.hintedFor }]);
      return;
    }
    await this.d.transport.replicaWrite(this.addressOf(e.nodeId), this.selfId, purpose, [{ key, versions, hintedFor: e.hintedFor }], this.remaining(deadline));
  }

  private async repair(e: PreferenceEntry, key: Buffer, merged: Version[]): Promise<void> {
    try {
      await this.writeReplica(e, key, merged, 'read-repair', this.d.clock.monotonic() + this.d.config.replicaTimeoutMs);
    } catch (err) {
      this.d.log.debug(`read repair of ${e.nodeId} failed: ${(err as Error).message}`);
    }
  }

  private addressOf(id: string): string {
    const a = this.d.membership.address(id);
    if (!a) throw new DkvError('PEER_UNAVAILABLE', `no address known for ${id}`);
    return a;
  }

  private deadline(timeoutMs?: number): number {
    const t = timeoutMs === undefined ? this.d.config.requestTimeoutMs : Math.min(timeoutMs, this.d.config.requestTimeoutMs);
    return this.d.clock.monotonic() + Math.max(1, t);
  }

  private remaining(deadline: number, cap = this.d.config.replicaTimeoutMs): number {
    return Math.max(1, Math.min(cap, deadline - this.d.clock.monotonic()));
  }

  /** receipt describes who answered; `created` is the dot a write issued (absent for reads). */
  private receipt(required: number, n: number, answered: PreferenceEntry[], repaired: string[], created?: Dot): Receipt {
    const replicas: ReplicaAck[] = answered.map((e) => ({ nodeId: e.nodeId, fallback: !e.primary, hintedFor: e.hintedFor }));
    const r: Receipt = { coordinator: this.selfId, required, n, replicas, readRepaired: repaired };
    if (created) r.version = `${created.actor}:${created.counter}`;
    return r;
  }

  private unavailable(
    what: 'read' | 'write',
    letter: 'R' | 'W',
    needed: number,
    n: number,
    g: Gathered<unknown>,
    counts: (e: PreferenceEntry) => boolean,
  ): DkvError {
    const answered = g.ok.map((o) => o.entry);
    const got = answered.filter(counts).length;
    const waiting = g.ended === 'deadline' ? 'no answer before the deadline' : 'not needed once the quorum was out of reach';
    const why = [...g.failed.map((f) => `${f.entry.nodeId}: ${f.error.message}`), ...g.pending.map((p) => `${p.nodeId}: ${waiting}`)];
    const fallbacks = answered.length - got;
    const strictNote = counts({ nodeId: '', primary: false }) ? '' : ` (strict: only the key's primaries count${fallbacks > 0 ? `; ${fallbacks} fallback answer(s) not counted` : ''})`;
    const tail = what === 'write' ? '; the write may still have reached some replicas' : '';
    return new DkvError(
      'QUORUM_UNAVAILABLE',
      `${what} needed ${needed} replica answer(s) (${letter}=${needed}, N=${n}) but ${got} answered${strictNote}${why.length ? ` [${why.join('; ')}]` : ''}${tail}`,
      { needed, answered: got },
    );
  }
}
