import { DkvError } from '../errors.js';
import type { Clock } from '../time/clock.js';
import type { RecordStore } from '../storage/record-store.js';
import { KeyLock } from '../storage/key-lock.js';
import { keyIn, Keyspace, rangeOf } from '../storage/keyspace.js';
import { decodeRecord, encodeRecord } from '../storage/record-codec.js';
import { sameVersions, sync, type Version } from '../versioning/siblings.js';

/**
 * HintStore keeps the writes this node holds for other nodes (Dynamo 4.6, hinted handoff):
 * as a fallback standing in for a DOWN primary, or as a coordinator whose write a primary
 * did not acknowledge. Hints live durably in the HINT keyspace:
 *
 *   0x20 | target node id (utf-8) | 0x00 | user key   ->   stored-at ms (8 bytes BE) | record
 *
 * Hints for the same (target, key) merge by DVV sync. Bounds: per target at most
 * maxBytesPerTarget (a hint over it is refused: anti-entropy repairs what it would have
 * carried) and at most windowMs old (older hints are dropped for the same reason). A hint is
 * deleted only after the target acknowledged it, and only if it did not change meanwhile.
 */
export interface HintStoreOptions {
  windowMs: number;
  maxBytesPerTarget: number;
}

export interface HintBacklog {
  target: string;
  count: number;
  bytes: number;
  oldestMs: number;
}

export interface Hint {
  target: string;
  key: Buffer;
  versions: Version[];
  /** raw is the stored value, used to delete only an unchanged hint. */
  raw: Buffer;
  storedAtMs: number;
}

interface Backlog {
  count: number;
  bytes: number;
}

export class HintStore {
  private readonly lock = new KeyLock();
  private readonly backlog = new Map<string, Backlog>();

  private constructor(
    private readonly store: RecordStore,
    private readonly clock: Clock,
    private readonly opts: HintStoreOptions,
  ) {}

  /** open scans the hint keyspace once to rebuild the per-target backlog. */
  static async open(store: RecordStore, clock: Clock, opts: HintStoreOptions): Promise<HintStore> {
    const h = new HintStore(store, clock, opts);
    for await (const [k, v] of store.iterateRaw(rangeOf(Keyspace.Hint))) {
      const { target } = parseKey(k);
      h.account(target, 1, k.length + v.length);
    }
    return h;
  }

  /** add merges versions into the hint for (target, key). */
  async add(target: string, key: Buffer, versions: readonly Version[]): Promise<void> {
    const hk = hintKey(target, key);
    await this.lock.with(hk.toString('latin1'), async () => {
      const old = await this.store.getRaw(hk);
      const merged = old ? sync(decodeValue(old).versions, versions) : [...versions];
      if (old && sameVersions(decodeValue(old).versions, merged)) return;
      const value = encodeValue(this.clock.now(), merged);
      const b = this.backlog.get(target);
      const growth = hk.length + value.length - (old ? hk.length + old.length : 0);
      if ((b?.bytes ?? 0) + growth > this.opts.maxBytesPerTarget)
        throw new DkvError('STORAGE_FULL', `hint backlog for ${target} is over its limit of ${this.opts.maxBytesPerTarget} bytes (--max-hint-bytes); anti-entropy will repair it`);
      await this.store.commit([{ type: 'put', key: hk, value }]);
      this.account(target, old ? 0 : 1, growth);
    });
  }

  /** get returns the versions held for target under key ([] when none). */
  async get(target: string, key: Buffer): Promise<Version[]> {
    const raw = await this.store.getRaw(hintKey(target, key));
    return raw ? decodeValue(raw).versions : [];
  }

  /** batch returns up to limit hints for target, in key order. */
  async batch(target: string, limit: number): Promise<Hint[]> {
    const out: Hint[] = [];
    const prefix = targetPrefix(target);
    for await (const [k, v] of this.store.iterateRaw({ gte: prefix, lt: successor(prefix), limit })) {
      const d = decodeValue(v);
      out.push({ target, key: parseKey(k).key, versions: d.versions, raw: v, storedAtMs: d.storedAtMs });
    }
    return out;
  }

  /** remove deletes a delivered hint unless it changed since it was read. */
  async remove(h: Hint): Promise<boolean> {
    const hk = hintKey(h.target, h.key);
    return this.lock.with(hk.toString('latin1'), async () => {
      const cur = await this.store.getRaw(hk);
      if (!cur || !cur.equals(h.raw)) return false;
      await this.store.commit([{ type: 'del', key: hk }]);
      this.account(h.target, -1, -(hk.length + cur.length));
      return true;
    });
  }

  /** expire drops hints older than the window; returns how many. */
  async expire(): Promise<number> {
    const cutoff = this.clock.now() - this.opts.windowMs;
    let dropped = 0;
    for (const target of [...this.backlog.keys()]) {
      for (const h of await this.batch(target, 10_000)) if (h.storedAtMs < cutoff && (await this.remove(h))) dropped++;
    }
    return dropped;
  }

  /** targets lists the nodes this node holds hints for. */
  targets(): string[] {
    return [...this.backlog.entries()].filter(([, b]) => b.count > 0).map(([t]) => t);
  }

  /** backlogs reports count, bytes and the oldest hint's age per target (for Admin.Status). */
  async backlogs(): Promise<HintBacklog[]> {
    const out: HintBacklog[] = [];
    const now = this.clock.now();
    for (const target of this.targets()) {
      const b = this.backlog.get(target)!;
      let oldest = now;
      for (const h of await this.batch(target, 1_000)) oldest = Math.min(oldest, h.storedAtMs);
      out.push({ target, count: b.count, bytes: b.bytes, oldestMs: Math.max(0, now - oldest) });
    }
    return out;
  }

  private account(target: string, count: number, bytes: number): void {
    const b = this.backlog.get(target) ?? { count: 0, bytes: 0 };
    b.count += count;
    b.bytes += bytes;
    if (b.count <= 0) this.backlog.delete(target);
    else this.backlog.set(target, b);
  }
}

function targetPrefix(target: string): Buffer {
  return keyIn(Keyspace.Hint, Buffer.concat([Buffer.from(target, 'utf8'), Buffer.from([0])]));
}

function hintKey(target: string, key: Buffer): Buffer {
  return Buffer.concat([targetPrefix(target), key]);
}

function parseKey(k: Buffer): { target: string; key: Buffer } {
  const zero = k.indexOf(0, 1);
  return { target: k.subarray(1, zero).toString('utf8'), key: k.subarray(zero + 1) };
}

function successor(prefix: Buffer): Buffer {
  const s = Buffer.from(prefix);
  s[s.length - 1]++;
  return s;
}

function encodeValue(storedAtMs: number, versions: readonly Version[]): Buffer {
  const head = Buffer.allocUnsafe(8);
  head.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(storedAtMs))), 0);
  return Buffer.concat([head, encodeRecord(versions)]);
}

function decodeValue(v: Buffer): { storedAtMs: number; versions: Version[] } {
  return { storedAtMs: Number(v.readBigUInt64BE(0)), versions: decodeRecord(v.subarray(8)) };
}
