/**
 * Shorthands for hand-made histories: each call invokes and completes one operation on a shared
 * recorder, so times follow call order (logical clock: +1 per invoke and per complete).
 */
import { type Consistency, HistoryRecorder, type OpKind, type Operation, type Outcome, type WriteId } from '../../checkers/history.js';

export interface OpOpts {
  ctx?: Operation | readonly WriteId[];
  outcome?: Outcome;
  strict?: boolean;
  consistency?: Consistency;
}

export class Builder {
  readonly rec = new HistoryRecorder();

  put(client: string, key: string, o: OpOpts = {}): WriteId {
    const op = this.rec.invoke({ client, kind: 'put', key, context: o.ctx, strict: o.strict, consistency: o.consistency });
    this.rec.complete(op, o.outcome ?? 'ok');
    return op.writeId!;
  }

  del(client: string, key: string, o: OpOpts = {}): WriteId {
    const op = this.rec.invoke({ client, kind: 'delete', key, context: o.ctx, strict: o.strict, consistency: o.consistency });
    this.rec.complete(op, o.outcome ?? 'ok');
    return op.writeId!;
  }

  /** get returns the given write ids' values (unknown ids are passed through as raw values). */
  get(client: string, key: string, ids: readonly WriteId[], o: OpOpts = {}): Operation {
    const op = this.rec.invoke({ client, kind: 'get', key, strict: o.strict, consistency: o.consistency });
    return this.rec.complete(op, o.outcome ?? 'ok', o.outcome === undefined || o.outcome === 'ok' ? [...ids] : []);
  }

  /** start invokes an operation and leaves it pending (complete it later with rec.complete). */
  start(client: string, kind: OpKind, key: string, o: OpOpts = {}): Operation {
    return this.rec.invoke({ client, kind, key, context: o.ctx, strict: o.strict, consistency: o.consistency });
  }

  history(): Operation[] {
    return this.rec.history();
  }
}
