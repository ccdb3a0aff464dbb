/**
 * CausalIndex answers "had write u seen write v?" over a history: v is in u's causal past when
 * v is in u's seen-set or, transitively, in the seen-set of a write u saw. Seen ids that name no
 * write of the same key (a phantom value, another key) are ignored.
 *
 * Cost: pasts are bitsets over the writes of one key, built lazily and memoized, so memory is
 * at most W^2/8 bytes for W writes on a key that all read-modify-write, and nothing for blind
 * writes. Walks are iterative (long read-modify-write chains cannot overflow the stack); a
 * cycle (impossible in a real history) is cut, not followed.
 */
import type { History, Operation, WriteId } from './history.js';
import { isWrite } from './history.js';

/** Bits is a fixed-size bitset over the writes of one key (index = order of first appearance). */
export type Bits = Uint32Array;

export const bitsNew = (size: number): Bits => new Uint32Array(Math.ceil(size / 32) || 1);
export const bitsHas = (b: Bits | null, i: number): boolean => b !== null && (b[i >>> 5] & (1 << (i & 31))) !== 0;
export const bitsSet = (b: Bits, i: number): void => {
  b[i >>> 5] |= 1 << (i & 31);
};
export function bitsOr(dst: Bits, src: Bits | null): void {
  if (src) for (let i = 0; i < src.length; i++) dst[i] |= src[i];
}

interface KeyWrites {
  ids: WriteId[];
}

export class CausalIndex {
  private readonly writes = new Map<WriteId, Operation>();
  private readonly index = new Map<WriteId, number>();
  private readonly byKey = new Map<string, KeyWrites>();
  private readonly pasts = new Map<WriteId, Bits | null>();

  constructor(history: History) {
    for (const op of history) {
      if (!isWrite(op) || op.writeId === undefined) continue;
      if (this.writes.has(op.writeId)) throw new Error(`CausalIndex: write id ${op.writeId} used twice`);
      this.writes.set(op.writeId, op);
      let kw = this.byKey.get(op.key);
      if (!kw) this.byKey.set(op.key, (kw = { ids: [] }));
      this.index.set(op.writeId, kw.ids.length);
      kw.ids.push(op.writeId);
    }
  }

  /** write returns the put or delete with this id. */
  write(id: WriteId): Operation | undefined {
    return this.writes.get(id);
  }

  /** writesOf lists the writes of a key in history order. */
  writesOf(key: string): Operation[] {
    return (this.byKey.get(key)?.ids ?? []).map((id) => this.writes.get(id)!);
  }

  /** indexOf is the bit position of a write within its key; -1 if unknown. */
  indexOf(id: WriteId): number {
    return this.index.get(id) ?? -1;
  }

  /** sizeOf is the number of writes of a key (the size of its bitsets). */
  sizeOf(key: string): number {
    return this.byKey.get(key)?.ids.length ?? 0;
  }

  /** saw: v is in the (strict) causal past of u; both must be writes of the same key. */
  saw(u: WriteId, v: WriteId): boolean {
    const wu = this.writes.get(u);
    const wv = this.writes.get(v);
    if (!wu || !wv || wu.key !== wv.key) return false;
    return bitsHas(this.past(u), this.index.get(v)!);
  }

  /** sawBy returns the first of `candidates` that saw v, if any. */
  sawBy(v: WriteId, candidates: Iterable<WriteId>): WriteId | undefined {
    for (const c of candidates) if (this.saw(c, v)) return c;
    return undefined;
  }

  /** seenSameKey: the direct seen-set of a write, restricted to known writes of its key. */
  private seenSameKey(id: WriteId): WriteId[] {
    const op = this.writes.get(id);
    if (!op) return [];
    return op.seen.filter((s) => s !== id && this.writes.get(s)?.key === op.key);
  }

  /** past is the memoized causal past of a write as a bitset over its key; null means empty. */
  past(id: WriteId): Bits | null {
    const memo = this.pasts.get(id);
    if (memo !== undefined) return memo;
    if (!this.writes.has(id)) return null;
    const visiting = new Set<WriteId>();
    const stack: WriteId[] = [id];
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      if (this.pasts.has(top)) {
        stack.pop();
        continue;
      }
      const deps = this.seenSameKey(top);
      if (!visiting.has(top)) {
        visiting.add(top);
        const pending = deps.filter((d) => !this.pasts.has(d) && !visiting.has(d));
        if (pending.length > 0) {
          stack.push(...pending);
          continue;
        }
      }
      let bits: Bits | null = null;
      for (const d of deps) {
        bits ??= bitsNew(this.sizeOf(this.writes.get(top)!.key));
        bitsSet(bits, this.index.get(d)!);
        bitsOr(bits, this.pasts.get(d) ?? null); // a dep still being visited closes a cycle: cut
      }
      this.pasts.set(top, bits);
      visiting.delete(top);
      stack.pop();
    }
    return this.pasts.get(id) ?? null;
  }

  /** coveredBy: every write in the strict causal past of some root (roots themselves excluded). */
  coveredBy(roots: Iterable<WriteId>): Set<WriteId> {
    const out = new Set<WriteId>();
    const todo: WriteId[] = [];
    for (const r of roots) todo.push(...this.seenSameKey(r));
    while (todo.length > 0) {
      const w = todo.pop()!;
      if (out.has(w)) continue;
      out.add(w);
      todo.push(...this.seenSameKey(w));
    }
    return out;
  }
}
