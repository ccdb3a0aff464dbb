import { describe, expect, it } from 'vitest';
import { ManualClock, flushMicrotasks } from '../../../src/time/manual-clock.js';
import { MemoryDisk, MemoryEngine } from '../../../src/storage/memory-engine.js';
import { RecordStore } from '../../../src/storage/record-store.js';
import { ChangeLog, TRIM_CHUNK } from '../../../src/watch/change-log.js';
import { serveFeed, type FeedMessage, type FeedRequest } from '../../../src/watch/feed.js';
import { newVersion } from '../../../src/versioning/siblings.js';

const storeOpts = { fsync: 'never' as const, fsyncWindowMs: 0, cacheBytes: 1 << 20 };

/** Replica is one node's record store with its change log, on a disk that can be wiped. */
class Replica {
  store!: RecordStore;
  log!: ChangeLog;
  constructor(
    readonly clock: ManualClock,
    readonly disk = new MemoryDisk(),
    readonly retention = { retentionMs: 60_000, maxEntries: 1_000 },
  ) {}

  async open(): Promise<this> {
    this.store = await RecordStore.open(new MemoryEngine({ disk: this.disk }), 'n1', storeOpts, this.clock);
    this.log = await ChangeLog.open(this.store, this.clock, this.retention);
    this.store.setChangeSink(this.log);
    return this;
  }

  async put(key: string, value: string): Promise<void> {
    const dot = await this.store.issueDot();
    await this.store.update(Buffer.from(key), () => [newVersion(dot, new Map(), { value: Buffer.from(value), tombstone: false, expiresAtMs: 0, writtenAtMs: 0 })]);
  }

  /** feed opens a feed and returns the messages it has sent once the replay is done. */
  async feed(req: FeedRequest): Promise<{ messages: FeedMessage[]; cancel: () => void }> {
    const messages: FeedMessage[] = [];
    const cancel = serveFeed(this.log, this.clock, req, { send: (m) => (messages.push(m), true), end: () => undefined });
    for (let i = 0; i < 5; i++) await flushMicrotasks();
    return { messages, cancel };
  }
}

/** wiped opens a replica, writes one change, wipes its directory and opens it again. */
async function wiped(retention?: Replica['retention']): Promise<{ oldIncarnation: number; after: Replica }> {
  const clock = new ManualClock();
  const disk = new MemoryDisk();
  const before = await new Replica(clock, disk).open();
  await before.put('k-old', 'old');
  await before.store.close();
  disk.wipe();
  await clock.advance(10);
  const after = await new Replica(clock, disk, retention).open();
  return { oldIncarnation: before.log.incarnation, after };
}

const values = (ms: FeedMessage[]) => ms.filter((m) => m.change).map((m) => m.change!.versions[0].value.toString());

describe('change feed (serveFeed)', () => {
  it('resumes after a position with every retained change, once and in order', async () => {
    const clock = new ManualClock();
    const r = await new Replica(clock).open();
    for (const v of ['a', 'b', 'c', 'd']) await r.put(`k-${v}`, v);
    const { messages, cancel } = await r.feed({ prefix: Buffer.from('k-'), fromSeq: 2, incarnation: r.log.incarnation });
    cancel();
    expect(messages[0]).toMatchObject({ seq: 2, incarnation: r.log.incarnation });
    expect(messages[0].resync).toBeUndefined();
    expect(values(messages)).toEqual(['c', 'd']);
  });

  it('answers a position older than the retention with a resync from now, never a silent gap', async () => {
    const clock = new ManualClock();
    const r = await new Replica(clock, new MemoryDisk(), { retentionMs: 60_000, maxEntries: 2 }).open();
    for (const v of ['a', 'b', 'c', 'd', 'e']) await r.put(`k-${v}`, v);
    expect(await r.log.trim()).toBe(3);
    const { messages, cancel } = await r.feed({ prefix: Buffer.from('k-'), fromSeq: 1, incarnation: r.log.incarnation });
    cancel();
    expect(messages[0].resync).toBe(true);
    expect(values(messages)).toEqual([]);
  });

  // Regression (benchmark, 10M keys): trim deleted at most 10,000 entries per call, one call
  // every 5 s, so at more than 2,000 writes a second the log outgrew --changelog-max-entries
  // without bound (and with it the disk: every entry is a full record).
  it('trims past many chunks in one call, down to exactly the retained count', async () => {
    const clock = new ManualClock();
    const r = await new Replica(clock, new MemoryDisk(), { retentionMs: 60_000, maxEntries: 5 }).open();
    const total = TRIM_CHUNK * 2 + 7;
    for (let i = 0; i < total; i += 500) {
      const dot = await r.store.issueDot();
      await r.store.merge(Array.from({ length: Math.min(500, total - i) }, (_, j) => ({ key: Buffer.from(`k-${i + j}`), versions: [newVersion({ ...dot, counter: dot.counter + j }, new Map(), { value: Buffer.from('v'), tombstone: false, expiresAtMs: 0, writtenAtMs: 0 })] })));
      for (let j = 1; j < 500; j++) await r.store.issueDot();
    }
    expect(r.log.lastSeq).toBe(total);
    expect(await r.log.trim()).toBe(total - 5);
    expect(r.log.oldestSeq).toBe(total - 4);
    expect(await r.log.trim()).toBe(0);
  });

  // Regression (simulation, watch completeness after a wiped replica): a position in the
  // replica's previous incarnation used to be answered with RESYNC_REQUIRED although the new
  // log held every change since the wipe; watchers were told to resync for no lost change.
  it('replays the whole new log of a wiped replica whose log is untrimmed, without a resync', async () => {
    const { oldIncarnation, after } = await wiped();
    expect(after.log.incarnation).not.toBe(oldIncarnation);
    for (const v of ['x', 'y']) await after.put(`k-${v}`, v);
    const { messages, cancel } = await after.feed({ prefix: Buffer.from('k-'), fromSeq: 7, incarnation: oldIncarnation });
    cancel();
    expect(messages[0].resync).toBeUndefined();
    expect(messages[0].incarnation).toBe(after.log.incarnation);
    expect(values(messages)).toEqual(['x', 'y']);
  });

  it('still resyncs a position of a lost incarnation once the new log has been trimmed', async () => {
    const { oldIncarnation, after } = await wiped({ retentionMs: 60_000, maxEntries: 1 });
    for (const v of ['x', 'y', 'z']) await after.put(`k-${v}`, v);
    await after.log.trim();
    const { messages, cancel } = await after.feed({ prefix: Buffer.from('k-'), fromSeq: 7, incarnation: oldIncarnation });
    cancel();
    expect(messages[0].resync).toBe(true);
  });
});
