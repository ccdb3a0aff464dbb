/** Keyspace layout: round trips, disjoint ranges, order preservation, prefix successors. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isStorageError } from '../../../src/storage/engine.js';
import {
  Keyspace,
  dataKey,
  dataRange,
  keyIn,
  keyspaceOf,
  metaKey,
  prefixRange,
  rangeOf,
  suffixOf,
  userKeyOf,
} from '../../../src/storage/keyspace.js';
import { MemoryEngine } from '../../../src/storage/memory-engine.js';
import { fcSeed } from './fc-seed.js';

const s = (t: string) => Buffer.from(t);
const bytesArb = fc.uint8Array({ maxLength: 8 }).map((u) => Buffer.from(u));

describe('keyspace', () => {
  it('allocates distinct ids, leaving 0x00 and 0xff unused', () => {
    const ids = Object.values(Keyspace);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id > 0x00 && id < 0xff).toBe(true);
  });

  it('round-trips user keys and preserves their order inside DATA (property)', () => {
    const seed = fcSeed('keyspace order');
    fc.assert(
      fc.property(bytesArb, bytesArb, (a, b) => {
        expect(userKeyOf(dataKey(a))).toEqual(a);
        expect(Math.sign(Buffer.compare(dataKey(a), dataKey(b)))).toBe(Math.sign(Buffer.compare(a, b)));
        const r = rangeOf(Keyspace.Data);
        expect(Buffer.compare(dataKey(a), r.gte) >= 0 && Buffer.compare(dataKey(a), r.lt) < 0).toBe(true);
        for (const other of [Keyspace.Meta, Keyspace.Hint, Keyspace.ChangeLog, Keyspace.Expiry]) {
          const o = rangeOf(other);
          expect(Buffer.compare(dataKey(a), o.gte) >= 0 && Buffer.compare(dataKey(a), o.lt) < 0).toBe(false);
        }
      }),
      { seed, numRuns: 300 },
    );
  });

  it('builds meta keys and rejects keys from the wrong keyspace', () => {
    expect(metaKey('incarnation')).toEqual(Buffer.concat([Buffer.from([Keyspace.Meta]), s('incarnation')]));
    expect(keyspaceOf(metaKey('x'))).toBe(Keyspace.Meta);
    expect(keyspaceOf(Buffer.alloc(0))).toBeUndefined();
    expect(() => userKeyOf(metaKey('x'))).toThrow();
    expect(() => metaKey('')).toThrow();
    try {
      suffixOf(Keyspace.Hint, Buffer.alloc(0));
    } catch (e) {
      expect(isStorageError(e, 'STORAGE_INVALID')).toBe(true);
    }
    expect(suffixOf(Keyspace.Hint, keyIn(Keyspace.Hint, s('n1/k')))).toEqual(s('n1/k'));
  });

  it('computes prefix successors, including trailing 0xff bytes', () => {
    expect(prefixRange(Buffer.from([0x10, 0x41]))).toEqual({ gte: Buffer.from([0x10, 0x41]), lt: Buffer.from([0x10, 0x42]) });
    expect(prefixRange(Buffer.from([0x10, 0xff, 0xff]))).toEqual({ gte: Buffer.from([0x10, 0xff, 0xff]), lt: Buffer.from([0x11]) });
    expect(prefixRange(Buffer.from([0xff]))).toEqual({ gte: Buffer.from([0xff]) });
    expect(prefixRange(Buffer.alloc(0))).toEqual({ gte: Buffer.alloc(0) });
  });

  it('scans exactly one keyspace, and user-key ranges map through dataRange', async () => {
    const e = new MemoryEngine();
    await e.open();
    await e.write(
      [
        { type: 'put', key: metaKey('incarnation'), value: s('1') },
        { type: 'put', key: dataKey(s('')), value: s('empty') },
        { type: 'put', key: dataKey(s('a')), value: s('A') },
        { type: 'put', key: dataKey(Buffer.from([0xff, 0xff])), value: s('high') },
        { type: 'put', key: keyIn(Keyspace.Hint, s('h')), value: s('hint') },
      ],
      { sync: false },
    );
    const users: string[] = [];
    for await (const k of e.iterateKeys(rangeOf(Keyspace.Data))) users.push(userKeyOf(k).toString('hex'));
    expect(users).toEqual(['', '61', 'ffff']);
    const some: string[] = [];
    for await (const k of e.iterateKeys(dataRange({ gt: s(''), reverse: true }))) some.push(userKeyOf(k).toString('hex'));
    expect(some).toEqual(['ffff', '61']);
    const all: string[] = [];
    for await (const k of e.iterateKeys(dataRange())) all.push(userKeyOf(k).toString('hex'));
    expect(all).toEqual(['', '61', 'ffff']);
  });
});
