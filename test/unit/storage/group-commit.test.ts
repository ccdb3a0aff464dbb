/**
 * GroupCommitter: group structure (who shares which synced batch), error fan-out, ordering,
 * and the batch window under a ManualClock. No test depends on real time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BatchOp, type StorageEngine, type WriteOptions, StorageError, isStorageError } from '../../../src/storage/engine.js';
import { GroupCommitter } from '../../../src/storage/group-commit.js';
import { LevelEngine } from '../../../src/storage/level-engine.js';
import { MemoryEngine } from '../../../src/storage/memory-engine.js';
import { ManualClock, flushMicrotasks } from '../../../src/time/manual-clock.js';

const s = (t: string) => Buffer.from(t);
const put = (k: string, v: string): BatchOp => ({ type: 'put', key: s(k), value: s(v) });

interface Call {
  ops: BatchOp[];
  sync: boolean;
  resolve: () => void;
  reject: (e: unknown) => void;
}

/** RecordingEngine records every write and completes it only when the test says so. */
class RecordingEngine implements Pick<StorageEngine, 'write'> {
  calls: Call[] = [];
  write(ops: BatchOp[], opts: WriteOptions): Promise<void> {
    return new Promise((resolve, reject) => this.calls.push({ ops, sync: opts.sync, resolve, reject }));
  }
  /** keys renders call i's ops as "k=v" strings. */
  keys(i: number): string[] {
    return this.calls[i].ops.map((o) => (o.type === 'put' ? `${o.key}=${o.value}` : `-${o.key}`));
  }
}

/** track records when each promise settles, to assert who was acknowledged when. */
function track(ps: Promise<void>[]): { settled: (string | undefined)[] } {
  const state = { settled: ps.map(() => undefined as string | undefined) };
  ps.forEach((p, i) =>
    p.then(
      () => (state.settled[i] = 'ok'),
      (e: unknown) => (state.settled[i] = isStorageError(e) ? e.code : 'error'),
    ),
  );
  return state;
}

describe("GroupCommitter 'always'", () => {
  it('merges writes made in the same tick into one synced batch, in arrival order', async () => {
    const eng = new RecordingEngine();
    const gc = new GroupCommitter(eng, { mode: 'always', clock: new ManualClock() });
    const ps = Array.from({ length: 50 }, (_, i) => gc.write([put(`k${i}`, `${i}`)]));
    const t = track(ps);
    await flushMicrotasks();
    expect(eng.calls).toHaveLength(1);
    expect(eng.calls[0].sync).toBe(true);
    expect(eng.keys(0)).toEqual(Array.from({ length: 50 }, (_, i) => `k${i}=${i}`));
    expect(t.settled.every((x) => x === undefined)).toBe(true);
    eng.calls[0].resolve();
    await Promise.all(ps);
    expect(gc.stats()).toMatchObject({ writes: 50, batches: 1, syncs: 1, ops: 50, meanGroupSize: 50, maxGroupSize: 50, pending: 0 });
  });

  it('queues writers behind the in-flight sync and commits them together in the next one', async () => {
    const eng = new RecordingEngine();
    const gc = new GroupCommitter(eng, { mode: 'always', clock: new ManualClock() });
    const first = gc.write([put('a', '0')]);
    await flushMicrotasks();
    expect(eng.calls).toHaveLength(1);
    const rest = Array.from({ length: 49 }, (_, i) => gc.write([put(`k${i}`, 'x'), put('a', `${i + 1}`)]));
    const t = track([first, ...rest]);
    await flushMicrotasks();
    expect(eng.calls).toHaveLength(1); // only one sync in flight at a time
    eng.calls[0].resolve();
    await flushMicrotasks();
    expect(t.settled[0]).toBe('ok');
    expect(t.settled.slice(1).every((x) => x === undefined)).toBe(true); // not acked before their sync
    expect(eng.calls).toHaveLength(2);
    expect(eng.calls[1].ops).toHaveLength(98);
    expect(eng.keys(1).slice(0, 4)).toEqual(['k0=x', 'a=1', 'k1=x', 'a=2']);
    eng.calls[1].resolve();
    await Promise.all(rest);
    const st = gc.stats();
    expect(st.syncs).toBe(2);
    expect(st.meanGroupSize).toBe(25);
  });

  it('shares fsyncs across 50 concurrent writers on the memory engine; the last writer of a key wins', async () => {
    const eng = new MemoryEngine();
    await eng.open();
    const gc = new GroupCommitter(eng, { mode: 'always', clock: new ManualClock() });
    const ps: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      ps.push(gc.write([put('shared', `${i}`), put(`own${i}`, 'v')]));
      if (i % 10 === 9) await Promise.resolve(); // some writers arrive in later ticks
    }
    await Promise.all(ps);
    expect(gc.stats().syncs).toBeLessThanOrEqual(5);
    expect(eng.stats().syncWrites).toBe(gc.stats().syncs);
    expect(await eng.get(s('shared'))).toEqual(s('49'));
    expect(eng.disk.size).toBe(51);
  });

  it('shares fsyncs on a real LevelDB too', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dkv-storage-'));
    const eng = new LevelEngine({ location: join(dir, 'db') });
    try {
      await eng.open();
      const gc = new GroupCommitter(eng, { mode: 'always', clock: new ManualClock() });
      const first = gc.write([put('k0', '0')]);
      const rest = Array.from({ length: 49 }, (_, i) => gc.write([put(`k${i + 1}`, `${i + 1}`)]));
      await Promise.all([first, ...rest]);
      expect(eng.stats().syncWrites).toBe(gc.stats().syncs);
      expect(gc.stats().syncs).toBeLessThanOrEqual(2);
      expect((await eng.getMany([s('k0'), s('k49')])).map(String)).toEqual(['0', '49']);
    } finally {
      await eng.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('rejects every member of a failed batch with the same error, then carries on', async () => {
    const eng = new MemoryEngine();
    await eng.open();
    const gc = new GroupCommitter(eng, { mode: 'always', clock: new ManualClock() });
    eng.failNextWrites(1, 'STORAGE_FULL');
    const doomed = Array.from({ length: 5 }, (_, i) => gc.write([put(`d${i}`, 'v')]));
    const errors = await Promise.all(doomed.map((p) => p.then(() => undefined, (e: unknown) => e)));
    expect(errors.every((e) => isStorageError(e, 'STORAGE_FULL'))).toBe(true);
    expect(new Set(errors).size).toBe(1);
    await gc.write([put('after', 'v')]);
    expect(await eng.getMany([s('d0'), s('after')])).toEqual([undefined, s('v')]);
    expect(gc.stats()).toMatchObject({ batches: 2, failedBatches: 1 });
  });

  it('rejects a malformed write alone, before it can spoil a group', async () => {
    const eng = new MemoryEngine();
    await eng.open();
    const gc = new GroupCommitter(eng, { mode: 'always', clock: new ManualClock() });
    const good = gc.write([put('a', '1')]);
    const bad = gc.write([{ type: 'put', key: s('b'), value: null } as unknown as BatchOp]);
    await expect(bad).rejects.toSatisfy((e: unknown) => isStorageError(e, 'STORAGE_INVALID'));
    await good;
    expect(await eng.get(s('a'))).toEqual(s('1'));
  });

  it('propagates an engine that throws synchronously', async () => {
    const boom = new StorageError('STORAGE_CLOSED', 'closed');
    const gc = new GroupCommitter({ write: () => { throw boom; } }, { mode: 'always', clock: new ManualClock() });
    const ps = [gc.write([put('a', '1')]), gc.write([put('b', '1')])];
    for (const p of ps) await expect(p).rejects.toBe(boom);
  });
});

describe("GroupCommitter 'batch'", () => {
  it('waits windowMs on the clock to gather writers, then syncs once', async () => {
    const clock = new ManualClock();
    const eng = new RecordingEngine();
    const gc = new GroupCommitter(eng, { mode: 'batch', clock, windowMs: 2 });
    const ps = [gc.write([put('a', '1')])];
    await clock.advance(1);
    ps.push(gc.write([put('b', '1')]));
    await flushMicrotasks();
    expect(eng.calls).toHaveLength(0);
    await clock.advance(1);
    expect(eng.calls).toHaveLength(1);
    expect(eng.keys(0)).toEqual(['a=1', 'b=1']);
    // A writer arriving while the sync is in flight opens the next window.
    ps.push(gc.write([put('c', '1')]));
    await clock.advance(2);
    expect(eng.calls).toHaveLength(1);
    eng.calls[0].resolve();
    await flushMicrotasks();
    expect(eng.calls).toHaveLength(2); // its window already elapsed: goes right away
    eng.calls[1].resolve();
    await Promise.all(ps);
    expect(gc.stats()).toMatchObject({ syncs: 2, writes: 3, meanGroupSize: 1.5 });
  });

  it('flushes early once maxGroupOps ops are queued', async () => {
    const clock = new ManualClock();
    const eng = new RecordingEngine();
    const gc = new GroupCommitter(eng, { mode: 'batch', clock, windowMs: 100, maxGroupOps: 4 });
    gc.write([put('a', '1'), put('b', '1')]);
    gc.write([put('c', '1')]);
    await flushMicrotasks();
    expect(eng.calls).toHaveLength(0);
    gc.write([put('d', '1')]);
    await flushMicrotasks();
    expect(eng.calls).toHaveLength(1);
    expect(eng.calls[0].ops).toHaveLength(4);
    expect(clock.pendingCount()).toBe(0);
  });

  it('flush() and close() skip the window; close() refuses later writes', async () => {
    const clock = new ManualClock();
    const eng = new MemoryEngine();
    await eng.open();
    const gc = new GroupCommitter(eng, { mode: 'batch', clock, windowMs: 1000 });
    const p = gc.write([put('a', '1')]);
    await gc.flush();
    await p;
    expect(await eng.get(s('a'))).toEqual(s('1'));
    const q = gc.write([put('b', '1')]);
    await gc.close();
    await q;
    await expect(gc.write([put('c', '1')])).rejects.toSatisfy((e: unknown) => isStorageError(e, 'STORAGE_CLOSED'));
    expect(clock.pendingCount()).toBe(0);
  });
});

describe("GroupCommitter 'never'", () => {
  it('groups unsynced writes too and commits them in call order, one batch in flight at a time', async () => {
    const eng = new RecordingEngine();
    const gc = new GroupCommitter(eng, { mode: 'never', clock: new ManualClock() });
    const first = gc.write([put('a', '1')]);
    await flushMicrotasks();
    // While the first batch is in flight, later writes wait and are merged, in order.
    const later = [gc.write([put('b', '1'), put('c', '1')]), gc.write([put('d', '1')])];
    await flushMicrotasks();
    expect(eng.calls.map((c) => [c.ops.length, c.sync])).toEqual([[1, false]]);
    eng.calls[0].resolve();
    await first;
    await flushMicrotasks();
    expect(eng.calls.map((c) => [c.ops.map((o) => o.key.toString()).join(''), c.sync])).toEqual([
      ['a', false],
      ['bcd', false],
    ]);
    eng.calls[1].reject(new StorageError('STORAGE_IO', 'io'));
    for (const p of later) await expect(p).rejects.toSatisfy((e: unknown) => isStorageError(e, 'STORAGE_IO'));
    expect(gc.stats()).toMatchObject({ batches: 2, syncs: 0, ops: 4, failedBatches: 1 });
  });

  it('resolves empty writes at once without touching the engine', async () => {
    for (const mode of ['never', 'batch', 'always'] as const) {
      const eng = new RecordingEngine();
      const gc = new GroupCommitter(eng, { mode, clock: new ManualClock() });
      await gc.write([]);
      expect(eng.calls).toHaveLength(0);
    }
  });
});
