import { DkvError } from '../errors.js';
import type { Clock } from '../time/clock.js';
import type { Random } from '../time/random.js';
import { decodeRecord, encodeRecord } from '../storage/record-codec.js';
import type { GossipMessage } from '../membership/member-table.js';
import type { FeedRequest, FeedSink } from '../watch/feed.js';
import type { RangeCursor, RangeSink } from '../rebalance/range-stream.js';
import type { Version } from '../versioning/siblings.js';
import type { ForwardOp, ForwardResult, InternodeHandler, KeyDigestEntry, MerkleRef, PeerTransport, Purpose, ReplicaEntry } from './peer-transport.js';

/** LinkFault describes what happens to messages from one address to another. */
export interface LinkFault {
  /** drop is the probability a message is lost (the call then times out). */
  drop?: number;
  /** delayMs is added to each message; jitterMs is a uniform random extra. */
  delayMs?: number;
  jitterMs?: number;
  /** duplicate is the probability a write is delivered twice. */
  duplicate?: number;
}

/**
 * MemoryNetwork is the in-process twin of the gRPC network (hashicorp/memberlist's
 * MockNetwork idea): nodes register a handler under an address; transports created from
 * the network call handlers directly, with every record copied through the codec so no
 * two nodes share objects. Partitions are one-way blocks; faults add loss, delay and
 * duplication. All timing uses the injected Clock and all chance the injected Random.
 */
export class MemoryNetwork {
  private readonly handlers = new Map<string, InternodeHandler>();
  private readonly blocked = new Set<string>();
  private readonly faults = new Map<string, LinkFault>();
  messages = 0;

  constructor(
    readonly clock: Clock,
    readonly random: Random,
  ) {}

  register(address: string, h: InternodeHandler): void {
    this.handlers.set(address, h);
  }
  unregister(address: string): void {
    this.handlers.delete(address);
  }

  /** block drops every message from `from` to `to` (one way). */
  block(from: string, to: string): void {
    this.blocked.add(`${from}>${to}`);
  }
  /** partition blocks both ways between every member of a and every member of b. */
  partition(a: string[], b: string[]): void {
    for (const x of a) for (const y of b) {
      this.block(x, y);
      this.block(y, x);
    }
  }
  heal(): void {
    this.blocked.clear();
    this.faults.clear();
  }
  setFault(from: string, to: string, f: LinkFault): void {
    this.faults.set(`${from}>${to}`, f);
  }

  /** handlerOf is the handler registered at address (undefined when down). */
  handlerOf(address: string): InternodeHandler | undefined {
    return this.handlers.get(address);
  }

  /** linkUp says whether messages from `from` reach `to` now (ignores loss and delay). */
  linkUp(from: string, to: string): boolean {
    return !this.blocked.has(`${from}>${to}`) && this.handlers.has(from) && this.handlers.has(to);
  }

  transport(self: string): PeerTransport {
    return new MemoryTransport(this, self);
  }

  /** deliver runs fn on the target's handler after the link's faults; a lost message times out. */
  async deliver<T>(from: string, to: string, timeoutMs: number, fn: (h: InternodeHandler) => Promise<T>, idempotent = false): Promise<T> {
    this.messages++;
    const f = this.faults.get(`${from}>${to}`);
    const lost = this.blocked.has(`${from}>${to}`) || (f?.drop !== undefined && this.random.next() < f.drop);
    // Only idempotent messages are duplicated: gRPC calls are at-most-once, a copy can only
    // come from a retry, and dkv retries only replica writes and gossip.
    const dup = idempotent && f?.duplicate !== undefined && this.random.next() < f.duplicate;
    const delay = (f?.delayMs ?? 0) + (f?.jitterMs ? this.random.next() * f.jitterMs : 0);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = this.clock.setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new DkvError('DEADLINE_EXCEEDED', `${to}: deadline exceeded after ${timeoutMs} ms`));
      }, timeoutMs);
      if (lost) return;
      const run = () => {
        const h = this.handlers.get(to);
        if (!h) {
          settled = true;
          timer.cancel();
          reject(new DkvError('PEER_UNAVAILABLE', `${to}: connection refused`));
          return;
        }
        // A duplicated message runs the handler a second time; its reply is dropped.
        if (dup) void fn(h).catch(() => undefined);
        // A reply from a node that crashed meanwhile (its handler is gone) is never sent.
        const alive = () => this.handlers.get(to) === h;
        fn(h).then(
          (v) => {
            // The reply crosses the link back; a link blocked the other way loses it.
            if (settled || !alive() || this.blocked.has(`${to}>${from}`)) return;
            settled = true;
            timer.cancel();
            resolve(v);
          },
          (e) => {
            if (settled || !alive() || this.blocked.has(`${to}>${from}`)) return;
            settled = true;
            timer.cancel();
            reject(e);
          },
        );
      };
      if (delay > 0) this.clock.setTimeout(run, delay);
      else queueMicrotask(run);
    });
  }
}

const copyVersions = (vs: readonly Version[]): Version[] => decodeRecord(encodeRecord(vs));
const copyEntries = (es: ReplicaEntry[]): ReplicaEntry[] => es.map((e) => ({ key: Buffer.from(e.key), versions: copyVersions(e.versions), hintedFor: e.hintedFor }));

class MemoryTransport implements PeerTransport {
  private closed = false;

  constructor(
    private readonly net: MemoryNetwork,
    private readonly self: string,
  ) {}

  /** send refuses to send from a closed transport (a crashed or stopped node sends nothing). */
  private send<T>(address: string, timeoutMs: number, fn: (h: InternodeHandler) => Promise<T>, idempotent = false): Promise<T> {
    if (this.closed) return Promise.reject(new DkvError('NOT_SERVING', `${this.self} is stopped`));
    return this.net.deliver(this.self, address, timeoutMs, fn, idempotent);
  }

  async replicaWrite(address: string, from: string, purpose: Purpose, entries: ReplicaEntry[], timeoutMs: number): Promise<void> {
    await this.send(address, timeoutMs, (h) => h.replicaWrite(from, purpose, copyEntries(entries)), true);
  }

  async replicaRead(address: string, from: string, keys: Buffer[], timeoutMs: number, hintedFor?: string): Promise<Version[][]> {
    const res = await this.send(address, timeoutMs, (h) => h.replicaRead(from, keys.map((k) => Buffer.from(k)), hintedFor));
    return res.map(copyVersions);
  }

  forward(address: string, from: string, op: ForwardOp, hops: number, timeoutMs: number): Promise<ForwardResult> {
    return this.send(address, timeoutMs, (h) => h.forward(from, op, hops, timeoutMs));
  }

  gossip(address: string, msg: GossipMessage, timeoutMs: number): Promise<GossipMessage> {
    const copy = (m: GossipMessage): GossipMessage => structuredClone(m);
    return this.send(address, timeoutMs, async (h) => copy(await h.gossip(copy(msg))));
  }

  merkleHashes(address: string, ref: MerkleRef, nodes: number[], timeoutMs: number): Promise<Buffer[]> {
    return this.send(address, timeoutMs, async (h) => (await h.merkleHashes({ ...ref }, [...nodes])).map((b) => Buffer.from(b)));
  }

  merkleLeafKeys(address: string, ref: MerkleRef, leaves: number[], timeoutMs: number): Promise<KeyDigestEntry[]> {
    return this.send(address, timeoutMs, async (h) =>
      (await h.merkleLeafKeys({ ...ref }, [...leaves])).map((e) => ({ key: Buffer.from(e.key), digest: Buffer.from(e.digest) })),
    );
  }

  /**
   * stream runs a server stream in process: `start` opens it on the peer's handler with a sink
   * whose messages are copied (`copy`) and delivered asynchronously; the stream breaks with
   * PEER_UNAVAILABLE as soon as the link is blocked or the peer crashed.
   */
  private stream<M>(
    address: string,
    copy: (m: M) => M,
    sink: { send(m: M): boolean; end(err?: Error): void },
    start: (h: InternodeHandler, s: { send(m: M): boolean; end(err?: Error): void }) => () => void,
  ): () => void {
    let open = true;
    let cancel: (() => void) | undefined;
    const end = (err?: Error) => {
      if (!open) return;
      open = false;
      cancel?.();
      queueMicrotask(() => sink.end(err));
    };
    const h = this.closed ? undefined : this.net.handlerOf(address);
    if (!h) {
      end(new DkvError('PEER_UNAVAILABLE', `${address}: connection refused`));
      return () => undefined;
    }
    cancel = start(h, {
      send: (m) => {
        if (!open) return true;
        if (this.closed || !this.net.linkUp(address, this.self) || this.net.handlerOf(address) !== h) {
          end(new DkvError('PEER_UNAVAILABLE', `${address}: stream broken`));
          return true;
        }
        const c = copy(m);
        queueMicrotask(() => open && sink.send(c));
        return true;
      },
      end: (err) => end(err),
    });
    return () => {
      open = false;
      cancel?.();
    };
  }

  changeFeed(address: string, req: FeedRequest, sink: FeedSink): () => void {
    return this.stream(
      address,
      (m) => ({ ...m, change: m.change && { key: Buffer.from(m.change.key), versions: copyVersions(m.change.versions) } }),
      sink,
      (h, s) => h.changeFeed({ ...req }, s),
    );
  }

  streamRange(address: string, range: { start: number; end: number }, after: RangeCursor | undefined, maxBytesPerS: number, sink: RangeSink): () => void {
    return this.stream(
      address,
      (c) => ({ ...c, entries: c.entries.map((e) => ({ key: Buffer.from(e.key), versions: copyVersions(e.versions) })) }),
      sink,
      (h, s) => h.streamRange({ ...range }, after, maxBytesPerS, s),
    );
  }

  close(): void {
    this.closed = true;
  }
}
