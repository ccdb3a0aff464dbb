import type { Ring } from '../ring/ring.js';
import { primaries } from '../ring/preference-list.js';
import type { RingRange } from '../antientropy/merkle.js';

/** Move is one range that changes hands: `to` must get it from one of `from`. */
export interface Move {
  range: RingRange;
  from: string[];
  to: string;
}

/**
 * moves lists, for a topology change from `current` to `future`, every range whose replica
 * set gains a node, with the nodes that hold it now: the elementary ranges between the tokens
 * of both rings, merged when adjacent ones move the same way. Pure; only these ranges stream.
 */
export function moves(current: Ring, future: Ring, n: number): Move[] {
  const tokens = [...new Set([...current.nodes(), ...future.nodes()].flatMap((x) => x.tokens))].sort((a, b) => a - b);
  if (tokens.length === 0 || future.ownerCount === 0) return [];
  const nCur = Math.min(n, current.ownerCount);
  const nFut = Math.min(n, future.ownerCount);
  const out: Move[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const range = { start: tokens[(i - 1 + tokens.length) % tokens.length], end: tokens[i] };
    const now = current.ownerCount > 0 ? primaries(current, range.end, nCur) : [];
    for (const to of primaries(future, range.end, nFut)) {
      if (now.includes(to)) continue;
      const last = out[out.length - 1];
      if (last && last.to === to && last.range.end === range.start && last.from.join() === now.join()) last.range = { start: last.range.start, end: range.end };
      else out.push({ range, from: now, to });
    }
  }
  if (tokens.length === 1) for (const m of out) m.range = { start: m.range.end, end: m.range.end };
  return out;
}

/** describeMoves renders a plan for `--dry-run` and the operation log; sizeOf(m, i) adds a size note. */
export function describeMoves(ms: Move[], sizeOf?: (m: Move, i: number) => string): string[] {
  if (ms.length === 0) return ['no range changes hands'];
  return ms.map((m, i) => {
    const share = (((m.range.end - m.range.start + 2 ** 32) % 2 ** 32 || 2 ** 32) / 2 ** 32) * 100;
    const size = sizeOf ? `, ${sizeOf(m, i)}` : '';
    return `(${m.range.start}, ${m.range.end}] (${share.toFixed(2)}% of the ring${size}): ${m.from.join(',') || '-'} -> ${m.to}`;
  });
}
