/**
 * peers.ts — the benchmark's targets, each started on 127.0.0.1 with its data in a temp dir of
 * the Fleet (bench only): the no-op grpc-js server, dkv (1 or N nodes), etcd (1 or 3 members)
 * and Redis.
 *
 * Contracts:
 * - Every address is loopback and passes assertTestTarget before a probe or load touches it.
 * - A target resolves only when it serves: dkv and noop print `serving NAME ADDR`; a dkv
 *   cluster is also waited for until every node reports every member NORMAL and UP, the same
 *   ring checksum and effective N = the node count; etcd until a Put through every member
 *   succeeds (a leader exists); Redis until SET answers.
 * - which(cmd) tells whether a peer is installed; a missing peer is the caller's to skip.
 * - dkv nodes run `node dist/cli/main.js serve` (build first), --log-level warn.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { credentials, Metadata } from '@grpc/grpc-js';
import { AdminClient, Liveness, MemberStatus, type StatusResponse } from '../../src/generated/dkv/v1/admin.js';
import { assertTestTarget } from '../../test/helpers/target-guard.js';
import { EtcdKV } from './etcd.js';
import { RedisPool } from './redis.js';
import { freePort, ROOT, spawnOnly, spawnProbed, start, stop, waitProbe, type Fleet, type Started } from './servers.js';

export interface Target {
  /** label names the target in reports, e.g. "dkv 3 nodes". */
  label: string;
  kind: 'dkv' | 'noop' | 'etcd' | 'redis';
  procs: Started[];
  /** addresses, comma-separated for a cluster (requests go to them in turn). */
  target: string;
  pids: number[];
  dataDirs: string[];
}

export const DKV_CLI = join(ROOT, 'dist', 'cli', 'main.js');

/** which returns the path of an installed program, or undefined. */
export function which(cmd: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

export function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return 'unknown';
  }
}

function targetOf(label: string, kind: Target['kind'], procs: Started[], dataDirs: string[]): Target {
  return { label, kind, procs, target: procs.map((p) => p.address).join(','), pids: procs.map((p) => p.pid), dataDirs };
}

export async function startNoop(fleet: Fleet): Promise<Target> {
  const s = fleet.add(await start('noop', ['--import', 'tsx', join(ROOT, 'bench', 'noop-server.ts'), '--listen', '127.0.0.1:0']));
  return targetOf('no-op gRPC (ceiling)', 'noop', [s], []);
}

export interface DkvOptions {
  nodes: number;
  label: string;
  fsync?: 'never' | 'batch' | 'always';
  /** extra serve flags, e.g. --max-value-bytes */
  extra?: string[];
  /** nodePrefix names the nodes PREFIX1..PREFIXn (default n). */
  nodePrefix?: string;
  /** dataDirs and ports reuse an earlier node's (restart); fresh temp dirs and port 0 when unset. */
  dataDirs?: string[];
  ports?: number[];
  /** cpuProfDir runs every node under node --cpu-prof. */
  cpuProfDir?: string;
  /** nodeArgs are extra node (V8) flags for every node, e.g. --max-semi-space-size=64. */
  nodeArgs?: string[];
}

export function dkvStatus(address: string, timeoutMs = 2_000): Promise<StatusResponse> {
  const c = new AdminClient(assertTestTarget(address), credentials.createInsecure());
  return new Promise<StatusResponse>((res, rej) =>
    c.status({}, new Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => {
      c.close();
      if (e) rej(e);
      else res(r);
    }),
  );
}

/** startDkv starts `nodes` dkv nodes (the first one alone, the others seeded by it) and waits until they agree. */
export async function startDkv(fleet: Fleet, o: DkvOptions): Promise<Target> {
  if (!existsSync(DKV_CLI)) throw new Error(`${DKV_CLI} is missing: build first with npx tsc -p tsconfig.json`);
  const prefix = o.nodePrefix ?? 'n';
  const procs: Started[] = [];
  const dirs: string[] = [];
  for (let i = 0; i < o.nodes; i++) {
    const id = `${prefix}${i + 1}`;
    const dir = o.dataDirs?.[i] ?? fleet.tempDir(`dkv-bench-${id}-`);
    dirs.push(dir);
    const listen = `127.0.0.1:${o.ports?.[i] ?? 0}`;
    const args = [
      ...(o.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', o.cpuProfDir] : []),
      ...(o.nodeArgs ?? []),
      DKV_CLI, 'serve', '--listen', listen, '--node-id', id, '--data-dir', dir, '--log-level', 'warn',
      ...(o.fsync ? ['--fsync', o.fsync] : []),
      ...(i > 0 ? ['--seeds', procs[0].address] : []),
      ...(o.extra ?? []),
    ];
    procs.push(fleet.add(await start(id, args)));
  }
  if (o.nodes > 1) await waitConverged(procs.map((p) => p.address), o.nodes);
  return targetOf(o.label, 'dkv', procs, dirs);
}

/** waitConverged polls every node's Status until all agree on `n` live NORMAL members. */
export async function waitConverged(addresses: string[], n: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const all = await Promise.all(addresses.map((a) => dkvStatus(a)));
      const ok =
        all.every((s) => s.effectiveN === n && s.members.filter((m) => m.status === MemberStatus.MEMBER_STATUS_NORMAL && m.liveness === Liveness.LIVENESS_UP).length === n) &&
        new Set(all.map((s) => s.ringChecksum)).size === 1;
      if (ok) return;
      last = all.map((s) => `${s.nodeId}: effectiveN ${s.effectiveN}, members ${s.members.map((m) => `${m.nodeId}/${MemberStatus[m.status]}/${Liveness[m.liveness]}`).join(' ')}, ring ${s.ringChecksum}`).join('; ');
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`dkv cluster did not converge within ${timeoutMs} ms: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const PROBE_KEY = Buffer.from('bench-probe');

function etcdProbe(address: string): () => Promise<boolean> {
  return () =>
    new Promise((res) => {
      const kv = new EtcdKV(address);
      kv.put(PROBE_KEY, Buffer.from('1'), Date.now() + 1_000, (e) => {
        kv.close();
        res(!e);
      });
    });
}

/** startEtcd starts an etcd cluster of `members` on loopback (client and peer ports picked free). */
export async function startEtcd(fleet: Fleet, members: number, label: string, bin = 'etcd'): Promise<Target> {
  const ports = await Promise.all(Array.from({ length: members * 2 }, freePort));
  const names = Array.from({ length: members }, (_, i) => `e${i + 1}`);
  const peerUrl = (i: number) => `http://127.0.0.1:${ports[2 * i + 1]}`;
  const clientUrl = (i: number) => `http://127.0.0.1:${ports[2 * i]}`;
  const initial = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const token = `dkv-bench-${process.pid}-${Date.now()}`;
  const procs: Started[] = [];
  const dirs: string[] = [];
  for (let i = 0; i < members; i++) {
    const dir = fleet.tempDir(`etcd-bench-${names[i]}-`);
    dirs.push(dir);
    const args = [
      '--name', names[i], '--data-dir', dir,
      '--listen-client-urls', clientUrl(i), '--advertise-client-urls', clientUrl(i),
      '--listen-peer-urls', peerUrl(i), '--initial-advertise-peer-urls', peerUrl(i),
      '--initial-cluster', initial, '--initial-cluster-state', 'new', '--initial-cluster-token', token,
      '--logger', 'zap', '--log-outputs', 'stderr', '--log-level', 'warn',
    ];
    procs.push(fleet.add(spawnOnly(names[i], bin, args, `127.0.0.1:${ports[2 * i]}`)));
  }
  // Members elect a leader only once a majority runs: probe each after all are spawned.
  for (const p of procs) {
    await waitProbe(p, etcdProbe(p.address));
  }
  return targetOf(label, 'etcd', procs, dirs);
}

/** startRedis starts redis-server without persistence (--save '' --appendonly no) on loopback. */
export async function startRedis(fleet: Fleet, label: string, bin = 'redis-server'): Promise<Target> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  const dir = fleet.tempDir('redis-bench-');
  const probe = () =>
    new Promise<boolean>((res) => {
      const pool = new RedisPool(address);
      pool.command(['SET', 'bench-probe', '1'], Date.now() + 1_000, (e) => {
        pool.close();
        res(!e);
      });
    });
  const s = fleet.add(
    await spawnProbed('redis', bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning'], address, probe),
  );
  return targetOf(label, 'redis', [s], [dir]);
}

/** stopTarget stops every process of a target (its temp dirs stay until Fleet.stopAll). */
export async function stopTarget(fleet: Fleet, t: Target): Promise<void> {
  await Promise.all(t.procs.map((p) => fleet.stop(p)));
}

export { stop };
