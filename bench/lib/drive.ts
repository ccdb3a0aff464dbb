/**
 * drive.ts — the request loop of the load generator (bench/load.ts), run in each worker.
 *
 * Contracts:
 * - Stores are reached through lib/drivers.ts (dkv / noop, etcd, Redis), which passes every
 *   target through assertTestTarget before a channel or socket exists.
 * - Every request carries a deadline (timeoutMs).
 * - Workloads (YCSB): A 50% read / 50% update, B 95/5, C read only, put write only, get read
 *   only; insert is the load phase (see insert below), not a timed window.
 * - Writes (o.writes): 'ctx' (default) carries the last context this process saw for the key
 *   (from a Get or Put answer), like the SDK; workers with writes first read every key
 *   (seedContexts, before the start, not measured) so no write is blind.
 *   A Put answer's context covers only what the writer saw plus its own dot, so concurrent
 *   writers on one key without reads leave siblings behind that only a Get's context covers:
 *   a write-only hot-key run can reach dkv's sibling limit (FAILED_PRECONDITION/
 *   TOO_MANY_SIBLINGS). 'rmw' is Get then Put with that context, timed as one op (bounded
 *   siblings, YCSB F style); 'blind' always sends an empty context. preload writes every key
 *   once as Get + Put-with-that-context, so re-running against a node adds no siblings.
 *   Stores without contexts (etcd, Redis) get plain writes in every mode; their preload is a Put.
 * - Closed loop (rate undefined): conc requests outstanding; latency from send to answer.
 *   Open loop: request k is due at base + (k + index/procs) * procs/rate and its latency runs
 *   from that intended time (no coordinated omission); at most conc in flight, the rest wait.
 * - Only requests sent (closed) or due (open) in [base + warmup, base + warmup + duration) are
 *   counted: successes into HDR histograms in µs (3 significant digits), errors by name (gRPC
 *   status name plus dkv's error code (trailer dkv-error-code) when present, Redis's error
 *   word). drive resolves once every counted request has been answered.
 */
import { randomBytes } from 'node:crypto';
import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';
import { newDriver, type Driver, type Kind, type Level } from './drivers.js';
import { keyLookup, uniform, zipfian } from './keyspace.js';

export type Workload = 'put' | 'get' | 'A' | 'B' | 'C' | 'insert';
export const READ_FRACTION: Record<Workload, number> = { put: 0, get: 1, A: 0.5, B: 0.95, C: 1, insert: 0 };

export interface LoadOptions {
  /** target is HOST:PORT, or a comma-separated list that requests go to in turn. */
  target: string;
  kind: Kind;
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
  /** consistency is dkv's per-request level (R and W); undefined = the node's default. */
  consistency?: Level;
  /** insertFrom is the first key index the insert workload writes (default 0). */
  insertFrom?: number;
}

/** DriveResult is one worker's window: success count, errors by status, HDR base64 (µs). */
export interface DriveResult {
  ops: number;
  errors: Record<string, number>;
  all: string;
  read: string;
  update: string;
  /** elapsedMs is, for insert, the time from the start to the last answer. */
  elapsedMs?: number;
}

const EMPTY = Buffer.alloc(0);
export const newHistogram = (): Histogram => build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

export function driverFor(o: LoadOptions): Driver {
  return newDriver(o.kind, o.target, o.consistency);
}

/** connect waits until every channel / connection of the driver is up (slots: Redis connections). */
export function connect(d: Driver, slots: number, ms = 10_000): Promise<void> {
  return d.ready(Date.now() + ms, slots);
}

function call(start: (deadline: number, cb: (e: string | null, ctx?: Buffer) => void) => void, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((res, rej) => start(Date.now() + timeoutMs, (e, ctx) => (e ? rej(new Error(e)) : res(ctx))));
}

/** preload writes every key once, 32 in flight: on dkv a Get, then a Put with its context. */
export async function preload(o: LoadOptions): Promise<void> {
  const d = driverFor(o);
  try {
    await connect(d, 32);
    const key = keyLookup(o.keys, o.keySize);
    const value = randomBytes(o.valueSize);
    let next = 0;
    const loop = async () => {
      for (let i = next++; i < o.keys; i = next++) {
        const k = key(i);
        const ctx = d.causal ? await call((dl, cb) => d.get(k, dl, cb), o.timeoutMs) : undefined;
        await call((dl, cb) => d.put(k, value, ctx ?? EMPTY, dl, cb), o.timeoutMs);
      }
    };
    await Promise.all(Array.from({ length: 32 }, loop));
  } finally {
    d.close();
  }
}

/**
 * seedContexts reads every key once (32 in flight) and returns each key's context, so a 'ctx'
 * worker's first write of a key replaces what is stored instead of adding a blind sibling.
 */
export async function seedContexts(d: Driver, o: LoadOptions): Promise<(Buffer | undefined)[]> {
  const key = keyLookup(o.keys, o.keySize);
  const contexts: (Buffer | undefined)[] = new Array(o.keys);
  let next = 0;
  const loop = async () => {
    for (let i = next++; i < o.keys; i = next++) {
      const ctx = await call((dl, cb) => d.get(key(i), dl, cb), o.timeoutMs);
      if (ctx && ctx.length > 0) contexts[i] = ctx;
    }
  };
  await Promise.all(Array.from({ length: 32 }, loop));
  return contexts;
}

/**
 * valuePool returns i -> a value of `size` random bytes that differs from key to key (a
 * window of one 4 MiB random pool at a key-dependent offset, no copy), so a store that
 * compresses blocks of neighbouring records finds no repeats: bytes on disk per user byte
 * is then the worst case, as for encrypted or already compressed data.
 */
export function valuePool(size: number): (i: number) => Buffer {
  const pool = randomBytes(Math.max(4 << 20, 2 * size));
  const span = pool.length - size;
  return (i) => {
    const off = Math.imul(i + 1, 2654435761) >>> 0;
    return pool.subarray(off % span, (off % span) + size);
  };
}

/**
 * insert is the load phase (YCSB "load"): worker `index` of `procs` writes keys
 * insertFrom + index, + procs, ... below o.keys, each once, blind (the keys are new), conc in
 * flight, from `base` until the last answer, each key its own random value (valuePool).
 * Every op is counted; elapsedMs is the wall time.
 */
export function insert(d: Driver, o: LoadOptions, index: number, base: number): Promise<DriveResult> {
  const keyAt = keyLookup(o.keys, o.keySize, false);
  const valueOf = valuePool(o.valueSize);
  const h = newHistogram();
  const errors: Record<string, number> = {};
  let ops = 0;
  let next = (o.insertFrom ?? 0) + index;
  return new Promise((res) => {
    let live = o.conc;
    const loop = () => {
      if (next >= o.keys) {
        if (--live === 0) {
          const empty = encodeIntoCompressedBase64(newHistogram());
          res({ ops, errors, all: encodeIntoCompressedBase64(h), read: empty, update: encodeIntoCompressedBase64(h), elapsedMs: performance.now() - base });
        }
        return;
      }
      const i = next;
      next += o.procs;
      const sent = performance.now();
      d.put(keyAt(i), valueOf(i), EMPTY, Date.now() + o.timeoutMs, (err) => {
        if (err) errors[err] = (errors[err] ?? 0) + 1;
        else {
          h.recordValue(Math.max(1, Math.round((performance.now() - sent) * 1000)));
          ops++;
        }
        loop();
      });
    };
    setTimeout(() => {
      for (let c = 0; c < o.conc; c++) loop();
    }, Math.max(0, base - performance.now()));
  });
}

/** drive runs one worker's share of the load; it resolves when its last counted request is answered. */
export function drive(d: Driver, o: LoadOptions, index: number, base: number, seeded?: (Buffer | undefined)[]): Promise<DriveResult> {
  const key = keyLookup(o.keys, o.keySize);
  const choose = o.dist === 'zipfian' ? zipfian(o.keys) : uniform(o.keys);
  const value = randomBytes(o.valueSize);
  const contexts: (Buffer | undefined)[] = seeded ?? new Array(o.keys);
  const readFraction = READ_FRACTION[o.workload];
  const [all, reads, updates] = [newHistogram(), newHistogram(), newHistogram()];
  const errors: Record<string, number> = {};
  const mStart = base + o.warmupMs;
  const mEnd = mStart + o.durationMs;
  const useCtx = d.causal && o.writes === 'ctx';
  let ops = 0;
  let outstanding = 0;

  const issue = (intended: number, done: () => void) => {
    const i = choose();
    const isRead = readFraction === 1 || (readFraction > 0 && Math.random() < readFraction);
    const cb = (err: string | null, ctx?: Buffer) => {
      outstanding--;
      if (!err && useCtx && ctx && ctx.length > 0) contexts[i] = ctx;
      if (intended >= mStart && intended < mEnd) {
        if (err) errors[err] = (errors[err] ?? 0) + 1;
        else {
          const us = Math.max(1, Math.round((performance.now() - intended) * 1000));
          all.recordValue(us);
          (isRead ? reads : updates).recordValue(us);
          ops++;
        }
      }
      done();
    };
    outstanding++;
    const k = key(i);
    const deadline = Date.now() + o.timeoutMs;
    if (isRead) d.get(k, deadline, cb);
    else if (o.writes === 'rmw' && d.causal) d.get(k, deadline, (e, ctx) => (e ? cb(e) : d.put(k, value, ctx ?? EMPTY, Date.now() + o.timeoutMs, cb)));
    else d.put(k, value, useCtx ? (contexts[i] ?? EMPTY) : EMPTY, deadline, cb);
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

