import { describe, expect, it } from 'vitest';
import { SimCluster } from '../../helpers/sim-cluster.js';
import { hashKey } from '../../../src/ring/hash.js';
import { primaries } from '../../../src/ring/preference-list.js';
import { isDkvError } from '../../../src/errors.js';
import { metaKey } from '../../../src/storage/keyspace.js';
import { liveValues } from '../../../src/versioning/siblings.js';
import type { ForwardOp } from '../../../src/transport/peer-transport.js';

const put = (key: string, value: string, extra: Partial<Extract<ForwardOp, { kind: 'put' }>> = {}): ForwardOp => ({
  kind: 'put',
  key: Buffer.from(key),
  value: Buffer.from(value),
  context: new Map(),
  ttlMs: 0,
  consistency: { strict: false },
  ...extra,
});

const vals = (vs: { value: Buffer; tombstone: boolean }[]) => vs.filter((v) => !v.tombstone).map((v) => v.value.toString()).sort();

describe('coordinator over an in-process cluster (memory transport, manual clock)', () => {
  it('converges on one ring and replicates each key to exactly its N primaries', async () => {
    const sim = await SimCluster.start(4, 7);
    const sums = new Set([...sim.nodes.values()].map((n) => n.membership.ring().checksum()));
    expect(sums.size).toBe(1);
    const n1 = sim.node('n1');
    for (let i = 0; i < 30; i++) {
      const key = `k${i}`;
      await sim.settle(n1.coordinator.write(put(key, `v${i}`, { consistency: { level: 'all', strict: false } })));
      const want = primaries(n1.membership.ring(), hashKey(Buffer.from(key)), 3).sort();
      const holders: string[] = [];
      for (const [id, node] of sim.nodes) if ((await node.store.read(Buffer.from(key))).length) holders.push(id);
      expect(holders.sort()).toEqual(want);
    }
    await sim.stop();
  });

  it('a non-replica forwards a write to a primary, which issues the dot', async () => {
    const sim = await SimCluster.start(4, 11);
    const ring = sim.node('n1').membership.ring();
    const key = Array.from({ length: 100 }, (_, i) => `f${i}`).find((k) => !primaries(ring, hashKey(Buffer.from(k)), 3).includes('n1'))!;
    const res = await sim.settle(sim.node('n1').coordinator.write(put(key, 'x')));
    expect(res.receipt.coordinator).not.toBe('n1');
    const [actor] = [...res.context.keys()];
    expect(actor.startsWith(res.receipt.coordinator + '#')).toBe(true);
    await sim.stop();
  });

  it('keeps two blind writes through different coordinators as siblings; a context write replaces both on every replica', async () => {
    const sim = await SimCluster.start(3, 3);
    const [a, b] = [sim.node('n1'), sim.node('n2')];
    await sim.settle(Promise.all([a.coordinator.write(put('c', 'A')), b.coordinator.write(put('c', 'B'))]));
    const read = await sim.settle(a.coordinator.get(Buffer.from('c'), { level: 'all', strict: false }));
    expect(vals(read.live)).toEqual(['A', 'B']);
    await sim.settle(b.coordinator.write(put('c', 'AB', { context: read.context, consistency: { level: 'all', strict: false } })));
    for (const node of sim.nodes.values()) expect(vals(await node.store.read(Buffer.from('c')))).toEqual(['AB']);
    await sim.stop();
  });

  it('fails with QUORUM_UNAVAILABLE when W replicas cannot answer, and succeeds at W = 1', async () => {
    const sim = await SimCluster.start(3, 5);
    sim.net.partition(['n1'], ['n2', 'n3']);
    const ring = sim.node('n1').membership.ring();
    const key = Array.from({ length: 100 }, (_, i) => `q${i}`).find((k) => primaries(ring, hashKey(Buffer.from(k)), 3)[0] === 'n1')!;
    const err = await sim.settle(sim.node('n1').coordinator.write(put(key, 'x', { consistency: { level: 'all', strict: false } }))).catch((e) => e);
    expect(isDkvError(err, 'QUORUM_UNAVAILABLE')).toBe(true);
    expect(String(err.message)).toMatch(/needed 3/);
    const ok = await sim.settle(sim.node('n1').coordinator.write(put(key, 'y', { consistency: { w: 1, strict: false } })));
    expect(ok.receipt.replicas.map((r) => r.nodeId)).toEqual(['n1']);
    sim.net.heal();
    await sim.stop();
  });

  it('read repair brings a replica that missed a write up to date', async () => {
    const sim = await SimCluster.start(3, 9);
    sim.net.partition(['n3'], ['n1', 'n2']);
    await sim.settle(sim.node('n1').coordinator.write(put('rr', 'v', { consistency: { w: 2, strict: false } })));
    expect(await sim.node('n3').store.read(Buffer.from('rr'))).toEqual([]);
    sim.net.heal();
    const r = await sim.settle(sim.node('n1').coordinator.get(Buffer.from('rr'), { level: 'all', strict: false }));
    expect(r.receipt.readRepaired).toContain('n3');
    await sim.run(100);
    expect(vals(await sim.node('n3').store.read(Buffer.from('rr')))).toEqual(['v']);
    await sim.stop();
  });

  it('refuses a blind write that would exceed the sibling limit, storing nothing (T10)', async () => {
    const sim = await SimCluster.start(1, 13, { maxSiblings: 5 });
    const n1 = sim.node('n1');
    for (let i = 0; i < 5; i++) await sim.settle(n1.coordinator.write(put('s', `v${i}`)));
    const err = await sim.settle(n1.coordinator.write(put('s', 'v5'))).catch((e) => e);
    expect(isDkvError(err, 'TOO_MANY_SIBLINGS')).toBe(true);
    expect(String(err.message)).toMatch(/limit of 5 \(--max-siblings\)/);
    const r = await sim.settle(n1.coordinator.get(Buffer.from('s'), { strict: false }));
    expect(r.live).toHaveLength(5);
    // A write carrying the context resolves them all; limits never apply to replica merges.
    await sim.settle(n1.coordinator.write(put('s', 'one', { context: r.context })));
    expect(vals(liveValues(await n1.store.read(Buffer.from('s')), sim.clock.now()))).toEqual(['one']);
    await sim.stop();
  });

  it('a node restarted on a wiped directory takes a new incarnation; its new writes are kept beside older ones (T8)', async () => {
    const sim = await SimCluster.start(3, 21);
    const key = Buffer.from('kv679');
    const ring = sim.node('n1').membership.ring();
    const coordinator = primaries(ring, hashKey(key), 3)[0];
    const before = sim.node(coordinator);
    const oldActor = before.store.actor;
    await sim.settle(before.coordinator.write(put('kv679', 'old', { consistency: { level: 'all', strict: false } })));
    await sim.crash(coordinator, true);
    sim.clock.skewMs = 0;
    await sim.run(1);
    const after = await sim.add(coordinator);
    expect(after.store.actor).not.toBe(oldActor);
    // A blind write through the wiped node is a new sibling, never silently dominated by
    // the old version its previous incarnation wrote.
    await sim.settle(after.coordinator.write(put('kv679', 'new', { consistency: { w: 1, strict: false } })));
    await sim.run(500);
    const other = coordinator === 'n1' ? 'n2' : 'n1';
    const r = await sim.settle(sim.node(other).coordinator.get(key, { level: 'all', strict: false }));
    expect(vals(r.live)).toEqual(['new', 'old']);
    await sim.stop();
  });
  it('names the version a write created in its receipt, and the returned context covers it', async () => {
    const sim = await SimCluster.start(3, 17);
    const res = await sim.settle(sim.node('n2').coordinator.write(put('v', 'x')));
    const version = res.receipt.version!;
    const actor = version.slice(0, version.lastIndexOf(':'));
    const counter = Number(version.slice(version.lastIndexOf(':') + 1));
    expect(actor.startsWith(res.receipt.coordinator + '#')).toBe(true);
    expect(res.context.get(actor)).toBe(counter);
    const stored = await sim.node(res.receipt.coordinator).store.read(Buffer.from('v'));
    expect(stored.map((v) => `${v.dot.actor}:${v.dot.counter}`)).toEqual([version]);
    await sim.stop();
  });

  // Regression (simulation, topology seeds): a decommissioned node stopped as soon as it
  // reported LEFT stayed LEAVING-and-down in the others' rings, a dead primary forever.
  it('tells the other nodes it has LEFT before reporting the decommission complete', async () => {
    const sim = await SimCluster.start(4, 29, { gossipIntervalMs: 1_000 });
    await sim.settle(sim.node('n4').decommission());
    await sim.until(() => sim.node('n4').membership.selfState().status === 'left', 60_000, 1);
    await sim.run(30, 1);
    for (const id of ['n1', 'n2', 'n3']) expect(sim.node(id).membership.member('n4')?.status, `${id}'s view of n4`).toBe('left');
    await sim.stop();
  });
  // Regression (simulation seed 2034, T14 during T13): a decommission whose stream hit a full
  // disk failed once and was never retried: the node stayed LEAVING and blocked every join.
  it('retries a decommission that failed on a full disk, and completes it once space returns', async () => {
    const sim = await SimCluster.start(4, 31);
    for (let i = 0; i < 20; i++) await sim.settle(sim.node('n1').coordinator.write(put(`d${i}`, `v${i}`, { consistency: { level: 'all', strict: false } })));
    const engine = sim.engines.get('n4')!;
    // The disk fills as the stream starts: its first cursor cannot be saved.
    const progress = metaKey('stream-progress');
    engine.fault = (op) => (op.kind === 'write' && op.ops.some((o) => o.key.equals(progress)) ? 'STORAGE_FULL' : undefined);
    await sim.settle(sim.node('n4').decommission());
    await sim.run(5_000);
    const failed = sim.node('n4').rebalancer.operations().filter((o) => o.kind === 'decommission');
    expect(failed.length).toBeGreaterThan(0);
    expect(failed.every((o) => o.state === 'failed')).toBe(true);
    expect(sim.node('n4').membership.selfState().status).toBe('leaving');
    engine.fault = undefined;
    await sim.until(() => sim.node('n4').membership.selfState().status === 'left', 120_000);
    await sim.stop();
  });

  // Regression (same seed): a stopped or crashed node kept retrying its streams, and a graceful
  // stop waited for them (up to 200 attempts) when the stream's peer was unreachable.
  it('stops promptly while a decommission stream cannot reach its peer', async () => {
    const sim = await SimCluster.start(4, 37);
    for (let i = 0; i < 20; i++) await sim.settle(sim.node('n1').coordinator.write(put(`s${i}`, `v${i}`, { consistency: { level: 'all', strict: false } })));
    sim.net.partition(['n4'], ['n1', 'n2', 'n3']);
    await sim.settle(sim.node('n4').decommission());
    await sim.run(3_000);
    expect(sim.node('n4').membership.selfState().status).toBe('leaving');
    await sim.settle(sim.node('n4').stop(), 10_000);
    const op = sim.node('n4').rebalancer.operations().find((o) => o.kind === 'decommission');
    expect(op?.state).toBe('failed');
    expect(op?.message).toMatch(/stopping/);
    sim.net.heal();
    await sim.stop();
  });
  // Regression (simulation seed 34 with the hand-over KeyLock, T5 during T13): a LEAVING node
  // pushed the range of key K to its new owner and marked it done; it then coordinated a W = 1
  // write of K and was killed right after acknowledging it, before its fan-out (also to the
  // new owner) left and before it could keep a hint. Restarted, it resumed its decommission,
  // skipped K's range as done, and went LEFT with the write's only copy.
  it('a leaving node hands over a write it took for a range it had already pushed, even after a crash', async () => {
    const sim = await SimCluster.start(4, 41);
    const n4 = sim.node('n4');
    const [first] = n4.rebalancer.plannedMoves('decommission');
    const inRange = (h: number) => (first.range.start < first.range.end ? h > first.range.start && h <= first.range.end : h > first.range.start || h <= first.range.end);
    const k = Array.from({ length: 100_000 }, (_, i) => `late${i}`).find((x) => inRange(hashKey(Buffer.from(x))))!;
    expect(k, 'a key in the first range n4 pushes').toBeDefined();
    const key = Buffer.from(k);
    // Crash at the moment n4 confirms that range: its progress record marks it done.
    let pushed = false;
    const progress = metaKey('stream-progress');
    sim.engines.get('n4')!.fault = (op) => {
      for (const o of op.kind === 'write' ? op.ops : [])
        if (o.key.equals(progress) && o.type === 'put' && o.value.length > 2) {
          const p = JSON.parse(o.value.toString('utf8')) as { ranges: Array<{ start: number; done: boolean }> };
          if (p.ranges.some((r) => r.start === first.range.start && r.done)) pushed = true;
        }
      return undefined;
    };
    await sim.settle(n4.decommission());
    await sim.until(() => pushed, 30_000, 1);
    sim.engines.get('n4')!.fault = undefined;
    expect(n4.membership.selfState().status, 'n4 is still pushing other ranges').toBe('leaving');
    // The write reaches n4 alone (its fan-out is cut), is acknowledged at W = 1, and n4 dies at once.
    const others = ['n1', 'n2', 'n3'];
    sim.net.partition(['n4'], others);
    const res = await sim.settle(n4.coordinator.write(put(k, 'after-push', { consistency: { level: 'one', strict: false } })));
    expect(res.receipt.coordinator).toBe('n4');
    await sim.crash('n4');
    sim.net.heal();
    expect(await sim.settle(sim.node(first.to).store.read(key)), `${first.to} never got the write`).toEqual([]);
    await sim.restart('n4');
    await sim.until(() => sim.node('n4').membership.selfState().status === 'left', 60_000);
    await sim.until(() => others.every((id) => sim.node(id).membership.member('n4')?.status === 'left'), 10_000);
    await sim.crash('n4');
    const read = await sim.settle(sim.node('n1').coordinator.get(key, { level: 'all', strict: false }));
    expect(vals(read.live)).toEqual(['after-push']);
    await sim.stop();
  });
  // The same interleaving on a join: a source that gives up a range the joiner has already
  // pulled takes a W = 1 write for it and dies before its fan-out (also to the joiner) and its
  // hint. Once the joiner is NORMAL the source replicates the range no more (anti-entropy
  // skips it) and its cleanup deleted the write's only copy.
  it('a joining node takes over a write that a source giving up a range took after the range was pulled', async () => {
    const sim = await SimCluster.start(3, 41);
    const n4 = await sim.join('n4');
    await sim.until(() => n4.membership.selfState().status === 'joining' && n4.membership.selfState().tokens.length > 0, 10_000, 1);
    const cur = sim.node('n1').membership.ring();
    const future = n4.membership.futureRing();
    // The first pulled range with a key whose replica set loses a node; that node is the source.
    let pick: { k: string; source: string; start: number } | undefined;
    for (const m of n4.rebalancer.plannedMoves('join')) {
      const inRange = (h: number) => (m.range.start < m.range.end ? h > m.range.start && h <= m.range.end : h > m.range.start || h <= m.range.end);
      const k = Array.from({ length: 100_000 }, (_, i) => `late${i}`).find((x) => inRange(hashKey(Buffer.from(x))));
      if (!k) continue;
      const h = hashKey(Buffer.from(k));
      const losing = primaries(cur, h, 3).filter((id) => !primaries(future, h, 3).includes(id));
      if (losing.length > 0) {
        pick = { k, source: losing[0], start: m.range.start };
        break;
      }
    }
    expect(pick, 'a pulled range that a source gives up').toBeDefined();
    const { k, source, start } = pick!;
    const key = Buffer.from(k);
    let pulled = false;
    const progress = metaKey('stream-progress');
    sim.engines.get('n4')!.fault = (op) => {
      for (const o of op.kind === 'write' ? op.ops : [])
        if (o.key.equals(progress) && o.type === 'put' && o.value.length > 2) {
          const p = JSON.parse(o.value.toString('utf8')) as { ranges: Array<{ start: number; done: boolean }> };
          if (p.ranges.some((r) => r.start === start && r.done)) pulled = true;
        }
      return undefined;
    };
    await sim.until(() => pulled, 30_000, 1);
    sim.engines.get('n4')!.fault = undefined;
    expect(n4.membership.selfState().status, 'n4 is still pulling other ranges').toBe('joining');
    const others = [...sim.nodes.keys()].filter((id) => id !== source);
    sim.net.partition([source], others);
    const res = await sim.settle(sim.node(source).coordinator.write(put(k, 'after-pull', { consistency: { level: 'one', strict: false } })));
    expect(res.receipt.coordinator).toBe(source);
    await sim.crash(source);
    sim.net.heal();
    await sim.restart(source);
    await sim.until(() => n4.membership.selfState().status === 'normal', 60_000);
    await sim.until(() => sim.converged(), 10_000);
    await sim.settle(sim.node(source).rebalancer.cleanup());
    expect(await sim.settle(sim.node(source).store.read(key)), `${source} no longer replicates ${k}`).toEqual([]);
    const read = await sim.settle(sim.node('n1').coordinator.get(key, { level: 'all', strict: false }));
    expect(vals(read.live)).toEqual(['after-pull']);
    await sim.stop();
  });
});
