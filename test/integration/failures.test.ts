import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Liveness } from '../../src/generated/dkv/v1/admin.js';
import { status as Status } from '@grpc/grpc-js';
import { DkvRequestError } from '../../src/client/dkv-client.js';
import { Cluster, type TestNode } from '../helpers/cluster.js';
import { preferenceOf } from '../helpers/inspect.js';
import { eventually } from '../helpers/eventually.js';

async function livenessOf(observer: TestNode, target: string): Promise<Liveness> {
  const c = observer.client();
  try {
    const s = await c.status();
    return s.members.find((m) => m.nodeId === target)?.liveness ?? Liveness.LIVENESS_UNSPECIFIED;
  } finally {
    c.close();
  }
}

const count = (logs: string[], re: RegExp) => logs.filter((l) => re.test(l)).length;

describe('failure detection by gossip (real processes)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('T6: a SIGSTOPped node is DOWN everywhere within 10 s and UP within 5 s of SIGCONT, once each way', async () => {
    const [, , victim] = cluster.nodes;
    const observers = cluster.nodes.filter((n) => n !== victim);
    const stoppedAt = Date.now();
    await victim.kill('SIGSTOP');
    try {
      await eventually(
        async () => {
          for (const o of observers) if ((await livenessOf(o, victim.id)) !== Liveness.LIVENESS_DOWN) throw new Error(`${o.id} does not see ${victim.id} down yet`);
        },
        { timeoutMs: 10_000, intervalMs: 100, what: 'DOWN on every other node' },
      );
      const downAfter = Date.now() - stoppedAt;
      // Hold the node stopped a little longer, as T6 does (5-15 s).
      await new Promise((r) => setTimeout(r, 1_000));
      const contAt = Date.now();
      await victim.kill('SIGCONT');
      await eventually(
        async () => {
          for (const o of observers) if ((await livenessOf(o, victim.id)) !== Liveness.LIVENESS_UP) throw new Error(`${o.id} does not see ${victim.id} up yet`);
        },
        { timeoutMs: 5_000, intervalMs: 100, what: 'UP on every other node' },
      );
      const upAfter = Date.now() - contAt;
      process.stdout.write(`T6: DOWN everywhere ${downAfter} ms after SIGSTOP; UP everywhere ${upAfter} ms after SIGCONT\n`);
      for (const o of observers) {
        expect(count(o.logs, new RegExp(`${victim.id} is DOWN`))).toBe(1);
        expect(count(o.logs, new RegExp(`${victim.id} is UP again`))).toBe(1);
      }
      // The paused node itself must not have declared its healthy peers dead.
      expect(count(victim.logs, /is DOWN/)).toBe(0);
    } finally {
      await victim.kill('SIGCONT');
    }
  });
});

async function hintsFor(nodes: TestNode[], target: string): Promise<number> {
  let total = 0;
  for (const n of nodes.filter((x) => x.running)) {
    const c = n.client();
    try {
      total += Number((await c.status()).hints.find((h) => h.target === target)?.count ?? 0);
    } finally {
      c.close();
    }
  }
  return total;
}

async function waitDown(observers: TestNode[], target: string): Promise<void> {
  await eventually(
    async () => {
      for (const o of observers) if ((await livenessOf(o, target)) !== Liveness.LIVENESS_DOWN) throw new Error(`${o.id} does not see ${target} down`);
    },
    { timeoutMs: 15_000, intervalMs: 100, what: `${target} DOWN everywhere` },
  );
}

describe('sloppy quorum and hinted handoff (real processes, 4 nodes, N = 3)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start(4);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('strict writes fail with UNAVAILABLE when fewer than W primaries are reachable; sloppy ones succeed through a fallback', async () => {
    const [n1, , , n4] = cluster.nodes;
    const c = cluster.client([n1], { attempts: 1 });
    const ring = await c.ring();
    const key = Array.from({ length: 300 }, (_, i) => `strict:${i}`).find((k) => preferenceOf(ring, k).includes('n4') && preferenceOf(ring, k).includes('n1'))!;
    await n4.kill('SIGKILL');
    try {
      await waitDown(cluster.nodes.slice(0, 3), 'n4');
      const e = (await c.put(key, 'x', { consistency: { level: 'all', strict: true } }).catch((x) => x)) as DkvRequestError;
      expect(e).toBeInstanceOf(DkvRequestError);
      expect(e.code).toBe(Status.UNAVAILABLE);
      expect(e.message).toMatch(/strict/);
      const ok = await c.put(key, 'y', { consistency: { level: 'all' } });
      const fallback = ok.receipt!.replicas.find((r) => r.fallback);
      expect(fallback?.hintedFor).toBe('n4');
    } finally {
      await n4.start();
      await cluster.settle();
    }
  });

  it('T11: writes missed by a stopped replica reach it through hints; it then serves them alone', async () => {
    const [n1, n2, n3, n4] = cluster.nodes;
    const c = cluster.client([n1, n2, n3]);
    const ring = await c.ring();
    const keys = Array.from({ length: 1_000 }, (_, i) => `t11:${i}`).filter((k) => preferenceOf(ring, k).includes('n4')).slice(0, 100);
    expect(keys).toHaveLength(100);
    await n4.kill('SIGKILL');
    await waitDown([n1, n2, n3], 'n4');
    for (const k of keys) await c.put(k, `v:${k}`);
    expect(await hintsFor([n1, n2, n3], 'n4')).toBeGreaterThanOrEqual(100);
    await n4.start();
    await eventually(async () => (await hintsFor([n1, n2, n3], 'n4')) === 0, { timeoutMs: 30_000, intervalMs: 250, what: 'every hint for n4 delivered' });
    for (const n of [n1, n2, n3]) await n.kill('SIGKILL');
    const alone = n4.client({ timeoutMs: 5_000 });
    try {
      for (const k of keys) expect((await alone.get(k, { r: 1 })).values.map(String)).toEqual([`v:${k}`]);
    } finally {
      alone.close();
    }
  });
});
