import { describe, expect, it } from 'vitest';
import { describeChange, isWellFormed, reweighing, type MemberState } from '../../../src/membership/member-table.js';
import { memberFromWire, memberToWire } from '../../../src/transport/internode-codec.js';

const row = (o: Partial<MemberState> = {}): MemberState => ({
  nodeId: 'n2',
  address: '127.0.0.1:7002',
  zone: '',
  weight: 1,
  tokens: [10, 20],
  status: 'normal',
  incarnation: 1,
  version: 3,
  heartbeat: 9,
  suspects: [],
  ...o,
});

describe('a member row with a reweigh in progress', () => {
  it('is a topology change named with both weights', () => {
    expect(reweighing(row())).toBe(false);
    expect(reweighing(row({ pendingTokens: [], pendingWeight: 0 }))).toBe(false);
    const r = row({ pendingTokens: [10, 20, 30, 40], pendingWeight: 2 });
    expect(reweighing(r)).toBe(true);
    expect(describeChange(r)).toBe('n2 reweighing 1 -> 2');
    expect(describeChange(row({ status: 'leaving' }))).toBe('n2 leaving');
  });

  it('travels through gossip intact, and a row without one decodes without one', () => {
    const r = row({ pendingTokens: [10, 20, 30], pendingWeight: 1.5 });
    expect(memberFromWire(memberToWire(r))).toEqual(r);
    expect(memberFromWire(memberToWire(row()))).toEqual(row());
  });

  it('is refused when its pending tokens or weight are malformed', () => {
    expect(isWellFormed(row({ pendingTokens: [1, 2], pendingWeight: 2 }))).toBe(true);
    expect(isWellFormed(row({ pendingTokens: [1, -2], pendingWeight: 2 }))).toBe(false);
    expect(isWellFormed(row({ pendingTokens: [1, 2 ** 32], pendingWeight: 2 }))).toBe(false);
    expect(isWellFormed(row({ pendingTokens: [1, 2], pendingWeight: 0 }))).toBe(false);
    expect(isWellFormed(row({ pendingTokens: [1, 2], pendingWeight: Number.NaN }))).toBe(false);
    expect(isWellFormed(row({ pendingTokens: Array.from({ length: 100_001 }, (_, i) => i), pendingWeight: 2 }))).toBe(false);
  });
});
