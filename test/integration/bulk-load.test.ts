import { afterEach, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DkvNode } from '../../src/node/node.js';
import { local, validateConfig } from '../../src/node/config.js';
import { silentLogger } from '../../src/node/logger.js';
import { LevelEngine } from '../../src/storage/level-engine.js';
import { MemoryNetwork } from '../../src/transport/memory-transport.js';
import { SystemClock } from '../../src/time/clock.js';
import { systemRandom } from '../../src/time/random.js';
import { keyOf } from '../../bench/lib/keyspace.js';

/**
 * bench/bulk-load.ts builds the scale steps' data sets; the figures measured on them are only
 * as good as the directory it leaves. Run as the bench runs it (its own process, twice on one
 * directory), then opened as the node opens it.
 */
const run = promisify(execFile);
const KEY = 16;
const VALUE = 64;

async function bulkLoad(dir: string, from: number, to: number, maxEntries: number): Promise<{ keys: number; changelogEntries: number }> {
  const args = ['--import', 'tsx', 'bench/bulk-load.ts', '--data-dir', dir, '--node-id', 's1', '--from', String(from), '--to', String(to)];
  const { stdout } = await run(process.execPath, [...args, '--value-size', String(VALUE), '--key-size', String(KEY), '--batch', '50', '--changelog-max-entries', String(maxEntries)], { timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as { keys: number; changelogEntries: number };
}

describe('bench/bulk-load.ts', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('leaves every key readable with one version, and change-log entries for the last --changelog-max-entries keys only', async () => {
    dir = mkdtempSync(join(tmpdir(), 'dkv-bulk-'));
    const first = await bulkLoad(dir, 0, 300, 100);
    expect(first).toMatchObject({ keys: 300, changelogEntries: 100 });
    // A second size on the same directory, as the scale steps grow it: all of its keys are recent.
    const second = await bulkLoad(dir, 300, 400, 100);
    expect(second.keys).toBe(100);

    const clock = new SystemClock();
    const random = systemRandom();
    const config = validateConfig(local({ nodeId: 's1', listen: '127.0.0.1:1', advertise: '127.0.0.1:1', dataDir: dir }));
    const engine = new LevelEngine({ location: dir, cacheSize: config.levelCacheBytes, maxOpenFiles: config.levelMaxOpenFiles });
    const node = await DkvNode.create(config, { clock, random, engine, transport: new MemoryNetwork(clock, random).transport('127.0.0.1:1'), log: silentLogger });
    try {
      const records = await node.store.readMany(Array.from({ length: 400 }, (_, i) => keyOf(i, KEY)));
      expect(records.map((vs) => vs.length)).toEqual(Array(400).fill(1));
      expect(records.every((vs) => vs[0].value.length === VALUE && !vs[0].tombstone)).toBe(true);
      // Distinct dots: every key was a separate write of the node.
      expect(new Set(records.map((vs) => `${vs[0].dot.actor}:${vs[0].dot.counter}`)).size).toBe(400);
      const logged = (await node.changeLog.read(0, 1_000)).map((c) => c.key.toString('latin1'));
      expect(logged).toEqual(Array.from({ length: 200 }, (_, i) => keyOf(200 + i, KEY).toString('latin1')));
    } finally {
      await node.stop();
    }
  });
});
