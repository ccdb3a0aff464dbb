/**
 * bulk-load.ts — writes keys [from, to) into a stopped single-node dkv data directory through
 * the node's own replica write path, in process (bench tier: builds the 1M / 10M-key data sets
 * of the scale steps in minutes instead of hours).
 *
 *   node --import tsx bench/bulk-load.ts --data-dir DIR --node-id ID --to N
 *     [--from 0] [--value-size 1024] [--key-size 16] [--batch 500] [--changelog-max-entries N]
 *
 * Contract:
 * - Opens DIR as node ID exactly as `dkv serve --node-id ID --data-dir DIR` does (a new
 *   directory becomes a one-node cluster; an existing one must belong to ID), with the
 *   default configuration, and stops it cleanly at the end, so the directory then serves as
 *   usual. The node must not be running (LevelDB's lock refuses a second opener). The loader
 *   runs without the hot cache (a setting not stored on disk).
 * - Every key is written as a replica write (DkvNode.writeLocal → RecordStore.merge): one new
 *   version with a fresh dot of the node, random value bytes, no TTL, in batches of --batch
 *   keys. Records and Merkle digest index are written in the same atomic batches as a client
 *   Put's. Change-log entries are written only for the last --changelog-max-entries keys (the
 *   node's flag, default 1M): a served node trims every older one, so the directory ends as a
 *   served load's does once trimmed and compacted. What it skips is the gRPC request path,
 *   which the bench measures separately, and the work of logging and trimming older entries.
 * - Keys are bench/lib/keyspace.ts keyOf(i, --key-size), so the bench's Get load finds them.
 * - Prints progress to stderr every 5 s and one JSON line to stdout at the end:
 *   { keys, seconds, opsPerSec, cpuSeconds, peakRssMiB, changelogEntries }.
 */
import { randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { DkvNode } from '../src/node/node.js';
import { local, validateConfig } from '../src/node/config.js';
import { silentLogger } from '../src/node/logger.js';
import { LevelEngine } from '../src/storage/level-engine.js';
import { MemoryNetwork } from '../src/transport/memory-transport.js';
import { SystemClock } from '../src/time/clock.js';
import { systemRandom } from '../src/time/random.js';
import type { Version } from '../src/versioning/version.js';
import { keyOf } from './lib/keyspace.js';

const { values: v } = parseArgs({
  strict: true,
  options: {
    'data-dir': { type: 'string' },
    'node-id': { type: 'string' },
    from: { type: 'string', default: '0' },
    to: { type: 'string' },
    'value-size': { type: 'string', default: '1024' },
    'key-size': { type: 'string', default: '16' },
    batch: { type: 'string', default: '500' },
    'changelog-max-entries': { type: 'string' },
  },
});
if (!v['data-dir'] || !v['node-id'] || !v.to) throw new Error('--data-dir, --node-id and --to are required');
const from = Number(v.from);
const to = Number(v.to);
const valueSize = Number(v['value-size']);
const keySize = Number(v['key-size']);
const batch = Number(v.batch);
const ADDRESS = '127.0.0.1:1';

const clock = new SystemClock();
const random = systemRandom();
const net = new MemoryNetwork(clock, random);
// No hot cache (nothing is read back): a loader-only setting, not stored, so `dkv serve`
// reopens with its own. LevelDB keeps its default 4 MiB memtable: larger level-0 tables left
// by the loader made the served node's first compaction map far more memory.
const logBound = v['changelog-max-entries'] ? { changelogMaxEntries: Number(v['changelog-max-entries']) } : {};
const config = validateConfig(local({ nodeId: v['node-id'], listen: ADDRESS, advertise: ADDRESS, dataDir: v['data-dir'], cacheBytes: 0, ...logBound }));
const engine = new LevelEngine({ location: config.dataDir, cacheSize: config.levelCacheBytes, maxOpenFiles: config.levelMaxOpenFiles });
const node = await DkvNode.create(config, { clock, random, engine, transport: net.transport(ADDRESS), log: silentLogger });
await node.start(false);

const peakRssMiB = () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
const t0 = performance.now();
const u0 = process.cpuUsage();
let lastReport = t0;
let done = 0;

/** loadRange writes keys [first, end) in batches, two in flight (one is built and merged while LevelDB's thread writes the other). */
async function loadRange(first: number, end: number): Promise<void> {
  let next = first;
  await Promise.all(
    [0, 1].map(async () => {
      while (next < end) {
        const start = next;
        const stop = (next = Math.min(end, next + batch));
        const entries = [];
        // Random (incompressible) values like the load generator's: one fill per batch.
        const values = randomFillSync(Buffer.allocUnsafe((stop - start) * valueSize));
        for (let i = start; i < stop; i++) {
          const at = (i - start) * valueSize;
          const version: Version = { dot: await node.store.issueDot(), past: new Map(), value: values.subarray(at, at + valueSize), tombstone: false, expiresAtMs: 0, writtenAtMs: clock.now() };
          entries.push({ key: keyOf(i, keySize), versions: [version] });
        }
        await node.writeLocal(entries);
        done += stop - start;
        const now = performance.now();
        if (now - lastReport >= 5_000) {
          lastReport = now;
          process.stderr.write(`  bulk load ${config.nodeId}: ${done.toLocaleString('en-US')} / ${(to - from).toLocaleString('en-US')} keys, ${Math.round((done * 1000) / (now - t0))} keys/s\n`);
        }
      }
    }),
  );
}

// The change log keeps only the last --changelog-max-entries changes (trimmed every 5 s on a
// served node), so the keys before those are written without their change-log entries: the
// directory ends as a served load's does once trimmed, without ~1 KiB per key of entries to
// write, trim and compact away (most of the loader's LevelDB work at 10M keys).
const logFrom = Math.max(from, to - config.changelogMaxEntries);
const sink = node.changeLog;
node.store.setChangeSink(undefined);
await loadRange(from, logFrom);
node.store.setChangeSink(sink);
await loadRange(logFrom, to);
// The change log's retained entries (trimmed every 5 s to --changelog-max-entries) at the end.
const changelogEntries = node.changeLog.lastSeq - node.changeLog.oldestSeq + 1;
await node.stop();
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(u0);
process.stdout.write(JSON.stringify({ keys: to - from, seconds: Math.round(seconds * 10) / 10, opsPerSec: Math.round((to - from) / seconds), cpuSeconds: Math.round((cpu.user + cpu.system) / 1e4) / 100, peakRssMiB: Math.round(peakRssMiB()), changelogEntries }) + '\n');
