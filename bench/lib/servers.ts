/**
 * servers.ts — start and stop the servers a benchmark measures (bench only).
 *
 * Contracts:
 * - start(name, args) spawns `node ARGS` (a dkv node or bench/noop-server.ts) and resolves
 *   with the address of its `serving NAME HOST:PORT` stdout line, which must pass
 *   assertTestTarget; it rejects (after SIGKILL) when the process exits first or prints no
 *   such line in time, with the last lines of its output.
 * - spawnProbed(name, cmd, args, address, probe) spawns any program (etcd, redis-server)
 *   whose address the caller chose (a loopback address from freePort) and resolves once
 *   probe() succeeds, polled with a deadline (never a fixed sleep); spawnOnly + waitProbe do
 *   the same in two steps for cluster members that serve only once a majority runs.
 * - stop(s) sends SIGTERM and waits for the exit (SIGKILL after 10 s); stopping a process
 *   that already exited is a no-op.
 * - Fleet keeps every process and temp dir it made: stopAll() stops the processes and
 *   removes the dirs, also after a failure; run it on SIGINT / SIGTERM as well.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertTestTarget } from '../../test/helpers/target-guard.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface Started {
  name: string;
  proc: ChildProcess;
  pid: number;
  address: string;
  log: string[];
}

function keepLog(proc: ChildProcess): string[] {
  const log: string[] = [];
  const keep = (chunk: Buffer) => {
    log.push(...chunk.toString().split('\n').filter(Boolean));
    log.splice(0, Math.max(0, log.length - 50));
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  return log;
}

/** start spawns a node server and resolves with the address from its `serving NAME HOST:PORT` line. */
export function start(name: string, args: string[], timeoutMs = 30_000): Promise<Started> {
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = keepLog(proc);
  return new Promise((res, rej) => {
    let out = '';
    const fail = (why: string) => {
      clearTimeout(timer);
      proc.kill('SIGKILL');
      rej(new Error(`${name}: ${why}\n${log.join('\n')}`));
    };
    const timer = setTimeout(() => fail(`no "serving ${name}" line within ${timeoutMs} ms`), timeoutMs);
    proc.once('exit', (code, sig) => fail(`exited (${code ?? sig}) before serving`));
    proc.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = new RegExp(`^serving ${name} (\\S+)$`, 'm').exec(out);
      if (!m) return;
      clearTimeout(timer);
      proc.removeAllListeners('exit');
      try {
        res({ name, proc, pid: proc.pid!, address: assertTestTarget(m[1]), log });
      } catch (e) {
        fail((e as Error).message);
      }
    });
  });
}

/** spawnOnly spawns cmd serving at `address` without waiting (cluster members serve only once a majority runs). */
export function spawnOnly(name: string, cmd: string, args: string[], address: string): Started {
  assertTestTarget(address);
  const proc = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = keepLog(proc);
  proc.once('error', (e) => log.push(`could not start: ${e.message}`));
  return { name, proc, pid: proc.pid!, address, log };
}

/** waitProbe polls probe() every 100 ms until it resolves true; rejects when the process exits or at timeoutMs. */
export async function waitProbe(s: Started, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (s.proc.exitCode !== null || s.proc.signalCode !== null || s.pid === undefined)
      throw new Error(`${s.name}: exited (${s.proc.exitCode ?? s.proc.signalCode ?? 'not started'}) before serving\n${s.log.join('\n')}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      s.proc.kill('SIGKILL');
      throw new Error(`${s.name}: not serving at ${s.address} within ${timeoutMs} ms\n${s.log.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** spawnProbed spawns cmd (not node) serving at `address` and resolves once probe() resolves true. */
export async function spawnProbed(name: string, cmd: string, args: string[], address: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<Started> {
  const s = spawnOnly(name, cmd, args, address);
  await waitProbe(s, probe, timeoutMs);
  return s;
}

/** stop sends SIGTERM and waits for the exit (SIGKILL after 10 s). */
export async function stop(s: Started | undefined): Promise<void> {
  if (!s || s.proc.exitCode !== null || s.proc.signalCode !== null) return;
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  const t = setTimeout(() => s.proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

/** freePort asks the kernel for a free loopback port (the caller binds it soon after). */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

/** Fleet owns what a benchmark started: processes and temp dirs, all removed by stopAll. */
export class Fleet {
  private readonly procs = new Set<Started>();
  private readonly dirs: string[] = [];

  tempDir(prefix: string): string {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(d);
    return d;
  }

  add<T extends Started>(s: T): T {
    this.procs.add(s);
    return s;
  }

  async stop(s: Started | undefined): Promise<void> {
    if (!s) return;
    await stop(s);
    this.procs.delete(s);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.procs].map((s) => stop(s)));
    this.procs.clear();
    for (const d of this.dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  }
}
