import { describe, expect, it } from 'vitest';
import { CrashPoints, parseCrashAt } from '../../../src/node/crash-point.js';

describe('crash points (DKV_CRASH_AT, test-only)', () => {
  it('parses point:count lists and refuses anything else', () => {
    expect(parseCrashAt(undefined).size).toBe(0);
    expect(parseCrashAt('')).toEqual(new Map());
    expect([...parseCrashAt('hints.delivered:2, merkle.exchange:1')]).toEqual([
      ['hints.delivered', 2],
      ['merkle.exchange', 1],
    ]);
    for (const bad of ['hints.delivered', 'hints.delivered:0', 'nowhere:1', 'stream.merged:-1', 'stream.merged:1x'])
      expect(() => parseCrashAt(bad), bad).toThrow(/DKV_CRASH_AT/);
  });

  it('dies once, at the armed arrival, and ignores unarmed points', () => {
    const died: string[] = [];
    const p = new CrashPoints(parseCrashAt('stream.merged:3'), (x) => died.push(x));
    p.reach('merkle.exchange');
    p.reach('stream.merged');
    p.reach('stream.merged');
    expect(died).toEqual([]);
    p.reach('stream.merged');
    expect(died).toEqual(['stream.merged']);
    p.reach('stream.merged');
    expect(died).toEqual(['stream.merged']);
  });
});
