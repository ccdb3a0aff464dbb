import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, Metadata, status as Status, type ServiceError } from '@grpc/grpc-js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { KVClient, ConsistencyLevel, GetRequest, PutRequest, DeleteRequest, type GetResponse, type PutResponse } from '../../src/generated/dkv/v1/kv.js';
import { AdminClient } from '../../src/generated/dkv/v1/admin.js';
import { DkvRequestError } from '../../src/client/dkv-client.js';
import { Cluster, CLI, TestNode } from '../helpers/cluster.js';
import { eventually } from '../helpers/eventually.js';

const run = promisify(execFile);

function unary<Req, Res>(fn: (req: Req, md: Metadata, o: { deadline: Date }, cb: (e: ServiceError | null, r: Res) => void) => unknown, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, new Metadata(), { deadline: new Date(Date.now() + 5_000) }, (e, r) => (e ? reject(e) : resolve(r))));
}

describe('a single dkv node (real process, LevelDB on disk)', () => {
  let cluster: Cluster;
  let node: TestNode;
  let kv: KVClient;

  beforeAll(async () => {
    cluster = await Cluster.start(1);
    node = cluster.nodes[0];
    kv = new KVClient(node.address, credentials.createInsecure());
  });
  afterAll(async () => {
    kv?.close();
    await cluster?.stop();
  });

  it('serves Put, Get and Delete through the generated client', async () => {
    const key = Buffer.from('user:1');
    const put = await unary<PutRequest, PutResponse>(kv.put.bind(kv), PutRequest.fromPartial({ key, value: Buffer.from('alice') }));
    expect(put.context.length).toBeGreaterThan(0);
    expect(put.receipt?.replicas.map((r) => r.nodeId)).toEqual(['n1']);
    const got = await unary<GetRequest, GetResponse>(kv.get.bind(kv), GetRequest.fromPartial({ key, consistency: { level: ConsistencyLevel.CONSISTENCY_LEVEL_ONE } }));
    expect(got.siblings.map((s) => s.value.toString())).toEqual(['alice']);
    await unary(kv.delete.bind(kv), DeleteRequest.fromPartial({ key, context: got.context }));
    const after = await unary<GetRequest, GetResponse>(kv.get.bind(kv), GetRequest.fromPartial({ key }));
    expect(after.siblings).toEqual([]);
    // The tombstone's context is still returned, so a later write can supersede it knowingly.
    expect(after.context.length).toBeGreaterThan(0);
  });

  it('keeps concurrent blind writes as siblings and collapses them with the context', async () => {
    const c = node.client();
    try {
      await c.put('sib', 'a', { context: Buffer.alloc(0) });
      await c.put('sib', 'b', { context: Buffer.alloc(0) });
      const r = await c.get('sib');
      expect(r.values.map(String).sort()).toEqual(['a', 'b']);
      await c.put('sib', 'ab', { context: r.context });
      expect((await c.get('sib')).values.map(String)).toEqual(['ab']);
    } finally {
      c.close();
    }
  });

  it('rejects an 11 KiB value with INVALID_ARGUMENT naming the 10 KiB limit, storing nothing', async () => {
    const c = node.client();
    try {
      const err = (await c.put('big', Buffer.alloc(11 * 1024, 1)).catch((e) => e)) as DkvRequestError;
      expect(err).toBeInstanceOf(DkvRequestError);
      expect(err.code).toBe(Status.INVALID_ARGUMENT);
      expect(err.message).toContain('10 KiB');
      expect(err.message).toContain('--max-value-bytes');
      expect((await c.get('big')).values).toEqual([]);
      expect((await c.get('big')).context.length).toBe(0);
    } finally {
      c.close();
    }
  });

  it('names the field and the limit for every invalid request', async () => {
    const c = node.client();
    try {
      const cases: Array<[Promise<unknown>, RegExp]> = [
        [c.put('', 'v'), /key: must not be empty/],
        [c.put(Buffer.alloc(1025, 1), 'v'), /key: is 1025 bytes, over the limit of 1024/],
        [c.put('k', 'v', { ttlMs: -5 }), /ttl_ms/],
        [c.put('k', 'v', { context: Buffer.from('not a context') }), /context/],
        [c.get('k', { r: 4 }), /consistency.r: must be in \[1, N=3\]/],
        [c.put('k', 'v', { consistency: { w: 9 } }), /consistency.w/],
      ];
      for (const [p, re] of cases) {
        const e = (await p.catch((x) => x)) as DkvRequestError;
        expect(e).toBeInstanceOf(DkvRequestError);
        expect(e.code).toBe(Status.INVALID_ARGUMENT);
        expect(e.message).toMatch(re);
      }
      expect((await c.get('k')).values).toEqual([]);
    } finally {
      c.close();
    }
  });

  it('never returns a value after its TTL, through any read', async () => {
    const c = node.client();
    try {
      await c.put('otp:1', '123456', { ttlMs: 300 });
      expect((await c.get('otp:1')).values.map(String)).toEqual(['123456']);
      await eventually(async () => (await c.get('otp:1')).values.length === 0, { timeoutMs: 5_000, what: 'expiry' });
    } finally {
      c.close();
    }
  });

  it('refuses to decommission the last node owning data, saying why', async () => {
    const admin = new AdminClient(node.address, credentials.createInsecure());
    try {
      const e = (await unary(admin.decommission.bind(admin), { nodeId: '', dryRun: false }).catch((x) => x)) as ServiceError;
      expect(e.code).toBe(Status.FAILED_PRECONDITION);
      expect(e.details).toMatch(/last node owning data/);
    } finally {
      admin.close();
    }
  });

  it('reports status and ring through Admin and the CLI', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'status', '--addr', node.address, '--json']);
    const s = JSON.parse(stdout);
    expect(s.nodeId).toBe('n1');
    expect(s.members).toHaveLength(1);
    expect(s.warnings.join(' ')).toMatch(/fewer than N=3/);
    const ring = JSON.parse((await run(process.execPath, [CLI, 'ring', '--addr', node.address, '--json'])).stdout);
    expect(ring.nodes[0].tokens.length).toBe(64);
  });

  it('CLI put / get / del work and errors go to stderr with a non-zero exit', async () => {
    const env = { ...process.env, DKV_ADDR: node.address };
    expect((await run(process.execPath, [CLI, 'put', 'cli:k', 'v1', '--ttl', '1h'], { env })).stdout.trim()).toBe('OK');
    expect((await run(process.execPath, [CLI, 'get', 'cli:k'], { env })).stdout.trim()).toBe('v1');
    const js = JSON.parse((await run(process.execPath, [CLI, 'get', 'cli:k', '--json'], { env })).stdout);
    expect(js.siblings[0].expiresAtMs).toBeGreaterThan(Date.now());
    expect((await run(process.execPath, [CLI, 'del', 'cli:k'], { env })).stdout.trim()).toBe('OK');
    const missing = await run(process.execPath, [CLI, 'get', 'cli:k'], { env }).catch((e) => e);
    expect(missing.code).toBe(1);
    const bad = await run(process.execPath, [CLI, 'put', 'k', 'x'.repeat(11_000)], { env }).catch((e) => e);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/INVALID_ARGUMENT.*10 KiB/);
  });

  it('serves every acknowledged write after SIGTERM and a restart on the same directory', async () => {
    const c = node.client();
    const keys = Array.from({ length: 200 }, (_, i) => `persist:${i}`);
    try {
      await Promise.all(keys.map((k) => c.put(k, `v-${k}`)));
    } finally {
      c.close();
    }
    await node.kill('SIGTERM');
    expect(node.exitCode).toBe(0);
    expect(node.logs.join('\n')).toMatch(/storage closed/);
    await node.start();
    const c2 = node.client();
    try {
      for (const k of keys) expect((await c2.get(k)).values.map(String)).toEqual([`v-${k}`]);
    } finally {
      c2.close();
    }
  });

  it('keeps acknowledged writes across kill -9 (page cache survives a process crash)', async () => {
    const c = node.client();
    await c.put('crash:1', 'before');
    c.close();
    const incarnation = (await node.client().status()).incarnation;
    await node.kill('SIGKILL');
    await node.start();
    const c2 = node.client();
    try {
      expect((await c2.get('crash:1')).values.map(String)).toEqual(['before']);
      // Same directory, same incarnation: only a new directory makes a new actor.
      expect((await c2.status()).incarnation).toBe(incarnation);
    } finally {
      c2.close();
    }
  });

});
