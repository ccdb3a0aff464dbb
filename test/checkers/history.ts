/**
 * The history model every checker reads, and a recorder that builds one.
 *
 * A HISTORY is the list of client operations a simulation or chaos test ran, in invoke order:
 *
 * - Every write (put or delete) carries a unique write id. A put writes a unique value, and the
 *   recorder maps that value back to its write id, so a get's values become write ids. A delete
 *   writes a tombstone: its id never comes back from a get as a value.
 * - Each operation has a client id, a kind ('put' | 'delete' | 'get'), a key, an invoke time and
 *   a complete time (numbers in any monotonic unit; an operation that never completed has
 *   completeTime = Infinity). "a before b" always means a.completeTime < b.invokeTime, strictly:
 *   with a manual clock, equal times count as concurrent, which only makes checkers more lenient.
 * - outcome: 'ok' (acknowledged), 'fail' or 'timeout'. fail and timeout are INDETERMINATE: the
 *   write may or may not have happened, and every checker accepts either.
 * - A write's `seen` is the set of write ids whose values the Get whose context it carried had
 *   returned (empty for a blind write). The write supersedes exactly those (and, following their
 *   own seen-sets, transitively everything they saw: their "causal past").
 * - A get's `returned` is the list of write ids of the live values it returned (only for
 *   outcome 'ok'). A value that no recorded put produced is kept as `unknown-value:<value>` so a
 *   checker can report it as a phantom.
 * - strict and consistency (r, w, n): how the operation was issued, read by checkStrictReads.
 *
 * A FINAL STATE is, per key, the set of live write ids read after healing (e.g. at R = ALL).
 * A key missing from it reads as "no live value" (see each checker for the option to skip).
 */

/** WriteId names one put or delete; unique over the whole history. */
export type WriteId = string;
export type OpKind = 'put' | 'delete' | 'get';
/** ok: acknowledged. fail (an error answer) and timeout (no answer) are indeterminate. */
export type Outcome = 'ok' | 'fail' | 'timeout';

/** Consistency of one request: r for gets, w for writes; n is the replication factor (default 3). */
export interface Consistency {
  r: number;
  w: number;
  n?: number;
}

export interface Operation {
  /** id numbers operations in invoke order from 0 (unique within one history). */
  id: number;
  client: string;
  kind: OpKind;
  key: string;
  invokeTime: number;
  /** completeTime is Infinity for an operation that never completed (then outcome is 'timeout'). */
  completeTime: number;
  outcome: Outcome;
  /** writeId: puts and deletes only. */
  writeId?: WriteId;
  /** value: puts only; the unique value written. */
  value?: string;
  /** seen: writes only; the write ids the carried context had seen; empty for a blind write and for gets. */
  seen: readonly WriteId[];
  /** returned: gets with outcome 'ok' only; write ids of the values returned, in order; else empty. */
  returned: readonly WriteId[];
  /** strict: the request was issued in strict mode. */
  strict: boolean;
  /** consistency: absent means the checker's default (R = W = 2, N = 3). */
  consistency?: Consistency;
}

export type History = readonly Operation[];

/** FinalState: per key, the final live write ids (a Map or a plain object). */
export type FinalState = ReadonlyMap<string, readonly WriteId[]> | Readonly<Record<string, readonly WriteId[]>>;

/** Violation is one finding, with a message that names the key, write ids and times. */
export interface Violation {
  /** checker is the function that found it, e.g. 'noLostWrites'. */
  checker: string;
  /** kind is a stable short code, e.g. 'lost-write', 'phantom'. */
  kind: string;
  key?: string;
  writeIds?: WriteId[];
  /** time: when the offending operation was invoked, if one is involved. */
  time?: number;
  message: string;
}

export interface CheckResult<S extends object = Record<string, number | null>> {
  ok: boolean;
  violations: Violation[];
  stats: S;
}

/** UNKNOWN_VALUE prefixes a returned value that no recorded put produced. */
export const UNKNOWN_VALUE = 'unknown-value:';

export const isWrite = (op: Operation): boolean => op.kind === 'put' || op.kind === 'delete';

/** finalStateMap turns either FinalState form into a Map. */
export function finalStateMap(fs: FinalState): Map<string, readonly WriteId[]> {
  if (fs instanceof Map) return new Map(fs);
  return new Map(Object.entries(fs as Record<string, readonly WriteId[]>));
}

/** fmtTime prints a time, or "never" for an operation that never completed. */
export const fmtTime = (t: number): string => (Number.isFinite(t) ? String(t) : 'never');

/** describeOp names an operation for a violation message. */
export function describeOp(op: Operation): string {
  const what = op.kind === 'get' ? `get #${op.id}` : `${op.kind} ${op.writeId}`;
  return `${what} by ${op.client} (invoked t=${fmtTime(op.invokeTime)}, completed t=${fmtTime(op.completeTime)}, ${op.outcome})`;
}

export const fmtIds = (ids: readonly WriteId[]): string => `[${ids.join(', ')}]`;

export interface RecorderOptions {
  /** now: the clock of the test (e.g. the manual clock); default a logical counter, +1 per event. */
  now?: () => number;
  /** valuePrefix: default values are `${valuePrefix}${writeId}`; default ''. */
  valuePrefix?: string;
}

export interface InvokeInput {
  client: string;
  kind: OpKind;
  key: string;
  /** context: the completed get whose context a write carries, or the write ids it had seen. */
  context?: Operation | readonly WriteId[];
  strict?: boolean;
  consistency?: Consistency;
  /** value: the value a put writes (must be unique); default derived from the write id. */
  value?: string;
}

/**
 * HistoryRecorder gives every operation an id and times, every write a unique id and value, and
 * maps values read back to write ids. Call invoke() just before sending a request, write
 * `op.value`, then complete() when the answer (or the deadline) arrives.
 */
export class HistoryRecorder {
  private readonly ops: Operation[] = [];
  private readonly idByValue = new Map<string, WriteId>();
  private readonly done = new Set<number>();
  private tick = 0;
  private writes = 0;

  constructor(private readonly opts: RecorderOptions = {}) {}

  private now(): number {
    return this.opts.now ? this.opts.now() : ++this.tick;
  }

  invoke(input: InvokeInput): Operation {
    const op: Operation = {
      id: this.ops.length,
      client: input.client,
      kind: input.kind,
      key: input.key,
      invokeTime: this.now(),
      completeTime: Infinity,
      outcome: 'timeout',
      seen: [],
      returned: [],
      strict: input.strict ?? false,
      ...(input.consistency ? { consistency: { ...input.consistency } } : {}),
    };
    if (op.kind !== 'get') {
      op.writeId = `w${++this.writes}`;
      op.seen = this.seenOf(input.context);
      if (op.kind === 'put') {
        op.value = input.value ?? `${this.opts.valuePrefix ?? ''}${op.writeId}`;
        if (this.idByValue.has(op.value)) throw new Error(`HistoryRecorder: value ${JSON.stringify(op.value)} written twice`);
        this.idByValue.set(op.value, op.writeId);
      }
    } else if (input.context !== undefined) throw new Error('HistoryRecorder: a get carries no context');
    this.ops.push(op);
    return op;
  }

  /** complete records how `op` ended; for an ok get, `values` are the live values it returned. */
  complete(op: Operation, outcome: Outcome, values: readonly string[] = []): Operation {
    if (this.ops[op.id] !== op) throw new Error(`HistoryRecorder: operation #${op.id} is not from this recorder`);
    if (this.done.has(op.id)) throw new Error(`HistoryRecorder: operation #${op.id} completed twice`);
    if (values.length > 0 && (op.kind !== 'get' || outcome !== 'ok')) throw new Error('HistoryRecorder: only an ok get returns values');
    this.done.add(op.id);
    op.completeTime = this.now();
    op.outcome = outcome;
    if (op.kind === 'get' && outcome === 'ok') op.returned = this.idsOf(values);
    return op;
  }

  /** writeIdOf maps a value back to the put that wrote it. */
  writeIdOf(value: string): WriteId | undefined {
    return this.idByValue.get(value);
  }

  /** idsOf maps values to write ids; an unknown value becomes `unknown-value:<value>`. */
  idsOf(values: readonly string[]): WriteId[] {
    return values.map((v) => this.idByValue.get(v) ?? `${UNKNOWN_VALUE}${v}`);
  }

  /** finalState maps final values read per key (Map or object) to a FinalState of write ids. */
  finalState(valuesByKey: ReadonlyMap<string, readonly string[]> | Readonly<Record<string, readonly string[]>>): Map<string, WriteId[]> {
    const out = new Map<string, WriteId[]>();
    for (const [k, vs] of finalStateMap(valuesByKey)) out.set(k, this.idsOf(vs));
    return out;
  }

  /** count is how many operations were invoked so far (the next one gets this id). */
  get count(): number {
    return this.ops.length;
  }

  /** history is a snapshot; operations still pending read as 'timeout' with completeTime Infinity. */
  history(): Operation[] {
    return this.ops.map((o) => ({ ...o, seen: [...o.seen], returned: [...o.returned] }));
  }

  private seenOf(context: InvokeInput['context']): WriteId[] {
    if (context === undefined) return [];
    if (Array.isArray(context)) return [...(context as readonly WriteId[])];
    const get = context as Operation;
    if (get.kind !== 'get' || get.outcome !== 'ok' || !this.done.has(get.id))
      throw new Error(`HistoryRecorder: context must come from a completed ok get (got #${get.id})`);
    return [...get.returned];
  }
}
