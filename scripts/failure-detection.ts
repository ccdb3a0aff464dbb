/**
 * failure-detection measures how fast the gossip failure detector (phi accrual + a second
 * member's vote) notices a `kill -9`ed node, and how fast the node is UP again after a
 * restart, on real processes on 127.0.0.1 (the test harness's Cluster).
 *
 *   node --import tsx scripts/failure-detection.ts [--reps 3] [--sizes 3,5] [--intervals 100ms,200ms]
 *
 * For each gossip interval and cluster size: start a cluster, then per repetition kill -9 one
 * node (a different one each time), poll every other node's Admin.Status every 50 ms until
 * each reports it DOWN, restart it (same port, same data dir) and poll until each reports it
 * UP. One extra round kills the first victim again, because the observers' heartbeat windows
 * then still hold its downtime as one long interval. Prints Markdown tables. Timing figures,
 * not a test: nothing here passes or fails.
 */
import { parseArgs } from 'node:util';
import { DkvClient } from '../src/client/dkv-client.js';
import { Liveness } from '../src/generated/dkv/v1/admin.js';
import { Cluster, type TestNode } from '../test/helpers/cluster.js';
import { eventually } from '../test/helpers/eventually.js';

const { values: opts } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    sizes: { type: 'string', default: '3,5' },
    intervals: { type: 'string', default: '100ms,200ms' },
    'poll-ms': { type: 'string', default: '50' },
  },
});
const REPS = Number(opts.reps);
const SIZES = opts.sizes!.split(',').map(Number);
const INTERVALS = opts.intervals!.split(',');
const POLL_MS = Number(opts['poll-ms']);
/** bounds on every wait */
const DOWN_WITHIN_MS = 30_000;
const UP_WITHIN_MS = 30_000;
/** the harness passes --gossip-interval 100ms itself; another interval is appended after it */
const HARNESS_INTERVAL = '100ms';

interface Rep {
  victim: string;
  repeat: boolean;
  /** ms from the kill to each observer's first SUSPECT / DOWN, and from the restart to its first UP */
  suspect: Map<string, number>;
  down: Map<string, number>;
  up: Map<string, number>;
  /** ms from spawning the restarted process to its "serving" line */
  serving: number;
  /** observers that went back from DOWN before the restart, or logged DOWN / UP other than once */
  flaps: string[];
}

interface Row {
  interval: string;
  measuredIntervalMs: number;
  size: number;
  reps: Rep[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (ms: number) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)}` : '-');
const mmm = (xs: number[]) => `${fmt(Math.min(...xs))} / ${fmt(median(xs))} / ${fmt(Math.max(...xs))}`;

/** liveness of `target` as every observer reports it now (one Status per observer, in parallel). */
async function livenessEverywhere(clients: Map<TestNode, DkvClient>, target: string): Promise<Map<string, Liveness | 'error'>> {
  const out = new Map<string, Liveness | 'error'>();
  await Promise.all(
    [...clients].map(async ([n, c]) => {
      try {
        const s = await c.status();
        out.set(n.id, s.members.find((m) => m.nodeId === target)?.liveness ?? Liveness.LIVENESS_UNSPECIFIED);
      } catch {
        out.set(n.id, 'error');
      }
    }),
  );
  return out;
}

/** measuredInterval derives the gossip period from how fast a node's own heartbeat advances. */
async function measuredInterval(node: TestNode): Promise<number> {
  const c = node.client({ attempts: 1 });
  try {
    const hb = async () => Number((await c.status()).members.find((m) => m.nodeId === node.id)!.heartbeat);
    const h0 = await hb();
    const t0 = Date.now();
    let h1 = h0;
    await eventually(async () => (h1 = await hb()) >= h0 + 20, { timeoutMs: 20_000, intervalMs: 20, what: '20 gossip rounds' });
    return (Date.now() - t0) / (h1 - h0);
  } finally {
    c.close();
  }
}

async function allUp(cluster: Cluster): Promise<void> {
  await eventually(
    async () => {
      for (const o of cluster.nodes) {
        const c = o.client({ attempts: 1, timeoutMs: 1_000 });
        try {
          const bad = (await c.status()).members.filter((m) => m.liveness !== Liveness.LIVENESS_UP);
          if (bad.length) throw new Error(`${o.id} sees ${bad.map((m) => `${m.nodeId} ${Liveness[m.liveness]}`).join(', ')}`);
        } finally {
          c.close();
        }
      }
    },
    { timeoutMs: 30_000, intervalMs: 100, what: 'every node sees every node UP' },
  );
}

/** detail is one kill's per-observer times, for stderr. */
const detail = (r: Rep) =>
  [...r.down.keys()].sort().map((id) => `${id}: SUSPECT ${fmt(r.suspect.get(id) ?? NaN)} DOWN ${fmt(r.down.get(id)!)} UP ${fmt(r.up.get(id) ?? NaN)}`).join(', ');

const logCount = (n: TestNode, from: number, re: RegExp) => n.logs.slice(from).filter((l) => re.test(l)).length;

async function oneRep(cluster: Cluster, victim: TestNode, repeat: boolean): Promise<Rep> {
  const observers = cluster.nodes.filter((n) => n !== victim);
  const clients = new Map(observers.map((o) => [o, o.client({ attempts: 1, timeoutMs: 1_000 })] as const));
  const logFrom = new Map(observers.map((o) => [o, o.logs.length] as const));
  const rep: Rep = { victim: victim.id, repeat, suspect: new Map(), down: new Map(), up: new Map(), serving: 0, flaps: [] };
  const flapped = new Set<string>();
  try {
    // Kill, then poll until every observer has reported DOWN.
    const killedAt = Date.now();
    await victim.kill('SIGKILL');
    while (rep.down.size < observers.length) {
      if (Date.now() - killedAt > DOWN_WITHIN_MS) throw new Error(`${victim.id} not DOWN everywhere within ${DOWN_WITHIN_MS} ms`);
      const seen = await livenessEverywhere(clients, victim.id);
      const t = Date.now() - killedAt;
      for (const [id, l] of seen) {
        if ((l === Liveness.LIVENESS_SUSPECT || l === Liveness.LIVENESS_DOWN) && !rep.suspect.has(id)) rep.suspect.set(id, t);
        if (l === Liveness.LIVENESS_DOWN && !rep.down.has(id)) rep.down.set(id, t);
        if (l !== Liveness.LIVENESS_DOWN && rep.down.has(id) && !flapped.has(id)) {
          flapped.add(id);
          rep.flaps.push(`${id} back to ${l === 'error' ? l : Liveness[l]} before restart`);
        }
      }
      await sleep(POLL_MS);
    }
    // Restart, then poll until every observer reports UP.
    const restartedAt = Date.now();
    await victim.start();
    rep.serving = Date.now() - restartedAt;
    while (rep.up.size < observers.length) {
      if (Date.now() - restartedAt > UP_WITHIN_MS) throw new Error(`${victim.id} not UP everywhere within ${UP_WITHIN_MS} ms of its restart`);
      const seen = await livenessEverywhere(clients, victim.id);
      const t = Date.now() - restartedAt;
      for (const [id, l] of seen) if (l === Liveness.LIVENESS_UP && !rep.up.has(id)) rep.up.set(id, t);
      await sleep(POLL_MS);
    }
    await allUp(cluster);
    for (const o of observers) {
      const downs = logCount(o, logFrom.get(o)!, new RegExp(`\\] ${victim.id} is DOWN`));
      const ups = logCount(o, logFrom.get(o)!, new RegExp(`\\] ${victim.id} is UP again`));
      if (downs !== 1 || ups !== 1) rep.flaps.push(`${o.id} logged DOWN ${downs}x, UP again ${ups}x`);
      const others = logCount(o, logFrom.get(o)!, /is DOWN/) - downs;
      if (others > 0) rep.flaps.push(`${o.id} declared ${others} other node(s) DOWN`);
    }
    return rep;
  } finally {
    for (const c of clients.values()) c.close();
    if (!victim.running) await victim.start();
  }
}

async function measure(size: number, interval: string): Promise<Row> {
  const extra = interval === HARNESS_INTERVAL ? [] : ['--gossip-interval', interval];
  process.stderr.write(`cluster of ${size}, gossip interval ${interval}${extra.length ? ` (appended: ${extra.join(' ')})` : ' (harness default flag)'}...\n`);
  const cluster = await Cluster.start(size, extra);
  try {
    await allUp(cluster);
    const measuredIntervalMs = await measuredInterval(cluster.nodes[0]);
    // A different victim each repetition (never the same node twice in a row), then the first one again.
    const order = [...cluster.nodes.slice(1), cluster.nodes[0]];
    const reps: Rep[] = [];
    for (let i = 0; i < REPS; i++) {
      const r = await oneRep(cluster, order[i % order.length], false);
      process.stderr.write(`  kill ${r.victim}: all DOWN ${fmt(Math.max(...r.down.values()))} s, all UP ${fmt(Math.max(...r.up.values()))} s [${detail(r)}]${r.flaps.length ? `; ${r.flaps.join('; ')}` : ''}\n`);
      reps.push(r);
    }
    const again = await oneRep(cluster, order[0], true);
    process.stderr.write(`  kill ${again.victim} again: all DOWN ${fmt(Math.max(...again.down.values()))} s, all UP ${fmt(Math.max(...again.up.values()))} s [${detail(again)}]${again.flaps.length ? `; ${again.flaps.join('; ')}` : ''}\n`);
    reps.push(again);
    return { interval, measuredIntervalMs, size, reps };
  } finally {
    await cluster.stop();
  }
}

function table(rows: Row[]): string {
  const out = [
    `| gossip interval (flag / measured) | nodes | kills | per-node SUSPECT s min / median / max | per-node DOWN s min / median / max | all DOWN s median / max | restart→serving s median | per-node UP s min / median / max | all UP s median / max | flaps |`,
    `| --- | ---: | ---: | --- | --- | --- | --- | --- | --- | --- |`,
  ];
  const line = (r: Row, reps: Rep[], label: string) => {
    const suspect = reps.flatMap((x) => [...x.suspect.values()]);
    const down = reps.flatMap((x) => [...x.down.values()]);
    const up = reps.flatMap((x) => [...x.up.values()]);
    const allDown = reps.map((x) => Math.max(...x.down.values()));
    const allUp = reps.map((x) => Math.max(...x.up.values()));
    const flaps = reps.flatMap((x) => x.flaps);
    out.push(
      `| ${r.interval} / ${r.measuredIntervalMs.toFixed(0)} ms | ${r.size} | ${label} | ${mmm(suspect)} | ${mmm(down)} | ${fmt(median(allDown))} / ${fmt(Math.max(...allDown))} | ${fmt(median(reps.map((x) => x.serving)))} | ${mmm(up)} | ${fmt(median(allUp))} / ${fmt(Math.max(...allUp))} | ${flaps.length ? flaps.join('; ') : 'none'} |`,
    );
  };
  for (const r of rows) {
    const fresh = r.reps.filter((x) => !x.repeat);
    line(r, fresh, `${fresh.length} (${fresh.map((x) => x.victim).join(', ')})`);
    const again = r.reps.filter((x) => x.repeat);
    if (again.length) line(r, again, `1 (${again[0].victim} again)`);
  }
  return out.join('\n');
}

const rows: Row[] = [];
for (const interval of INTERVALS) for (const size of SIZES) rows.push(await measure(size, interval));

process.stdout.write(`\n## Failure detection after kill -9 (real processes on 127.0.0.1; Status polled every ${POLL_MS} ms)\n\n`);
process.stdout.write(
  `Times in seconds: SUSPECT / DOWN from the kill, UP from the restart command (spawn; includes process start, column "restart→serving"). ` +
    `"per-node" pools every observer of every kill; "all" is when the last observer agreed. ` +
    `The harness starts nodes with --gossip-interval ${HARNESS_INTERVAL}; other intervals are appended after it (node:util parseArgs: the last value wins), ` +
    `and "measured" is the period of a node's own heartbeat counter in Admin.Status. phi threshold 8 (default).\n\n`,
);
process.stdout.write(table(rows) + '\n');
