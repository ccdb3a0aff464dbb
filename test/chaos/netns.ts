/**
 * Private network topologies for the chaos tier (TESTING.md "Network namespaces for real
 * partitions"): one namespace holding a Linux bridge (`dkvbr-<id>`), one namespace per node
 * (`dkvn<i>-<id>`) and one for the test's client worker (`dkvc-<id>`), each joined to the
 * bridge by a veth pair, with addresses from a private /24 (10.213.<random>.0/24) that exists
 * only inside these namespaces. The host's own namespace, links, addresses and routes are
 * never touched: the host only reads its address list once, to pick a /24 it does not use.
 *
 * Links are cut with iptables DROP rules inside node namespaces and healed with `iptables -F`
 * in every node namespace. Processes are started with `ip netns exec NS cmd...`: `ip` setns()s
 * and then exec()s the command in place (no fork outside batch mode), so the spawned pid IS the
 * node process; NsNode verifies that through /proc before it signals anything.
 *
 * Teardown kills every process this module started (by pid) and deletes every namespace it
 * created, on destroy(), on process exit and on SIGINT / SIGTERM. A registry file per topology
 * (/tmp/dkv-chaos-netns/<id>.json, with the creating pid) lets a later run remove what a
 * crashed (kill -9) run left behind: only the namespaces (and the processes inside them) and
 * temp directories listed there, and only when that pid is gone.
 */
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { ROOT } from '../helpers/cluster.js';
import { assertTestTarget } from '../helpers/target-guard.js';

const execFileP = promisify(execFile);

export const CLI = join(ROOT, 'dist/cli/main.js');
const REGISTRY = '/tmp/dkv-chaos-netns';
const NS_NAME = /^dkv(br|c|n\d+)-[0-9a-f]{6}$/;

/** netnsSupport says whether this process can build a topology, and if not, why (for a skip). */
export function netnsSupport(): { ok: true } | { ok: false; reason: string } {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0)
    return { ok: false, reason: 'network namespaces need root (CI runs as root); run the chaos tier as root' };
  for (const tool of ['ip', 'iptables']) {
    try {
      execFileSync(tool, ['-V'], { stdio: 'ignore' });
    } catch {
      return { ok: false, reason: `\`${tool}\` is not installed (apt-get install -y iptables iproute2)` };
    }
  }
  const probe = `dkvc-${randomBytes(3).toString('hex')}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe' });
    execFileSync('ip', ['netns', 'exec', probe, 'iptables', '-w', '-L', 'INPUT', '-n'], { stdio: 'pipe' });
  } catch (e) {
    return { ok: false, reason: `cannot create a network namespace with iptables inside: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
    } catch {
      /* it was never made */
    }
  }
  return { ok: true };
}

/** A rule is one iptables rule in one node namespace (kept for reports). */
export interface Rule {
  node: number;
  chain: 'INPUT' | 'OUTPUT';
  peer: string;
}

const live = new Set<Topology>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const t of [...live]) t.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const t of [...live]) t.destroySync();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

/** sweepStale removes namespaces a crashed earlier run registered (its creating pid is gone). */
export function sweepStale(): string[] {
  const removed: string[] = [];
  if (!existsSync(REGISTRY)) return removed;
  for (const f of readdirSync(REGISTRY)) {
    const path = join(REGISTRY, f);
    let entry: { pid: number; namespaces: string[]; paths?: string[]; mounts?: string[] };
    try {
      entry = JSON.parse(readFileSync(path, 'utf8'));
    } catch {
      continue;
    }
    if (pidAlive(entry.pid)) continue;
    for (const ns of entry.namespaces) {
      if (!NS_NAME.test(ns)) continue;
      killAllIn(ns);
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
        removed.push(ns);
      } catch {
        /* already gone */
      }
    }
    for (const m of entry.mounts ?? []) if (m.startsWith(join(tmpdir(), 'dkv-chaos-'))) umountQuiet(m);
    for (const p of entry.paths ?? []) if (p.startsWith(join(tmpdir(), 'dkv-chaos-'))) rmSync(p, { recursive: true, force: true });
    rmSync(path, { force: true });
  }
  return removed;
}

/** umountQuiet detaches a tmpfs this module mounted (lazily: a process may still hold it). */
function umountQuiet(path: string): void {
  try {
    execFileSync('umount', ['-l', path], { stdio: 'ignore' });
  } catch {
    /* not mounted */
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** killAllIn SIGKILLs every process inside a namespace this module created (by pid). */
function killAllIn(ns: string): void {
  if (!NS_NAME.test(ns)) return;
  let pids: string[] = [];
  try {
    pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split(/\s+/).filter(Boolean);
  } catch {
    return;
  }
  for (const p of pids) {
    const pid = Number(p);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
}

/**
 * Topology is the bridge, the node namespaces and the client namespace of one test run. Nodes
 * are numbered from 1 (so "bridge {1,2,3}/{3,4,5}" reads as written).
 */
/** clock: the chaos workload's clock (HistoryRecorder times), in Unix ms. */
export const clock = (): number => performance.timeOrigin + performance.now();

export class Topology {
  readonly id = randomBytes(3).toString('hex');
  readonly bridgeNs = `dkvbr-${this.id}`;
  readonly clientNs = `dkvc-${this.id}`;
  readonly nodeNs: string[];
  readonly nodeIp: string[];
  readonly clientIp: string;
  /** allowed: every address this topology assigned; the only non-loopback targets of test traffic. */
  readonly allowed: ReadonlySet<string>;
  private readonly created: string[] = [];
  private readonly procs = new Map<number, ChildProcess>();
  private rules: Rule[] = [];
  /**
   * ruleHistory: every DROP rule with the interval it was in force, on the workload's clock
   * (performance.timeOrigin + performance.now()). `from` is taken after iptables returned and
   * `to` before the flush began, so an interval never claims more than the rule's real life.
   */
  readonly ruleHistory: Array<Rule & { from: number; to: number }> = [];
  private readonly paths: string[] = [];
  private readonly mounts: string[] = [];
  private destroyed = false;

  private constructor(
    readonly nodes: number,
    readonly subnet: string,
  ) {
    this.nodeNs = Array.from({ length: nodes }, (_, i) => `dkvn${i + 1}-${this.id}`);
    this.nodeIp = Array.from({ length: nodes }, (_, i) => `${subnet}.${11 + i}`);
    this.clientIp = `${subnet}.100`;
    this.allowed = new Set([...this.nodeIp, this.clientIp]);
  }

  /** create builds the topology; on any failure it removes what it made and throws. */
  static async create(nodes: number): Promise<Topology> {
    if (nodes < 1 || nodes > 80) throw new Error(`Topology: ${nodes} nodes`);
    hookExit();
    sweepStale();
    const t = new Topology(nodes, pickSubnet());
    live.add(t);
    try {
      await t.build();
    } catch (e) {
      await t.destroy();
      throw e;
    }
    return t;
  }

  private register(): void {
    mkdirSync(REGISTRY, { recursive: true });
    writeFileSync(join(REGISTRY, `${this.id}.json`), JSON.stringify({ pid: process.pid, namespaces: this.created, paths: this.paths, mounts: this.mounts }));
  }

  private async addNs(name: string): Promise<void> {
    await ip('netns', 'add', name);
    this.created.push(name);
    this.register();
    await ip('-n', name, 'link', 'set', 'lo', 'up');
  }

  private async build(): Promise<void> {
    await this.addNs(this.bridgeNs);
    await ip('-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', this.bridgeNs, 'link', 'set', 'br0', 'up');
    const attach = async (ns: string, addr: string, port: string) => {
      await this.addNs(ns);
      // Both ends are created directly inside their namespaces: nothing appears on the host.
      const tmp = `dv${port}${this.id}`;
      await ip('link', 'add', tmp, 'netns', ns, 'type', 'veth', 'peer', 'name', port, 'netns', this.bridgeNs);
      await ip('-n', ns, 'link', 'set', tmp, 'name', 'eth0');
      await ip('-n', ns, 'addr', 'add', `${addr}/24`, 'dev', 'eth0');
      await ip('-n', ns, 'link', 'set', 'eth0', 'up');
      await ip('-n', this.bridgeNs, 'link', 'set', port, 'master', 'br0');
      await ip('-n', this.bridgeNs, 'link', 'set', port, 'up');
    };
    for (let i = 0; i < this.nodes; i++) await attach(this.nodeNs[i], this.nodeIp[i], `p${i + 1}`);
    await attach(this.clientNs, this.clientIp, 'pc');
  }

  /** nsOf names node i's namespace (1-based). */
  nsOf(node: number): string {
    const ns = this.nodeNs[node - 1];
    if (!ns) throw new Error(`Topology: no node ${node}`);
    return ns;
  }

  ipOf(node: number): string {
    const a = this.nodeIp[node - 1];
    if (!a) throw new Error(`Topology: no node ${node}`);
    return a;
  }

  /** exec runs a command inside a namespace of this topology and returns its stdout. */
  async exec(ns: string, cmd: string[]): Promise<string> {
    if (!this.created.includes(ns)) throw new Error(`Topology: ${ns} is not one of this topology's namespaces`);
    const { stdout } = await execFileP('ip', ['netns', 'exec', ns, ...cmd], { encoding: 'utf8' });
    return stdout;
  }

  /**
   * spawn starts a long-running process inside a namespace (`ip netns exec NS argv...`). The
   * returned child's pid is the command itself (ip execs it in place); it is SIGKILLed at teardown.
   */
  spawn(ns: string, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    if (!this.created.includes(ns)) throw new Error(`Topology: ${ns} is not one of this topology's namespaces`);
    if (this.destroyed) throw new Error('Topology: destroyed');
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    const pid = child.pid;
    if (pid !== undefined) {
      this.procs.set(pid, child);
      child.once('exit', () => this.procs.delete(pid));
    }
    return child;
  }

  private async drop(node: number, chain: 'INPUT' | 'OUTPUT', peer: string): Promise<void> {
    const flag = chain === 'INPUT' ? '-s' : '-d';
    await this.exec(this.nsOf(node), ['iptables', '-w', '-A', chain, flag, peer, '-j', 'DROP']);
    this.rules.push({ node, chain, peer });
    this.ruleHistory.push({ node, chain, peer, from: clock(), to: Infinity });
  }

  /**
   * canTalk: nodes a and b (1-based) could exchange a message both ways at some instant in
   * [from, to] according to the DROP rules in force then (false only if every instant of the
   * window had a rule cutting a -> b or b -> a).
   */
  canTalk(a: number, b: number, from: number, to: number): boolean {
    if (a === b) return true;
    const ipA = this.ipOf(a);
    const ipB = this.ipOf(b);
    const cuts = this.ruleHistory
      .filter(
        (r) =>
          (r.node === a && r.chain === 'OUTPUT' && r.peer === ipB) ||
          (r.node === b && r.chain === 'INPUT' && r.peer === ipA) ||
          (r.node === b && r.chain === 'OUTPUT' && r.peer === ipA) ||
          (r.node === a && r.chain === 'INPUT' && r.peer === ipB),
      )
      .filter((r) => r.to >= from && r.from <= to)
      .sort((x, y) => x.from - y.from);
    // Is [from, to] covered by the union of the cut intervals?
    let covered = from;
    for (const c of cuts) {
      if (c.from > covered) return true;
      covered = Math.max(covered, c.to);
      if (covered >= to) return false;
    }
    return covered < to;
  }

  /** cut drops every packet between nodes a and b, both ways (rules on both sides). */
  async cut(a: number, b: number): Promise<void> {
    if (a === b) return;
    await this.drop(a, 'INPUT', this.ipOf(b));
    await this.drop(a, 'OUTPUT', this.ipOf(b));
    await this.drop(b, 'INPUT', this.ipOf(a));
    await this.drop(b, 'OUTPUT', this.ipOf(a));
  }

  /** oneWay drops packets from `from` arriving at `to` only (to's INPUT); to -> from still flows. */
  async oneWay(from: number, to: number): Promise<void> {
    if (from !== to) await this.drop(to, 'INPUT', this.ipOf(from));
  }

  /** isolate cuts node k from every other node (the client namespace still reaches it). */
  async isolate(k: number): Promise<void> {
    for (let j = 1; j <= this.nodes; j++) if (j !== k) await this.cut(k, j);
  }

  /**
   * split cuts every link between the two sides; a node in both sides (a bridge, as in
   * {1,2,3}/{3,4,5}) keeps its links to everyone.
   */
  async split(a: readonly number[], b: readonly number[]): Promise<void> {
    const onlyA = a.filter((x) => !b.includes(x));
    const onlyB = b.filter((x) => !a.includes(x));
    for (const x of onlyA) for (const y of onlyB) await this.cut(x, y);
  }

  /** majorityMinority cuts the given minority off from every other node. */
  async majorityMinority(minority: readonly number[]): Promise<void> {
    const rest = Array.from({ length: this.nodes }, (_, i) => i + 1).filter((x) => !minority.includes(x));
    await this.split(minority, rest);
  }

  /** bridge: two sides sharing one node, {1,2,3} / {3,4,5} by default. */
  async bridge(a: readonly number[] = [1, 2, 3], b: readonly number[] = [3, 4, 5]): Promise<void> {
    if (a.filter((x) => b.includes(x)).length !== 1) throw new Error(`bridge: {${a}} and {${b}} must share exactly one node`);
    await this.split(a, b);
  }

  /** heal flushes the rules of every node namespace. */
  async heal(): Promise<void> {
    const at = clock();
    for (const r of this.ruleHistory) if (r.to === Infinity) r.to = at;
    for (let i = 1; i <= this.nodes; i++) await this.exec(this.nsOf(i), ['iptables', '-w', '-F']);
    this.rules = [];
  }

  /** activeRules lists the DROP rules in force (for reports). */
  activeRules(): Rule[] {
    return [...this.rules];
  }

  /** removeOnDestroy: a directory of this run (data dirs) to delete at teardown, also on SIGINT. */
  removeOnDestroy(path: string): void {
    if (!path.startsWith(join(tmpdir(), 'dkv-chaos-'))) throw new Error(`removeOnDestroy: ${path} is not a chaos temp directory`);
    this.paths.push(path);
    this.register();
  }

  /**
   * mountTmpfs mounts a tmpfs of `bytes` on `path`, a directory inside one of this run's temp
   * directories (T14's small disk); it is unmounted by umount() or at teardown (also after a
   * crashed run, through the registry).
   */
  mountTmpfs(path: string, bytes: number): void {
    if (!path.startsWith(join(tmpdir(), 'dkv-chaos-'))) throw new Error(`mountTmpfs: ${path} is not inside a chaos temp directory`);
    mkdirSync(path, { recursive: true });
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', path]);
    this.mounts.push(path);
    this.register();
  }

  umount(path: string): void {
    const i = this.mounts.indexOf(path);
    if (i < 0) throw new Error(`umount: ${path} was not mounted by this topology`);
    execFileSync('umount', [path]);
    this.mounts.splice(i, 1);
    this.register();
  }

  /** destroy kills what it started and deletes every namespace it created. Idempotent. */
  async destroy(): Promise<void> {
    this.destroySync();
  }

  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const [pid, child] of this.procs) {
      try {
        if (child.exitCode === null && child.signalCode === null) {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGKILL');
        }
      } catch {
        /* gone */
      }
    }
    for (const ns of [...this.created].reverse()) {
      killAllIn(ns);
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        /* gone */
      }
    }
    for (const m of this.mounts) umountQuiet(m);
    for (const p of this.paths) rmSync(p, { recursive: true, force: true });
    rmSync(join(REGISTRY, `${this.id}.json`), { force: true });
    live.delete(this);
  }
}

async function ip(...args: string[]): Promise<void> {
  try {
    await execFileP('ip', args);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`ip ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** pickSubnet draws 10.213.X.0/24 with X not in any address or route the host has (read only). */
function pickSubnet(): string {
  let used = '';
  try {
    used = execFileSync('ip', ['-4', '-o', 'addr', 'show'], { encoding: 'utf8' }) + execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' });
  } catch {
    /* nothing to avoid */
  }
  for (let attempt = 0; attempt < 100; attempt++) {
    const x = 1 + (randomBytes(1)[0] % 254);
    const s = `10.213.${x}`;
    if (!used.includes(`${s}.`)) return s;
  }
  throw new Error('no free 10.213.X.0/24 for a private test subnet');
}

export interface NsNodeOptions {
  /** id is the node id (n1, n2, ...); number is its position in the topology (1-based). */
  id: string;
  number: number;
  dataDir: string;
  /** port the node listens on inside its namespace. */
  port: number;
  /** advertisePort: what peers dial (a delay proxy's port when one sits in front); default port. */
  advertisePort?: number;
  /** args: extra serve flags. */
  args: string[];
}

export interface LogLine {
  /** t: the node's own timestamp (Unix ms) when parsable, else the time the line arrived. */
  t: number;
  line: string;
}

/**
 * NsNode is one `dkv serve` process inside its node namespace. Its pid is the node process
 * itself (verified through /proc after start), so kill -9, SIGSTOP and SIGCONT reach it.
 */
export class NsNode {
  proc: ChildProcess | undefined;
  pid = 0;
  readonly logs: LogLine[] = [];
  paused = false;
  starts = 0;
  /** crashes: exits nobody asked for (not SIGKILL / SIGTERM from the test): always a finding. */
  readonly crashes: { at: number; code: number | null; signal: string | null; tail: string }[] = [];
  /** crashPointExits: exits at a crash point the test armed (DKV_CRASH_AT), not crashes. */
  readonly crashPointExits: { at: number; line: string }[] = [];
  private exited = true;
  private expectExit = false;

  constructor(
    readonly topo: Topology,
    readonly opts: NsNodeOptions,
  ) {}

  get id(): string {
    return this.opts.id;
  }
  get ip(): string {
    return this.topo.ipOf(this.opts.number);
  }
  /** address: where the client worker reaches the node directly. */
  get address(): string {
    return assertTestTarget(`${this.ip}:${this.opts.port}`, this.topo.allowed);
  }
  /** advertised: where peers reach it (through the proxy, if any). */
  get advertised(): string {
    return assertTestTarget(`${this.ip}:${this.opts.advertisePort ?? this.opts.port}`, this.topo.allowed);
  }
  get running(): boolean {
    return !this.exited;
  }
  /** available: running and not stopped (a client would get an answer). */
  get available(): boolean {
    return !this.exited && !this.paused;
  }

  /** start spawns the node with `seeds` and resolves once it prints its serving line. */
  async start(seeds: string[], env?: Record<string, string>, extraArgs: string[] = []): Promise<void> {
    if (this.running) throw new Error(`${this.id} is already running`);
    for (const s of seeds) assertTestTarget(s, this.topo.allowed);
    const argv = [
      process.execPath, CLI, 'serve',
      '--listen', `${this.ip}:${this.opts.port}`,
      '--advertise', this.advertised,
      '--node-id', this.id,
      '--data-dir', this.opts.dataDir,
      '--gossip-interval', '100ms',
      '--log-level', process.env.DKV_CHAOS_LOG ?? 'info',
      ...(seeds.length ? ['--seeds', seeds.join(',')] : []),
      ...this.opts.args,
      ...extraArgs,
    ];
    const proc = this.topo.spawn(this.topo.nsOf(this.opts.number), argv, env ? { env: { ...process.env, ...env } } : {});
    this.proc = proc;
    this.pid = proc.pid ?? 0;
    this.exited = false;
    this.paused = false;
    this.starts++;
    this.expectExit = false;
    proc.once('exit', (code, signal) => {
      if (this.proc !== proc) return;
      this.exited = true;
      if (this.expectExit) return;
      const at = Date.now();
      // An armed crash point (DKV_CRASH_AT) kills the node with SIGKILL after saying so on
      // stderr: judged once stderr is read to its end ('close').
      proc.once('close', () => {
        const said = this.logs.slice(-5).find((l) => l.line.includes('DKV_CRASH_AT: crashing at'));
        if (signal === 'SIGKILL' && env?.DKV_CRASH_AT !== undefined && said) this.crashPointExits.push({ at, line: said.line });
        else this.crashes.push({ at, code, signal, tail: this.tail(40) });
      });
    });
    createInterface({ input: proc.stderr! }).on('line', (l) => {
      const t = Date.parse(l.slice(0, 24));
      this.logs.push({ t: Number.isFinite(t) ? t : Date.now(), line: l });
      if (process.env.DKV_CHAOS_ECHO) process.stderr.write(`[${this.id}] ${l}\n`);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.id} did not start within 20 s:\n${this.tail(30)}`)), 20_000);
      createInterface({ input: proc.stdout! }).on('line', (l) => {
        if (/^serving \S+ \S+$/.test(l)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code, sig) => {
        clearTimeout(timer);
        reject(new Error(`${this.id} exited (${code ?? sig}) before serving:\n${this.tail(30)}`));
      });
    });
    this.verifyPid();
  }

  /** verifyPid checks that the pid we signal is the node process, inside this node's namespace. */
  private verifyPid(): void {
    const exe = readlinkSync(`/proc/${this.pid}/exe`);
    const cmd = readFileSync(`/proc/${this.pid}/cmdline`, 'utf8').split('\0');
    if (realpathSync(exe) !== realpathSync(process.execPath) || !cmd.includes(CLI))
      throw new Error(`${this.id}: pid ${this.pid} is ${exe} ${cmd.join(' ')}, not the node (ip netns exec did not exec in place?)`);
    const mine = readlinkSync('/proc/self/ns/net');
    const its = readlinkSync(`/proc/${this.pid}/ns/net`);
    if (mine === its) throw new Error(`${this.id}: pid ${this.pid} runs in the host's network namespace`);
  }

  /** signal sends a signal to the node process; SIGKILL / SIGTERM wait for it to exit. */
  async signal(sig: NodeJS.Signals): Promise<void> {
    const proc = this.proc;
    if (!proc || !this.running) return;
    const exited = new Promise<void>((r) => proc.once('exit', () => r()));
    if (sig === 'SIGKILL' || sig === 'SIGTERM') {
      this.expectExit = true;
      if (this.paused) process.kill(this.pid, 'SIGCONT');
      process.kill(this.pid, sig);
      await exited;
      this.paused = false;
      return;
    }
    process.kill(this.pid, sig);
    if (sig === 'SIGSTOP') this.paused = true;
    if (sig === 'SIGCONT') this.paused = false;
  }

  /** wipe deletes the data directory (the node must be stopped). */
  wipe(): void {
    if (this.running) throw new Error(`${this.id}: wipe while running`);
    rmSync(this.opts.dataDir, { recursive: true, force: true });
  }

  tail(n: number): string {
    return this.logs.slice(-n).map((l) => l.line).join('\n');
  }

  /** logsBetween lists log lines within [from, to] (Unix ms). */
  logsBetween(from: number, to: number): string[] {
    return this.logs.filter((l) => l.t >= from && l.t <= to).map((l) => l.line);
  }
}
