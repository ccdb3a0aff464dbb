/**
 * drivers.ts — one interface over every store the load generator drives (bench only).
 *
 * Contracts:
 * - kind 'dkv' and 'noop' speak dkv.v1.KV through the generated client (the no-op server
 *   implements the same service); 'etcd' speaks etcdserverpb.KV (lib/etcd.ts, linearizable
 *   Range); 'redis' speaks RESP (lib/redis.ts, one connection per outstanding request).
 * - Every target passes assertTestTarget before a channel or socket exists. A comma-separated
 *   target list makes one client per address and sends requests to them in turn (round
 *   robin), as a cluster-aware client spreads its load; each is still one channel (gRPC) or
 *   one connection per outstanding request (Redis).
 * - Callbacks get an error name (gRPC status name, plus "/" + dkv's dkv-error-code trailer
 *   when present; for Redis the error text) or null, and for dkv the context of the answer.
 * - `causal` is true only for dkv: the other stores take no context, so 'ctx' / 'rmw' writes
 *   are plain writes there.
 */
import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { ConsistencyLevel, KVClient, type Consistency } from '../../src/generated/dkv/v1/kv.js';
import { assertTestTarget } from '../../test/helpers/target-guard.js';
import { EtcdKV } from './etcd.js';
import { DeadlineError, RedisPool } from './redis.js';

export type Kind = 'dkv' | 'noop' | 'etcd' | 'redis';
export const KINDS: readonly Kind[] = ['dkv', 'noop', 'etcd', 'redis'];
export type Level = 'one' | 'quorum' | 'all';

export type Done = (err: string | null, context?: Buffer) => void;

export interface Driver {
  readonly causal: boolean;
  /** ready connects (and opens `slots` connections where a store needs one per request). */
  ready(deadline: number, slots: number): Promise<void>;
  get(key: Buffer, deadline: number, cb: Done): void;
  put(key: Buffer, value: Buffer, context: Buffer, deadline: number, cb: Done): void;
  close(): void;
}

export function grpcErrorName(err: ServiceError): string {
  const dkvCode = err.metadata?.get('dkv-error-code')[0];
  return (Status[err.code] ?? String(err.code)) + (dkvCode ? `/${dkvCode}` : '');
}

const LEVELS: Record<Level, ConsistencyLevel> = {
  one: ConsistencyLevel.CONSISTENCY_LEVEL_ONE,
  quorum: ConsistencyLevel.CONSISTENCY_LEVEL_QUORUM,
  all: ConsistencyLevel.CONSISTENCY_LEVEL_ALL,
};

export function newDkvClient(target: string): KVClient {
  return new KVClient(assertTestTarget(target), credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

class DkvDriver implements Driver {
  readonly causal = true;
  private readonly client: KVClient;
  private readonly consistency: Consistency | undefined;

  constructor(target: string, level: Level | undefined) {
    this.client = newDkvClient(target);
    this.consistency = level ? { level: LEVELS[level], r: 0, w: 0, strict: false } : undefined;
  }

  ready(deadline: number): Promise<void> {
    return new Promise((res, rej) => this.client.waitForReady(deadline, (e) => (e ? rej(e) : res())));
  }

  get(key: Buffer, deadline: number, cb: Done): void {
    this.client.get({ key, consistency: this.consistency }, new Metadata(), { deadline }, (e, r) => (e ? cb(grpcErrorName(e)) : cb(null, r.context)));
  }

  put(key: Buffer, value: Buffer, context: Buffer, deadline: number, cb: Done): void {
    this.client.put({ key, value, context, ttlMs: 0, consistency: this.consistency }, new Metadata(), { deadline }, (e, r) =>
      e ? cb(grpcErrorName(e)) : cb(null, r.context),
    );
  }

  close(): void {
    this.client.close();
  }
}

class EtcdDriver implements Driver {
  readonly causal = false;
  private readonly kv: EtcdKV;

  constructor(target: string) {
    this.kv = new EtcdKV(target);
  }

  ready(deadline: number): Promise<void> {
    return this.kv.ready(deadline);
  }

  get(key: Buffer, deadline: number, cb: Done): void {
    this.kv.range(key, deadline, (e) => cb(e ? grpcErrorName(e) : null));
  }

  put(key: Buffer, value: Buffer, _context: Buffer, deadline: number, cb: Done): void {
    this.kv.put(key, value, deadline, (e) => cb(e ? grpcErrorName(e) : null));
  }

  close(): void {
    this.kv.close();
  }
}

const GET = Buffer.from('GET');
const SET = Buffer.from('SET');

class RedisDriver implements Driver {
  readonly causal = false;
  private readonly pool: RedisPool;

  constructor(target: string) {
    this.pool = new RedisPool(target);
  }

  async ready(deadline: number, slots: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error('redis: connect deadline exceeded')), Math.max(0, deadline - Date.now()))));
    try {
      await Promise.race([this.pool.open(slots), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private static name(e: Error): string {
    return e instanceof DeadlineError ? 'DEADLINE_EXCEEDED' : e.message.startsWith('redis: ') ? e.message.slice(7).split(' ')[0] : 'UNAVAILABLE';
  }

  get(key: Buffer, deadline: number, cb: Done): void {
    this.pool.command([GET, key], deadline, (e) => cb(e ? RedisDriver.name(e) : null));
  }

  put(key: Buffer, value: Buffer, _context: Buffer, deadline: number, cb: Done): void {
    this.pool.command([SET, key, value], deadline, (e) => cb(e ? RedisDriver.name(e) : null));
  }

  close(): void {
    this.pool.close();
  }
}

/** RoundRobin spreads requests over one driver per address. */
class RoundRobin implements Driver {
  private next = 0;
  readonly causal: boolean;

  constructor(private readonly parts: Driver[]) {
    this.causal = parts[0].causal;
  }

  private pick(): Driver {
    const d = this.parts[this.next];
    this.next = (this.next + 1) % this.parts.length;
    return d;
  }

  async ready(deadline: number, slots: number): Promise<void> {
    await Promise.all(this.parts.map((p) => p.ready(deadline, slots)));
  }

  get(key: Buffer, deadline: number, cb: Done): void {
    this.pick().get(key, deadline, cb);
  }

  put(key: Buffer, value: Buffer, context: Buffer, deadline: number, cb: Done): void {
    this.pick().put(key, value, context, deadline, cb);
  }

  close(): void {
    this.parts.forEach((p) => p.close());
  }
}

/** targets splits a comma-separated target list and guards every address. */
export function targets(target: string): string[] {
  const list = target.split(',').map((t) => t.trim());
  list.forEach((t) => assertTestTarget(t));
  return list;
}

export function newDriver(kind: Kind, target: string, level?: Level): Driver {
  const one = (t: string): Driver => {
    switch (kind) {
      case 'dkv':
      case 'noop':
        return new DkvDriver(t, level);
      case 'etcd':
        return new EtcdDriver(t);
      case 'redis':
        return new RedisDriver(t);
    }
  };
  const list = targets(target);
  return list.length === 1 ? one(list[0]) : new RoundRobin(list.map(one));
}
