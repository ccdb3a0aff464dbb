/**
 * node-micro.ts — CPU µs per Put and Get of one real dkv node (LevelDB engine in a temp dir,
 * system clock) driven in-process through its coordinator, without gRPC (bench tier: figures
 * only). On a shared machine this is steadier than the server CPU of the end-to-end benches:
 * one process, no client, no sockets; it isolates what dkv itself adds to a request.
 *
 *   node --import tsx bench/node-micro.ts
 *     [--ops 20000] [--conc 64] [--keys 5000] [--value-size 100] [--reps 5] [--api] [--workloads put,get]
 *
 * Contract: the node is a fresh single-node cluster on a temp dir (removed at the end) built
 * from src/ (through tsx); --keys keys are loaded once, then each repetition runs --ops puts
 * (each with the key's latest context, like the benches' 'ctx' writes) and --ops gets,
 * --conc in flight, uniform keys, and prints process CPU (user + system) µs per op; at the end
 * the median and minimum per workload (the minimum is the figure least inflated by other work).
 * --api drives the dkv.v1.KV service handlers instead (api/kv-service.ts): each op decodes
 * request bytes with the service's deserializer, runs the handler (validation, contexts,
 * receipt) and encodes the response with its serializer, as grpc-js would: everything dkv
 * does per call except grpc-js and HTTP/2 themselves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DkvNode } from '../src/node/node.js';
import { local, validateConfig } from '../src/node/config.js';
import { silentLogger } from '../src/node/logger.js';
import { MemoryNetwork } from '../src/transport/memory-transport.js';
import { SystemClock } from '../src/time/clock.js';
import { SeededRandom } from '../src/time/random.js';
import { kvService } from '../src/api/kv-service.js';
import { PutRequest, GetRequest, KVService } from '../src/generated/dkv/v1/kv.js';

const { values: v } = parseArgs({
  strict: true,
  options: {
    ops: { type: 'string', default: '20000' },
    conc: { type: 'string', default: '64' },
    keys: { type: 'string', default: '5000' },
    'value-size': { type: 'string', default: '100' },
    reps: { type: 'string', default: '5' },
    api: { type: 'boolean', default: false },
    workloads: { type: 'string', default: 'put,get' },
  },
});
const OPS = Number(v.ops);
const CONC = Number(v.conc);
const KEYS = Number(v.keys);
const dir = mkdtempSync(join(tmpdir(), 'dkv-micro-'));
const clock = new SystemClock();
const random = new SeededRandom(1);
const net = new MemoryNetwork(clock, random);
const config = validateConfig(local({ nodeId: 'n1', listen: '127.0.0.1:0', advertise: '127.0.0.1:1', dataDir: dir }));
const node = await DkvNode.create(config, { clock, random, transport: net.transport('127.0.0.1:1'), log: silentLogger });
const keys = Array.from({ length: KEYS }, (_, i) => Buffer.from(`k${String(i).padStart(15, '0')}`));
const value = Buffer.alloc(Number(v['value-size']), 7);
const contexts = new Array<ReadonlyMap<string, number>>(KEYS).fill(new Map());
const c = { strict: false };

async function run(n: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: CONC }, async () => {
    while (next < n) await op(next++);
  }));
}
const directPut = async (k: number) => {
  const r = await node.coordinator.write({ kind: 'put', key: keys[k], value, context: contexts[k], ttlMs: 0, consistency: c });
  contexts[k] = r.context;
};
const directGet = async (k: number) => {
  await node.coordinator.get(keys[k], c);
};

// --api: the service handlers between grpc-js's deserializer and serializer.
const svc = kvService(node.coordinator, { maxKeyBytes: config.maxKeyBytes, maxValueBytes: config.maxValueBytes }, node);
const wireContexts = new Array<Buffer>(KEYS).fill(Buffer.alloc(0));
const getBytes = keys.map((key) => KVService.get.requestSerialize(GetRequest.fromPartial({ key })));
type Handler = (call: unknown, cb: (err: unknown, res: unknown) => void) => void;
function viaApi(method: 'put' | 'get', bytes: Buffer, onResponse?: (res: Buffer) => void): Promise<void> {
  const def = KVService[method] as unknown as { requestDeserialize(b: Buffer): unknown; responseSerialize(v: unknown): Buffer };
  const call = { request: def.requestDeserialize(bytes), getDeadline: () => Infinity };
  return new Promise((resolve, reject) =>
    (svc[method] as unknown as Handler)(call, (err, res) => {
      if (err) return reject(err instanceof Error ? err : new Error(String((err as { details?: string }).details)));
      const out = def.responseSerialize(res);
      onResponse?.(out);
      resolve();
    }),
  );
}
const apiPut = (k: number) =>
  viaApi('put', KVService.put.requestSerialize(PutRequest.fromPartial({ key: keys[k], value, context: wireContexts[k] })), (out) => {
    wireContexts[k] = KVService.put.responseDeserialize(out).context;
  });
const apiGet = (k: number) => viaApi('get', getBytes[k]);
const put = v.api ? apiPut : directPut;
const get = v.api ? apiGet : directGet;

try {
  await node.start(false);
  await run(KEYS, put);
  const res: Record<string, number[]> = { put: [], get: [] };
  for (let rep = 0; rep < Number(v.reps); rep++) {
    for (const [name, op] of ([['put', put], ['get', get]] as const).filter(([w]) => v.workloads!.split(',').includes(w))) {
      const order = Array.from({ length: OPS }, () => Math.floor(Math.random() * KEYS));
      const u0 = process.cpuUsage();
      const t0 = performance.now();
      await run(OPS, (i) => op(order[i]));
      const u = process.cpuUsage(u0);
      const wall = performance.now() - t0;
      const us = (u.user + u.system) / OPS;
      res[name].push(us);
      console.log(`rep ${rep} ${name}: ${us.toFixed(1)} µs CPU/op, ${Math.round((OPS * 1000) / wall)} ops/s, rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
    }
  }
  for (const [w, xs] of Object.entries(res).filter(([, xs]) => xs.length > 0)) {
    const s = [...xs].sort((a, b) => a - b);
    console.log(`median ${w}: ${s[Math.floor(s.length / 2)].toFixed(1)} µs/op, min ${s[0].toFixed(1)} (all: ${xs.map((x) => x.toFixed(1)).join(' ')})`);
  }
  if (process.env.MICRO_STATS) console.log(JSON.stringify(node.store.stats()));
} finally {
  await node.stop();
  rmSync(dir, { recursive: true, force: true });
}
