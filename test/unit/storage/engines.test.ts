/**
 * Runs the StorageEngine conformance suite against both engines: LevelDB in a fresh temp
 * directory per test (removed afterwards) and the in-memory twin on a fresh MemoryDisk.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelEngine } from '../../../src/storage/level-engine.js';
import { MemoryDisk, MemoryEngine } from '../../../src/storage/memory-engine.js';
import { runEngineConformance } from './engine-conformance.js';

runEngineConformance('LevelEngine', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dkv-storage-'));
  return {
    create: () => new LevelEngine({ location: join(dir, 'db') }),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

runEngineConformance('MemoryEngine', () => {
  const disk = new MemoryDisk({ label: 'conformance' });
  return {
    create: () => new MemoryEngine({ disk }),
    injectWriteFault: (engine, code) => (engine as MemoryEngine).failNextWrites(1, code),
    dispose: async () => undefined,
  };
}, { writeFaults: true });
