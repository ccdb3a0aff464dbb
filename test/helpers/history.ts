import { status as Status } from '@grpc/grpc-js';
import { DkvRequestError } from '../../src/client/dkv-client.js';

/**
 * A recorded history of blind writes of unique keys with unique values, and the checker run
 * over it afterwards (TESTING.md): an acknowledged write must be readable; a failed or
 * timed-out write is *indeterminate* (it may or may not have happened); no value that was
 * never written may ever appear.
 */

/** ok: acknowledged. failed: an error answer. timeout: DEADLINE_EXCEEDED (no answer in time). */
export type Outcome = 'ok' | 'failed' | 'timeout';

export interface WriteRecord {
  key: string;
  value: string;
  /** tag groups writes for per-group summaries (for example "W=1"). */
  tag: string;
  /** node is the address the write was sent to. */
  node: string;
  outcome: Outcome;
  startMs: number;
  endMs: number;
  /** error is the gRPC status name and message of a failed or timed-out write. */
  error?: string;
}

export interface Summary {
  writes: number;
  ok: number;
  failed: number;
  timeout: number;
  /** indeterminate = failed + timeout. */
  indeterminate: number;
}

export class WriteHistory {
  readonly writes: WriteRecord[] = [];
  private readonly byKey = new Map<string, WriteRecord>();

  /**
   * write runs one blind write (fn) of `value` under `key` and records how it ended. It never
   * throws for a request error (those are outcomes); a key may be written only once.
   */
  async write(key: string, value: string, tag: string, node: string, fn: () => Promise<unknown>): Promise<WriteRecord> {
    if (this.byKey.has(key)) throw new Error(`history: key ${key} written twice (keys must be unique)`);
    const rec: WriteRecord = { key, value, tag, node, outcome: 'ok', startMs: Date.now(), endMs: 0 };
    this.byKey.set(key, rec);
    this.writes.push(rec);
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof DkvRequestError)) throw e;
      rec.outcome = e.code === Status.DEADLINE_EXCEEDED ? 'timeout' : 'failed';
      rec.error = `${Status[e.code]}: ${e.message}`;
    } finally {
      rec.endMs = Date.now();
    }
    return rec;
  }

  record(key: string): WriteRecord | undefined {
    return this.byKey.get(key);
  }

  summary(tag?: string): Summary {
    const ws = tag === undefined ? this.writes : this.writes.filter((w) => w.tag === tag);
    const count = (o: Outcome) => ws.filter((w) => w.outcome === o).length;
    const failed = count('failed');
    const timeout = count('timeout');
    return { writes: ws.length, ok: count('ok'), failed, timeout, indeterminate: failed + timeout };
  }

  tags(): string[] {
    return [...new Set(this.writes.map((w) => w.tag))];
  }
}

/** Finding is one violation found by checkReads. */
export interface Finding {
  kind: 'lost' | 'never-written' | 'duplicate-sibling' | 'unreadable';
  key: string;
  detail: string;
  write?: WriteRecord;
}

export interface ReadOutcome {
  /** values are the live siblings' values as read; undefined when the read itself failed. */
  values?: string[];
  error?: string;
}

/**
 * checkReads compares the final reads of every written key with the history: acknowledged
 * values missing are 'lost'; a value other than the one written under that key is
 * 'never-written'; the same value twice (one write applied as two siblings) is
 * 'duplicate-sibling'; a key whose read failed is 'unreadable'.
 */
export function checkReads(history: WriteHistory, reads: ReadonlyMap<string, ReadOutcome>): Finding[] {
  const out: Finding[] = [];
  for (const w of history.writes) {
    const r = reads.get(w.key);
    if (!r) continue;
    if (r.values === undefined) {
      out.push({ kind: 'unreadable', key: w.key, detail: r.error ?? 'read failed', write: w });
      continue;
    }
    if (w.outcome === 'ok' && !r.values.includes(w.value))
      out.push({ kind: 'lost', key: w.key, detail: `acknowledged value ${w.value} missing; read ${JSON.stringify(r.values)}`, write: w });
    for (const v of new Set(r.values))
      if (v !== w.value) out.push({ kind: 'never-written', key: w.key, detail: `value ${JSON.stringify(v)} was never written under this key`, write: w });
    if (r.values.length !== new Set(r.values).size)
      out.push({ kind: 'duplicate-sibling', key: w.key, detail: `one write came back as ${r.values.length} siblings: ${JSON.stringify(r.values)}`, write: w });
  }
  return out;
}

/** pool runs fn over items with at most `concurrency` calls in flight. */
export async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}
