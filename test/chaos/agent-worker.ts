/**
 * The chaos tier's client worker. It runs INSIDE the client namespace of a Topology
 * (`ip netns exec dkvc-<id> node --import tsx test/chaos/agent-worker.ts`), the only place
 * from which the nodes' private addresses are reachable: the test process stays in the host
 * namespace and drives this worker over stdin / stdout, one JSON object per line.
 *
 * Request:  {"id": 1, "op": "get" | "put" | "delete" | "status" | "ring" | "replicaRead", ...}
 * Response: {"id": 1, "ok": true, "result": ...} or {"id": 1, "ok": false, "error": {code, dkvCode, message}}
 *
 * Every address is checked with assertTestTarget against DKV_CHAOS_ALLOWED (the addresses the
 * test assigned inside its namespaces) before a channel to it is made. Writes are never retried
 * here (one attempt, one node): the test decides, and records, every request it sends.
 */
import { createInterface } from 'node:readline';
import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { DkvClient, DkvRequestError, type ConsistencyOptions } from '../../src/client/dkv-client.js';
import { InternodeClient, type ReplicaReadResponse } from '../../src/generated/dkv/internode/v1/internode.js';
import { recordFromProto } from '../../src/storage/record-codec.js';
import { assertTestTarget } from '../helpers/target-guard.js';

const allowed = new Set((process.env.DKV_CHAOS_ALLOWED ?? '').split(',').filter(Boolean));
if (allowed.size === 0) {
  process.stderr.write('agent-worker: DKV_CHAOS_ALLOWED is empty; refusing to run\n');
  process.exit(2);
}

interface Request {
  id: number;
  op: string;
  node: string;
  key?: string;
  keys?: string[];
  value?: string;
  /** context: base64; '' is a blind write. */
  context?: string;
  consistency?: ConsistencyOptions;
  timeoutMs?: number;
  /** watchStart / watchStop: the watch's id; nodes: every node the SDK may resume on; prefix. */
  watch?: number;
  nodes?: string[];
  prefix?: string;
}

/**
 * Watches run through the SDK (DkvClient.watch: an async iterator that resumes by itself on the
 * next node with its last token). Each event goes out as an unsolicited line
 * {"watch": id, "event": {kind, key, values}}; the end of a watch as {"watch": id, "end": reason}.
 */
const watches = new Map<number, { abort: AbortController; client: DkvClient }>();

function startWatch(r: Request): void {
  const id = r.watch!;
  const nodes = (r.nodes ?? []).map((n) => assertTestTarget(n, allowed));
  const client = new DkvClient({ nodes, timeoutMs: 4_000 });
  const abort = new AbortController();
  watches.set(id, { abort, client });
  void (async () => {
    let why = 'stopped';
    try {
      for await (const ev of client.watch({ prefix: r.prefix! }, { signal: abort.signal, maxReconnects: 1_000 }))
        send({
          watch: id,
          event: { kind: ev.kind, key: ev.key.toString('utf8'), values: ev.values.map((v) => v.toString('utf8')), context: ev.context.toString('base64'), deleted: ev.deleted, at: Date.now() },
        });
    } catch (e) {
      why = `failed: ${e instanceof Error ? e.message : String(e)}`;
    }
    send({ watch: id, end: why });
  })();
}

const clients = new Map<string, DkvClient>();
const internode = new Map<string, InternodeClient>();

function clientFor(node: string, timeoutMs: number): DkvClient {
  const k = `${node}|${timeoutMs}`;
  let c = clients.get(k);
  if (!c) clients.set(k, (c = new DkvClient({ nodes: [assertTestTarget(node, allowed)], timeoutMs, attempts: 1, retryWrites: false })));
  return c;
}

function internodeFor(node: string): InternodeClient {
  let c = internode.get(node);
  if (!c)
    internode.set(
      node,
      (c = new InternodeClient(assertTestTarget(node, allowed), credentials.createInsecure(), {
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1_000,
      })),
    );
  return c;
}

const b64 = (s: string | undefined) => Buffer.from(s ?? '', 'base64');

async function handle(r: Request): Promise<unknown> {
  const timeoutMs = r.timeoutMs ?? 4_000;
  switch (r.op) {
    case 'get': {
      const res = await clientFor(r.node, timeoutMs).get(r.key!, r.consistency);
      return { values: res.values.map((v) => v.toString('utf8')), context: res.context.toString('base64'), receipt: res.receipt };
    }
    case 'put': {
      const res = await clientFor(r.node, timeoutMs).put(r.key!, r.value!, { context: b64(r.context), consistency: r.consistency, retry: false });
      return { receipt: res.receipt };
    }
    case 'delete': {
      const res = await clientFor(r.node, timeoutMs).delete(r.key!, { context: b64(r.context), consistency: r.consistency, retry: false });
      return { receipt: res.receipt };
    }
    case 'watchStart':
      startWatch(r);
      return { started: r.watch };
    case 'watchStop': {
      const w = watches.get(r.watch!);
      watches.delete(r.watch!);
      w?.abort.abort();
      w?.client.close();
      return { stopped: r.watch };
    }
    case 'decommission':
      return clientFor(r.node, timeoutMs).decommission();
    case 'cleanup':
      return clientFor(r.node, timeoutMs).cleanup();
    case 'status':
      return clientFor(r.node, timeoutMs).status();
    case 'ring':
      return clientFor(r.node, timeoutMs).ring();
    case 'replicaRead': {
      // One node's own stored records (no coordination, no read repair), as test/helpers/inspect.ts.
      const keys = r.keys ?? [];
      const res = await new Promise<ReplicaReadResponse>((resolve, reject) =>
        internodeFor(r.node).replicaRead(
          { protocolVersion: 1, from: 'chaos-test', keys: keys.map((k) => Buffer.from(k, 'utf8')), hintedFor: '' },
          new Metadata(),
          { deadline: new Date(Date.now() + timeoutMs) },
          (e: ServiceError | null, x: ReplicaReadResponse) => (e ? reject(new DkvRequestError(e.code, undefined, e.details || e.message, r.node)) : resolve(x)),
        ),
      );
      return keys.map((key, i) => ({
        key,
        versions: recordFromProto(res.records[i]).map((v) => ({ actor: v.dot.actor, counter: v.dot.counter, tombstone: v.tombstone, value: v.value.toString('utf8') })),
      }));
    }
    default:
      throw new Error(`unknown op ${r.op}`);
  }
}

const send = (o: unknown) => process.stdout.write(JSON.stringify(o, (_k, v) => (typeof v === 'bigint' ? Number(v) : v)) + '\n');

createInterface({ input: process.stdin }).on('line', (line) => {
  let req: Request;
  try {
    req = JSON.parse(line) as Request;
  } catch {
    process.stderr.write(`agent-worker: bad request line ${JSON.stringify(line.slice(0, 200))}\n`);
    return;
  }
  handle(req).then(
    (result) => send({ id: req.id, ok: true, result }),
    (e: unknown) => {
      if (e instanceof DkvRequestError) send({ id: req.id, ok: false, error: { code: e.code, codeName: Status[e.code], dkvCode: e.dkvCode, message: e.message } });
      else send({ id: req.id, ok: false, error: { code: -1, codeName: 'AGENT', message: e instanceof Error ? e.message : String(e) } });
    },
  );
});

process.stdin.on('end', () => {
  for (const c of clients.values()) c.close();
  for (const c of internode.values()) c.close();
  process.exit(0);
});

send({ ready: true, pid: process.pid });
