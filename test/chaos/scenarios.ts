/**
 * The chaos scenarios of TESTING.md's fault matrix on real processes in network namespaces:
 * T1 (no faults), T2 (partitions of every shape), T4 (kill -9 and restart), T6 (SIGSTOP /
 * SIGCONT), T8 (wiped data directory), T11 (hinted handoff, read from the restarted node
 * alone) and T15 (delay and loss on internode links, through the proxies).
 *
 * Each phase runs the recorded load on its own hot keys while its faults are injected, then
 * heals everything, waits for the hints to drain and the replicas to agree (the time this takes
 * is reported), reads the final state at R = ALL and runs the history checkers on the phase's
 * keys. After the last phase the same is done for every key of the run, so damage one phase
 * does to an earlier phase's keys (a wiped directory, say) is caught too. Nothing here stops at
 * the first finding: every phase runs and everything found goes to the report; the caller
 * asserts afterwards.
 *
 * Pauses in the fault schedule (how long a partition or a dead node lasts) are the schedule
 * itself, not waits for a condition; every condition is polled with a deadline (eventually).
 */
import { closeSync, cpSync, mkdirSync, openSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { SeededRandom } from '../../src/time/random.js';
import { decodeContext } from '../../src/storage/record-codec.js';
import { Liveness } from '../../src/generated/dkv/v1/admin.js';
import {
  checkStrictReads,
  checkStrictWriteQuorum,
  checkWatchCompleteness,
  type QuorumModel,
  type WatchEvent,
  checkConvergence,
  checkNoDominatedSiblings,
  checkNoLostWrites,
  checkNoPhantoms,
  staleReadFraction,
  summarize,
  type CheckResult,
  type Operation,
  type SummaryJson,
  type Violation,
} from '../checkers/index.js';
import { eventually } from '../helpers/eventually.js';
import { preferenceOf } from '../helpers/inspect.js';
import type { CrashPointName } from '../../src/node/crash-point.js';
import { ChaosCluster, type ChaosClusterOptions } from './cluster.js';
import type { NsNode } from './netns.js';
import { Workload, type OpCounts } from './workload.js';
import { clock } from './netns.js';

/** MIX: faults of T2, T4, T6 and T8 drawn at random, a partition and a process fault at once. */
export type Scenario = 'T1' | 'T2' | 'T3' | 'T4' | 'T5' | 'T6' | 'T8' | 'T11' | 'T13' | 'T14' | 'T15' | 'MIX';
export const ALL_SCENARIOS: Scenario[] = ['T1', 'T2', 'T3', 'T4', 'T5', 'T6', 'T8', 'T11', 'T13', 'T14', 'T15', 'MIX'];

/** Scale: the schedule's durations (ms) and counts. */
export interface Scale {
  loadMs: number;
  partitionMs: [number, number];
  partitionGapMs: number;
  kills: number;
  upMs: [number, number];
  deadMs: [number, number];
  stopMs: [number, number];
  wipeLoadMs: number;
  t11Keys: number;
  /** t13Keys: keys written before the moves so that the streams carry data. */
  t13Keys: number;
  delayMs: number;
  lossMs: number;
  mixMs: number;
  clients: number;
}

export const CI_SCALE: Scale = {
  loadMs: 10_000,
  partitionMs: [5_000, 7_000],
  partitionGapMs: 1_500,
  kills: 3,
  upMs: [2_000, 3_000],
  deadMs: [3_000, 3_000],
  stopMs: [5_000, 7_000],
  wipeLoadMs: 5_000,
  t11Keys: 100,
  t13Keys: 200,
  delayMs: 8_000,
  lossMs: 6_000,
  mixMs: 30_000,
  clients: 4,
};

export const SOAK_SCALE: Scale = {
  loadMs: 20_000,
  partitionMs: [10_000, 10_000],
  partitionGapMs: 2_000,
  kills: 6,
  upMs: [10_000, 20_000],
  deadMs: [5_000, 5_000],
  stopMs: [5_000, 15_000],
  wipeLoadMs: 10_000,
  t11Keys: 100,
  t13Keys: 500,
  delayMs: 20_000,
  lossMs: 10_000,
  mixMs: 90_000,
  clients: 4,
};

/** Convergence bound after the final heal (T2: 30 s); T1 additionally reports the 5 s bound. */
const CONVERGE_WITHIN_MS = 30_000;
const T4_SERVE_WITHIN_MS = 5_000;
/** A wiped node rejoins as a new member (JOINING, streaming its ranges): allow it this long. */
const JOIN_WITHIN_MS = 90_000;

/** Event kinds that record the schedule's progress or a recovery rather than a fault. */
export const NOT_FAULTS: ReadonlySet<string> = new Set(['join', 'joined', 'decommission', 'left', 'cleanup', 'space-returned', 'heal', 'serving', 'not-serving', 'hints-drained', 'down', 'writes', 'links-clean', 'none', 'restart', 'sigcont', 'rejoined', 'write-through-wiped']);

export interface FaultEvent {
  at: number;
  phase: string;
  kind: string;
  detail: string;
}

/** Check: a scenario-specific pass criterion besides the history checkers. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** asserted: false for figures that are reported only. */
  asserted: boolean;
}

export interface PhaseResult {
  name: string;
  scenario: Scenario | 'final';
  startedAt: string;
  durationMs: number;
  faults: FaultEvent[];
  ops: OpCounts;
  keys: number;
  lost: number;
  phantoms: number;
  dominated: number;
  divergentKeys: number;
  unreadableKeys: string[];
  staleReadFraction: number;
  /**
   * convergeMs: from the heal (load stopped, faults undone) to hints drained and replicas
   * identical; -1 = not within 30 s of the ring being whole again.
   */
  convergeMs: number;
  /** ringMs: from the heal to every node agreeing on a ring of every node (a wiped node rejoins). */
  ringMs: number;
  checks: Check[];
  summary: SummaryJson;
  summaryText: string;
  /** error: a step of the phase that threw (a harness or liveness failure). */
  error?: string;
  evidence: string[];
  ok: boolean;
}

export interface RunOptions {
  seed?: number;
  scale?: Scale;
  log?: (line: string) => void;
  cluster?: ChaosClusterOptions;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const iso = (ms: number) => new Date(ms).toISOString();
const errMsg = (e: unknown) => (e instanceof Error ? e.message : String(e));

export class ChaosRun {
  readonly seed: number;
  readonly random: SeededRandom;
  readonly scale: Scale;
  readonly events: FaultEvent[] = [];
  readonly phases: PhaseResult[] = [];
  readonly startedAt = Date.now();
  private iteration = new Map<Scenario, number>();
  /** crashesSeen: per node, how many of its crashes a phase has already reported. */
  private readonly crashesSeen = new Map<string, number>();
  private workload!: Workload;
  /** excluded: nodes the load leaves alone for now (T5 arms one for a crash on a chosen write). */
  private readonly excluded = new Set<NsNode>();
  private log: (line: string) => void;

  private constructor(
    readonly cluster: ChaosCluster,
    o: RunOptions,
    seed: number,
  ) {
    this.seed = seed;
    this.random = new SeededRandom(seed);
    this.scale = o.scale ?? CI_SCALE;
    this.log = o.log ?? (() => undefined);
    this.workload = new Workload(cluster.agent, new SeededRandom(seed ^ 0x5bd1e995));
  }

  static async start(o: RunOptions = {}): Promise<ChaosRun> {
    const seed = o.seed ?? (Math.random() * 2 ** 31) >>> 0;
    const log = o.log ?? (() => undefined);
    const cluster = await ChaosCluster.start({
      nodes: 5,
      spares: 1,
      proxy: true,
      args: ['--hinted-handoff', 'on', '--anti-entropy-interval', '2s'],
      log,
      ...o.cluster,
    });
    return new ChaosRun(cluster, o, seed);
  }

  get history(): Operation[] {
    return this.workload.rec.history();
  }

  private rand(lo: number, hi: number): number {
    return lo + this.random.int(hi - lo + 1);
  }

  private pickNode(from: NsNode[] = this.cluster.nodes): NsNode {
    return from[this.random.int(from.length)];
  }

  private shuffled(xs: number[]): number[] {
    const a = [...xs];
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.random.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }

  private event(phase: string, kind: string, detail: string): void {
    const e = { at: Date.now(), phase, kind, detail };
    this.events.push(e);
    this.log(`  ${iso(e.at)} ${phase} ${kind} ${detail}`);
  }

  /** healAll: links restored, no delay, stopped nodes continued, dead nodes restarted. */
  private async healAll(phase: string): Promise<void> {
    if (this.cluster.topo.activeRules().length > 0) this.event(phase, 'heal', `flush ${this.cluster.topo.activeRules().length} DROP rules`);
    await this.cluster.topo.heal();
    if (this.cluster.opts.proxy) await this.cluster.setLinks({ delayMs: 0, jitterMs: 0, loss: 0 });
    for (const n of this.cluster.nodes) {
      if (n.running && n.paused) {
        await n.signal('SIGCONT');
        this.event(phase, 'sigcont', n.id);
      }
      if (!n.running) {
        await this.cluster.restart(n);
        this.event(phase, 'restart', n.id);
      }
    }
  }

  // ---------------------------------------------------------------- scenarios

  async run(scenario: Scenario): Promise<PhaseResult> {
    const it = (this.iteration.get(scenario) ?? 0) + 1;
    this.iteration.set(scenario, it);
    const name = `${scenario}.${it}`;
    const body = {
      T1: (p: PhaseCtx) => this.t1(p),
      T2: (p: PhaseCtx) => this.t2(p),
      T3: (p: PhaseCtx) => this.t2(p),
      T4: (p: PhaseCtx) => this.t4(p),
      T6: (p: PhaseCtx) => this.t6(p),
      T8: (p: PhaseCtx) => this.t8(p),
      T11: (p: PhaseCtx) => this.t11(p),
      T15: (p: PhaseCtx) => this.t15(p),
      T14: (p: PhaseCtx) => this.t14(p),
      T5: (p: PhaseCtx) => this.t5(p),
      T13: (p: PhaseCtx) => this.t13(p),
      MIX: (p: PhaseCtx) => this.mix(p),
    }[scenario];
    return this.phase(name, scenario, body);
  }

  private async t1(p: PhaseCtx): Promise<void> {
    this.event(p.name, 'none', `load only for ${this.scale.loadMs} ms`);
    await sleep(this.scale.loadMs);
  }

  private async t2(p: PhaseCtx): Promise<void> {
    const topo = this.cluster.topo;
    const all = this.cluster.nodes.map((n) => n.opts.number);
    const shapes: [string, () => Promise<string>][] = [
      [
        'alone',
        async () => {
          const k = all[this.random.int(all.length)];
          await topo.isolate(k);
          return `{${k}} / rest`;
        },
      ],
      [
        'majority-minority',
        async () => {
          const s = this.shuffled(all);
          const minority = s.slice(0, 2).sort();
          const majority = s.slice(2).sort();
          await topo.majorityMinority(minority);
          return `{${minority}} / {${majority}}`;
        },
      ],
      [
        'bridge',
        async () => {
          const s = this.shuffled(all);
          const a = s.slice(0, 3).sort();
          const b = s.slice(2).sort();
          await topo.bridge(a, b);
          return `{${a}} / {${b}} (bridge ${s[2]})`;
        },
      ],
      [
        'one-way',
        async () => {
          const k = all[this.random.int(all.length)];
          const deaf = this.random.next() < 0.5;
          // deaf: k receives nothing from the others (its packets still leave); mute: the reverse.
          for (const j of all) if (j !== k) await (deaf ? topo.oneWay(j, k) : topo.oneWay(k, j));
          return deaf ? `nothing reaches ${k} from the others` : `nothing from ${k} reaches the others`;
        },
      ],
    ];
    for (const [shape, apply] of shapes) {
      const ms = this.rand(...this.scale.partitionMs);
      const detail = await apply();
      this.event(p.name, `partition:${shape}`, `${detail} for ${ms} ms`);
      await sleep(ms);
      await topo.heal();
      this.event(p.name, 'heal', shape);
      await sleep(this.scale.partitionGapMs);
    }
  }

  private async t4(p: PhaseCtx): Promise<void> {
    const serveTimes: number[] = [];
    for (let k = 0; k < this.scale.kills; k++) {
      await sleep(this.rand(...this.scale.upMs));
      const victim = this.pickNode();
      await victim.signal('SIGKILL');
      this.event(p.name, 'kill -9', `${victim.id} (pid ${victim.pid})`);
      await sleep(this.rand(...this.scale.deadMs));
      const t0 = Date.now();
      await this.cluster.restart(victim);
      this.event(p.name, 'restart', `${victim.id} (pid ${victim.pid})`);
      // Serving again = it coordinates a Get over its full preference list (receipt n = 3).
      try {
        await eventually(
          async () => {
            const r = await this.cluster.agent.get(victim.address, `${p.name}:probe`, { level: 'quorum' }, 1_000);
            if (r.receipt?.n !== 3) throw new Error(`${victim.id} answers with N = ${r.receipt?.n}`);
          },
          { timeoutMs: 15_000, intervalMs: 50, what: `${victim.id} serving after restart` },
        );
        serveTimes.push(Date.now() - t0);
        this.event(p.name, 'serving', `${victim.id} ${Date.now() - t0} ms after restart`);
      } catch (e) {
        serveTimes.push(-1);
        this.event(p.name, 'not-serving', errMsg(e));
      }
    }
    const worst = serveTimes.some((t) => t < 0) ? -1 : Math.max(0, ...serveTimes);
    p.checks.push({
      name: 'T4 restarted node serving within 5 s',
      ok: worst >= 0 && worst < T4_SERVE_WITHIN_MS,
      detail: `restart -> serving ${serveTimes.join(' / ')} ms`,
      asserted: true,
    });
  }

  private async t6(p: PhaseCtx): Promise<void> {
    await sleep(this.rand(1_000, 2_000));
    const victim = this.pickNode();
    const ms = this.rand(...this.scale.stopMs);
    const t0 = Date.now();
    await victim.signal('SIGSTOP');
    this.event(p.name, 'sigstop', `${victim.id} for ${ms} ms`);
    await sleep(ms);
    await victim.signal('SIGCONT');
    const t1 = Date.now();
    this.event(p.name, 'sigcont', victim.id);
    let upMs = -1;
    try {
      upMs = await this.cluster.waitLiveness(victim.id, Liveness.LIVENESS_UP, 15_000);
    } catch (e) {
      p.evidence.push(errMsg(e));
    }
    await sleep(1_000);
    const observers = this.cluster.nodes.filter((n) => n !== victim);
    const downs = observers.map((o) => o.logsBetween(t0, Date.now()).filter((l) => l.includes(`${victim.id} is DOWN`)).length);
    const ups = observers.map((o) => o.logsBetween(t0, Date.now()).filter((l) => l.includes(`${victim.id} is UP again`)).length);
    const selfDowns = victim.logsBetween(t1, Date.now()).filter((l) => / is DOWN/.test(l)).length;
    p.checks.push({
      name: 'T6 marked down and back up once each (no flapping)',
      ok: downs.every((d) => d <= 1) && ups.every((u) => u <= 1) && downs.reduce((a, b) => a + b, 0) === ups.reduce((a, b) => a + b, 0) && upMs >= 0,
      detail: `${victim.id} stopped ${ms} ms; per observer DOWN ${downs.join('/')}, UP again ${ups.join('/')}; UP everywhere ${upMs} ms after SIGCONT; the stopped node declared ${selfDowns} peer(s) down after SIGCONT`,
      asserted: false,
    });
  }

  private async t8(p: PhaseCtx): Promise<void> {
    await sleep(this.scale.wipeLoadMs);
    const victim = this.pickNode();
    const before = Number((await this.cluster.agent.status(victim.address)).incarnation);
    await victim.signal('SIGKILL');
    victim.wipe();
    this.event(p.name, 'kill -9 + wipe', `${victim.id}: data directory deleted`);
    const t0 = Date.now();
    await this.cluster.restart(victim);
    this.event(p.name, 'restart', `${victim.id} on an empty directory`);
    // It rejoins the ring (JOINING, streaming its ranges, then NORMAL): a ring change, not a fault.
    await this.cluster.waitRing(this.cluster.nodes.filter((n) => n.available), JOIN_WITHIN_MS);
    this.event(p.name, 'rejoined', `${victim.id} owns tokens again, every node agrees on the ring, ${Date.now() - t0} ms after its restart`);
    const after = Number((await this.cluster.agent.status(victim.address)).incarnation);
    // A new blind write through the wiped node, at W = 1, on every hot key: it must be kept.
    let acked = 0;
    for (const key of p.keys) {
      const op = await this.workload.put(p.name, `${p.name}/wiped`, victim, key, undefined, 1);
      if (op.outcome === 'ok') acked++;
    }
    this.event(p.name, 'write-through-wiped', `${acked}/${p.keys.length} blind W=1 writes via ${victim.id} acknowledged`);
    p.checks.push({
      name: 'T8 wiped node takes a new incarnation',
      ok: after > before,
      detail: `${victim.id} incarnation ${before} -> ${after}`,
      asserted: false,
    });
    await sleep(this.scale.wipeLoadMs);
  }

  private async t11(p: PhaseCtx): Promise<void> {
    await sleep(1_000);
    const victim = this.pickNode();
    const ring = await this.cluster.fullRing();
    const keys: string[] = [];
    for (let i = 0; keys.length < this.scale.t11Keys && i < 20 * this.scale.t11Keys; i++) {
      const k = `${p.name}:t11:${i}`;
      if (preferenceOf(ring, k).includes(victim.id)) keys.push(k);
    }
    await victim.signal('SIGKILL');
    this.event(p.name, 'kill -9', `${victim.id} (a replica of ${keys.length} T11 keys)`);
    await this.cluster.waitLiveness(victim.id, Liveness.LIVENESS_DOWN, 20_000);
    this.event(p.name, 'down', `${victim.id} DOWN everywhere`);
    const others = this.cluster.nodes.filter((n) => n !== victim);
    const acked: string[] = [];
    const values = new Map<string, string>();
    for (const k of keys) {
      const op = await this.workload.put(p.name, `${p.name}/t11`, this.pickNode(others), k);
      if (op.outcome === 'ok') {
        acked.push(k);
        values.set(k, op.value!);
      }
    }
    this.event(p.name, 'writes', `${acked.length}/${keys.length} T11 keys acknowledged at W = 2 while ${victim.id} is down`);
    await this.cluster.restart(victim);
    this.event(p.name, 'restart', victim.id);
    const t0 = Date.now();
    let drained = true;
    try {
      await eventually(
        async () => {
          const left = (await this.cluster.hintsLeft()).filter((h) => h.includes(`->${victim.id}:`));
          if (left.length) throw new Error(`hints for ${victim.id} left: ${left.join(', ')}`);
        },
        { timeoutMs: 30_000, intervalMs: 250, what: `hints for ${victim.id} delivered` },
      );
      this.event(p.name, 'hints-drained', `every hint for ${victim.id} delivered ${Date.now() - t0} ms after its restart`);
    } catch (e) {
      drained = false;
      p.evidence.push(errMsg(e));
    }
    // Read from the restarted node alone: cut it off from every other node, read at R = 1.
    await this.cluster.topo.isolate(victim.opts.number);
    this.event(p.name, 'partition:alone', `${victim.id} isolated to read from it alone`);
    const missing: string[] = [];
    for (const k of acked) {
      try {
        const r = await this.cluster.agent.get(victim.address, k, { r: 1 }, 3_000);
        if (!r.values.includes(values.get(k)!)) missing.push(`${k}: read ${JSON.stringify(r.values)}`);
      } catch (e) {
        missing.push(`${k}: ${errMsg(e)}`);
      }
    }
    await this.cluster.topo.heal();
    this.event(p.name, 'heal', `${victim.id}`);
    p.checks.push({
      name: 'T11 hinted writes readable from the restarted node alone',
      ok: drained && missing.length === 0 && acked.length > 0,
      detail: `${acked.length - missing.length}/${acked.length} acknowledged keys read from ${victim.id} alone${drained ? '' : '; hints not drained in 30 s'}${missing.length ? `; missing: ${missing.slice(0, 5).join('; ')}` : ''}`,
      asserted: true,
    });
  }

  /**
   * t5: crash points. For each point a node is restarted with DKV_CRASH_AT=<point>:<count>
   * (src/node/crash-point.ts), the window is provoked under the load, and the node kills itself
   * with SIGKILL inside it; then it restarts normally. Asserted for each: the node did crash
   * there (within 60 s), its LevelDB opened again (it printed its serving line, no log line
   * mentions corruption) and it serves a read coordinated over its full preference list; the
   * history checkers then require 0 lost acknowledged writes, as in T4.
   */
  private async t5(p: PhaseCtx): Promise<void> {
    type Arm = { point: CrashPointName; count: number };
    const points: Array<Arm & { wipe?: boolean; args?: string[]; before?: { arm: Arm; provoke: (victim: NsNode) => Promise<void> }; provoke: (victim: NsNode) => Promise<void> }> = [
      // A primary coordinating a write. The load works on 4 hot keys, and in about 3% of
      // phases the victim is a primary of none of them (it then forwards every write): the
      // test also writes keys the victim is a primary of through it, until it is gone.
      {
        point: 'coordinator.local-written',
        count: 5,
        provoke: async (victim) => {
          for (const k of await this.victimKeys(p, victim, 't5c', 10)) {
            if (!victim.running) break;
            await this.putRetried(p, `${p.name}/coordinated`, victim, k, 2, 2_000);
          }
        },
      },
      // The victim holds hints for another node B: B dies, writes through the victim on keys both
      // are primaries of, B comes back, the victim replays.
      {
        point: 'hints.delivered',
        count: 1,
        provoke: async (victim) => {
          const b = this.pickNode(this.cluster.nodes.filter((n) => n !== victim));
          const ring = await this.cluster.fullRing();
          const keys: string[] = [];
          for (let i = 0; keys.length < 20 && i < 2_000; i++) {
            const k = `${p.name}:t5h:${i}`;
            const pref = preferenceOf(ring, k);
            if (pref.includes(victim.id) && pref.includes(b.id)) keys.push(k);
          }
          await b.signal('SIGKILL');
          this.event(p.name, 'kill -9', `${b.id}, so that ${victim.id} holds hints for it`);
          let acked = 0;
          const errors = new Set<string>();
          for (const k of keys) {
            const r = await this.putRetried(p, `${p.name}/hinted`, victim, k);
            if (r.ok) acked++;
            for (const e of r.errors) errors.add(e);
          }
          // A hint is kept once the write's call to B has failed, which can be after the
          // write was acknowledged (W = 2 is met without B). B comes back only after that:
          // a B restarted sooner can take the calls itself, and then there is nothing to replay.
          const held = async () => Number((await this.cluster.agent.status(victim.address)).hints.find((h) => h.target === b.id)?.count ?? 0);
          try {
            await eventually(
              async () => {
                if ((await held()) === 0) throw new Error(`${victim.id} holds no hint for ${b.id}`);
              },
              { timeoutMs: 15_000, intervalMs: 100, what: `${victim.id} holding hints for ${b.id}` },
            );
          } catch (e) {
            p.evidence.push(errMsg(e));
          }
          this.event(p.name, 'writes', `${acked}/${keys.length} writes through ${victim.id} acknowledged while ${b.id} is down; ${victim.id} holds ${await held()} hint(s) for it${errors.size ? `; errors: ${[...errors].slice(0, 3).map((x) => x.slice(0, 160)).join('; ')}` : ''}`);
          await this.cluster.restart(b);
          this.event(p.name, 'restart', `${b.id}: ${victim.id} replays its hints`);
        },
      },
      // A wiped node takes its tokens back and streams its ranges again.
      { point: 'stream.merged', count: 1, wipe: true, provoke: async () => undefined },
      // Mid-exchange. The node first crashes right after a local write of a key nobody reads
      // (meanwhile the load is kept off it and it is cut off from its peers, so that no
      // forwarded write comes first): a version only it holds, no hint anywhere, no read
      // repair. It restarts armed; the first exchange that finds that difference, its own or a
      // peer's, crashes it in the middle.
      {
        point: 'merkle.exchange',
        count: 1,
        args: ['--anti-entropy-interval', '300ms'],
        before: {
          arm: { point: 'coordinator.local-written', count: 1 },
          provoke: async (victim) => {
            const [k] = await this.victimKeys(p, victim, 't5m', 1);
            await this.putRetried(p, `${p.name}/local-only`, victim, k, 1);
          },
        },
        provoke: async () => undefined,
      },
    ];
    /** arm restarts the victim armed; the function it returns waits for the crash. */
    const arm = async (victim: NsNode, a: Arm, args: string[] = []): Promise<() => Promise<void>> => {
      const exits = victim.crashPointExits.length;
      const mark = this.workload.rec.count;
      await this.cluster.restart(victim, { DKV_CRASH_AT: `${a.point}:${a.count}` }, args);
      this.event(p.name, 'restart', `${victim.id} armed at ${a.point}:${a.count}${args.length ? ` (${args.join(' ')})` : ''}`);
      return () => eventually(
        async () => {
          if (victim.crashPointExits.length === exits) throw new Error(`${victim.id} has not reached ${a.point} ${a.count} time(s)`);
        },
        { timeoutMs: 60_000, intervalMs: 100, what: `${victim.id} crashing at ${a.point}` },
      ).then(
        () => this.event(p.name, `crash-point:${a.point}`, `${victim.id} killed itself (SIGKILL) at ${a.point}`),
        (e) => {
          throw new Error(`${errMsg(e)}; requests the test sent to ${victim.id} since its restart: ${this.workload.sentTo(victim.id, mark)}`);
        },
      );
    };
    for (const { point, count, wipe, args, before, provoke } of points) {
      await sleep(this.rand(...this.scale.upMs));
      const victim = this.pickNode();
      await victim.signal('SIGKILL');
      if (wipe) victim.wipe();
      this.event(p.name, wipe ? 'kill -9 + wipe' : 'kill -9', `${victim.id}, to restart it with DKV_CRASH_AT=${point}:${count}`);
      let crashed = false;
      try {
        if (before) {
          // Keep the load off the victim while it is armed for the first crash.
          this.excluded.add(victim);
          await this.cluster.topo.isolate(victim.opts.number);
          this.event(p.name, 'partition:alone', `${victim.id}: only the test's writes reach it`);
          try {
            const wait = await arm(victim, before.arm);
            await before.provoke(victim);
            await wait();
          } finally {
            this.excluded.delete(victim);
            await this.cluster.topo.heal();
            this.event(p.name, 'heal', victim.id);
          }
        }
        const wait = await arm(victim, { point, count }, args);
        await provoke(victim);
        await wait();
        crashed = true;
      } catch (e) {
        p.evidence.push(errMsg(e));
        if (victim.running) await victim.signal('SIGKILL');
      }
      await sleep(this.rand(...this.scale.deadMs));
      const t0 = Date.now();
      let reopened = '';
      try {
        await this.cluster.restart(victim);
        this.event(p.name, 'restart', `${victim.id} after its crash at ${point}`);
        const corrupt = victim.logsBetween(t0, Date.now() + 1_000).filter((l) => /corrupt|repair(ing|ed) (the )?(db|database|leveldb)/i.test(l));
        if (corrupt.length) reopened = `log mentions corruption: ${corrupt[0].slice(0, 200)}`;
      } catch (e) {
        reopened = `did not start again: ${errMsg(e).slice(0, 300)}`;
      }
      let servingMs = -1;
      if (!reopened)
        try {
          // A wiped node is still JOINING (streaming): it answers reads once it owns ranges again.
          await eventually(
            async () => {
              const r = await this.cluster.agent.get(victim.address, `${p.name}:probe`, {}, 2_000);
              if (Number(r.receipt?.n ?? 0) < 3) throw new Error(`receipt n = ${r.receipt?.n}`);
            },
            { timeoutMs: wipe ? JOIN_WITHIN_MS : 30_000, intervalMs: 100, what: `${victim.id} serving after its crash at ${point}` },
          );
          servingMs = Date.now() - t0;
        } catch (e) {
          reopened = errMsg(e);
        }
      if (wipe && !reopened)
        try {
          // It finishes the interrupted stream (resuming at its saved cursor) and owns its tokens again.
          await this.cluster.waitRing(this.cluster.nodes, JOIN_WITHIN_MS);
          this.event(p.name, 'rejoined', `${victim.id} owns tokens again, every node agrees on the ring`);
        } catch (e) {
          reopened = `did not finish rejoining: ${errMsg(e)}`;
        }
      p.checks.push({
        name: `T5 crash at ${point}: LevelDB reopens and the node serves again`,
        ok: crashed && !reopened && servingMs >= 0,
        detail: `${victim.id}: ${crashed ? `crashed at ${point} (${count}${count === 1 ? 'st' : 'th'} arrival)` : `NEVER reached ${point} within 60 s`}; ${reopened || `serving ${servingMs} ms after its restart`}`,
        asserted: true,
      });
    }
  }

  /**
   * t13: scale out and in under load. A spare node (its own namespace, never started) joins
   * through seeds while another node is cut off; once the ring has it, a member is asked to
   * decommission itself (SDK Admin.decommission, through the client worker) while a third node
   * is cut off; once it is LEFT it is stopped and becomes the spare (new id, empty directory).
   * Then every node runs cleanup (SDK Admin.cleanup) and each node's records of every key of
   * the run are compared with the keys' preference lists: every key a node holds must be on
   * all N of its replicas (polled, after hints drain) and on no other node.
   */
  private async t13(p: PhaseCtx): Promise<void> {
    const topo = this.cluster.topo;
    const spare = this.cluster.spares[0];
    if (!spare) {
      p.checks.push({ name: 'T13 skipped', ok: true, detail: 'no spare node in this cluster', asserted: false });
      return;
    }
    const writers = () => this.cluster.nodes.filter((n) => n.available);
    let acked = 0;
    for (let i = 0; i < this.scale.t13Keys; i++) if ((await this.workload.put(p.name, `${p.name}/bulk`, this.pickNode(writers()), `${p.name}:bulk:${i}`)).outcome === 'ok') acked++;
    this.event(p.name, 'writes', `${acked}/${this.scale.t13Keys} keys written before the moves`);

    // Join, with a partition while it streams.
    const t0 = Date.now();
    await spare.start(this.cluster.nodes.map((n) => n.advertised));
    this.event(p.name, 'join', `${spare.id} started with seeds: joining`);
    const cut1 = this.pickNode();
    await topo.isolate(cut1.opts.number);
    this.event(p.name, 'partition:alone', `${cut1.id} during the join, for ${this.scale.partitionMs[0]} ms`);
    await sleep(this.scale.partitionMs[0]);
    await topo.heal();
    this.event(p.name, 'heal', cut1.id);
    await this.cluster.waitRing([...this.cluster.nodes, spare], JOIN_WITHIN_MS, this.cluster.nodes.length + 1);
    this.cluster.spares.splice(this.cluster.spares.indexOf(spare), 1);
    this.cluster.nodes.push(spare);
    this.event(p.name, 'joined', `${spare.id} NORMAL, every node agrees on a ring of ${this.cluster.nodes.length}, ${Date.now() - t0} ms after its start`);

    // Decommission another member, with a partition while it streams.
    const leaving = this.pickNode(this.cluster.nodes.filter((n) => n !== spare));
    const t1 = Date.now();
    const d = await this.cluster.agent.decommission(leaving.address);
    this.event(p.name, 'decommission', `${leaving.id}: ${d.plan.length} range moves planned`);
    const cut2 = this.pickNode(this.cluster.nodes.filter((n) => n !== leaving));
    await topo.isolate(cut2.opts.number);
    this.event(p.name, 'partition:alone', `${cut2.id} during the decommission, for ${this.scale.partitionMs[0]} ms`);
    await sleep(this.scale.partitionMs[0]);
    await topo.heal();
    this.event(p.name, 'heal', cut2.id);
    const staying = this.cluster.nodes.filter((n) => n !== leaving);
    await this.cluster.waitRing(staying, JOIN_WITHIN_MS, staying.length);
    this.event(p.name, 'left', `${leaving.id} handed its ranges over and left the ring, ${Date.now() - t1} ms after the request`);
    await leaving.signal('SIGKILL');
    this.cluster.nodes.splice(this.cluster.nodes.indexOf(leaving), 1);
    // It becomes the spare: a new node next time (a new id, an empty directory).
    const gen = (leaving.opts.id.match(/r(\d+)$/)?.[1] ?? '1') as string;
    leaving.opts.id = `n${leaving.opts.number}r${Number(gen) + 1}`;
    leaving.opts.dataDir = join(this.cluster.dataRoot, leaving.opts.id);
    this.cluster.spares.push(leaving);

    // Cleanup everywhere, then every key where its preference list says.
    await this.cluster.waitHintsDrained(30_000);
    const cleaned: string[] = [];
    for (const n of this.cluster.nodes) {
      const c = await this.cluster.agent.cleanup(n.address);
      cleaned.push(`${n.id}: ${c.operation?.message ?? '?'}`);
    }
    this.event(p.name, 'cleanup', cleaned.join('; ').slice(0, 400));
    const keys = [...new Set(this.workload.rec.history().map((o) => o.key))];
    let placement = { missing: [] as string[], extra: [] as string[], held: 0 };
    const measure = async () => {
      const ring = await this.cluster.fullRing();
      const holders = new Map<string, Set<string>>();
      for (const n of this.cluster.nodes)
        for (let i = 0; i < keys.length; i += 200)
          for (const r of await this.cluster.agent.replicaRead(n.address, keys.slice(i, i + 200)))
            if (r.versions.length > 0) {
              let h = holders.get(r.key);
              if (!h) holders.set(r.key, (h = new Set()));
              h.add(n.id);
            }
      const missing: string[] = [];
      const extra: string[] = [];
      for (const [k, h] of holders) {
        const pref = preferenceOf(ring, k);
        for (const id of pref) if (!h.has(id)) missing.push(`${k} not on ${id}`);
        for (const id of h) if (!pref.includes(id)) extra.push(`${k} still on ${id}`);
      }
      return { missing, extra, held: holders.size };
    };
    try {
      await eventually(
        async () => {
          placement = await measure();
          if (placement.missing.length) throw new Error(`${placement.missing.length} replicas missing, e.g. ${placement.missing[0]}`);
        },
        { timeoutMs: 30_000, intervalMs: 500, what: 'every key on its N replicas' },
      );
    } catch (e) {
      p.evidence.push(errMsg(e));
    }
    p.checks.push({
      name: 'T13 every key on its N replicas after the join and the decommission',
      ok: placement.missing.length === 0 && placement.held > 0,
      detail: `${placement.held} keys of the run held; ${placement.missing.length} replicas missing${placement.missing.length ? ` (${placement.missing.slice(0, 5).join('; ')})` : ''}`,
      asserted: true,
    });
    p.checks.push({
      name: 'T13 no copy left outside the preference lists after cleanup',
      ok: placement.extra.length === 0,
      detail: `${placement.extra.length} copies outside${placement.extra.length ? ` (${placement.extra.slice(0, 5).join('; ')})` : ''}`,
      asserted: true,
    });
  }

  /**
   * putRetried writes `key` through `node` (a blind put at W = `w`) and, while the write is
   * refused, tries again every 100 ms for up to `ms`: right after a restart the test's own
   * client may still be backing off from the connection the kill broke, and a scenario that
   * needs the write must not depend on how fast it reconnects. Every attempt is recorded; a
   * node that exited (a crash point it was armed for) is not tried again.
   */
  private async putRetried(p: PhaseCtx, client: string, node: NsNode, key: string, w = 2, ms = 5_000): Promise<{ ok: boolean; errors: string[] }> {
    const until = Date.now() + ms;
    const errors: string[] = [];
    for (;;) {
      const op = await this.workload.put(p.name, client, node, key, undefined, w);
      if (op.outcome === 'ok') return { ok: true, errors };
      errors.push(this.workload.meta.get(op.id)?.error ?? op.outcome);
      if (Date.now() > until || !node.running) return { ok: false, errors };
      await sleep(100);
    }
  }

  /** victimKeys: `count` fresh keys of the phase that `victim` is a primary of. */
  private async victimKeys(p: PhaseCtx, victim: NsNode, tag: string, count: number): Promise<string[]> {
    const ring = await this.cluster.fullRing();
    const keys: string[] = [];
    for (let i = 0; keys.length < count && i < 50 * count; i++) {
      const k = `${p.name}:${tag}:${i}`;
      if (preferenceOf(ring, k).includes(victim.id)) keys.push(k);
    }
    return keys;
  }

  /**
   * t14: disk full on one node. Its data moves onto a small tmpfs of its own (kill -9, copy,
   * restart), a filler file takes every free byte, and under the load we also send W = 1
   * writes through it on keys it is a primary of (it writes locally first): each must fail
   * with RESOURCE_EXHAUSTED (STORAGE_FULL) or, if acknowledged, be found later (the lost-write
   * checker holds every probe). The node must keep running and answering. Then the filler is
   * deleted and the same kind of write through it must succeed again (polled). Finally the
   * node moves back to its own directory (kill -9, copy, restart).
   */
  private async t14(p: PhaseCtx): Promise<void> {
    await sleep(1_000);
    const victim = this.pickNode();
    const home = victim.opts.dataDir;
    const mnt = join(this.cluster.dataRoot, `${victim.id}-small-disk`);
    await victim.signal('SIGKILL');
    this.event(p.name, 'kill -9', `${victim.id}, to move its data onto a 48 MiB tmpfs`);
    this.cluster.topo.mountTmpfs(mnt, 48 * 1024 * 1024);
    const small = join(mnt, 'data');
    cpSync(home, small, { recursive: true });
    victim.opts.dataDir = small;
    const filler = join(mnt, 'filler');
    try {
      await this.cluster.restart(victim);
      this.event(p.name, 'restart', `${victim.id} on the small disk`);
      // Fill every free byte: 1 MiB writes, then 4 KiB ones, until ENOSPC.
      const fd = openSync(filler, 'w');
      let filled = 0;
      try {
        for (const chunk of [Buffer.alloc(1 << 20, 1), Buffer.alloc(4096, 1), Buffer.alloc(64, 1)])
          for (;;) {
            try {
              filled += writeSync(fd, chunk);
            } catch (e) {
              if ((e as NodeJS.ErrnoException).code === 'ENOSPC') break;
              throw e;
            }
          }
      } finally {
        closeSync(fd);
      }
      this.event(p.name, 'disk-full', `${victim.id}: a ${(filled / 2 ** 20).toFixed(1)} MiB filler took every free byte of its disk`);
      // The client's channel to the restarted node must be up before the probes judge errors.
      await eventually(() => this.cluster.agent.status(victim.address), { timeoutMs: 15_000, intervalMs: 200, what: `${victim.id} answers Status on its small disk` });
      const probes = await this.victimKeys(p, victim, 't14', 40);
      const outcomes: string[] = [];
      let exhausted = 0;
      let otherErrors = 0;
      let acked = 0;
      for (const k of probes) {
        const op = await this.workload.put(p.name, `${p.name}/full`, victim, k, undefined, 1);
        const err = this.workload.meta.get(op.id)?.error ?? '';
        if (op.outcome === 'ok') acked++;
        else if (/^RESOURCE_EXHAUSTED/.test(err)) exhausted++;
        else {
          otherErrors++;
          if (outcomes.length < 3) outcomes.push(`${k}: ${err.slice(0, 160)}`);
        }
        await sleep(50);
      }
      const status = await this.cluster.agent.status(victim.address).then(
        () => 'answers Status',
        (e) => `Status failed: ${errMsg(e)}`,
      );
      this.event(p.name, 'writes', `${probes.length} W=1 writes via full ${victim.id}: ${exhausted} RESOURCE_EXHAUSTED, ${acked} acknowledged, ${otherErrors} other errors`);
      p.checks.push({
        name: 'T14 writes through the full node fail with RESOURCE_EXHAUSTED, never acknowledged as its only copy',
        ok: exhausted > 0 && otherErrors === 0 && victim.running && status === 'answers Status',
        detail: `${probes.length} W=1 writes via ${victim.id} (a primary of each key): ${exhausted} RESOURCE_EXHAUSTED, ${acked} acknowledged (each held by the lost-write checker), ${otherErrors} other errors${outcomes.length ? ` (${outcomes.join('; ')})` : ''}; the node ${victim.running ? 'runs' : 'DIED'} and ${status}`,
        asserted: true,
      });
      await sleep(Math.max(1_000, this.scale.wipeLoadMs / 2));
      unlinkSync(filler);
      this.event(p.name, 'space-returned', `${victim.id}: filler deleted`);
      const t0 = Date.now();
      let recovered = -1;
      let last = '';
      try {
        const again = await this.victimKeys(p, victim, 't14-after', 200);
        let i = 0;
        await eventually(
          async () => {
            const k = again[i++ % again.length];
            const op = await this.workload.put(p.name, `${p.name}/recovered`, victim, k, undefined, 1);
            if (op.outcome !== 'ok') throw new Error((last = this.workload.meta.get(op.id)?.error ?? op.outcome));
          },
          { timeoutMs: 30_000, intervalMs: 250, what: `a W=1 write via ${victim.id} once space returned` },
        );
        recovered = Date.now() - t0;
      } catch (e) {
        p.evidence.push(errMsg(e));
      }
      p.checks.push({
        name: 'T14 the node recovers when space returns',
        ok: recovered >= 0 && victim.running,
        detail: recovered >= 0 ? `a W=1 write via ${victim.id} acknowledged ${recovered} ms after the filler was deleted` : `no W=1 write via ${victim.id} acknowledged within 30 s of the filler's deletion (last: ${last.slice(0, 200)})`,
        asserted: true,
      });
      await sleep(Math.max(1_000, this.scale.wipeLoadMs / 2));
    } finally {
      rmSync(filler, { force: true });
      // Back to its own directory.
      await victim.signal('SIGKILL');
      rmSync(home, { recursive: true, force: true });
      mkdirSync(home, { recursive: true });
      cpSync(small, home, { recursive: true });
      victim.opts.dataDir = home;
      this.cluster.topo.umount(mnt);
      rmSync(mnt, { recursive: true, force: true });
      this.event(p.name, 'kill -9', `${victim.id}, to move its data back to its own directory`);
      await this.cluster.restart(victim);
      this.event(p.name, 'restart', victim.id);
    }
  }

  private async t15(p: PhaseCtx): Promise<void> {
    if (!this.cluster.opts.proxy) {
      p.checks.push({ name: 'T15 skipped', ok: true, detail: 'no proxies in this cluster', asserted: false });
      return;
    }
    await sleep(1_000);
    const t0 = Date.now();
    await this.cluster.setLinks({ delayMs: 75, jitterMs: 50, loss: 0 });
    this.event(p.name, 'delay', `75 ± 50 ms on every internode link for ${this.scale.delayMs} ms`);
    await sleep(this.scale.delayMs);
    const t1 = Date.now();
    await this.cluster.setLinks({ delayMs: 0, jitterMs: 0, loss: 0.5 });
    this.event(p.name, 'loss', `50% loss (as retransmission delays) on every internode link for ${this.scale.lossMs} ms`);
    await sleep(this.scale.lossMs);
    await this.cluster.setLinks({ delayMs: 0, jitterMs: 0, loss: 0 });
    const t2 = Date.now();
    this.event(p.name, 'links-clean', 'delay and loss off');
    // Only declarations about current members count: a node that left the ring (T13) and was
    // stopped is rightly declared DOWN whenever its former peers get to it.
    const members = new Set(this.cluster.nodes.map((n) => n.id));
    const downsIn = (a: number, b: number) =>
      this.cluster.nodes.flatMap((n) =>
        n
          .logsBetween(a, b)
          .filter((l) => / is DOWN/.test(l) && members.has(/\] (\S+) is DOWN/.exec(l)?.[1] ?? ''))
          .map((l) => `${n.id}: ${l.slice(0, 120)}`),
      );
    const delayDowns = downsIn(t0, t1 + 500);
    const lossDowns = downsIn(t1 + 500, t2 + 500);
    p.checks.push({
      name: 'T15 no node declared down under 75 ± 50 ms delay',
      ok: delayDowns.length === 0,
      detail: delayDowns.length ? delayDowns.slice(0, 5).join(' | ') : 'no DOWN declaration during the delay window',
      asserted: true,
    });
    p.checks.push({
      name: 'T15 DOWN declarations under 50% loss (reported only)',
      ok: true,
      detail: `${lossDowns.length} DOWN declaration(s) during the loss window`,
      asserted: false,
    });
  }

  /**
   * mix: for mixMs, one step after another: a partition of a random shape, a process fault
   * (kill -9, SIGSTOP, or now and then a wiped directory), or both at once, held 2-6 s, then
   * undone; a restarted node gets load as soon as it serves.
   */
  private async mix(p: PhaseCtx): Promise<void> {
    const topo = this.cluster.topo;
    const all = this.cluster.nodes.map((n) => n.opts.number);
    const end = Date.now() + this.scale.mixMs;
    while (Date.now() < end) {
      const roll = this.random.next();
      const partition = roll < 0.7;
      const procFault = roll >= 0.4;
      if (partition) {
        const s = this.shuffled(all);
        const shape = this.random.int(4);
        if (shape === 0) {
          await topo.isolate(s[0]);
          this.event(p.name, 'partition:alone', `{${s[0]}} / rest`);
        } else if (shape === 1) {
          await topo.majorityMinority(s.slice(0, 2));
          this.event(p.name, 'partition:majority-minority', `{${s.slice(0, 2).sort()}} / {${s.slice(2).sort()}}`);
        } else if (shape === 2) {
          await topo.bridge(s.slice(0, 3), s.slice(2));
          this.event(p.name, 'partition:bridge', `{${s.slice(0, 3).sort()}} / {${s.slice(2).sort()}}`);
        } else {
          for (const j of all) if (j !== s[0]) await topo.oneWay(j, s[0]);
          this.event(p.name, 'partition:one-way', `nothing reaches ${s[0]} from the others`);
        }
      }
      let victim: NsNode | undefined;
      let how = '';
      if (procFault) {
        victim = this.pickNode();
        const r = this.random.next();
        how = r < 0.5 ? 'kill' : r < 0.9 ? 'stop' : 'wipe';
        if (how === 'stop') {
          await victim.signal('SIGSTOP');
          this.event(p.name, 'sigstop', victim.id);
        } else {
          await victim.signal('SIGKILL');
          if (how === 'wipe') victim.wipe();
          this.event(p.name, how === 'wipe' ? 'kill -9 + wipe' : 'kill -9', `${victim.id}`);
        }
      }
      await sleep(this.rand(2_000, 6_000));
      if (victim && how === 'stop') {
        await victim.signal('SIGCONT');
        this.event(p.name, 'sigcont', victim.id);
      } else if (victim) {
        await this.cluster.restart(victim);
        this.event(p.name, 'restart', victim.id);
      }
      if (partition) {
        await topo.heal();
        this.event(p.name, 'heal', 'partition');
      }
      await sleep(this.rand(0, 1_500));
    }
  }

  // ---------------------------------------------------------------- phases and checks

  private async phase(name: string, scenario: Scenario, body: (p: PhaseCtx) => Promise<void>): Promise<PhaseResult> {
    const t0 = Date.now();
    this.log(`phase ${name} (${scenario})`);
    const keys = Array.from({ length: 4 }, (_, i) => `${name}:hot${i}`);
    const p: PhaseCtx = { name, keys, checks: [], evidence: [] };
    const mode = PHASE_MODE[scenario] ?? {};
    if (mode.strict) this.workload.strictPhases.add(name);
    let watcher: Watcher | undefined;
    let error: string | undefined;
    if (mode.watch)
      try {
        watcher = await this.startWatcher(name);
      } catch (e) {
        error = `watch did not start: ${errMsg(e)}`;
      }
    const load = this.workload.start(
      name,
      keys,
      () => this.cluster.nodes.filter((n) => n.available && !this.excluded.has(n)),
      () => this.cluster.nodes.filter((n) => n.running && !this.excluded.has(n)),
      this.scale.clients,
    );
    try {
      await body(p);
    } catch (e) {
      error = `${scenario} step failed: ${errMsg(e)}`;
      this.log(`  ${error}`);
    }
    await load.stop();
    try {
      await this.healAll(name);
    } catch (e) {
      error = (error ? `${error}; ` : '') + `heal failed: ${errMsg(e)}`;
    }
    const result = await this.check(name, scenario, (k) => k.startsWith(`${name}:`), t0, p);
    const extra: Check[] = [];
    try {
      if (mode.strict) extra.push(...(await this.strictChecks(name, result)));
      if (scenario === 'T2') extra.push(await this.sloppyUnderQuorum(name));
    } catch (e) {
      extra.push({ name: 'quorum model', ok: false, detail: `could not build it: ${errMsg(e)}`, asserted: true });
    }
    if (watcher) extra.push(await this.finishWatcher(name, watcher, result));
    result.checks.push(...extra);
    if (extra.some((c) => c.asserted && !c.ok)) result.ok = false;
    if (error) {
      result.error = error;
      result.ok = false;
    }
    result.durationMs = Date.now() - t0;
    this.phases.push(result);
    this.log(`  ${result.ok ? 'PASS' : 'FAIL'} ${name}: ops ok ${result.ops.ok}, failed ${result.ops.failed}, indeterminate ${result.ops.indeterminate}; lost ${result.lost}, phantoms ${result.phantoms}, dominated ${result.dominated}, divergent ${result.divergentKeys}; stale reads ${(result.staleReadFraction * 100).toFixed(1)}%; converged in ${result.convergeMs} ms`);
    return result;
  }

  /**
   * strictChecks (T3): every request of the phase was strict. No acknowledged write may have
   * had fewer than W of its key's ring primaries reachable from a node that could coordinate
   * it (partitions read back from the DROP rules' recorded lifetimes), and no read may miss a
   * write acknowledged before it began.
   */
  private async quorumModel(): Promise<QuorumModel> {
    const ring = await this.cluster.fullRing();
    const numberOf = (id: string) => this.cluster.node(id).opts.number;
    return {
      primariesOf: (k) => preferenceOf(ring, k),
      contactOf: (op) => this.workload.meta.get(op.id)!.node,
      canTalk: (a, b, from, to) => this.cluster.topo.canTalk(numberOf(a), numberOf(b), from, to),
    };
  }

  /**
   * sloppyUnderQuorum (T2, reported only): the same model applied to T2's sloppy writes, as if
   * they had been strict. Under partitions some are acknowledged by fallbacks with fewer than W
   * primaries reachable: what T3 forbids, so a non-zero figure here shows the model sees it.
   */
  private async sloppyUnderQuorum(name: string): Promise<Check> {
    const history = this.workload.rec.history().filter((op) => op.key.startsWith(`${name}:`)).map((op) => ({ ...op, strict: true }));
    const q = checkStrictWriteQuorum(history, await this.quorumModel());
    return {
      name: 'T2 sloppy writes acknowledged with fewer than W primaries reachable (what strict mode refuses)',
      ok: true,
      detail: `${q.stats.underQuorum} of ${q.stats.strictWrites} acknowledged writes`,
      asserted: false,
    };
  }

  private async strictChecks(name: string, result: PhaseResult): Promise<Check[]> {
    const history = this.workload.rec.history().filter((op) => op.key.startsWith(`${name}:`));
    const quorum = checkStrictWriteQuorum(history, await this.quorumModel());
    const reads = checkStrictReads(history);
    const bad = [...quorum.violations, ...reads.violations];
    if (bad.length) result.evidence.push(...this.explain(bad, history));
    const writes = history.filter((o) => o.kind !== 'get');
    return [
      {
        name: 'T3 no strict write acknowledged with fewer than W primaries reachable',
        ok: quorum.ok && quorum.stats.strictWrites > 0,
        detail: `${quorum.stats.underQuorum} of ${quorum.stats.strictWrites} acknowledged strict writes under quorum; ${writes.filter((o) => o.outcome !== 'ok').length} strict writes refused or timed out`,
        asserted: true,
      },
      {
        name: 'T3 no strict read missing a write acknowledged before it began',
        ok: reads.ok && reads.stats.strictGets > 0,
        detail: `${reads.stats.staleStrictGets} of ${reads.stats.strictGets} strict reads stale (${reads.stats.missedWrites} writes missed)`,
        asserted: true,
      },
    ];
  }

  /**
   * startWatcher: an SDK watch on the phase's prefix (`<phase>:`), run by the client worker
   * with every node to resume on. It counts from its CREATED event: writes acknowledged after
   * that must all reach it. Values map back to write ids; a put event delivers the values of
   * its siblings not delivered before; a delete event delivers the key's acknowledged deletes.
   */
  private async startWatcher(name: string): Promise<Watcher> {
    const w: Watcher = { events: [], since: Infinity, ended: undefined, resyncs: 0, stop: async () => undefined };
    const seen = new Map<string, Set<string>>();
    let created!: () => void;
    const ready = new Promise<void>((r) => (created = r));
    const h = await this.cluster.agent.watch(
      this.cluster.nodes.map((n) => n.address),
      `${name}:`,
      (ev) => {
        if (ev.kind === 'created') {
          if (w.since === Infinity) w.since = clock();
          created();
          return;
        }
        if (ev.kind === 'resync') w.resyncs++;
        // The event's context covers what it showed or replaced (a delete folded into a PUT too).
        const context = ev.context ? decodeContext(Buffer.from(ev.context, 'base64')) : undefined;
        if (ev.kind === 'delete' || ev.deleted) w.events.push({ key: ev.key, kind: 'delete', time: ev.at, context });
        if (ev.kind !== 'put') return;
        if (context) w.events.push({ key: ev.key, time: ev.at, context });
        let s = seen.get(ev.key);
        if (!s) seen.set(ev.key, (s = new Set()));
        for (const v of ev.values) {
          if (s.has(v)) continue;
          s.add(v);
          w.events.push({ key: ev.key, writeId: this.workload.rec.writeIdOf(v) ?? `unknown-value:${v}`, kind: 'put', time: ev.at });
        }
      },
      (why) => (w.ended = why),
    );
    w.stop = h.stop;
    await eventually(
      async () => {
        if (w.ended !== undefined) throw new Error(`watch ended: ${w.ended}`);
        await Promise.race([ready, sleep(200)]);
        if (w.since === Infinity) throw new Error('no CREATED event yet');
      },
      { timeoutMs: 15_000, intervalMs: 50, what: `${name}: watch on ${name}: established` },
    );
    return w;
  }

  /** finishWatcher waits (bounded) for every acknowledged write of the phase to reach the watcher, then judges it. */
  private async finishWatcher(name: string, w: Watcher, result: PhaseResult): Promise<Check> {
    const history = this.workload.rec.history().filter((op) => op.key.startsWith(`${name}:`));
    const judge = () => checkWatchCompleteness(history, w.events, { prefix: `${name}:`, since: w.since, versionOf: (id) => this.workload.versions.get(id) });
    let r = judge();
    try {
      await eventually(
        async () => {
          r = judge();
          if (!r.ok) throw new Error(`${r.stats.missed} acknowledged writes not delivered yet: ${r.violations[0].message}`);
        },
        { timeoutMs: 20_000, intervalMs: 250, what: `${name}: every acknowledged write delivered to the watcher` },
      );
    } catch {
      // judged below with the last state
    }
    const wEvents = (key: string, at: number) =>
      w.events
        .filter((e) => e.key === key && e.time !== undefined && e.time > at - 2_000 && e.time < at + 10_000)
        .map((e) => `${e.writeId ?? e.kind}@${iso(e.time!).slice(11, 23)}`)
        .join(' ');
    const ended = w.ended;
    await w.stop();
    r = judge();
    if (!r.ok) result.evidence.push(...this.explain(r.violations, history));
    // What the watcher got on each missed write's key around it, and who had seen the write
    // (set DKV_CHAOS_DUMP_WATCH=<path prefix> for the whole history and every event).
    for (const v of r.violations.filter((x) => x.kind === 'missed-event').slice(0, 3)) {
      const w = history.find((o) => o.writeId === v.writeIds?.[0]);
      if (!w) continue;
      const near = wEvents(w.key, w.invokeTime);
      result.evidence.push(`WATCH ${w.writeId} on ${w.key}: events from 2 s before to 10 s after it: ${near || 'none'}`);
      const sawIt = history.filter((o) => o.key === w.key && o.seen.includes(w.writeId!)).map((o) => `${o.kind} ${o.writeId ?? `#${o.id}`} ${o.outcome} via ${this.workload.meta.get(o.id)?.node}`);
      result.evidence.push(`WATCH ${w.writeId} was seen directly by: ${sawIt.join(', ') || 'no operation'}`);
    }
    if (!r.ok && process.env.DKV_CHAOS_DUMP_WATCH)
      writeFileSync(`${process.env.DKV_CHAOS_DUMP_WATCH}-${name}.json`, JSON.stringify({ since: w.since, events: w.events, history: history.map((o) => ({ ...o, node: this.workload.meta.get(o.id)?.node, completeTime: Number.isFinite(o.completeTime) ? o.completeTime : null })) }, null, 1));
    const ok = r.ok && ended === undefined && w.resyncs === 0 && r.stats.expected > 0;
    return {
      name: 'watch completeness (SDK watcher on the phase prefix, resuming by itself)',
      ok,
      detail:
        `${r.stats.expected} acknowledged writes since the watch began: ${r.stats.delivered} delivered, ${r.stats.superseded} superseded by a delivered successor, ${r.stats.missed} missed; ` +
        `${r.stats.events} events${w.resyncs ? `, ${w.resyncs} RESYNC_REQUIRED` : ''}${ended !== undefined ? `; the watch ended: ${ended}` : ''}`,
      asserted: true,
    };
  }

  /** final: the whole history of the run, every key, after the last heal. */
  async final(): Promise<PhaseResult> {
    const t0 = Date.now();
    this.log('final check over every key of the run');
    const p: PhaseCtx = { name: 'final', keys: [], checks: [], evidence: [] };
    let error: string | undefined;
    try {
      await this.healAll('final');
    } catch (e) {
      error = `heal failed: ${errMsg(e)}`;
    }
    const result = await this.check('final', 'final', () => true, t0, p);
    if (error) {
      result.error = error;
      result.ok = false;
    }
    this.phases.push(result);
    this.log(`  ${result.ok ? 'PASS' : 'FAIL'} final: lost ${result.lost}, phantoms ${result.phantoms}, dominated ${result.dominated}, divergent ${result.divergentKeys}; converged in ${result.convergeMs} ms`);
    return result;
  }

  private async check(name: string, scenario: Scenario | 'final', mine: (key: string) => boolean, t0: number, p: PhaseCtx): Promise<PhaseResult> {
    const history = this.workload.rec.history().filter((op) => mine(op.key));
    const keys = [...new Set(history.map((op) => op.key))].sort();
    const healedAt = Date.now();
    const evidence = [...p.evidence];
    // One ring first: a wiped node may still be JOINING (streaming its new ranges).
    let ringMs = -1;
    try {
      await this.cluster.waitRing(this.cluster.nodes, JOIN_WITHIN_MS);
      ringMs = Date.now() - healedAt;
    } catch (e) {
      evidence.push(`ring: ${errMsg(e)}`);
    }
    // Converge: every node up, hints drained, every key's replicas identical.
    let convergeMs = -1;
    let last: Awaited<ReturnType<ChaosCluster['dumps']>> | undefined;
    let lastWhy = '';
    try {
      await eventually(
        async () => {
          await this.cluster.waitAllUp(1_000);
          const left = await this.cluster.hintsLeft();
          last = await this.cluster.dumps(keys);
          if (left.length) throw new Error(`hints left: ${left.join(', ')}`);
          const c = checkConvergence(last.dumps, { replicasOf: (k) => last!.replicasOf.get(k) ?? [] });
          if (!c.ok) throw new Error(`${c.violations.length} divergent keys: ${c.violations[0].message}`);
        },
        { timeoutMs: CONVERGE_WITHIN_MS, intervalMs: 250, what: `${name}: hints drained and replicas identical (after the ring was whole)` },
      );
      convergeMs = Date.now() - healedAt;
    } catch (e) {
      lastWhy = errMsg(e);
      evidence.push(lastWhy);
      // Keep the last dumps we managed to take for the convergence checker.
      if (!last)
        try {
          last = await this.cluster.dumps(keys);
        } catch (e2) {
          evidence.push(`dumps failed: ${errMsg(e2)}`);
        }
    }
    // Final state: every key read at R = ALL (through any node; retried on failure).
    const finalValues = new Map<string, string[]>();
    const unreadable: string[] = [];
    for (const key of keys) {
      let done = false;
      let why = '';
      for (let attempt = 0; attempt < 6 && !done; attempt++) {
        const node = this.cluster.nodes[(attempt + keys.indexOf(key)) % this.cluster.nodes.length];
        try {
          const r = await this.cluster.agent.get(node.address, key, { level: 'all' }, 4_000);
          finalValues.set(key, r.values);
          done = true;
        } catch (e) {
          why = errMsg(e);
          await sleep(200);
        }
      }
      if (!done) unreadable.push(`${key}: ${why}`);
    }
    const finalState = this.workload.rec.finalState(finalValues);
    const results: Record<string, CheckResult<object>> = {
      noLostWrites: checkNoLostWrites(history, finalState, { missingKey: 'skip' }),
      noPhantoms: checkNoPhantoms(history, finalState),
      noDominatedSiblings: checkNoDominatedSiblings(history, finalState),
      convergence: last
        ? checkConvergence(last.dumps, { replicasOf: (k) => last!.replicasOf.get(k) ?? [], timeToConverge: convergeMs })
        : { ok: false, violations: [{ checker: 'convergence', kind: 'no-dumps', message: lastWhy }], stats: {} },
    };
    if (convergeMs < 0 && results.convergence.ok) {
      // Replicas agreed only after the bound (or hints never drained): still a convergence failure.
      results.convergence = { ...results.convergence, ok: false, violations: [{ checker: 'convergence', kind: 'slow', message: `not converged within ${CONVERGE_WITHIN_MS} ms of the heal: ${lastWhy}` }] };
    }
    const stale = staleReadFraction(history);
    const s = summarize(results, { title: `chaos ${name}` });
    const lost = (results.noLostWrites.stats as { lost: number; resurrected: number });
    const ph = results.noPhantoms.stats as { phantoms: number; futureValues: number };
    const dom = results.noDominatedSiblings.stats as { dominated: number; duplicates: number };
    const violations = Object.values(results).flatMap((r) => r.violations);
    if (violations.length) evidence.push(...this.explain(violations, history, last?.values));
    const checks = [...p.checks];
    // A node process that exited without being killed crashed: a finding in any phase.
    // (the final check counts the whole run's; a phase, those since the previous check)
    const crashes = this.cluster.nodes.flatMap((n) => n.crashes.slice(scenario === 'final' ? 0 : this.crashesSeen.get(n.id) ?? 0).map((c) => ({ n, c })));
    for (const n of this.cluster.nodes) this.crashesSeen.set(n.id, n.crashes.length);
    if (crashes.length > 0 || scenario === 'final')
      checks.push({
        name: 'no node process exited on its own',
        ok: crashes.length === 0,
        detail: crashes.length ? crashes.map(({ n, c }) => `${n.id} exited (${c.code ?? c.signal}) at ${iso(c.at)}`).join('; ') : 'none did (whole run)',
        asserted: true,
      });
    for (const { n, c } of crashes) evidence.push(`CRASH ${n.id} exited (${c.code ?? c.signal}) at ${iso(c.at)}; its last log lines:`, ...c.tail.split('\n').map((l) => `  ${l}`));
    if (scenario === 'T1' || scenario === 'final')
      checks.push({ name: `${scenario === 'T1' ? 'T1' : 'final'} replicas identical within ${scenario === 'T1' ? 5 : 30} s`, ok: convergeMs >= 0 && convergeMs <= (scenario === 'T1' ? 5_000 : 30_000), detail: `${convergeMs} ms`, asserted: scenario === 'final' });
    const ops = scenario === 'final' ? this.totalCounts() : this.workload.countsOf(name);
    const ok = s.ok && unreadable.length === 0 && checks.every((c) => c.ok || !c.asserted);
    return {
      name,
      scenario,
      startedAt: iso(t0),
      durationMs: Date.now() - t0,
      faults: scenario === 'final' ? [] : this.events.filter((e) => e.phase === name),
      ops: { ...ops },
      keys: keys.length,
      lost: lost.lost + lost.resurrected,
      phantoms: ph.phantoms + ph.futureValues,
      dominated: dom.dominated + dom.duplicates,
      divergentKeys: results.convergence.violations.length,
      unreadableKeys: unreadable,
      staleReadFraction: stale.fraction,
      convergeMs,
      ringMs,
      checks,
      summary: s.json,
      summaryText: s.text,
      evidence,
      ok,
    };
  }

  totalCounts(): OpCounts {
    const t: OpCounts = { ok: 0, failed: 0, indeterminate: 0, gets: 0, puts: 0, deletes: 0 };
    for (const c of this.workload.counts.values()) for (const k of Object.keys(t) as (keyof OpCounts)[]) t[k] += c[k];
    return t;
  }

  /**
   * explain turns violations into evidence: the operations involved (node, times, error), the
   * fault events around them, each replica's stored values of the key, and node log lines
   * within 3 s of the operation.
   */
  private explain(violations: Violation[], history: Operation[], replicaValues?: Map<string, Map<string, string[]>>): string[] {
    const out: string[] = [];
    const byWrite = new Map(history.filter((o) => o.writeId).map((o) => [o.writeId!, o]));
    for (const v of violations.slice(0, 5)) {
      out.push(`VIOLATION ${v.checker}/${v.kind}: ${v.message}`);
      const ops = (v.writeIds ?? []).map((id) => byWrite.get(id)).filter((o): o is Operation => !!o);
      for (const op of ops) {
        const m = this.workload.meta.get(op.id);
        out.push(`  ${op.kind} ${op.writeId} value=${op.value ?? '-'} by ${op.client} via ${m?.node} ${iso(op.invokeTime)}..${Number.isFinite(op.completeTime) ? iso(op.completeTime) : 'never'} ${op.outcome}${m?.error ? ` (${m.error})` : ''} seen=[${op.seen.join(',')}]`);
      }
      if (v.key && replicaValues)
        for (const [node, m] of replicaValues) if (m.has(v.key)) out.push(`  replica ${node} holds ${JSON.stringify(m.get(v.key))}`);
      const at = ops[0]?.invokeTime ?? v.time;
      if (at !== undefined) {
        for (const e of this.events) if (Math.abs(e.at - at) < 10_000) out.push(`  fault ${iso(e.at)} ${e.phase} ${e.kind} ${e.detail}`);
        for (const n of this.cluster.nodes)
          for (const l of n.logsBetween(at - 3_000, (ops[0] && Number.isFinite(ops[0].completeTime) ? ops[0].completeTime : at) + 3_000).slice(0, 40)) out.push(`  log ${l}`);
      }
    }
    if (violations.length > 5) out.push(`... and ${violations.length - 5} more violations`);
    return out;
  }

  async stop(): Promise<void> {
    await this.cluster.stop();
  }
}

/** How a scenario's load runs: strict requests (T3), an SDK watcher on its prefix (issue 8). */
const PHASE_MODE: Partial<Record<Scenario, { strict?: boolean; watch?: boolean }>> = {
  T2: { watch: true },
  T3: { strict: true, watch: true },
  T4: { watch: true },
};

interface Watcher {
  events: WatchEvent[];
  /** since: when the watch was established (its CREATED event), on the workload clock. */
  since: number;
  ended: string | undefined;
  resyncs: number;
  stop: () => Promise<void>;
}

export interface PhaseCtx {
  name: string;
  keys: string[];
  checks: Check[];
  evidence: string[];
}
