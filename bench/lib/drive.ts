/**
 * drive.ts — the request loop of the load generator (bench/load.ts), run in each worker.
 *
 * Contracts:
 * - newClient passes the target through assertTestTarget before the channel exists.
 * - Every request carries a deadline (timeoutMs).
 * - Workloads (YCSB): A 50% read / 50% update, B 95/5, C read only, put write only, get read only.
 * - Writes (o.writes): 'ctx' (default) carries the last context this process saw for the key
 *   (from a Get or Put answer), like the SDK; workers with writes first read every key
 *   (seedContexts, before the start, not measured) so no write is blind.
 *   A Put answer's context covers only what the writer saw plus its own dot, so concurrent
 *   writers on one key without reads leave siblings behind that only a Get's context covers:
 *   a write-only hot-key run can reach dkv's sibling limit (FAILED_PRECONDITION/
 *   TOO_MANY_SIBLINGS). 'rmw' is Get then Put with that context, timed as one op (bounded
 *   siblings, YCSB F style); 'blind' always sends an empty context. preload writes every key
 *   once as Get + Put-with-that-context, so re-running against a node adds no siblings.
 * - Closed loop (rate undefined): conc requests outstanding; latency from send to answer.
 *   Open loop: request k is due at base + (k + index/procs) * procs/rate and its latency runs
 *   from that intended time (no coordinated omission); at most conc in flight, the rest wait.
 * - Only requests sent (closed) or due (open) in [base + warmup, base + warmup + duration) are
 *   counted: successes into HDR histograms in µs (3 significant digits), errors by gRPC status
 *   name plus dkv's error code (trailer dkv-error-code) when present. drive resolves once every counted request has been answered.
 */
import { randomBytes } from 'node:crypto';
import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { KVClient } from '../../src/generated/dkv/v1/kv.js';
import { assertTestTarget } from '../../test/helpers/target-guard.js';
import { keyTable, uniform, zipfian } from './keyspace.js';

export type Workload = 'put' | 'get' | 'A' | 'B' | 'C';
export const READ_FRACTION: Record<Workload, number> = { put: 0, get: 1, A: 0.5, B: 0.95, C: 1 };

export interface LoadOptions {
  target: string;
  kind: 'dkv' | 'noop';
  workload: Workload;
  conc: number;
  durationMs: number;
  warmupMs: number;
  valueSize: number;
  keySize: number;
  keys: number;
  dist: 'uniform' | 'zipfian';
  procs: number;
  /** rate is the total open-loop rate in ops/s; undefined means closed loop. */
  rate?: number;
  timeoutMs: number;
  /** writes: ctx = the last context seen for the key, rmw = Get then Put (one op), blind = empty. */
  writes: 'ctx' | 'rmw' | 'blind';
  serverPids: number[];
  resetServerPeak: boolean;
  preload: boolean;
}

/** DriveResult is one worker's window: success count, errors by status, HDR base64 (µs). */
export interface DriveResult {
  ops: number;
  errors: Record<string, number>;
  all: string;
  read: string;
  update: string;
}

const EMPTY = Buffer.alloc(0);
export const newHistogram = (): Histogram => build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

export function newClient(target: string): KVClient {
  return new KVClient(assertTestTarget(target), credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

export function connect(client: KVClient, ms = 10_000): Promise<void> {
  return new Promise((res, rej) => client.waitForReady(Date.now() + ms, (e) => (e ? rej(e) : res())));
}

export function unary<Res>(start: (md: Metadata, o: { deadline: number }, cb: (e: ServiceError | null, r: Res) => void) => void, timeoutMs: number): Promise<Res> {
  return new Promise((res, rej) => start(new Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? rej(e) : res(r))));
}

/** preload writes every key once (Get, then Put with its context), 32 in flight. */
export async function preload(o: LoadOptions): Promise<void> {
  const client = newClient(o.target);
  try {
    await connect(client);
    const keys = keyTable(o.keys, o.keySize);
    const value = randomBytes(o.valueSize);
    let next = 0;
    const loop = async () => {
      for (let i = next++; i < keys.length; i = next++) {
        const key = keys[i];
        const got = await unary<{ context: Buffer }>((md, co, cb) => client.get({ key, consistency: undefined }, md, co, cb), o.timeoutMs);
        await unary((md, co, cb) => client.put({ key, value, context: got.context, ttlMs: 0, consistency: undefined }, md, co, cb), o.timeoutMs);
      }
    };
    await Promise.all(Array.from({ length: 32 }, loop));
  } finally {
    client.close();
  }
}

/**
 * seedContexts reads every key once (32 in flight) and returns each key's context, so a 'ctx'
 * worker's first write of a key replaces what is stored instead of adding a blind sibling.
 */
export async function seedContexts(client: KVClient, o: LoadOptions): Promise<(Buffer | undefined)[]> {
  const keys = keyTable(o.keys, o.keySize);
  const contexts: (Buffer | undefined)[] = new Array(o.keys);
  let next = 0;
  const loop = async () => {
    for (let i = next++; i < keys.length; i = next++) {
      const key = keys[i];
      const got = await unary<{ context: Buffer }>((md, co, cb) => client.get({ key, consistency: undefined }, md, co, cb), o.timeoutMs);
      if (got.context.length > 0) contexts[i] = got.context;
    }
  };
  await Promise.all(Array.from({ length: 32 }, loop));
  return contexts;
}

/** drive runs one worker's share of the load; it resolves when its last counted request is answered. */
export function drive(client: KVClient, o: LoadOptions, index: number, base: number, seeded?: (Buffer | undefined)[]): Promise<DriveResult> {
  const keys = keyTable(o.keys, o.keySize);
  const choose = o.dist === 'zipfian' ? zipfian(o.keys) : uniform(o.keys);
  const value = randomBytes(o.valueSize);
  const contexts: (Buffer | undefined)[] = seeded ?? new Array(o.keys);
  const readFraction = READ_FRACTION[o.workload];
  const [all, reads, updates] = [newHistogram(), newHistogram(), newHistogram()];
  const errors: Record<string, number> = {};
  const mStart = base + o.warmupMs;
  const mEnd = mStart + o.durationMs;
  let ops = 0;
  let outstanding = 0;

  const issue = (intended: number, done: () => void) => {
    const i = choose();
    const isRead = readFraction === 1 || (readFraction > 0 && Math.random() < readFraction);
    const cb = (err: ServiceError | null, res: { context: Buffer } | undefined) => {
      outstanding--;
      if (!err && res && res.context.length > 0 && o.writes === 'ctx') contexts[i] = res.context;
      if (intended >= mStart && intended < mEnd) {
        if (err) {
          const dkvCode = err.metadata?.get('dkv-error-code')[0];
          const name = (Status[err.code] ?? String(err.code)) + (dkvCode ? `/${dkvCode}` : '');
          errors[name] = (errors[name] ?? 0) + 1;
        } else {
          const us = Math.max(1, Math.round((performance.now() - intended) * 1000));
          all.recordValue(us);
          (isRead ? reads : updates).recordValue(us);
          ops++;
        }
      }
      done();
    };
    outstanding++;
    const key = keys[i];
    const put = (context: Buffer) =>
      client.put({ key, value, context, ttlMs: 0, consistency: undefined }, new Metadata(), { deadline: Date.now() + o.timeoutMs }, cb);
    if (isRead) client.get({ key, consistency: undefined }, new Metadata(), { deadline: Date.now() + o.timeoutMs }, cb);
    else if (o.writes === 'rmw') client.get({ key, consistency: undefined }, new Metadata(), { deadline: Date.now() + o.timeoutMs }, (e, r) => (e ? cb(e, undefined) : put(r.context)));
    else put(o.writes === 'ctx' ? (contexts[i] ?? EMPTY) : EMPTY);
  };

  const finish = () => ({
    ops,
    errors,
    all: encodeIntoCompressedBase64(all),
    read: encodeIntoCompressedBase64(reads),
    update: encodeIntoCompressedBase64(updates),
  });

  return new Promise((res) => {
    const begin = () => {
      if (o.rate === undefined) {
        let live = o.conc;
        const loop = () => {
          const now = performance.now();
          if (now < mEnd) return issue(now, loop);
          if (--live === 0) res(finish());
        };
        for (let c = 0; c < o.conc; c++) loop();
        return;
      }
      const interval = (1000 * o.procs) / o.rate;
      const at = (k: number) => base + ((k + index / o.procs) * interval);
      let next = 0;
      let timer: NodeJS.Timeout | undefined;
      let finished = false;
      const pump = () => {
        if (timer) clearTimeout(timer);
        timer = undefined;
        const now = performance.now();
        while (at(next) < mEnd && at(next) <= now && outstanding < o.conc) issue(at(next++), pump);
        if (at(next) >= mEnd) {
          if (outstanding === 0 && !finished) {
            finished = true;
            res(finish());
          }
        } else if (outstanding < o.conc) timer = setTimeout(pump, Math.max(0, at(next) - now));
      };
      pump();
    };
    setTimeout(begin, Math.max(0, base - performance.now()));
  });
}

