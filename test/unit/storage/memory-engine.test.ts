/** MemoryEngine specifics beyond the conformance suite: fault hooks, crashes, snapshots. */
import { describe, expect, it } from 'vitest';
import { type StorageErrorCode, isStorageError } from '../../../src/storage/engine.js';
import { type FaultOp, MemoryDisk, MemoryEngine } from '../../../src/storage/memory-engine.js';

const s = (t: string) => Buffer.from(t);
const put = (k: string, v: string) => ({ type: 'put' as const, key: s(k), value: s(v) });

async function keysOf(e: MemoryEngine): Promise<string[]> {
  const out: string[] = [];
  for await (const k of e.iterateKeys()) out.push(k.toString());
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<StorageErrorCode | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return isStorageError(e) ? e.code : undefined;
  }
}

describe('MemoryEngine faults', () => {
  it('failNextWrites fails exactly n writes and applies none of them', async () => {
    const e = new MemoryEngine();
    await e.open();
    e.failNextWrites(2, 'STORAGE_FULL');
    expect(await codeOf(e.write([put('a', '1')], { sync: true }))).toBe('STORAGE_FULL');
    expect(await codeOf(e.write([put('b', '1')], { sync: false }))).toBe('STORAGE_FULL');
    await e.write([put('c', '1')], { sync: false });
    expect(await keysOf(e)).toEqual(['c']);
    expect(e.stats()).toMatchObject({ writes: 1, errors: 2 });
  });

  it('consults the fault hook with the operation and fails only what it names', async () => {
    const seen: FaultOp['kind'][] = [];
    const e = new MemoryEngine({
      fault: (op) => {
        seen.push(op.kind);
        if (op.kind === 'write' && op.sync) return 'STORAGE_IO';
        if (op.kind === 'get' && op.keys.some((k) => k.toString() === 'bad')) return 'STORAGE_CORRUPT';
        return undefined;
      },
    });
    await e.open();
    expect(await codeOf(e.write([put('a', '1')], { sync: true }))).toBe('STORAGE_IO');
    await e.write([put('a', '1')], { sync: false });
    expect(await codeOf(e.getMany([s('a'), s('bad')]))).toBe('STORAGE_CORRUPT');
    expect(await e.get(s('a'))).toEqual(s('1'));
    expect(seen).toEqual(['open', 'write', 'write', 'get', 'get']);
  });

  it('can fail open, iteration and size estimates', async () => {
    let code: StorageErrorCode | undefined = 'STORAGE_LOCKED';
    const e = new MemoryEngine({ fault: (op) => (op.kind === 'open' ? code : op.kind === 'iterate' || op.kind === 'size' ? 'STORAGE_IO' : undefined) });
    expect(await codeOf(e.open())).toBe('STORAGE_LOCKED');
    code = undefined;
    await e.open();
    expect(await codeOf(e.iterate().next())).toBe('STORAGE_IO');
    expect(await codeOf(e.approximateSize())).toBe('STORAGE_IO');
  });
});

describe('MemoryEngine crashes and snapshots', () => {
  it("crash('process') keeps everything and releases the lock", async () => {
    const disk = new MemoryDisk();
    const e1 = new MemoryEngine({ disk });
    await e1.open();
    await e1.write([put('a', '1')], { sync: false });
    e1.crash('process');
    expect(e1.state).toBe('closed');
    expect(await codeOf(e1.get(s('a')))).toBe('STORAGE_CLOSED');
    const e2 = new MemoryEngine({ disk });
    await e2.open();
    expect(await keysOf(e2)).toEqual(['a']);
  });

  it("crash('power') drops writes after the last synced write, including overwrites and deletes", async () => {
    const disk = new MemoryDisk({ trackUnsynced: true });
    const e1 = new MemoryEngine({ disk });
    await e1.open();
    await e1.write([put('a', '1'), put('b', '1')], { sync: false });
    await e1.write([put('c', '1')], { sync: true }); // makes a, b and c durable
    await e1.write([put('a', '2'), { type: 'del', key: s('b') }, put('d', '1')], { sync: false });
    await e1.write([put('a', '3')], { sync: false });
    e1.crash('power');
    const e2 = new MemoryEngine({ disk });
    await e2.open();
    expect(await e2.getMany([s('a'), s('b'), s('c'), s('d')])).toEqual([s('1'), s('1'), s('1'), undefined]);
  });

  it("crash('power') needs a disk that tracks unsynced writes", () => {
    const e = new MemoryEngine();
    expect(() => e.crash('power')).toThrow(/trackUnsynced/);
  });

  it("crash('disk') and wipe() lose everything", async () => {
    const disk = new MemoryDisk();
    const e = new MemoryEngine({ disk });
    await e.open();
    await e.write([put('a', '1')], { sync: true });
    e.crash('disk');
    await e.open();
    expect(await keysOf(e)).toEqual([]);
    expect(disk.size).toBe(0);
  });

  it('snapshot() and restore() round-trip contents', async () => {
    const e = new MemoryEngine();
    await e.open();
    await e.write([put('a', '1'), put('b', '2')], { sync: false });
    const snap = e.snapshot();
    await e.write([put('a', 'x'), { type: 'del', key: s('b') }, put('c', '3')], { sync: false });
    e.restore(snap);
    expect(await keysOf(e)).toEqual(['a', 'b']);
    expect(await e.get(s('a'))).toEqual(s('1'));
    await e.write([put('z', '9')], { sync: false });
    e.restore(snap);
    expect(await keysOf(e)).toEqual(['a', 'b']);
  });

  it('keeps many open iterators isolated from interleaved writes (copy-on-write)', async () => {
    const e = new MemoryEngine();
    await e.open();
    const iters: AsyncIterableIterator<Buffer>[] = [];
    const expected: string[][] = [];
    const model: string[] = [];
    for (let i = 0; i < 20; i++) {
      iters.push(e.iterateKeys());
      expected.push([...model]);
      const k = `k${String(i).padStart(2, '0')}`;
      await e.write([put(k, 'v')], { sync: false });
      model.push(k);
      if (i % 3 === 0) {
        await e.write([{ type: 'del', key: s(model[0]) }], { sync: false });
        model.shift();
      }
    }
    for (let i = 0; i < iters.length; i++) {
      const got: string[] = [];
      for await (const k of iters[i]) got.push(k.toString());
      expect(got).toEqual(expected[i]);
    }
  });
});
