import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { Cluster, ROOT, TestNode } from '../helpers/cluster.js';
import { eventually } from '../helpers/eventually.js';
import { assertTestTarget } from '../helpers/target-guard.js';

const BUF = join(ROOT, 'node_modules/.bin/buf');

interface BufResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** bufEnv drops proxy settings: test traffic goes straight to 127.0.0.1. */
function bufEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of Object.keys(env)) if (/^(https?_proxy|grpc_proxy|all_proxy|no_proxy)$/i.test(k)) delete env[k];
  return env;
}

/**
 * bufCurl runs `buf curl --protocol grpc --http2-prior-knowledge` against address (schema
 * from server reflection) and resolves with its exit code and output; it never rejects on a
 * non-zero exit (buf curl exits with 8 × the gRPC code), only on a spawn failure or timeout.
 */
function bufCurl(address: string, path: string, args: string[] = []): Promise<BufResult> {
  const url = `http://${assertTestTarget(address)}${path}`;
  const argv = ['curl', '--protocol', 'grpc', '--http2-prior-knowledge', '--connect-timeout', '5', '--timeout', '15s', ...args, url];
  return new Promise((resolve, reject) => {
    execFile(BUF, argv, { timeout: 30_000, env: bufEnv(), maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') {
        reject(new Error(`buf ${argv.join(' ')}: ${err.message}${err.killed ? ' (killed: timeout)' : ''}\n${stderr}`));
        return;
      }
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

/** call invokes one unary method with a JSON body and returns the parsed JSON response. */
async function call<T = Record<string, any>>(address: string, method: string, body: object): Promise<T> {
  const r = await bufCurl(address, `/${method}`, ['-d', JSON.stringify(body)]);
  if (r.code !== 0) throw new Error(`buf curl ${method} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return JSON.parse(r.stdout) as T;
}

/** callError invokes a method that must fail and returns buf's JSON error ({code, message}). */
async function callError(address: string, method: string, body: object): Promise<{ exit: number; code: string; message: string }> {
  const r = await bufCurl(address, `/${method}`, ['-d', JSON.stringify(body)]);
  if (r.code === 0) throw new Error(`buf curl ${method} succeeded, want an error: ${r.stdout}`);
  const start = r.stderr.indexOf('{');
  if (start < 0) throw new Error(`buf curl ${method} exited ${r.code} without a JSON error: ${r.stderr}`);
  const e = JSON.parse(r.stderr.slice(start)) as { code: string; message: string };
  return { exit: r.code, ...e };
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const unb64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');

interface JsonGet {
  siblings?: Array<{ value?: string; expiresAtMs?: string }>;
  context?: string;
}

describe('server reflection, health and the KV API through buf curl', () => {
  let cluster: Cluster;
  let node: TestNode;

  beforeAll(async () => {
    cluster = await Cluster.start(1);
    node = cluster.nodes[0];
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('lists the services and methods through reflection (v1 and v1alpha)', async () => {
    const services = await bufCurl(node.address, '', ['--list-services']);
    expect(services.code, services.stderr).toBe(0);
    const names = services.stdout.trim().split('\n');
    expect(names).toEqual(expect.arrayContaining(['dkv.v1.KV', 'dkv.v1.Admin', 'grpc.health.v1.Health']));

    const methods = await bufCurl(node.address, '', ['--list-methods']);
    expect(methods.code, methods.stderr).toBe(0);
    expect(methods.stdout.trim().split('\n')).toEqual(
      expect.arrayContaining([
        'dkv.v1.KV/Get', 'dkv.v1.KV/Put', 'dkv.v1.KV/Delete', 'dkv.v1.KV/Watch',
        'dkv.v1.Admin/Status', 'dkv.v1.Admin/Ring',
        'grpc.health.v1.Health/Check', 'grpc.health.v1.Health/Watch',
      ]),
    );

    for (const proto of ['grpc-v1', 'grpc-v1alpha']) {
      const r = await bufCurl(node.address, '', ['--reflect-protocol', proto, '--list-services']);
      expect(r.code, `${proto}: ${r.stderr}`).toBe(0);
      expect(r.stdout.trim().split('\n'), proto).toEqual(expect.arrayContaining(['dkv.v1.KV', 'dkv.v1.Admin', 'grpc.health.v1.Health']));
    }
  });

  it('puts, gets and deletes with JSON bodies (base64 bytes)', async () => {
    const key = b64('buf:1');
    const put = await call(node.address, 'dkv.v1.KV/Put', { key, value: b64('héllo wörld') });
    expect(put.context).toBeTruthy();
    expect(put.receipt.coordinator).toBe('n1');

    const got = await call<JsonGet>(node.address, 'dkv.v1.KV/Get', { key });
    expect((got.siblings ?? []).map((s) => unb64(s.value ?? ''))).toEqual(['héllo wörld']);
    expect(got.context).toBeTruthy();

    await call(node.address, 'dkv.v1.KV/Delete', { key, context: got.context });
    const after = await call<JsonGet>(node.address, 'dkv.v1.KV/Get', { key });
    expect(after.siblings ?? []).toEqual([]);
    // The tombstone's context is still returned.
    expect(after.context).toBeTruthy();
  });

  it('rejects an 11 KiB value with invalid_argument naming the 10 KiB limit, storing nothing', async () => {
    const key = b64('buf:big');
    const e = await callError(node.address, 'dkv.v1.KV/Put', { key, value: b64(Buffer.alloc(11 * 1024, 7)) });
    expect(e.code).toBe('invalid_argument');
    expect(e.exit).toBe(3 * 8); // buf curl exits with 8 × the gRPC code
    expect(e.message).toContain('10 KiB');
    const got = await call<JsonGet>(node.address, 'dkv.v1.KV/Get', { key });
    expect(got.siblings ?? []).toEqual([]);
    expect(got.context ?? '').toBe('');
  });

  it('answers SERVING to grpc.health.v1.Health/Check for "" and dkv.v1.KV', async () => {
    for (const service of ['', 'dkv.v1.KV', 'dkv.v1.Admin']) {
      const r = await call(node.address, 'grpc.health.v1.Health/Check', { service });
      expect(r.status, `service ${JSON.stringify(service)}`).toBe('SERVING');
    }
    const unknown = await callError(node.address, 'grpc.health.v1.Health/Check', { service: 'no.such.Service' });
    expect(unknown.code).toBe('not_found');
  });

  it('expires a value written with ttl_ms', async () => {
    const key = b64('buf:ttl');
    const before = Date.now();
    await call(node.address, 'dkv.v1.KV/Put', { key, value: b64('otp'), ttlMs: '300' });
    // Read right away: either still there with its expiry set, or (on a very slow machine)
    // already gone; never there without an expiry.
    const got = await call<JsonGet>(node.address, 'dkv.v1.KV/Get', { key });
    for (const s of got.siblings ?? []) {
      expect(unb64(s.value ?? '')).toBe('otp');
      expect(Number(s.expiresAtMs)).toBeGreaterThanOrEqual(before + 300);
    }
    await eventually(async () => ((await call<JsonGet>(node.address, 'dkv.v1.KV/Get', { key })).siblings ?? []).length === 0, {
      timeoutMs: 10_000,
      intervalMs: 100,
      what: 'the TTL value to disappear',
    });
  });
});
