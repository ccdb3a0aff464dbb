import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status as Status } from '@grpc/grpc-js';
import { DkvRequestError, type Level } from '../../src/client/dkv-client.js';
import { Cluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/eventually.js';
import { preferenceOf, replicaRecord, valuesOf } from '../helpers/inspect.js';

describe('a 3-node cluster of real processes (N = 3)', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    // Hints and anti-entropy off: the read-repair test needs a replica that stays stale.
    cluster = await Cluster.start(3, ['--hinted-handoff', 'off', '--anti-entropy-interval', 'off']);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('every node converges on one ring with all three members', async () => {
    const sum = await cluster.converged(3);
    expect(sum).toMatch(/^[0-9a-f]{64}$/);
    const s = await cluster.client([cluster.nodes[0]]).status();
    expect(s.effectiveN).toBe(3);
    expect(s.warnings).toEqual([]);
  });

  it('serves every R/W combination; R + W > N reads its own write at once', async () => {
    const c = cluster.client();
    for (let w = 1; w <= 3; w++) {
      for (let r = 1; r <= 3; r++) {
        const key = `rw:${w}:${r}`;
        const put = await c.put(key, `v${w}${r}`, { consistency: { w } });
        expect(put.receipt?.required).toBe(w);
        expect(put.receipt!.replicas.length).toBeGreaterThanOrEqual(w);
        if (r + w > 3) {
          const got = await c.get(key, { r });
          expect(got.values.map(String)).toEqual([`v${w}${r}`]);
          expect(got.receipt!.replicas.length).toBeGreaterThanOrEqual(r);
        } else {
          await eventually(async () => (await c.get(key, { r })).values.map(String).join() === `v${w}${r}`, { what: key });
        }
      }
    }
    for (const level of ['one', 'quorum', 'all'] as Level[]) {
      await c.put(`lvl:${level}`, level, { consistency: { level } });
      expect((await c.get(`lvl:${level}`, { level: 'all' })).values.map(String)).toEqual([level]);
    }
  });

  it('stores each key on exactly its N preference-list nodes', async () => {
    const c = cluster.client();
    const ring = await c.ring();
    const keys = Array.from({ length: 60 }, (_, i) => `place:${i}`);
    for (const k of keys) await c.put(k, k, { consistency: { level: 'all' } });
    for (const k of keys) {
      const want = preferenceOf(ring, k).sort();
      expect(want).toHaveLength(3);
      const holders: string[] = [];
      for (const n of cluster.nodes) if (valuesOf(await replicaRecord(n.address, k)).length) holders.push(n.id);
      expect(holders.sort()).toEqual(want);
    }
  });

  it('keeps concurrent blind writes through different coordinators as siblings and collapses them everywhere with the context', async () => {
    const [a, b] = [cluster.client([cluster.nodes[0]]), cluster.client([cluster.nodes[1]])];
    await Promise.all([a.put('conflict', 'from-n1', { context: Buffer.alloc(0) }), b.put('conflict', 'from-n2', { context: Buffer.alloc(0) })]);
    const got = await a.get('conflict', { level: 'all' });
    expect(got.values.map(String).sort()).toEqual(['from-n1', 'from-n2']);
    await a.put('conflict', 'merged', { context: got.context, consistency: { level: 'all' } });
    for (const n of cluster.nodes) expect(valuesOf(await replicaRecord(n.address, 'conflict'))).toEqual(['merged']);
  });

  it('repairs a stale replica on read and says so in the receipt', async () => {
    const c = cluster.client();
    const ring = await c.ring();
    const key = 'repair:me';
    const [victimId] = preferenceOf(ring, key);
    const victim = cluster.node(victimId);
    await victim.kill('SIGKILL');
    const others = cluster.nodes.filter((n) => n !== victim);
    const w = cluster.client(others);
    await w.put(key, 'fresh', { consistency: { w: 2 } });
    await victim.start();
    await cluster.settle();
    expect(valuesOf(await replicaRecord(victim.address, key))).toEqual([]);
    const got = await eventually(async () => {
      const r = await w.get(key, { level: 'all' });
      if (!r.receipt!.readRepaired.includes(victimId)) throw new Error(`receipt: ${JSON.stringify(r.receipt)}`);
      return r;
    }, { what: 'a read-repair receipt' });
    expect(got.values.map(String)).toEqual(['fresh']);
    await eventually(async () => valuesOf(await replicaRecord(victim.address, key)).join() === 'fresh', { what: 'repaired replica' });
  });

  it('answers UNAVAILABLE naming needed and answered counts when too few replicas answer', async () => {
    const c = cluster.client([cluster.nodes[0]], { attempts: 1 });
    const ring = await c.ring();
    const key = Array.from({ length: 200 }, (_, i) => `un:${i}`).find((k) => preferenceOf(ring, k)[0] === 'n1')!;
    const [, p2, p3] = preferenceOf(ring, key);
    await cluster.node(p2).kill('SIGKILL');
    await cluster.node(p3).kill('SIGKILL');
    try {
      const e = (await c.put(key, 'x', { consistency: { level: 'all' } }).catch((x) => x)) as DkvRequestError;
      expect(e).toBeInstanceOf(DkvRequestError);
      expect(e.code).toBe(Status.UNAVAILABLE);
      expect(e.message).toMatch(/needed 3 replica answer\(s\) \(W=3, N=3\) but [01] answered/);
      expect(e.message).toContain(p2);
      expect(e.message).toContain(p3);
      // W = 1 still succeeds on the one replica left.
      await c.put(key, 'y', { consistency: { w: 1 } });
    } finally {
      await cluster.node(p2).start();
      await cluster.node(p3).start();
      await cluster.settle();
    }
  });

  it('after a Put at W = ALL, the last replica alone returns the value at R = 1 when two are killed', async () => {
    const c = cluster.client();
    const ring = await c.ring();
    const key = 'survivor';
    await c.put(key, 'kept', { consistency: { level: 'all' } });
    const [p1, p2, p3] = preferenceOf(ring, key);
    await cluster.node(p1).kill('SIGKILL');
    await cluster.node(p2).kill('SIGKILL');
    const alone = cluster.client([cluster.node(p3)]);
    try {
      expect((await alone.get(key, { r: 1 })).values.map(String)).toEqual(['kept']);
    } finally {
      await cluster.node(p1).start();
      await cluster.node(p2).start();
      await cluster.settle();
    }
  });
});

describe('the SDK against a 3-node cluster with one node down', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start(3);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('fails reads over to the next node, retries writes only when asked, and carries the context from Get to Put', async () => {
    const [n1, n2] = cluster.nodes;
    await cluster.client([n2]).put('sdk', 'v1', { consistency: { level: 'all' } });
    const addresses = [n1.address, n2.address];
    await n1.kill('SIGKILL');
    const { DkvClient } = await import('../../src/client/dkv-client.js');
    const plain = new DkvClient({ nodes: addresses, timeoutMs: 3_000 });
    const retrying = new DkvClient({ nodes: addresses, timeoutMs: 3_000, retryWrites: true });
    try {
      const e = (await plain.put('sdk', 'blind').catch((x) => x)) as DkvRequestError;
      expect(e).toBeInstanceOf(DkvRequestError);
      expect(e.code).toBe(Status.UNAVAILABLE);
      expect(e.node).toBe(n1.address);
      const read = await plain.get('sdk');
      expect(read.values.map(String)).toEqual(['v1']);
      // The context of that Get goes with the next Put: it replaces v1 instead of adding a sibling.
      await plain.put('sdk', 'v2');
      expect((await plain.get('sdk')).values.map(String)).toEqual(['v2']);
      const fresh = new DkvClient({ nodes: addresses, timeoutMs: 3_000, retryWrites: true });
      try {
        await fresh.put('sdk2', 'x');
      } finally {
        fresh.close();
      }
      expect((await retrying.get('sdk2')).values.map(String)).toEqual(['x']);
    } finally {
      plain.close();
      retrying.close();
    }
  });
});

describe('a 5-node cluster of real processes (N = 3)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start(5);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('converges, serves from any node, and keeps each key on exactly 3 nodes', async () => {
    await cluster.converged(5);
    const ring = await cluster.client().ring();
    for (let i = 0; i < 40; i++) {
      const via = cluster.client([cluster.nodes[i % 5]]);
      await via.put(`five:${i}`, `v${i}`, { consistency: { level: 'all' } });
      const reader = cluster.client([cluster.nodes[(i + 2) % 5]]);
      expect((await reader.get(`five:${i}`)).values.map(String)).toEqual([`v${i}`]);
    }
    for (let i = 0; i < 40; i++) {
      const holders: string[] = [];
      for (const n of cluster.nodes) if (valuesOf(await replicaRecord(n.address, `five:${i}`)).length) holders.push(n.id);
      expect(holders.sort()).toEqual(preferenceOf(ring, `five:${i}`).sort());
    }
  });
});
