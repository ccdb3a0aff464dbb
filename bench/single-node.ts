/**
 * single-node.ts — one real dkv node against the no-op gRPC server (the RPC ceiling), side by
 * side in one run (bench tier: figures, never a pass/fail test).
 *
 *   npx tsc -p tsconfig.json && node --import tsx bench/single-node.ts [--quick]
 *     [--fsync never|batch|always] [--server-cpu-prof DIR] [--out bench/results]
 *
 * Contracts:
 * - Starts `node dist/cli/main.js serve --listen 127.0.0.1:0 --node-id n1` on a fresh temp data
 *   dir (--fsync as given, else the node's default) and `bench/noop-server.ts`, both on
 *   loopback; every address they print passes assertTestTarget before any traffic.
 * - Runs put and get (closed loop) at concurrency 1, 16 and 64 against each: 10 s measured after
 *   a 2 s warm-up (--quick: 3 s and 1 s); keys 16 bytes, values 100 bytes, 10,000 keys, uniform,
 *   one client process (bench/load.ts). get preloads the key space first.
 * - Prints one Markdown table (server CPU % is utime+stime over the window, 100 = one core;
 *   peak RSS is VmHWM reset at each window start; server CPU µs/op is server CPU time over
 *   successful ops, the figure least disturbed by a busy machine; client and host CPU show
 *   what else ran on the machine) and writes bench/results/single-node-<ISO time, ':' as '-'>.json with every
 *   run's full result (including merged HDR histograms) and the machine's description.
 * - Both servers are stopped with SIGTERM (SIGKILL after 10 s) and the data dir removed, also
 *   when a run fails or on Ctrl-C. --server-cpu-prof DIR runs the dkv node under
 *   `node --cpu-prof --cpu-prof-dir DIR` (summarize with bench/prof-summary.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, start, stop, type Started } from './lib/servers.js';
import { runLoad, type LoadOptions, type LoadResult, type Workload } from './load.js';

const fmtMs = (us: number) => (us / 1000).toFixed(us < 10_000 ? 2 : 1);

function table(runs: LoadResult[]): string {
  const head = '| target | workload | conc | ops/s | p50 ms | p99 ms | p99.9 ms | errors | server CPU % | server peak RSS MiB | server CPU µs/op | client CPU % | host CPU % |';
  const sep = '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  const rows = runs.map((r) => {
    const o = r.options;
    const s = r.server[0];
    const errs = r.errorCount ? `${r.errorCount} ${JSON.stringify(r.errors)}` : '0';
    const perOp = s && r.ops ? ((s.cpuSeconds * 1e6) / r.ops).toFixed(0) : '';
    return `| ${o.kind} | ${o.workload} | ${o.conc} | ${r.opsPerSec} | ${fmtMs(r.latencyUs.p50)} | ${fmtMs(r.latencyUs.p99)} | ${fmtMs(r.latencyUs.p999)} | ${errs} | ${s ? s.cpuPct.toFixed(0) : ''} | ${s ? (s.peakRssKiB / 1024).toFixed(0) : ''} | ${perOp} | ${r.clientCpuPct} | ${r.hostCpuPct} |`;
  });
  return [head, sep, ...rows].join('\n');
}

async function main(): Promise<void> {
  const { values: v } = parseArgs({
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      fsync: { type: 'string' },
      'server-cpu-prof': { type: 'string' },
      out: { type: 'string', default: join(ROOT, 'bench', 'results') },
    },
  });
  const cli = join(ROOT, 'dist', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: build first with npx tsc -p tsconfig.json`);
  if (v.fsync !== undefined && !['never', 'batch', 'always'].includes(v.fsync)) throw new Error(`--fsync: never, batch or always, got ${v.fsync}`);
  const dataDir = mkdtempSync(join(tmpdir(), 'dkv-bench-'));
  const [durationMs, warmupMs] = v.quick ? [3_000, 1_000] : [10_000, 2_000];
  const started = new Date();
  let dkv: Started | undefined;
  let noop: Started | undefined;
  const cleanup = async () => {
    await Promise.all([stop(dkv), stop(noop)]);
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const prof = v['server-cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', resolve(v['server-cpu-prof'])] : [];
    const fsync = v.fsync ? ['--fsync', v.fsync] : [];
    dkv = await start('n1', [...prof, cli, 'serve', '--listen', '127.0.0.1:0', '--node-id', 'n1', '--data-dir', dataDir, ...fsync]);
    noop = await start('noop', ['--import', 'tsx', join(ROOT, 'bench', 'noop-server.ts'), '--listen', '127.0.0.1:0']);
    process.stderr.write(`dkv n1 at ${dkv.address} (pid ${dkv.pid}, data ${dataDir}); noop at ${noop.address} (pid ${noop.pid})\n`);

    const runs: LoadResult[] = [];
    for (const target of [noop, dkv]) {
      for (const workload of ['put', 'get'] as Workload[]) {
        for (const conc of [1, 16, 64]) {
          const o: LoadOptions = {
            target: target.address,
            kind: target === dkv ? 'dkv' : 'noop',
            workload,
            conc,
            durationMs,
            warmupMs,
            valueSize: 100,
            keySize: 16,
            keys: 10_000,
            dist: 'uniform',
            procs: 1,
            timeoutMs: 5_000,
            writes: 'ctx',
            serverPids: [target.pid],
            resetServerPeak: true,
            preload: true,
          };
          const r = await runLoad(o);
          process.stderr.write(`  ${o.kind} ${workload} conc ${conc}: ${r.opsPerSec} ops/s, p99 ${fmtMs(r.latencyUs.p99)} ms, errors ${r.errorCount}\n`);
          runs.push(r);
        }
      }
    }

    const md = table(runs);
    process.stdout.write(`\n${md}\n`);
    mkdirSync(v.out!, { recursive: true });
    const file = join(v.out!, `single-node-${started.toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
    const machine = { cpus: cpus().length, model: cpus()[0]?.model, node: process.version, loadavgAtEnd: loadavg() };
    const config = { quick: v.quick, fsync: v.fsync ?? 'node default', durationMs, warmupMs, keySize: 16, valueSize: 100, keys: 10_000, dist: 'uniform', procs: 1, writes: 'ctx' };
    writeFileSync(file, JSON.stringify({ bench: 'single-node', startedAt: started.toISOString(), machine, config, table: md, runs }, null, 2) + '\n');
    process.stdout.write(`\nwrote ${file}\n`);
  } finally {
    await cleanup();
  }
}

main().catch((e) => {
  process.stderr.write(`single-node: ${(e as Error).stack ?? e}\n`);
  process.exitCode = 1;
});
