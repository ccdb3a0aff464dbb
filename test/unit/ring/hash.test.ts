import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashKey, murmur3x86_32 } from '../../../src/ring/hash.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

describe('hashKey (MurmurHash3 x86_32)', () => {
  it('matches published MurmurHash3 x86_32 test vectors', () => {
    const vectors: Array<[string, number, number]> = [
      ['', 0, 0x00000000],
      ['', 1, 0x514e28b7],
      ['', 0xffffffff, 0x81f16f39],
      ['a', 0x9747b28c, 0x7fa09ea6],
      ['abc', 0x9747b28c, 0xc84a62dd],
      ['abcd', 0x9747b28c, 0xf0478627],
      ['aaaa', 0x9747b28c, 0x5a97808a],
      ['Hello, world!', 0x9747b28c, 0x24884cba],
      ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
    ];
    for (const [input, seed, want] of vectors) expect(murmur3x86_32(utf8(input), seed), input).toBe(want);
    expect(murmur3x86_32(new Uint8Array(4), 0)).toBe(0x2362f9de);
  });

  it('hashKey is murmur3 with seed 0', () => {
    expect(hashKey(utf8('abc'))).toBe(murmur3x86_32(utf8('abc'), 0));
  });

  it('returns a deterministic uint32 for any bytes, whatever the buffer offset', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const h = hashKey(bytes);
        expect(Number.isInteger(h) && h >= 0 && h < 2 ** 32).toBe(true);
        const padded = new Uint8Array(bytes.length + 3);
        padded.set(bytes, 3);
        expect(hashKey(padded.subarray(3))).toBe(h);
      }),
    );
  });

  it('spreads sequential keys uniformly over 64 ring slices (chi-square)', () => {
    const slices = new Array<number>(64).fill(0);
    const keys = 64_000;
    for (let i = 0; i < keys; i++) slices[hashKey(utf8(`user:${i}`)) >>> 26]++;
    const expected = keys / 64;
    const chi2 = slices.reduce((s, c) => s + (c - expected) ** 2 / expected, 0);
    // 63 degrees of freedom: P(chi2 > 110) < 0.0003 for a uniform hash.
    expect(chi2).toBeLessThan(110);
  });
});
