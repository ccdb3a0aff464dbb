import { DkvError } from '../errors.js';
import type { Clock, Timer } from '../time/clock.js';
import type { Logger } from '../node/logger.js';
import type { Membership } from '../membership/membership.js';
import type { PeerTransport } from '../transport/peer-transport.js';
import { hashKey } from '../ring/hash.js';
import { primaries } from '../ring/preference-list.js';
import { dotKey, type VersionVector } from '../versioning/dvv.js';
import { contextOf, liveValues, sync, type Version } from '../versioning/siblings.js';
import type { FeedMessage, FeedRequest, FeedSink } from './feed.js';
import { RECENT_VERSIONS, encodeToken, type ResumeToken } from './token.js';

export type WatchEventKind = 'created' | 'put' | 'delete' | 'expire' | 'resync';

export interface WatchEvent {
  kind: WatchEventKind;
  key?: Buffer;
  /** deleted: the change carries a delete (a tombstone that is not an expiry). */
  deleted?: boolean;
  live: Version[];
  context: VersionVector;
  token: Buffer;
}

export interface WatchDeps {
  membership: Membership;
  transport: PeerTransport;
  /** localFeed serves this node's own change log without the network. */
  localFeed: (req: FeedRequest, sink: FeedSink) => () => void;
  clock: Clock;
  log: Logger;
  n: number;
}

interface Source {
  nodeId: string;
  incarnation: number;
  seq: number;
  registered: boolean;
  cancel?: () => void;
  lastHeard: number;
  retry?: Timer;
  backoff: number;
}

/** KNOWN_KEYS bounds the per-watch state kept to deliver each version once. */
const KNOWN_KEYS = 100_000;
const REGISTER_TIMEOUT_MS = 2_000;
const SILENT_FEED_MS = 5_000;

/**
 * WatchSession serves one client watch on the node it reached: it subscribes to the change
 * feeds of the replicas holding the watched keys (the key's N primaries, or every node for a
 * prefix), merges them, and emits each new version once (deduplicated by dot, merged by DVV
 * sync so per key the events follow causal order). The first event, CREATED, is emitted once
 * every reachable feed is registered: from then on every change acknowledged to any client
 * reaches at least one of them. A feed that breaks or goes silent is reopened from its last
 * position, so a returning replica's log fills the gap; a position its replica no longer
 * retains yields RESYNC_REQUIRED, never a silent gap. Positions and the recently delivered
 * versions make up the resume token.
 */
export class WatchSession {
  private readonly sources = new Map<string, Source>();
  private readonly known = new Map<string, Version[]>();
  private readonly recent: string[] = [];
  private readonly recentSet = new Set<string>();
  private closed = false;
  private created = false;
  /** early holds events from feeds registered before the others (sent right after CREATED). */
  private readonly early: WatchEvent[] = [];
  private watchdog: Timer | undefined;

  constructor(
    private readonly d: WatchDeps,
    private readonly req: { key?: Buffer; prefix?: Buffer },
    resume: ResumeToken | undefined,
    private readonly emit: (e: WatchEvent) => void,
  ) {
    for (const r of resume?.recent ?? []) this.remember(r);
    const ring = d.membership.ring();
    const ids = req.key && req.key.length > 0 ? primaries(ring, hashKey(req.key), Math.min(d.n, ring.ownerCount)) : ring.nodes().map((x) => x.id);
    if (ids.length === 0) throw new DkvError('NOT_SERVING', 'this node has not joined a ring yet');
    for (const nodeId of ids) {
      const [incarnation, seq] = resume?.positions[nodeId] ?? [0, 0];
      this.sources.set(nodeId, { nodeId, incarnation, seq, registered: false, lastHeard: d.clock.monotonic(), backoff: 250 });
    }
  }

  /** start opens every feed and emits CREATED once they are registered (or after a timeout). */
  start(): void {
    for (const s of this.sources.values()) this.open(s);
    this.watchdog = this.d.clock.setInterval(() => this.checkSilent(), 1_000);
    this.d.clock.setTimeout(() => this.maybeCreated(true), REGISTER_TIMEOUT_MS);
  }

  close(): void {
    this.closed = true;
    this.watchdog?.cancel();
    for (const s of this.sources.values()) {
      s.retry?.cancel();
      s.cancel?.();
    }
  }

  /** token is the current resume position. */
  token(): Buffer {
    const positions: ResumeToken['positions'] = {};
    for (const s of this.sources.values()) positions[s.nodeId] = [s.incarnation, s.seq];
    return encodeToken({ positions, recent: this.recent });
  }

  private open(s: Source): void {
    if (this.closed) return;
    const req: FeedRequest = { key: this.req.key, prefix: this.req.prefix, fromSeq: s.seq, incarnation: s.incarnation };
    const sink: FeedSink = { send: (m) => (this.onMessage(s, m), true), end: (err) => this.onEnd(s, err) };
    s.lastHeard = this.d.clock.monotonic();
    if (s.nodeId === this.d.membership.selfId) {
      s.cancel = this.d.localFeed(req, sink);
      return;
    }
    const address = this.d.membership.address(s.nodeId);
    if (!address) return this.onEnd(s, new Error(`no address for ${s.nodeId}`));
    s.cancel = this.d.transport.changeFeed(address, req, sink);
  }

  private onEnd(s: Source, err?: Error): void {
    s.cancel = undefined;
    if (this.closed) return;
    this.d.log.debug(`watch feed from ${s.nodeId} ended (${err?.message ?? 'closed'}); reopening from ${s.seq}`);
    s.retry = this.d.clock.setTimeout(() => this.open(s), s.backoff);
    s.backoff = Math.min(5_000, s.backoff * 2);
  }

  private checkSilent(): void {
    const now = this.d.clock.monotonic();
    for (const s of this.sources.values()) {
      if (s.cancel && now - s.lastHeard > SILENT_FEED_MS) {
        s.cancel();
        this.onEnd(s, new Error('feed silent'));
      }
    }
  }

  private onMessage(s: Source, m: FeedMessage): void {
    if (this.closed) return;
    s.lastHeard = this.d.clock.monotonic();
    s.backoff = 250;
    s.incarnation = m.incarnation;
    s.seq = m.seq;
    if (m.resync) this.send({ kind: 'resync', live: [], context: new Map(), token: this.token() });
    else if (m.change) this.onChange(m.change.key, m.change.versions);
    if (!s.registered) {
      s.registered = true;
      this.maybeCreated(false);
    }
  }

  private maybeCreated(timedOut: boolean): void {
    if (this.created || this.closed) return;
    if (!timedOut && [...this.sources.values()].some((s) => !s.registered)) return;
    this.created = true;
    this.emit({ kind: 'created', live: [], context: new Map(), token: this.token() });
    for (const e of this.early.splice(0)) this.emit(e);
  }

  /** send emits an event, holding it back until CREATED has been sent. */
  private send(e: WatchEvent): void {
    if (this.created) this.emit(e);
    else this.early.push(e);
  }

  /**
   * onChange emits the change's new versions, once, as a PUT, DELETE or EXPIRE event. Versions
   * already covered by what the watch knows (a later version or a delete that had seen them,
   * e.g. from a feed that reconnects late) are not sent; a delete that arrives together with
   * concurrent live versions is flagged `deleted` on their PUT.
   */
  private onChange(key: Buffer, versions: Version[]): void {
    const ck = key.toString('latin1');
    const known = this.known.get(ck) ?? [];
    const merged = sync(known, versions);
    const fresh = merged.filter((v) => !this.recentSet.has(idOf(v)) && !known.some((k) => idOf(k) === idOf(v)));
    this.known.delete(ck);
    this.known.set(ck, merged);
    if (this.known.size > KNOWN_KEYS) this.known.delete(this.known.keys().next().value as string);
    if (fresh.length === 0) return;
    for (const v of fresh) this.remember(idOf(v));
    const now = this.d.clock.now();
    const deleted = fresh.some((v) => v.tombstone && v.expiresAtMs === 0);
    const kind: WatchEventKind = fresh.some((v) => !v.tombstone && (v.expiresAtMs === 0 || v.expiresAtMs > now)) ? 'put' : deleted ? 'delete' : 'expire';
    this.send({ kind, key, deleted, live: liveValues(merged, now), context: contextOf(merged), token: this.token() });
  }

  private remember(id: string): void {
    if (this.recentSet.has(id)) return;
    this.recent.push(id);
    this.recentSet.add(id);
    if (this.recent.length > RECENT_VERSIONS) this.recentSet.delete(this.recent.shift()!);
  }
}

/** idOf names a version as delivered: its dot, and whether it had become a tombstone. */
function idOf(v: Version): string {
  return `${dotKey(v.dot)}${v.tombstone ? '!' : ''}`;
}
