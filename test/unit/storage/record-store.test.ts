import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ManualClock } from '../../../src/time/manual-clock.js';
import { MemoryDisk, MemoryEngine } from '../../../src/storage/memory-engine.js';
import { RecordStore } from '../../../src/storage/record-store.js';
import { isDkvError } from '../../../src/errors.js';
import { newVersion, liveValues, type Version } from '../../../src/versioning/siblings.js';
import type { Dot } from '../../../src/versioning/dvv.js';

const opts = { fsync: 'never' as const, fsyncWindowMs: 0, cacheBytes: 1 << 20 };

function version(dot: Dot, value: string, past: Map<string, number> = new Map(), expiresAtMs = 0): Version {
  return newVersion(dot, past, { value: Buffer.from(value), tombstone: false, expiresAtMs, writtenAtMs: 0 });
}

describe('RecordStore', () => {
  it('gives a new directory a new incarnation and never reissues a dot, even across a crash', async () => {
    const clock = new ManualClock();
    const disk = new MemoryDisk();
    const s1 = await RecordStore.open(new MemoryEngine({ disk }), 'n1', opts, clock);
    const dots = [await s1.issueDot(), await s1.issueDot()];
    // A crash without close: the dot ceiling reserved before use keeps counters moving forward.
    (s1 as unknown as { engine: MemoryEngine }).engine.crash('process');
    const s2 = await RecordStore.open(new MemoryEngine({ disk }), 'n1', opts, clock);
    expect(s2.incarnation).toBe(s1.incarnation);
    const d3 = await s2.issueDot();
    expect(d3.actor).toBe(dots[0].actor);
    expect(d3.counter).toBeGreaterThan(dots[1].counter);
    await s2.close();
    // A wiped directory is a new actor (TESTING.md T8): its dots cannot collide with old ones.
    disk.wipe();
    await clock.advance(5);
    const s3 = await RecordStore.open(new MemoryEngine({ disk }), 'n1', opts, clock);
    expect(s3.incarnation).toBeGreaterThan(s1.incarnation);
    expect((await s3.issueDot()).actor).not.toBe(dots[0].actor);
    await s3.close();
  });

  it('refuses a data directory that belongs to another node id', async () => {
    const clock = new ManualClock();
    const disk = new MemoryDisk();
    await (await RecordStore.open(new MemoryEngine({ disk }), 'n1', opts, clock)).close();
    const e = await RecordStore.open(new MemoryEngine({ disk }), 'n2', opts, clock).catch((x) => x);
    expect(isDkvError(e, 'FAILED_PRECONDITION')).toBe(true);
    expect(String(e.message)).toMatch(/belongs to node "n1"/);
  });

  it('merges by DVV sync and keeps concurrent versions', async () => {
    const s = await RecordStore.open(new MemoryEngine(), 'n1', opts, new ManualClock());
    const k = Buffer.from('k');
    const a = version({ actor: 'x#1', counter: 1 }, 'a');
    const b = version({ actor: 'y#1', counter: 1 }, 'b');
    await s.merge([{ key: k, versions: [a] }]);
    const [r] = await s.merge([{ key: k, versions: [b] }]);
    expect(r.changed).toBe(true);
    expect(r.versions.map((v) => v.value.toString()).sort()).toEqual(['a', 'b']);
    const c = version({ actor: 'x#1', counter: 2 }, 'c', new Map([['x#1', 1], ['y#1', 1]]));
    await s.merge([{ key: k, versions: [c] }]);
    expect((await s.read(k)).map((v) => v.value.toString())).toEqual(['c']);
    const [again] = await s.merge([{ key: k, versions: [a, b] }]);
    expect(again.changed).toBe(false);
    await s.close();
  });

  it('a failed batch stores nothing and surfaces a full disk as STORAGE_FULL', async () => {
    const engine = new MemoryEngine();
    const s = await RecordStore.open(engine, 'n1', opts, new ManualClock());
    engine.failNextWrites(1, 'STORAGE_FULL');
    const e = await s.merge([{ key: Buffer.from('k'), versions: [version({ actor: 'x#1', counter: 1 }, 'v')] }]).catch((x) => x);
    expect(isDkvError(e, 'STORAGE_FULL')).toBe(true);
    expect(await s.read(Buffer.from('k'))).toEqual([]);
    await s.close();
  });

  it('turns expired versions into tombstones that still cover what they replaced', async () => {
    const clock = new ManualClock();
    const s = await RecordStore.open(new MemoryEngine(), 'n1', opts, clock);
    const k = Buffer.from('ttl');
    const old = version({ actor: 'x#1', counter: 1 }, 'old');
    const ttl = version({ actor: 'x#1', counter: 2 }, 'short', new Map([['x#1', 1]]), clock.now() + 1_000);
    await s.merge([{ key: k, versions: [old] }]);
    await s.merge([{ key: k, versions: [ttl] }]);
    expect(liveValues(await s.read(k), clock.now()).map((v) => v.value.toString())).toEqual(['short']);
    await clock.advance(1_001);
    expect(liveValues(await s.read(k), clock.now())).toEqual([]);
    expect(await s.sweepExpired()).toBe(1);
    const after = await s.read(k);
    expect(after).toHaveLength(1);
    expect(after[0].tombstone).toBe(true);
    expect(after[0].value.length).toBe(0);
    // A stale replica's copy of the old value cannot come back: the tombstone covers it.
    await s.merge([{ key: k, versions: [old] }]);
    expect(liveValues(await s.read(k), clock.now())).toEqual([]);
    // Nor can a copy of the expired version itself bring its value back.
    await s.merge([{ key: k, versions: [ttl] }]);
    expect((await s.read(k))[0].tombstone).toBe(true);
    await s.close();
  });

  it('the hot cache never serves a record older than storage under interleaved reads and writes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 6 })), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 0, max: 12 }), { minLength: 1, maxLength: 16 }),
        async (ops, delays) => {
        const engine = new MemoryEngine();
        // Reads and writes take a varying number of turns, so they overlap in every order.
        let turn = 0;
        const slow = async () => {
          for (let i = delays[turn++ % delays.length]; i > 0; i--) await Promise.resolve();
        };
        const get = engine.get.bind(engine);
        const write = engine.write.bind(engine);
        engine.get = async (k) => {
          await slow();
          const v = await get(k);
          await slow();
          return v;
        };
        engine.write = async (o, w) => {
          await slow();
          return write(o, w);
        };
        const s = await RecordStore.open(engine, 'n1', { ...opts, cacheBytes: 4096 }, new ManualClock());
        let counter = 0;
        const pending: Promise<unknown>[] = [];
        const committed = new Map<number, number>();
        for (const [isWrite, key, yields] of ops) {
          for (let y = 0; y < yields; y++) await Promise.resolve();
          const k = Buffer.from(`k${key}`);
          if (isWrite) {
            const c = ++counter;
            const past = new Map(c > 1 ? [['w#1', c - 1]] : []);
            pending.push(s.merge([{ key: k, versions: [version({ actor: 'w#1', counter: c }, `v${c}`, past)] }]).then(() => committed.set(key, Math.max(committed.get(key) ?? 0, c))));
          } else {
            const floor = committed.get(key) ?? 0;
            pending.push(
              s.read(k).then((vs) => {
                const seen = Math.max(0, ...vs.map((v) => v.dot.counter));
                // Every write committed before the read began is visible to it.
                expect(seen).toBeGreaterThanOrEqual(floor);
              }),
            );
          }
        }
        await Promise.all(pending);
        for (const [key, c] of committed) {
          const fromCache = await s.read(Buffer.from(`k${key}`));
          const raw = await engine.get(Buffer.concat([Buffer.from([0x10]), Buffer.from(`k${key}`)]));
          expect(raw).toBeDefined();
          expect(Math.max(...fromCache.map((v) => v.dot.counter))).toBeGreaterThanOrEqual(c);
        }
        await s.close();
      }),
      { numRuns: 150 },
    );
  });

  it('serves repeated reads from the cache', async () => {
    const s = await RecordStore.open(new MemoryEngine(), 'n1', opts, new ManualClock());
    await s.merge([{ key: Buffer.from('hot'), versions: [version({ actor: 'x#1', counter: 1 }, 'v')] }]);
    for (let i = 0; i < 10; i++) await s.read(Buffer.from('hot'));
    expect(s.stats().cache.hits).toBeGreaterThanOrEqual(10);
    await s.close();
  });
});
