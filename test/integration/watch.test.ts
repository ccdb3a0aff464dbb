import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { KVClient, WatchEventKind, type WatchResponse } from '../../src/generated/dkv/v1/kv.js';
import type { DkvClient, WatchEvent } from '../../src/client/dkv-client.js';
import { Cluster } from '../helpers/cluster.js';
import { eventually } from '../helpers/eventually.js';

/** collect runs a watch in the background, keeping its events until stop(). */
function collect(c: DkvClient, target: { key?: string; prefix?: string }, from?: Buffer) {
  const events: WatchEvent[] = [];
  const abort = new AbortController();
  const done = (async () => {
    for await (const e of c.watch(target, { from, signal: abort.signal })) events.push(e);
  })();
  return {
    events,
    created: () => eventually(() => events.some((e) => e.kind === 'created'), { what: 'watch CREATED' }),
    stop: async () => {
      abort.abort();
      await done;
    },
  };
}

const putsOf = (events: WatchEvent[]) => events.filter((e) => e.kind === 'put').flatMap((e) => e.values.map(String));

describe('KV.Watch on real processes (3 nodes, N = 3)', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await Cluster.start(3, ['--changelog-max-entries', '5000', '--watch-buffer', '1500']);
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('delivers every acknowledged write on a prefix exactly once, also while a replica is killed and restarted', async () => {
    const [n1, n2, n3] = cluster.nodes;
    const w = collect(cluster.client([n1]), { prefix: 'live:' });
    await w.created();
    const writer = cluster.client([n1, n2]);
    const acked: string[] = [];
    for (let i = 0; i < 300; i++) {
      if (i === 100) await n3.kill('SIGKILL');
      if (i === 200) await n3.start();
      const v = `v${i}`;
      try {
        await writer.put(`live:${i % 20}:${i}`, v, { context: Buffer.alloc(0) });
        acked.push(v);
      } catch {
        // indeterminate: may or may not be delivered
      }
    }
    await eventually(() => acked.every((v) => putsOf(w.events).includes(v)), { timeoutMs: 20_000, what: 'every acknowledged write delivered' });
    const seen = putsOf(w.events);
    const dup = seen.filter((v, i) => seen.indexOf(v) !== i);
    expect(dup).toEqual([]);
    expect(w.events.filter((e) => e.kind !== 'created' && !e.key.toString().startsWith('live:'))).toEqual([]);
    process.stdout.write(`watch: ${acked.length} acknowledged writes, ${seen.length} delivered, 0 twice, while n3 was killed and restarted\n`);
    await w.stop();
    await cluster.settle();
  });

  it('resumes with its token after 1,000 missed writes: all arrive, none twice; a token older than the retention gets RESYNC_REQUIRED', async () => {
    const [n1, n2] = cluster.nodes;
    const first = collect(cluster.client([n1]), { prefix: 'resume:' });
    await first.created();
    const writer = cluster.client([n2]);
    await writer.put('resume:before', 'before', { context: Buffer.alloc(0) });
    await eventually(() => putsOf(first.events).includes('before'));
    const token = first.events[first.events.length - 1].token;
    await first.stop();
    const missed = Array.from({ length: 1_000 }, (_, i) => `m${i}`);
    for (let i = 0; i < missed.length; i += 50) await Promise.all(missed.slice(i, i + 50).map((v, j) => writer.put(`resume:${i + j}`, v, { context: Buffer.alloc(0) })));
    // Resume on another node than the one that served the first watch.
    const second = collect(cluster.client([n2]), { prefix: 'resume:' }, token);
    await eventually(() => putsOf(second.events).length >= 1_000, { timeoutMs: 30_000, what: '1,000 missed writes' });
    const got = putsOf(second.events);
    expect([...got].sort()).toEqual([...missed].sort());
    expect(got).not.toContain('before');
    await second.stop();
    // Push the log past its retention (5,000 entries), then resume from the old token.
    const filler = cluster.client([n1]);
    for (let i = 0; i < 6_000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => filler.put(`fill:${i + j}`, 'x', { context: Buffer.alloc(0) })));
    await eventually(async () => {
      const late = collect(cluster.client([n1]), { prefix: 'resume:' }, token);
      try {
        await eventually(() => late.events.some((e) => e.kind === 'resync'), { timeoutMs: 3_000 });
      } finally {
        await late.stop();
      }
    }, { timeoutMs: 20_000, what: 'RESYNC_REQUIRED for a token older than the retention' });
  });

  it('a TTL expiry gives one EXPIRE event and a delete one DELETE event', async () => {
    const c = cluster.client();
    const w = collect(cluster.client([cluster.nodes[2]]), { key: 'ttl:1' });
    await w.created();
    await c.put('ttl:1', 'soon gone', { ttlMs: 500 });
    await eventually(() => w.events.some((e) => e.kind === 'expire'), { timeoutMs: 10_000, what: 'EXPIRE' });
    const d = collect(cluster.client([cluster.nodes[0]]), { key: 'del:1' });
    await d.created();
    await c.put('del:1', 'x');
    const read = await c.get('del:1');
    await c.delete('del:1', { context: read.context });
    await eventually(() => d.events.some((e) => e.kind === 'delete'), { what: 'DELETE' });
    // Let every replica's sweep and replication run: still exactly one of each.
    await cluster.settle();
    await new Promise((r) => setTimeout(r, 2_500));
    expect(w.events.filter((e) => e.kind === 'expire')).toHaveLength(1);
    expect(w.events.filter((e) => e.kind === 'put')).toHaveLength(1);
    expect(d.events.filter((e) => e.kind === 'delete')).toHaveLength(1);
    expect(d.events.filter((e) => e.kind !== 'created').map((e) => [e.kind, e.deleted])).toEqual([
      ['put', false],
      ['delete', true],
    ]);
    await w.stop();
    await d.stop();
  });

  it('cuts off a watcher that stops reading at its buffer limit, with a resume token, while memory stays bounded', async () => {
    const node = cluster.nodes[0];
    const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${node.proc!.pid}/status`, 'utf8'))![1]) * 1024;
    const kv = new KVClient(node.address, credentials.createInsecure());
    const stream = kv.watch({ key: Buffer.alloc(0), prefix: Buffer.from('slow:'), resumeToken: Buffer.alloc(0) }, new Metadata());
    let created = false;
    stream.once('data', (m: WatchResponse) => {
      created = m.kind === WatchEventKind.WATCH_EVENT_KIND_CREATED;
      stream.pause();
    });
    const ended = new Promise<ServiceError>((resolve) => stream.on('error', resolve));
    await eventually(() => created, { what: 'watch registered' });
    const before = rss();
    const writer = cluster.client([cluster.nodes[1]]);
    const big = 'y'.repeat(4_000);
    for (let i = 0; i < 3_000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => writer.put(`slow:${i + j}`, big, { context: Buffer.alloc(0) })));
    stream.resume();
    const err = await ended;
    const after = rss();
    process.stdout.write(`slow watcher: cut off with ${Status[err.code]}; node RSS ${Math.round(before / 2 ** 20)} MiB before, ${Math.round(after / 2 ** 20)} MiB after 3,000 x 4 KB events\n`);
    expect(err.code).toBe(Status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/more than 1500 events/);
    expect(String(err.metadata.get('dkv-resume-token')[0] ?? '').length).toBeGreaterThan(0);
    expect(after - before).toBeLessThan(200 * 2 ** 20);
    kv.close();
  });
});
