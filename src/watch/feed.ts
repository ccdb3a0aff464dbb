import type { Clock, Timer } from '../time/clock.js';
import type { Version } from '../versioning/siblings.js';
import type { Change, ChangeLog } from './change-log.js';

/** FeedRequest subscribes to one replica's change log (dkv.internode.v1 ChangeFeed). */
export interface FeedRequest {
  /** key follows exactly this key; otherwise prefix (empty = every key). */
  key?: Buffer;
  prefix?: Buffer;
  /** fromSeq resumes after this position; 0 starts from now. */
  fromSeq: number;
  /** incarnation is the log incarnation fromSeq belongs to. */
  incarnation: number;
}

/**
 * FeedMessage is one message of a feed: the first has no change and gives the position the
 * feed starts from; later ones carry a change, or nothing (a heartbeat, every second, so the
 * reader can tell a silent feed from a dead link). resync says the requested position is
 * no longer in the log (trimmed, or another incarnation whose log was trimmed too): the feed
 * continues from now.
 */
export interface FeedMessage {
  seq: number;
  incarnation: number;
  change?: { key: Buffer; versions: Version[] };
  resync?: boolean;
}

/** FeedSink receives a feed; send returns false when the receiver's buffer is full. */
export interface FeedSink {
  send(m: FeedMessage): boolean;
  end(err?: Error): void;
}

export const FEED_HEARTBEAT_MS = 1_000;
/** FEED_MAX_BACKLOG: a reader this many messages behind is cut off (it resumes from its position). */
export const FEED_MAX_BACKLOG = 10_000;
const PAGE = 500;

export function matches(req: Pick<FeedRequest, 'key' | 'prefix'>, key: Buffer): boolean {
  if (req.key && req.key.length > 0) return key.equals(req.key);
  const p = req.prefix ?? Buffer.alloc(0);
  return key.length >= p.length && key.subarray(0, p.length).equals(p);
}

/**
 * serveFeed streams a replica's changes matching req to sink: first the registration
 * message, then (when resuming) every retained change after fromSeq, then live changes as
 * they commit, each exactly once and in log order. Live changes that commit while the
 * backlog is replayed are buffered and sent after it. Returns the cancel function.
 */
export function serveFeed(log: ChangeLog, clock: Clock, req: FeedRequest, sink: FeedSink): () => void {
  let sent = req.fromSeq;
  let replaying = true;
  let closed = false;
  let backlog = 0;
  const buffered: Change[] = [];
  const send = (m: FeedMessage) => {
    if (closed) return;
    if (!sink.send(m)) backlog++;
    else backlog = 0;
    if (backlog > FEED_MAX_BACKLOG) stop(new Error(`change feed reader is more than ${FEED_MAX_BACKLOG} messages behind; resume from the last position`));
  };
  const deliver = (c: Change) => {
    if (c.seq <= sent) return;
    sent = c.seq;
    if (matches(req, c.key)) send({ seq: c.seq, incarnation: log.incarnation, change: { key: c.key, versions: c.versions } });
  };
  const unsubscribe = log.subscribe((c) => (replaying ? buffered.push(c) : deliver(c)));
  const heartbeat: Timer = clock.setInterval(() => send({ seq: sent, incarnation: log.incarnation }), FEED_HEARTBEAT_MS);
  const stop = (err?: Error) => {
    if (closed) return;
    closed = true;
    unsubscribe();
    heartbeat.cancel();
    sink.end(err);
  };

  // A position in another incarnation of this replica (its directory was wiped) resumes from
  // the start of the new log while that log still holds its first entry: the new log then
  // holds every change this replica applied since, and what only the lost log held is gone
  // from the replica too, so nothing that still exists is skipped (other replicas' feeds
  // carry the rest). Otherwise a position the log no longer covers is a resync.
  const reborn = req.fromSeq > 0 && req.incarnation !== log.incarnation && log.oldestSeq <= 1;
  if (reborn) sent = 0;
  const stale = req.fromSeq > 0 && !reborn && (req.incarnation !== log.incarnation || req.fromSeq < log.oldestSeq - 1 || req.fromSeq > log.lastSeq);
  if (req.fromSeq === 0 || stale) {
    sent = log.lastSeq;
    send({ seq: sent, incarnation: log.incarnation, resync: stale || undefined });
    replaying = false;
    for (const c of buffered.splice(0)) deliver(c);
    return () => stop();
  }
  send({ seq: sent, incarnation: log.incarnation });
  void (async () => {
    try {
      for (;;) {
        const page = await log.read(sent, PAGE);
        for (const c of page) deliver(c);
        if (page.length < PAGE || closed) break;
      }
      replaying = false;
      for (const c of buffered.splice(0)) deliver(c);
    } catch (e) {
      stop(e as Error);
    }
  })();
  return () => stop();
}
