import { credentials, Metadata, status as Status, type Client, type ServiceError } from '@grpc/grpc-js';
import { ConsistencyLevel, KVClient, type WatchResponse, type Consistency, type GetResponse, type PutResponse, type DeleteResponse, type Receipt } from '../generated/dkv/v1/kv.js';
import { AdminClient, type CleanupResponse, type DecommissionResponse, type JoinResponse, type SetWeightResponse, type RemoveNodeResponse, type RepairResponse, type RingResponse, type StatusResponse } from '../generated/dkv/v1/admin.js';

export type Level = 'one' | 'quorum' | 'all';

/** ConsistencyOptions choose R / W per request (SPEC section 3). */
export interface ConsistencyOptions {
  level?: Level;
  r?: number;
  w?: number;
  strict?: boolean;
}

export interface ClientOptions {
  /** nodes are HOST:PORT addresses of any dkv nodes; requests fail over between them. */
  nodes: string[];
  /** timeoutMs is each attempt's deadline (default 5 s). */
  timeoutMs?: number;
  /** attempts is how many nodes a retryable request tries (default: every node, at most 3). */
  attempts?: number;
  /** retryWrites retries Put and Delete on UNAVAILABLE too. Off by default: a write that timed
   * out may have been stored, and a retried blind write becomes a second sibling. */
  retryWrites?: boolean;
  /** contextCacheSize is how many keys' contexts are remembered from Get for the next Put. */
  contextCacheSize?: number;
}

export interface ReadResult {
  /** values are the live siblings' values; more than one means concurrent writes. */
  values: Buffer[];
  /** siblings are the live siblings with their expiry. */
  siblings: { value: Buffer; expiresAtMs: number; writtenAtMs: number }[];
  /** context covers everything read: pass it (or let the client pass it) to the next write. */
  context: Buffer;
  receipt: Receipt | undefined;
}

export type WatchKind = 'created' | 'put' | 'delete' | 'expire' | 'resync';

/** WatchEvent is one event of a watch (see KV.Watch in proto/dkv/v1/kv.proto). */
export interface WatchEvent {
  kind: WatchKind;
  key: Buffer;
  values: Buffer[];
  context: Buffer;
  /** deleted: the change carries a delete (DELETE, or a PUT that merged a concurrent delete). */
  deleted: boolean;
  /** token resumes the watch right after this event. */
  token: Buffer;
}

export interface WriteOptions {
  consistency?: ConsistencyOptions;
  /** context overrides the remembered one; an empty Buffer forces a blind write. */
  context?: Buffer;
  ttlMs?: number;
  /** retry overrides ClientOptions.retryWrites for this call. */
  retry?: boolean;
}

/** DkvRequestError is a failed request with its gRPC status and dkv's error code. */
export class DkvRequestError extends Error {
  constructor(
    readonly code: Status,
    readonly dkvCode: string | undefined,
    message: string,
    readonly node: string,
  ) {
    super(message);
    this.name = 'DkvRequestError';
  }
}

/**
 * DkvClient is the TypeScript SDK: typed calls over the generated stubs, failover between
 * nodes, retries by status code (reads on UNAVAILABLE; writes only when asked), and the
 * read-modify-write context carried from a Get to the following Put of the same key.
 */
export class DkvClient {
  private readonly kv: KVClient[];
  private readonly admin: AdminClient[];
  private next = 0;
  private readonly contexts = new Map<string, Buffer>();
  private readonly opts: Required<ClientOptions>;

  constructor(opts: ClientOptions) {
    if (opts.nodes.length === 0) throw new Error('DkvClient needs at least one node address');
    this.opts = {
      timeoutMs: 5_000,
      attempts: Math.min(3, opts.nodes.length),
      retryWrites: false,
      contextCacheSize: 10_000,
      ...opts,
    };
    const channelOptions = { 'grpc.initial_reconnect_backoff_ms': 100, 'grpc.max_reconnect_backoff_ms': 1_000 };
    this.kv = opts.nodes.map((a) => new KVClient(a, credentials.createInsecure(), channelOptions));
    this.admin = opts.nodes.map((a) => new AdminClient(a, credentials.createInsecure(), channelOptions));
  }

  async get(key: string | Buffer, consistency?: ConsistencyOptions): Promise<ReadResult> {
    const k = toBuf(key);
    const res = await this.call<GetResponse>(true, (i, md, o, cb) => this.kv[i].get({ key: k, consistency: toWire(consistency) }, md, o, cb));
    this.remember(k, res.context);
    return {
      values: res.siblings.map((s) => s.value),
      siblings: res.siblings.map((s) => ({ value: s.value, expiresAtMs: s.expiresAtMs, writtenAtMs: s.writtenAtMs })),
      context: res.context,
      receipt: res.receipt,
    };
  }

  async put(key: string | Buffer, value: string | Buffer, o: WriteOptions = {}): Promise<{ context: Buffer; receipt: Receipt | undefined }> {
    const k = toBuf(key);
    const context = o.context ?? this.contexts.get(k.toString('latin1')) ?? Buffer.alloc(0);
    const res = await this.call<PutResponse>(o.retry ?? this.opts.retryWrites, (i, md, co, cb) =>
      this.kv[i].put({ key: k, value: toBuf(value), context, ttlMs: o.ttlMs ?? 0, consistency: toWire(o.consistency) }, md, co, cb),
    );
    this.remember(k, res.context);
    return { context: res.context, receipt: res.receipt };
  }

  async delete(key: string | Buffer, o: Omit<WriteOptions, 'ttlMs'> = {}): Promise<{ receipt: Receipt | undefined }> {
    const k = toBuf(key);
    const context = o.context ?? this.contexts.get(k.toString('latin1')) ?? Buffer.alloc(0);
    const res = await this.call<DeleteResponse>(o.retry ?? this.opts.retryWrites, (i, md, co, cb) =>
      this.kv[i].delete({ key: k, context, consistency: toWire(o.consistency) }, md, co, cb),
    );
    this.contexts.delete(k.toString('latin1'));
    return { receipt: res.receipt };
  }

  status(): Promise<StatusResponse> {
    return this.call<StatusResponse>(true, (i, md, o, cb) => this.admin[i].status({}, md, o, cb));
  }

  ring(): Promise<RingResponse> {
    return this.call<RingResponse>(true, (i, md, o, cb) => this.admin[i].ring({}, md, o, cb));
  }

  /**
   * repair runs one anti-entropy pass on the first reachable node, calling onProgress for each
   * progress message, and resolves with the final summary. timeoutMs bounds the whole pass.
   */
  repair(onProgress: (p: RepairResponse) => void = () => undefined, opts: { peer?: string; timeoutMs?: number } = {}): Promise<RepairResponse> {
    const i = this.next % this.admin.length;
    return new Promise((resolve, reject) => {
      const stream = this.admin[i].repair({ peer: opts.peer ?? '' }, new Metadata(), { deadline: new Date(Date.now() + (opts.timeoutMs ?? 10 * 60_000)) });
      let last: RepairResponse | undefined;
      stream.on('data', (m: RepairResponse) => {
        last = m;
        onProgress(m);
      });
      stream.on('error', (e: ServiceError) => {
        const code = e.metadata?.get('dkv-error-code')[0];
        reject(new DkvRequestError(e.code, typeof code === 'string' ? code : undefined, e.details || e.message, this.opts.nodes[i]));
      });
      stream.on('end', () => (last?.done ? resolve(last) : reject(new Error('repair stream ended without a summary'))));
    });
  }

  /**
   * watch streams the changes of a key or of every key under a prefix as an async iterator
   * that resumes by itself: when the serving node goes away (or cuts off a slow reader) it
   * reconnects to the next node with the last resume token, so no change is missed and none
   * is delivered twice. `from` starts from an earlier token. Break out of the loop, or abort
   * `signal` (which also ends a wait for the next event), to stop.
   */
  async *watch(target: { key?: string | Buffer; prefix?: string | Buffer }, opts: { from?: Buffer; maxReconnects?: number; signal?: AbortSignal } = {}): AsyncGenerator<WatchEvent> {
    let token = opts.from ?? Buffer.alloc(0);
    let reconnects = 0;
    const kinds: Record<number, WatchKind> = { 1: 'created', 2: 'put', 3: 'delete', 4: 'expire', 5: 'resync' };
    for (;;) {
      if (opts.signal?.aborted) return;
      const i = this.next % this.kv.length;
      const stream = this.kv[i].watch(
        { key: target.key !== undefined ? toBuf(target.key) : Buffer.alloc(0), prefix: target.prefix !== undefined ? toBuf(target.prefix) : Buffer.alloc(0), resumeToken: token },
        new Metadata(),
      );
      const queue: Array<{ ev?: WatchEvent; err?: ServiceError; end?: boolean }> = [];
      let wake: (() => void) | undefined;
      const push = (x: { ev?: WatchEvent; err?: ServiceError; end?: boolean }) => {
        queue.push(x);
        wake?.();
      };
      stream.on('data', (m: WatchResponse) =>
        push({ ev: { kind: kinds[m.kind] ?? 'put', key: m.key, values: m.siblings.map((s) => s.value), context: m.context, deleted: m.deleted, token: m.resumeToken } }),
      );
      stream.on('error', (err: ServiceError) => push({ err }));
      stream.on('end', () => push({ end: true }));
      const abort = () => stream.cancel();
      opts.signal?.addEventListener('abort', abort);
      try {
        for (;;) {
          if (queue.length === 0) await new Promise<void>((r) => (wake = r));
          wake = undefined;
          const x = queue.shift()!;
          if (x.ev) {
            if (x.ev.token.length > 0) token = x.ev.token;
            reconnects = 0;
            yield x.ev;
            continue;
          }
          if (opts.signal?.aborted) return;
          const err = x.err;
          const trailer = err?.metadata?.get('dkv-resume-token')[0];
          if (typeof trailer === 'string' && trailer.length > 0) token = Buffer.from(trailer, 'base64');
          const retryable = !err || err.code === Status.UNAVAILABLE || err.code === Status.RESOURCE_EXHAUSTED || err.code === Status.CANCELLED || err.code === Status.INTERNAL;
          if (!retryable || ++reconnects > (opts.maxReconnects ?? 20)) {
            throw err ? new DkvRequestError(err.code, undefined, err.details || err.message, this.opts.nodes[i]) : new Error('watch stream ended');
          }
          this.next++;
          await new Promise((r) => setTimeout(r, Math.min(2_000, 100 * reconnects)));
          break;
        }
      } finally {
        opts.signal?.removeEventListener('abort', abort);
        stream.cancel();
      }
    }
  }

  /** decommission asks the first node of this client (it must be the node to remove) to leave. */
  decommission(dryRun = false): Promise<DecommissionResponse> {
    return this.call<DecommissionResponse>(false, (i, md, o, cb) => this.admin[i].decommission({ nodeId: '', dryRun }, md, o, cb));
  }

  /**
   * setWeight asks the first node of this client (it must be the node to reweigh) to change its
   * weight; with dryRun, only the plan and its size come back. Follow a real change with
   * status() (operation kind "reweigh").
   */
  setWeight(weight: number, opts: { dryRun?: boolean; nodeId?: string } = {}): Promise<SetWeightResponse> {
    return this.call<SetWeightResponse>(false, (i, md, o, cb) => this.admin[i].setWeight({ nodeId: opts.nodeId ?? '', weight, dryRun: !!opts.dryRun }, md, { deadline: new Date(Date.now() + 60_000) }, cb));
  }

  /** planJoin asks a member for the plan of a new node `nodeId` joining now (nothing changes). */
  planJoin(nodeId: string, opts: { weight?: number; zone?: string } = {}): Promise<JoinResponse> {
    return this.call<JoinResponse>(true, (i, md, o, cb) => this.admin[i].join({ seeds: [], dryRun: true, nodeId, weight: opts.weight ?? 1, zone: opts.zone ?? '' }, md, { deadline: new Date(Date.now() + 60_000) }, cb));
  }

  /** removeNode removes a dead node through the first reachable node of this client. */
  removeNode(nodeId: string, dryRun = false): Promise<RemoveNodeResponse> {
    return this.call<RemoveNodeResponse>(false, (i, md, o, cb) => this.admin[i].removeNode({ nodeId, dryRun }, md, { deadline: new Date(Date.now() + 10 * 60_000) }, cb));
  }

  /** cleanup deletes, on the first node of this client, what it no longer replicates. */
  cleanup(): Promise<CleanupResponse> {
    return this.call<CleanupResponse>(false, (i, md, o, cb) => this.admin[i].cleanup({}, md, { deadline: new Date(Date.now() + 10 * 60_000) }, cb));
  }

  /** forget drops the remembered context of a key (the next Put is blind). */
  forget(key: string | Buffer): void {
    this.contexts.delete(toBuf(key).toString('latin1'));
  }

  close(): void {
    for (const c of [...this.kv, ...this.admin]) (c as Client).close();
  }

  private remember(key: Buffer, context: Buffer): void {
    const k = key.toString('latin1');
    this.contexts.delete(k);
    if (context.length > 0) this.contexts.set(k, context);
    if (this.contexts.size > this.opts.contextCacheSize) this.contexts.delete(this.contexts.keys().next().value as string);
  }

  private async call<T>(
    retryable: boolean,
    start: (i: number, md: Metadata, o: { deadline: Date }, cb: (err: ServiceError | null, res: T) => void) => void,
  ): Promise<T> {
    const attempts = retryable ? this.opts.attempts : 1;
    let last: DkvRequestError | undefined;
    for (let a = 0; a < attempts; a++) {
      const i = this.next % this.kv.length;
      try {
        return await new Promise<T>((resolve, reject) =>
          start(i, new Metadata(), { deadline: new Date(Date.now() + this.opts.timeoutMs) }, (err, res) => (err ? reject(err) : resolve(res))),
        );
      } catch (e) {
        const se = e as ServiceError;
        const dkvCode = se.metadata?.get('dkv-error-code')[0];
        last = new DkvRequestError(se.code, typeof dkvCode === 'string' ? dkvCode : undefined, se.details || se.message, this.opts.nodes[i]);
        // Fail over to the next node when this one is unreachable or cannot serve.
        if (se.code !== Status.UNAVAILABLE && se.code !== Status.DEADLINE_EXCEEDED) throw last;
        this.next++;
        if (se.code === Status.DEADLINE_EXCEEDED && !retryable) throw last;
      }
    }
    throw last!;
  }
}

function toBuf(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
}

function toWire(c?: ConsistencyOptions): Consistency | undefined {
  if (!c) return undefined;
  const level = { one: ConsistencyLevel.CONSISTENCY_LEVEL_ONE, quorum: ConsistencyLevel.CONSISTENCY_LEVEL_QUORUM, all: ConsistencyLevel.CONSISTENCY_LEVEL_ALL };
  return { level: c.level ? level[c.level] : ConsistencyLevel.CONSISTENCY_LEVEL_UNSPECIFIED, r: c.r ?? 0, w: c.w ?? 0, strict: c.strict ?? false };
}
