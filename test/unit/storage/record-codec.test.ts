import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { Context as ContextMsg, Record as RecordMsg } from '../../../src/generated/dkv/record/v1/record.js';
import {
  ContextError,
  MAX_CONTEXT_ENTRIES,
  RecordCorruptError,
  decodeContext,
  decodeRecord,
  encodeContext,
  encodeRecord,
  recordFromProto,
  recordToProto,
} from '../../../src/storage/record-codec.js';
import { type VersionVector, dotCompare, dotKey, vvEntries, vvFromEntries } from '../../../src/versioning/dvv.js';
import { type Version, digest, newVersion } from '../../../src/versioning/siblings.js';
import { fcSeed } from './fc-seed.js';

// Every property below runs from this seed; replay a failure with DKV_SEED=<seed>.
fc.configureGlobal({ seed: fcSeed('unit/storage/record-codec') });

const actorArb = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => s.length <= 256);
const counterArb = fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }));
const vvArb: fc.Arbitrary<VersionVector> = fc.array(fc.tuple(actorArb, counterArb), { maxLength: 5 }).map((e) => vvFromEntries(e));
/** ctxArb: client contexts, whose counters no node can push past 2^48. */
const ctxArb: fc.Arbitrary<VersionVector> = fc.array(fc.tuple(actorArb, fc.integer({ min: 1, max: 2 ** 48 })), { maxLength: 5 }).map((e) => vvFromEntries(e));
const timeArb = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }));

const versionArb: fc.Arbitrary<Version> = fc
  .record({ actor: actorArb, counter: counterArb, past: vvArb, value: fc.uint8Array({ maxLength: 64 }), tombstone: fc.boolean(), expiresAtMs: timeArb, writtenAtMs: timeArb })
  .map((r) => {
    const past = new Map(r.past);
    if ((past.get(r.actor) ?? 0) >= r.counter) past.delete(r.actor);
    return newVersion({ actor: r.actor, counter: r.counter }, past, {
      value: r.tombstone ? Buffer.alloc(0) : Buffer.from(r.value),
      tombstone: r.tombstone,
      expiresAtMs: r.expiresAtMs,
      writtenAtMs: r.writtenAtMs,
    });
  });
const versionsArb = fc.uniqueArray(versionArb, { selector: (v) => dotKey(v.dot), maxLength: 8 });

/** norm renders versions in a form toEqual compares exactly (pasts as sorted entries). */
const norm = (vs: readonly Version[]) => vs.map((v) => ({ ...v, past: vvEntries(v.past) }));
const sortByDot = (vs: readonly Version[]) => [...vs].sort((a, b) => dotCompare(a.dot, b.dot));

describe('record codec', () => {
  it('round-trips any valid version set exactly (in dot order) and encodes canonically', () => {
    fc.assert(
      fc.property(versionsArb, (vs) => {
        const bytes = encodeRecord(vs);
        const back = decodeRecord(bytes);
        expect(norm(back)).toEqual(norm(sortByDot(vs)));
        expect(encodeRecord(back).equals(bytes)).toBe(true);
        expect(encodeRecord([...vs].reverse()).equals(bytes)).toBe(true);
        expect(norm(recordFromProto(recordToProto(vs)))).toEqual(norm(back));
      }),
    );
  });

  // encodeRecord is hand-written for speed; the generated encoder defines the bytes.
  it('writes exactly the bytes of the generated Record encoder', () => {
    const wide = fc.record({ actor: actorArb, counter: fc.integer({ min: 2 ** 30, max: Number.MAX_SAFE_INTEGER }), t: fc.integer({ min: 2 ** 40, max: Number.MAX_SAFE_INTEGER }) });
    fc.assert(
      fc.property(versionsArb, fc.array(wide, { maxLength: 2 }), fc.uint8Array({ minLength: 128, maxLength: 400 }), (vs, extra, big) => {
        const all = [...vs, ...extra.filter((e) => !vs.some((v) => v.dot.actor === e.actor && v.dot.counter === e.counter)).map((e) => newVersion({ actor: e.actor, counter: e.counter }, new Map(), { value: Buffer.from(big), expiresAtMs: e.t, writtenAtMs: e.t }))];
        const generated = Buffer.from(RecordMsg.encode(recordToProto(all)).finish());
        expect(encodeRecord(all).toString('hex')).toBe(generated.toString('hex'));
      }),
    );
  });

  it('the empty record is zero bytes and decodes to no versions', () => {
    expect(encodeRecord([]).length).toBe(0);
    expect(decodeRecord(Buffer.alloc(0))).toEqual([]);
  });

  it('refuses to encode what it could not decode', () => {
    const v = newVersion({ actor: 'a', counter: 1 }, new Map(), { value: Buffer.from('x') });
    expect(() => encodeRecord([v, v])).toThrow(RangeError);
    expect(() => encodeRecord([{ ...v, dot: { actor: 'a', counter: 0 } }])).toThrow(RangeError);
    expect(() => encodeRecord([{ ...v, tombstone: true }])).toThrow(RangeError);
  });

  const raw = (versions: unknown[]) => Buffer.from(RecordMsg.encode(RecordMsg.fromPartial({ versions: versions as never })).finish());
  const good = { dot: { actor: 'a', counter: 2 }, past: [{ actor: 'b', counter: 1 }], value: Buffer.from('v') };
  const corrupt: Array<[string, Uint8Array]> = [
    ['garbage bytes', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])],
    ['truncated record', encodeRecord([newVersion({ actor: 'a', counter: 1 }, new Map(), { value: Buffer.from('hello') })]).subarray(0, 6)],
    ['missing dot', raw([{ ...good, dot: undefined }])],
    ['empty actor', raw([{ ...good, dot: { actor: '', counter: 2 } }])],
    ['zero counter', raw([{ ...good, dot: { actor: 'a', counter: 0 } }])],
    ['zero counter in past', raw([{ ...good, past: [{ actor: 'b', counter: 0 }] }])],
    ['empty actor in past', raw([{ ...good, past: [{ actor: '', counter: 3 }] }])],
    ['repeated actor in past', raw([{ ...good, past: [{ actor: 'b', counter: 1 }, { actor: 'b', counter: 2 }] }])],
    ['dot covered by own past', raw([{ ...good, past: [{ actor: 'a', counter: 2 }] }])],
    ['tombstone with a value', raw([{ ...good, tombstone: true }])],
    ['negative expiry', raw([{ ...good, expiresAtMs: -5 }])],
    ['repeated dot', raw([good, good])],
    ['versions out of order', raw([good, { ...good, dot: { actor: 'a', counter: 1 } }])],
  ];
  it.each(corrupt)('rejects a corrupt record: %s', (_name, bytes) => {
    expect(() => decodeRecord(bytes)).toThrow(RecordCorruptError);
  });

  it('random bytes either decode to a valid record or throw RecordCorruptError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          const vs = decodeRecord(bytes);
          expect(encodeRecord(vs).length).toBeGreaterThanOrEqual(0);
        } catch (err) {
          expect(err).toBeInstanceOf(RecordCorruptError);
        }
      }),
    );
  });
});

describe('context codec', () => {
  it('round-trips any version vector; the empty context is zero bytes', () => {
    fc.assert(
      fc.property(ctxArb, (vv) => {
        const bytes = encodeContext(vv);
        expect(vvEntries(decodeContext(bytes))).toEqual(vvEntries(vv));
        expect(encodeContext(decodeContext(bytes)).equals(bytes)).toBe(true);
      }),
    );
    expect(encodeContext(new Map()).length).toBe(0);
    expect(decodeContext(Buffer.alloc(0)).size).toBe(0);
  });

  it('writes exactly the bytes of the generated Context encoder', () => {
    fc.assert(
      fc.property(ctxArb, (vv) => {
        const generated = Buffer.from(ContextMsg.encode({ entries: vvEntries(vv).map(([actor, counter]) => ({ actor, counter })) }).finish());
        expect(encodeContext(vv).toString('hex')).toBe(generated.toString('hex'));
      }),
    );
  });

  // decodeContext parses canonical bytes directly and leaves everything else to the
  // generated decoder: what it accepts must be exactly what that path accepts.
  it('accepts a (mutated) context exactly when the generated decoder finds it canonical and valid', () => {
    const reference = (bytes: Buffer): Array<[string, number]> | 'reject' => {
      let msg: ContextMsg;
      try {
        msg = ContextMsg.decode(bytes);
      } catch {
        return 'reject';
      }
      const e = msg.entries;
      if (e.length > MAX_CONTEXT_ENTRIES) return 'reject';
      for (let i = 0; i < e.length; i++) {
        if (e[i].actor.length === 0 || e[i].actor.length > 256 || !(e[i].counter >= 1 && e[i].counter <= 2 ** 48)) return 'reject';
        if (i > 0 && !(e[i - 1].actor < e[i].actor)) return 'reject';
      }
      if (!Buffer.from(ContextMsg.encode(msg).finish()).equals(bytes)) return 'reject';
      return e.map((d) => [d.actor, d.counter]);
    };
    const mutation = fc.record({ at: fc.nat(), kind: fc.constantFrom('flip', 'insert', 'delete', 'none'), byte: fc.integer({ min: 0, max: 255 }) });
    fc.assert(
      fc.property(ctxArb, mutation, (vv, m) => {
        const valid = encodeContext(vv);
        const at = valid.length ? m.at % valid.length : 0;
        const bytes =
          m.kind === 'none' || valid.length === 0
            ? valid
            : m.kind === 'flip'
              ? Buffer.from(valid.map((b, i) => (i === at ? b ^ (m.byte || 1) : b)))
              : m.kind === 'insert'
                ? Buffer.concat([valid.subarray(0, at), Buffer.from([m.byte]), valid.subarray(at)])
                : Buffer.concat([valid.subarray(0, at), valid.subarray(at + 1)]);
        let got: Array<[string, number]> | 'reject';
        try {
          got = vvEntries(decodeContext(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(ContextError);
          got = 'reject';
        }
        expect(got).toEqual(reference(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('rejects bytes dkv never produces: a zero counter, unsorted actors, trailing bytes after a valid context', () => {
    const zero = Buffer.from(ContextMsg.encode({ entries: [{ actor: 'a', counter: 0 }, { actor: 'b', counter: 4 }] }).finish());
    const unsorted = Buffer.from(ContextMsg.encode({ entries: [{ actor: 'b', counter: 1 }, { actor: 'a', counter: 4 }] }).finish());
    const trailing = Buffer.concat([encodeContext(vvFromEntries([['a', 3]])), Buffer.from([0x00, 0x99])]);
    for (const b of [zero, unsorted, trailing]) expect(() => decodeContext(b)).toThrow(/canonical form/);
    expect(vvEntries(decodeContext(encodeContext(vvFromEntries([['b', 4]]))))).toEqual([['b', 4]]);
  });

  it('rejects a counter above 2^48, which no node can have issued', () => {
    expect(() => decodeContext(encodeContext(vvFromEntries([['a', 2 ** 48 + 1]])))).toThrow(/2\^48/);
  });

  const ctx = (entries: Array<{ actor: string; counter: number }>) => Buffer.from(ContextMsg.encode({ entries }).finish());
  const hugeCounter = (() => {
    const entry = new BinaryWriter().uint32(10).string('a').uint32(16).uint64(2n ** 53n).finish();
    return new BinaryWriter().uint32(10).bytes(entry).finish();
  })();
  const malformed: Array<[string, Uint8Array, RegExp]> = [
    ['unparsable bytes', Buffer.from([0x0a, 0x05, 0x0a]), /unparsable/],
    ['a truncated varint', Buffer.from([0x0a, 0x02, 0x10, 0xff]), /unparsable/],
    ['an empty actor', ctx([{ actor: '', counter: 1 }]), /empty actor/],
    ['a repeated actor', ctx([{ actor: 'a', counter: 1 }, { actor: 'a', counter: 2 }]), /twice/],
    ['a counter above 2^53 - 1', hugeCounter, /unparsable|safe/],
    ['too many entries', ctx(Array.from({ length: MAX_CONTEXT_ENTRIES + 1 }, (_, i) => ({ actor: `n${i}`, counter: 1 }))), /more than 1000/],
    ['an over-long actor', ctx([{ actor: 'x'.repeat(257), counter: 1 }]), /longer/],
  ];
  it.each(malformed)('rejects %s with ContextError', (_name, bytes, message) => {
    expect(() => decodeContext(bytes)).toThrow(ContextError);
    expect(() => decodeContext(bytes)).toThrow(message);
  });

  it('accepts exactly MAX_CONTEXT_ENTRIES entries', () => {
    const bytes = encodeContext(vvFromEntries(Array.from({ length: MAX_CONTEXT_ENTRIES }, (_, i) => [`n${i}`, i + 1] as [string, number])));
    expect(decodeContext(bytes).size).toBe(MAX_CONTEXT_ENTRIES);
  });

  it('random bytes either decode or throw ContextError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeContext(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(ContextError);
        }
      }),
    );
  });
});

describe('digest', () => {
  it('is 16 bytes and independent of input order', () => {
    fc.assert(
      fc.property(versionsArb, fc.infiniteStream(fc.nat()), (vs, rand) => {
        const shuffled = [...vs].sort(() => (rand.next().value % 3) - 1);
        const d = digest(vs);
        expect(d.length).toBe(16);
        expect(digest(shuffled).equals(d)).toBe(true);
        expect(digest(decodeRecord(encodeRecord(vs))).equals(d)).toBe(true);
      }),
    );
  });

  it('changes when any causal or visible field changes, not with writtenAtMs', () => {
    const base = newVersion({ actor: 'a', counter: 1 }, vvFromEntries([['b', 2]]), { value: Buffer.from('v'), expiresAtMs: 10, writtenAtMs: 5 });
    const d = digest([base]);
    const variants: Version[] = [
      { ...base, dot: { actor: 'a', counter: 2 } },
      { ...base, past: vvFromEntries([['b', 3]]) },
      { ...base, value: Buffer.from('w') },
      { ...base, value: Buffer.alloc(0), tombstone: true },
      { ...base, expiresAtMs: 11 },
    ];
    for (const v of variants) expect(digest([v]).equals(d)).toBe(false);
    expect(digest([{ ...base, writtenAtMs: 99 }]).equals(d)).toBe(true);
    expect(digest([]).equals(d)).toBe(false);
  });

  // Digests are compared between nodes (Merkle anti-entropy), so nodes of different dkv
  // versions must compute the same bytes: these vectors were computed by the original
  // implementation (a Hash fed the count, then each header and value in turn).
  it('keeps the bytes of earlier dkv versions (golden vectors)', () => {
    const a = newVersion({ actor: 'n1#mik2qz3k', counter: 123456 }, vvFromEntries([['n1#mik2qz3k', 123000], ['n2#x', 7]]), { value: Buffer.alloc(100, 7), expiresAtMs: 0, writtenAtMs: 1764500000000 });
    const b = newVersion({ actor: 'é"\\\u0001😀', counter: 2 ** 40 }, vvFromEntries([]), { value: Buffer.from('v'), expiresAtMs: 1764500009999, writtenAtMs: 5 });
    const t = { ...newVersion({ actor: 'z', counter: 9 }, vvFromEntries([['a', 1]]), { value: Buffer.alloc(0), expiresAtMs: 0, writtenAtMs: 3 }), tombstone: true };
    expect(digest([]).toString('hex')).toBe('5feceb66ffc86f38d952786c6d696c79');
    expect(digest([a]).toString('hex')).toBe('3bc1b733b5a0bdb5df33671cd35548fd');
    expect(digest([t, b, a]).toString('hex')).toBe('6cc40e13cc18302edb62ce28bd7ee99e');
  });

  it('equals the framing hashed piece by piece, for any sibling set', () => {
    const reference = (vs: readonly Version[]) => {
      const h = createHash('sha256');
      const sorted = [...vs].sort((x, y) => dotCompare(x.dot, y.dot));
      h.update(String(sorted.length));
      for (const v of sorted) {
        h.update(JSON.stringify([v.dot.actor, v.dot.counter, vvEntries(v.past), v.tombstone, v.expiresAtMs, v.value.length]));
        h.update(v.value);
      }
      return h.digest().subarray(0, 16);
    };
    fc.assert(
      fc.property(versionsArb, (vs) => {
        expect(digest(vs).toString('hex')).toBe(reference(vs).toString('hex'));
      }),
    );
  });
});
