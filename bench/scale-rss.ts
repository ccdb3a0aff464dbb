/**
 * scale-rss.ts — peak RSS of one dkv node loaded with N keys of 1 KiB (the bench's scale step,
 * alone and with knobs; bench tier: figures only).
 *
 *   npx tsc -p tsconfig.json && node --import tsx bench/scale-rss.ts [--keys 100000]
 *     [--node-flags '--max-old-space-size=160'] [--extra '--cache-bytes 32MiB'] [--get-ms 5000]
 *
 * With --data-dir DIR [--node-id ID] it serves an existing stopped node's directory instead
 * (e.g. one built by bench/bulk-load.ts; --keys must match what it holds) and skips the load:
 *   node --import tsx bench/bulk-load.ts --data-dir /tmp/d --node-id s1 --to 10000000
 *   node --import tsx bench/scale-rss.ts --data-dir /tmp/d --node-id s1 --keys 10000000 \
 *     --extra '--level-max-open-files 1000'
 *
 * Contract: a fresh node on a temp dir (removed at the end) started as
 * `node NODE_FLAGS dist/cli/main.js serve ... EXTRA`; loads keys [0, N) blind with 2 client
 * processes × 32 in flight (as bench/run.ts does), then Gets uniformly over every key at conc
 * 16; prints load ops/s and server CPU µs/op, Get ops/s and p99, and the node's peak RSS
 * (VmHWM over the whole run) and current RSS at the end, split into anonymous memory and
 * file-backed pages (LevelDB maps table files into memory to read them).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DKV_CLI } from './lib/peers.js';
import { Fleet, start } from './lib/servers.js';
import { runLoad } from './load.js';

const { values: v } = parseArgs({
  strict: true,
  options: {
    keys: { type: 'string', default: '100000' },
    'node-flags': { type: 'string', default: '' },
    extra: { type: 'string', default: '' },
    'get-ms': { type: 'string', default: '5000' },
    'data-dir': { type: 'string' },
    'node-id': { type: 'string', default: 'r1' },
  },
});
const split = (s: string) => s.split(' ').filter(Boolean);
const status = (pid: number, field: string) => Number(/(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith(field + ':'))!)![1]) / 1024;
const fleet = new Fleet();
process.once('SIGINT', () => void fleet.stopAll().then(() => process.exit(130)));
try {
  const given = v['data-dir'];
  const dir = given ?? fleet.tempDir('dkv-scale-rss-');
  const t0 = performance.now();
  const s = fleet.add(await start(v['node-id']!, [...split(v['node-flags']!), DKV_CLI, 'serve', '--listen', '127.0.0.1:0', '--node-id', v['node-id']!, '--data-dir', dir, '--log-level', 'warn', ...split(v.extra!)]));
  const keys = Number(v.keys);
  const base = { target: s.address, kind: 'dkv' as const, keySize: 16, valueSize: 1024, keys, dist: 'uniform' as const, timeoutMs: 5000, serverPids: [s.pid], resetServerPeak: false, warmupMs: 1000, durationMs: Number(v['get-ms']) };
  if (given) console.log(`serving ${given} after ${Math.round(performance.now() - t0)} ms, RSS ${status(s.pid, 'VmRSS').toFixed(0)} MiB`);
  else {
    const load = await runLoad({ ...base, workload: 'insert', conc: 32, procs: 2, writes: 'blind', insertFrom: 0, preload: false });
    const loadUs = (load.server[0].cpuSeconds * 1e6) / Math.max(1, load.ops);
    console.log(`load ${keys} keys: ${load.opsPerSec} ops/s, server CPU ${loadUs.toFixed(0)} µs/op, errors ${load.errorCount}, RSS now ${status(s.pid, 'VmRSS').toFixed(0)} MiB, peak ${status(s.pid, 'VmHWM').toFixed(0)} MiB`);
  }
  const get = await runLoad({ ...base, workload: 'get', conc: 16, procs: 1, writes: 'ctx', preload: false });
  const getUs = (get.server[0].cpuSeconds * 1e6) / Math.max(1, get.ops);
  console.log(`get conc 16: ${get.opsPerSec} ops/s, p99 ${(get.latencyUs.p99 / 1000).toFixed(1)} ms, server CPU ${getUs.toFixed(0)} µs/op, errors ${get.errorCount}`);
  console.log(`peak RSS ${status(s.pid, 'VmHWM').toFixed(0)} MiB, RSS now ${status(s.pid, 'VmRSS').toFixed(0)} MiB (anonymous ${status(s.pid, 'RssAnon').toFixed(0)}, file-backed ${status(s.pid, 'RssFile').toFixed(0)})`);
} finally {
  await fleet.stopAll();
}
