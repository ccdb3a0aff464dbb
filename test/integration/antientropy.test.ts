import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { Cluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/eventually.js';
import { replicaRecord, valuesOf } from '../helpers/inspect.js';
import { RecordStore } from '../../src/storage/record-store.js';
import { LevelEngine } from '../../src/storage/level-engine.js';
import { SystemClock } from '../../src/time/clock.js';
import { newVersion } from '../../src/versioning/siblings.js';

/** putAll writes keys with bounded concurrency. */
async function putAll(c: ReturnType<Cluster['client']>, keys: string[], value: (k: string) => string, level: 'all' | 'quorum' = 'quorum', conc = 64): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: conc }, async () => {
      while (i < keys.length) {
        const k = keys[i++];
        await c.put(k, value(k), { consistency: { level }, context: Buffer.alloc(0) });
      }
    }),
  );
}

describe('Merkle anti-entropy on real processes (hinted handoff off)', () => {
  const clusters: Cluster[] = [];
  afterAll(async () => {
    for (const c of clusters) await c.stop();
  });

  it('T12: a node that missed 1,000 writes is repaired by anti-entropy alone within 60 s', async () => {
    const cluster = await Cluster.start(3, ['--hinted-handoff', 'off', '--anti-entropy-interval', '2s']);
    clusters.push(cluster);
    const [n1, n2, n3] = cluster.nodes;
    await n3.kill('SIGKILL');
    const keys = Array.from({ length: 1_000 }, (_, i) => `t12:${i}`);
    await putAll(cluster.client([n1, n2]), keys, (k) => `v:${k}`);
    await n3.start();
    const restartedAt = Date.now();
    // Read repair must not help: nothing reads these keys until n3 holds them all.
    await eventually(
      async () => {
        let missing = 0;
        for (const k of keys) if (valuesOf(await replicaRecord(n3.address, k)).length === 0) missing++;
        if (missing > 0) throw new Error(`${missing} of ${keys.length} keys still missing on n3`);
      },
      { timeoutMs: 60_000, intervalMs: 1_000, what: 'anti-entropy refilling n3' },
    );
    const took = Date.now() - restartedAt;
    process.stdout.write(`T12: n3 repaired 1,000 missed writes by anti-entropy alone in ${took} ms\n`);
    expect(cluster.nodes.flatMap((n) => n.logs).join('\n')).toMatch(/anti-entropy: .* [1-9]\d* repaired/);
  });

  it('T12: with 10 differing keys among 100,000, a repair exchanges under 1% of the data set', async () => {
    const cluster = await Cluster.start(3, ['--hinted-handoff', 'off', '--anti-entropy-interval', 'off']);
    clusters.push(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const value = Buffer.from('x'.repeat(100));
    const keys = Array.from({ length: 100_000 }, (_, i) => Buffer.from(`bulk:${i.toString().padStart(6, '0')}`));
    // Load identical replicas straight into each node's LevelDB through the real record store
    // (100,000 client writes would take minutes on this machine), then restart the nodes.
    for (const n of cluster.nodes) await n.kill('SIGTERM');
    for (const n of cluster.nodes) {
      const store = await RecordStore.open(new LevelEngine({ location: n.dataDir }), n.id, { fsync: 'never', fsyncWindowMs: 0, cacheBytes: 0 }, new SystemClock());
      for (let i = 0; i < keys.length; i += 1_000) {
        await store.merge(keys.slice(i, i + 1_000).map((key, j) => ({ key, versions: [newVersion({ actor: 'bulk#1', counter: i + j + 1 }, new Map(), { value, writtenAtMs: 1 })] })));
      }
      await store.close();
    }
    for (const n of cluster.nodes) await n.start();
    await cluster.converged(3);
    const dataBytes = keys.reduce((s, k) => s + k.length + value.length, 0);
    await n3.kill('SIGKILL');
    const differing = Array.from({ length: 10 }, (_, i) => `diff:${i}`);
    await putAll(cluster.client([n1, n2]), differing, (k) => `v:${k}`, 'quorum', 4);
    await n3.start();
    await cluster.settle();
    const summary = await n3.client().repair();
    const fraction = summary.bytesExchanged / dataBytes;
    process.stdout.write(`T12: repair on n3: ${summary.message}; data set ${dataBytes} B; exchanged ${(fraction * 100).toFixed(3)}% of it\n`);
    expect(Number(summary.keysRepaired)).toBeGreaterThanOrEqual(10);
    expect(fraction).toBeLessThan(0.01);
    for (const k of differing) expect(valuesOf(await replicaRecord(n3.address, k))).toEqual([`v:${k}`]);
    // The bulk keys were already identical: none of them was sent.
    expect(valuesOf(await replicaRecord(n3.address, 'bulk:000042'))).toEqual([value.toString()]);
  }, 120_000);

  it('T8: a node restarted on a wiped directory takes a new incarnation, keeps new writes, and is refilled', async () => {
    const cluster = await Cluster.start(3, ['--anti-entropy-interval', '2s']);
    clusters.push(cluster);
    const [n1, , n3] = cluster.nodes;
    const keys = Array.from({ length: 200 }, (_, i) => `t8:${i}`);
    await putAll(cluster.client(), keys, (k) => `old:${k}`, 'all');
    const before = (await n3.client().status()).incarnation;
    await n3.kill('SIGKILL');
    rmSync(n3.dataDir, { recursive: true, force: true });
    await n3.start();
    await cluster.converged(3);
    const after = (await n3.client().status()).incarnation;
    expect(after).toBeGreaterThan(before);
    // A blind write through the wiped node is a sibling beside the old value, never dropped.
    const via3 = cluster.client([n3]);
    await via3.put('t8:0', 'new-after-wipe', { context: Buffer.alloc(0), consistency: { w: 1 } });
    await eventually(
      async () => {
        let missing = 0;
        for (const k of keys) if (valuesOf(await replicaRecord(n3.address, k)).length === 0) missing++;
        if (missing) throw new Error(`${missing} keys not yet refilled on n3`);
      },
      { timeoutMs: 60_000, intervalMs: 1_000, what: 'anti-entropy refilling the wiped node' },
    );
    const r = await cluster.client([n1]).get('t8:0', { level: 'all' });
    expect(r.values.map(String).sort()).toEqual(['new-after-wipe', 'old:t8:0']);
  });

  it('safe deletes: a tombstone is purged only after its grace and once every replica holds it; the value never comes back', async () => {
    const cluster = await Cluster.start(3, ['--max-hint-window', '1s', '--tombstone-grace', '2s', '--anti-entropy-interval', '1s']);
    clusters.push(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const c = cluster.client([n1, n2]);
    await c.put('gone', 'secret', { consistency: { level: 'all' } });
    await n3.kill('SIGKILL');
    const read = await c.get('gone');
    await c.delete('gone', { context: read.context, consistency: { w: 2 } });
    const deletedAt = Date.now();
    // n3 holds the value and is unreachable: for well past the grace period (2 s) and several
    // purge passes, n1 and n2 must keep their tombstones.
    while (Date.now() - deletedAt < 5_000) {
      for (const n of [n1, n2]) {
        const rec = await replicaRecord(n.address, 'gone');
        expect(rec.length).toBeGreaterThan(0);
        expect(rec.every((v) => v.tombstone)).toBe(true);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await n3.start();
    const reader = cluster.client();
    await eventually(
      async () => {
        expect((await reader.get('gone', { level: 'all' })).values).toEqual([]);
        for (const n of cluster.nodes) if ((await replicaRecord(n.address, 'gone')).length > 0) throw new Error(`${n.id} still holds a record`);
      },
      { timeoutMs: 30_000, intervalMs: 200, what: 'the tombstone purged on every replica' },
    );
    // Anti-entropy keeps running: the deleted value must not reappear anywhere.
    for (let i = 0; i < 10; i++) {
      expect((await reader.get('gone', { level: 'all' })).values).toEqual([]);
      await new Promise((r) => setTimeout(r, 200));
    }
  });
});
