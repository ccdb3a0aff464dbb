import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { Liveness } from '../../src/generated/dkv/v1/admin.js';
import { Cluster, CLI, type TestNode } from '../helpers/cluster.js';
import { eventually } from '../helpers/eventually.js';
import { preferenceOf, replicaRecord, valuesOf } from '../helpers/inspect.js';

const run = promisify(execFile);
const cli = (args: string[], addr: string) => run(process.execPath, [CLI, ...args, '--addr', addr], { timeout: 180_000 });

async function holders(nodes: TestNode[], key: string): Promise<string[]> {
  const out: string[] = [];
  for (const n of nodes) if (valuesOf(await replicaRecord(n.address, key)).length > 0) out.push(n.id);
  return out.sort();
}

async function hintsDrained(nodes: TestNode[]): Promise<void> {
  await eventually(
    async () => {
      for (const n of nodes) {
        const c = n.client();
        try {
          if ((await c.status()).hints.some((h) => Number(h.count) > 0)) throw new Error(`${n.id} still holds hints`);
        } finally {
          c.close();
        }
      }
    },
    { timeoutMs: 30_000, what: 'hints delivered' },
  );
}

describe('scale out and in on real processes', () => {
  const clusters: Cluster[] = [];
  afterAll(async () => {
    for (const c of clusters) await c.stop();
  });

  it('grows 3 -> 5 and shrinks 5 -> 3 under continuous writes at W = 2, losing nothing; after cleanup every key is on exactly its N nodes', async () => {
    const cluster = await Cluster.start(3);
    clusters.push(cluster);
    const [n1, n2, n3] = cluster.nodes;
    const acked: string[] = [];
    let failed = 0;
    let stop = false;
    const writers = [0, 1, 2].map(async (w) => {
      const c = cluster.client([[n1, n2, n3][w]], { attempts: 1 });
      for (let i = 0; !stop && i < 20_000; i++) {
        const key = `scale:${w}:${i}`;
        try {
          await c.put(key, key, { consistency: { w: 2 }, context: Buffer.alloc(0) });
          acked.push(key);
        } catch {
          failed++;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    try {
      await eventually(() => acked.length > 300, { what: 'writes before growing' });
      await cluster.add('n4');
      await cluster.converged(4, 60_000);
      await cluster.add('n5');
      await cluster.converged(5, 60_000);
      const grown = acked.length;
      const r5 = await cluster.client([n1]).ring();
      expect(r5.nodes.map((x) => x.nodeId).sort()).toEqual(['n1', 'n2', 'n3', 'n4', 'n5']);
      for (const id of ['n5', 'n4']) {
        const { stdout } = await cli(['decommission', id], n1.address);
        expect(stdout).toMatch(new RegExp(`${id} has LEFT the ring`));
        await cluster.node(id).kill('SIGTERM');
      }
      await cluster.converged(3, 30_000);
      await eventually(() => acked.length > grown + 300, { what: 'writes after shrinking' });
    } finally {
      stop = true;
      await Promise.all(writers);
    }
    const live = [n1, n2, n3];
    await hintsDrained(live);
    const { stdout } = await cli(['cleanup', '--all'], n1.address);
    expect(stdout).toMatch(/deleted \d+ record/);
    const reader = cluster.client(live);
    const lost: string[] = [];
    for (let i = 0; i < acked.length; i += 32)
      await Promise.all(acked.slice(i, i + 32).map(async (key) => {
        if (!(await reader.get(key, { level: 'all' })).values.map(String).includes(key)) lost.push(key);
      }));
    process.stdout.write(`scale: ${acked.length} acknowledged writes (${failed} failed) while growing 3->5->3; lost ${lost.length}\n`);
    expect(lost).toEqual([]);
    const ring = await reader.ring();
    for (const key of acked.filter((_, i) => i % 25 === 0)) expect(await holders(live, key)).toEqual(preferenceOf(ring, key).sort());
  }, 300_000);

  it('a joining node killed mid-join resumes its streams where they stopped, not from zero', async () => {
    const cluster = await Cluster.start(3, ['--stream-rate', '300KiB']);
    clusters.push(cluster);
    const c = cluster.client();
    const value = 'z'.repeat(500);
    for (let i = 0; i < 6_000; i += 200) await Promise.all(Array.from({ length: 200 }, (_, j) => c.put(`bulk:${i + j}`, value, { context: Buffer.alloc(0) })));
    const joiner = new (cluster.nodes[0].constructor as typeof TestNode)({ id: 'n4', seeds: [cluster.nodes[0].address], extraArgs: ['--stream-rate', '300KiB'] }, cluster.dir);
    cluster.nodes.push(joiner);
    await joiner.start();
    const streamed = async () => {
      const s = await joiner.client().status();
      return Number(s.operations.find((o) => o.kind === 'join')?.bytes ?? 0);
    };
    await eventually(async () => (await streamed()) > 200_000, { timeoutMs: 30_000, what: 'part of the join streamed' });
    await joiner.kill('SIGKILL');
    await joiner.start();
    await cluster.converged(4, 120_000);
    const resumed = joiner.logs.find((l) => /join: resuming/.test(l));
    const finished = joiner.logs.find((l) => /join streamed \d+ bytes in this run \(\d+ in all\)/.test(l));
    process.stdout.write(`join resume: ${resumed?.replace(/.*join: /, '')}; ${finished?.replace(/.*join /, '')}\n`);
    expect(resumed).toBeDefined();
    const [, thisRun, all] = /streamed (\d+) bytes in this run \((\d+) in all\)/.exec(finished!)!.map(Number);
    expect(thisRun).toBeLessThan(all);
    const ring = await c.ring();
    for (let i = 0; i < 6_000; i += 97) {
      const key = `bulk:${i}`;
      if (preferenceOf(ring, key).includes('n4')) expect(valuesOf(await replicaRecord(joiner.address, key))).toEqual([value]);
    }
  }, 240_000);

  it('removenode after kill -9 and a wiped directory restores N copies of every key', async () => {
    const cluster = await Cluster.start(4);
    clusters.push(cluster);
    const [n1, n2, n3, n4] = cluster.nodes;
    const c = cluster.client([n1, n2, n3]);
    const keys = Array.from({ length: 300 }, (_, i) => `rm:${i}`);
    for (const k of keys) await c.put(k, k, { consistency: { level: 'all' } });
    await n4.kill('SIGKILL');
    rmSync(n4.dataDir, { recursive: true, force: true });
    await eventually(async () => (await n1.client().status()).members.find((m) => m.nodeId === 'n4')?.liveness === Liveness.LIVENESS_DOWN, { timeoutMs: 15_000, what: 'n4 DOWN' });
    const { stdout } = await cli(['removenode', 'n4'], n1.address);
    expect(stdout).toMatch(/re-replicating/);
    await cluster.converged(3);
    const ring = await c.ring();
    expect(ring.nodes.map((x) => x.nodeId).sort()).toEqual(['n1', 'n2', 'n3']);
    for (const k of keys) expect(await holders([n1, n2, n3], k)).toEqual(['n1', 'n2', 'n3']);
  }, 120_000);
});
