import { DkvClient, DkvRequestError, type ConsistencyOptions, type Level } from '../client/dkv-client.js';
import { Liveness, MemberStatus, type Member, type StatusResponse, type RingResponse } from '../generated/dkv/v1/admin.js';
import type { Receipt } from '../generated/dkv/v1/kv.js';
import { CliError, duration, int, parse, type Options } from './args.js';

/** Flags every client command takes. */
const COMMON: Options = {
  addr: { type: 'string' },
  json: { type: 'boolean' },
  timeout: { type: 'string' },
};
const CONSISTENCY: Options = {
  consistency: { type: 'string', short: 'c' },
  r: { type: 'string' },
  w: { type: 'string' },
  strict: { type: 'boolean' },
};

export interface Out {
  out(s: string): void;
  err(s: string): void;
}

type Values = Record<string, string | boolean | undefined>;

function client(v: Values): DkvClient {
  const addr = (v.addr as string | undefined) ?? process.env.DKV_ADDR ?? '127.0.0.1:7001';
  const nodes = addr.split(',').map((s) => s.trim()).filter(Boolean);
  return new DkvClient({ nodes, timeoutMs: v.timeout ? duration(v.timeout as string, '--timeout') : 5_000 });
}

function consistency(v: Values): ConsistencyOptions | undefined {
  const level = v.consistency as string | undefined;
  if (level !== undefined && !['one', 'quorum', 'all'].includes(level)) throw new CliError(`--consistency: expected one, quorum or all, got ${JSON.stringify(level)}`);
  if (level === undefined && v.r === undefined && v.w === undefined && !v.strict) return undefined;
  return { level: level as Level | undefined, r: int(v.r as string | undefined, '--r'), w: int(v.w as string | undefined, '--w'), strict: !!v.strict };
}

function receiptLine(r: Receipt | undefined): string {
  if (!r) return '';
  const reps = r.replicas.map((a) => (a.fallback ? `${a.nodeId}(hint for ${a.hintedFor})` : a.nodeId)).join(', ');
  const repaired = r.readRepaired.length ? `; read repair sent to ${r.readRepaired.join(', ')}` : '';
  const version = r.version ? `; version ${r.version}` : '';
  return `coordinator ${r.coordinator}; ${r.replicas.length}/${r.n} replicas answered (${r.required} required): ${reps}${repaired}${version}`;
}

function receiptJson(r: Receipt | undefined) {
  return r && { coordinator: r.coordinator, required: r.required, n: r.n, replicas: r.replicas, readRepaired: r.readRepaired, ...(r.version ? { version: r.version } : {}) };
}

/** get prints the value (or each sibling); exit code 1 when the key is absent. */
export async function get(argv: string[], io: Out): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...COMMON, ...CONSISTENCY, verbose: { type: 'boolean', short: 'v' } });
  if (p.length !== 1) throw new CliError('usage: dkv get KEY [--consistency one|quorum|all] [--r N] [--strict] [--json]');
  const c = client(v);
  try {
    const r = await c.get(p[0], consistency(v));
    if (v.json) {
      io.out(JSON.stringify({ key: p[0], found: r.values.length > 0, siblings: r.siblings.map((s) => ({ value: s.value.toString('utf8'), expiresAtMs: s.expiresAtMs, writtenAtMs: s.writtenAtMs })), context: r.context.toString('base64'), receipt: receiptJson(r.receipt) }));
    } else if (r.values.length === 1) {
      io.out(r.values[0].toString('utf8'));
    } else if (r.values.length > 1) {
      io.err(`${r.values.length} siblings (concurrent writes); resolve with: dkv put ${p[0]} VALUE --context ${r.context.toString('base64')}`);
      r.values.forEach((val, i) => io.out(`[${i + 1}] ${val.toString('utf8')}`));
    } else {
      io.err(`${p[0]}: not found`);
    }
    if (v.verbose && !v.json) io.err(receiptLine(r.receipt));
    return r.values.length > 0 ? 0 : 1;
  } finally {
    c.close();
  }
}

/** put writes KEY VALUE ("-" reads the value from stdin). */
export async function put(argv: string[], io: Out, stdin: () => Promise<Buffer>): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...COMMON, ...CONSISTENCY, ttl: { type: 'string' }, context: { type: 'string' }, replace: { type: 'boolean' }, verbose: { type: 'boolean', short: 'v' } });
  if (p.length !== 2) throw new CliError('usage: dkv put KEY VALUE|- [--ttl 30s] [--context B64 | --replace] [--consistency ...] [--json]');
  const value = p[1] === '-' ? await stdin() : Buffer.from(p[1], 'utf8');
  const c = client(v);
  try {
    let context: Buffer = v.context !== undefined ? Buffer.from(v.context as string, 'base64') : Buffer.alloc(0);
    if (v.replace) context = (await c.get(p[0], consistency(v))).context;
    const r = await c.put(p[0], value, { context, ttlMs: v.ttl ? duration(v.ttl as string, '--ttl') : 0, consistency: consistency(v) });
    if (v.json) io.out(JSON.stringify({ key: p[0], context: r.context.toString('base64'), receipt: receiptJson(r.receipt) }));
    else io.out(v.verbose ? `OK (${receiptLine(r.receipt)})` : 'OK');
    return 0;
  } finally {
    c.close();
  }
}

/** del deletes KEY (with --context, only what that context saw). */
export async function del(argv: string[], io: Out): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...COMMON, ...CONSISTENCY, context: { type: 'string' }, verbose: { type: 'boolean', short: 'v' } });
  if (p.length !== 1) throw new CliError('usage: dkv del KEY [--context B64] [--consistency ...] [--json]');
  const c = client(v);
  try {
    // Without an explicit context, delete what a read sees now (what a user means by "del").
    const context = v.context !== undefined ? Buffer.from(v.context as string, 'base64') : (await c.get(p[0], consistency(v))).context;
    const r = await c.delete(p[0], { context, consistency: consistency(v) });
    if (v.json) io.out(JSON.stringify({ key: p[0], receipt: receiptJson(r.receipt) }));
    else io.out(v.verbose ? `OK (${receiptLine(r.receipt)})` : 'OK');
    return 0;
  } finally {
    c.close();
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const liveName = (l: Liveness) => (Liveness[l] ?? 'UNKNOWN').replace('LIVENESS_', '').toLowerCase();
const statusName = (s: MemberStatus) => (MemberStatus[s] ?? 'UNKNOWN').replace('MEMBER_STATUS_', '').toLowerCase();

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

export function formatStatus(s: StatusResponse): string {
  const head = [
    `node ${s.nodeId} (dkv ${s.version}, incarnation ${s.incarnation}, up ${Math.round(s.uptimeMs / 1000)}s, fsync ${s.fsync})`,
    `N=${s.n} (in force: ${s.effectiveN})  ring checksum ${s.ringChecksum.slice(0, 16) || '-'}  disk ${s.diskBytes} B  cache hit ratio ${pct(s.cacheHitRatio)}`,
  ];
  const rows = [['NODE', 'ADDRESS', 'ZONE', 'WEIGHT', 'STATUS', 'LIVENESS', 'TOKENS', 'OWNS', 'HEARTBEAT']];
  for (const m of s.members) rows.push([m.nodeId, m.address, m.zone || '-', m.pendingWeight ? `${m.weight} -> ${m.pendingWeight}` : String(m.weight), statusName(m.status), liveName(m.liveness), String(m.tokens), pct(m.ownership), String(m.heartbeat)]);
  const hints = s.hints.map((h) => `hints for ${h.target}: ${h.count} writes, ${h.bytes} B, oldest ${Math.round(h.oldestAgeMs / 1000)}s`);
  const ops = s.operations.map((o) => `${o.kind} ${o.state}: ${o.done}/${o.total} ${o.message}`);
  const warn = s.warnings.map((w) => `WARNING: ${w}`);
  return [...head, '', table(rows), ...(hints.length ? ['', ...hints] : []), ...(ops.length ? ['', ...ops] : []), ...(warn.length ? ['', ...warn] : [])].join('\n');
}

export function formatRing(r: RingResponse): string {
  const rows = [['NODE', 'ZONE', 'WEIGHT', 'STATUS', 'TOKENS', 'PRIMARY SHARE', 'REPLICA SHARE']];
  for (const n of r.nodes) rows.push([n.nodeId, n.zone || '-', String(n.weight), statusName(n.status), String(n.tokens.length), pct(n.ownership), pct(n.replicatedOwnership)]);
  const shares = r.nodes.map((n) => n.ownership / n.weight);
  const mean = shares.reduce((a, b) => a + b, 0) / Math.max(1, shares.length);
  const balance = shares.length ? `balance (max/mean share per unit of weight): ${(Math.max(...shares) / mean).toFixed(3)}` : 'the ring is empty';
  return [`ring checksum ${r.checksum || '-'}  N=${r.n}  ${r.nodes.length} node(s)`, '', table(rows), '', balance].join('\n');
}

export async function status(argv: string[], io: Out): Promise<number> {
  const { values: v } = parse(argv, COMMON);
  const c = client(v);
  try {
    const s = await c.status();
    io.out(v.json ? JSON.stringify(s) : formatStatus(s));
    return 0;
  } finally {
    c.close();
  }
}

export async function ring(argv: string[], io: Out): Promise<number> {
  const { values: v } = parse(argv, { ...COMMON, 'plan-join': { type: 'string' }, weight: { type: 'string' }, zone: { type: 'string' } });
  const c = client(v);
  try {
    if (v['plan-join'] !== undefined) {
      const weight = v.weight === undefined ? 1 : Number(v.weight);
      if (!Number.isFinite(weight)) throw new CliError(`--weight: expected a number, got ${JSON.stringify(v.weight)}`);
      const r = await c.planJoin(v['plan-join'] as string, { weight, zone: (v.zone as string | undefined) ?? '' });
      if (v.json) io.out(JSON.stringify(r));
      else io.out([`plan: ${v['plan-join']} (weight ${weight}) joining now would take:`, ...r.plan.map((l) => `  ${l}`), summaryLine(r.size), '(the node draws its own tokens when it starts: its real ranges differ, their number and sizes are what to expect)'].join('\n'));
      return 0;
    }
    const r = await c.ring();
    io.out(v.json ? JSON.stringify(r) : formatRing(r));
    return 0;
  } finally {
    c.close();
  }
}

export { DkvRequestError };

/** bar draws a progress bar for done/total. */
function bar(done: number, total: number, width = 30): string {
  const f = total === 0 ? 1 : Math.min(1, done / total);
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}] ${Math.round(f * 100)}%`;
}

/** repair runs one Merkle anti-entropy pass on the node, with a progress bar and a summary. */
export async function repair(argv: string[], io: Out): Promise<number> {
  const { values: v } = parse(argv, { ...COMMON, peer: { type: 'string' } });
  const c = client(v);
  const tty = process.stderr.isTTY;
  try {
    const s = await c.repair((p) => {
      if (v.json || p.done) return;
      const line = `${bar(p.rangesDone, p.rangesTotal)} ${p.rangesDone}/${p.rangesTotal} ranges, ${p.keysRepaired} keys repaired, ${p.bytesExchanged} B`;
      if (tty) process.stderr.write(`\r${line}`);
      else io.err(line);
    }, { peer: v.peer as string | undefined, timeoutMs: v.timeout ? duration(v.timeout as string, '--timeout') : undefined });
    if (tty && !v.json) process.stderr.write('\n');
    io.out(v.json ? JSON.stringify(s) : `repair done: ${s.message}`);
    return 0;
  } finally {
    c.close();
  }
}

/** watch prints events as they come: dkv watch KEY | --prefix P [--from TOKEN]. */
export async function watch(argv: string[], io: Out): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...COMMON, prefix: { type: 'string' }, from: { type: 'string' }, count: { type: 'string' } });
  if ((p.length === 1) === (v.prefix !== undefined)) throw new CliError('usage: dkv watch KEY | --prefix PREFIX [--from TOKEN] [--count N] [--json]');
  const c = client(v);
  const max = int(v.count as string | undefined, '--count');
  let n = 0;
  try {
    const target = p.length === 1 ? { key: p[0] } : { prefix: v.prefix as string };
    for await (const e of c.watch(target, { from: v.from ? Buffer.from(v.from as string, 'base64') : undefined })) {
      const token = e.token.toString('base64');
      if (v.json) io.out(JSON.stringify({ kind: e.kind, key: e.key.toString('utf8'), values: e.values.map((x) => x.toString('utf8')), deleted: e.deleted, context: e.context.toString('base64'), token }));
      else if (e.kind === 'created') io.err(`watching ${p[0] ?? `prefix ${JSON.stringify(v.prefix)}`} (resume token ${token})`);
      else if (e.kind === 'resync') io.out(`RESYNC_REQUIRED: changes were missed; re-read the keys you care about`);
      else io.out(`${e.kind.toUpperCase()} ${e.key.toString('utf8')}${e.values.length ? ' ' + e.values.map((x) => x.toString('utf8')).join(' | ') : ''}${e.kind === 'put' && e.deleted ? ' (merged a concurrent delete)' : ''}`);
      if (e.kind !== 'created' && max !== undefined && ++n >= max) break;
    }
    return 0;
  } finally {
    c.close();
  }
}

/** nodeAddress finds a member's address from the --addr node's status. */
async function nodeAddress(v: Values, id: string): Promise<{ address: string; nodeId: string; status: StatusResponse }> {
  const c = client(v);
  try {
    const s = await c.status();
    const m = s.members.find((x) => x.nodeId === id || x.address === id);
    if (!m) throw new CliError(`no member named ${JSON.stringify(id)}; members: ${s.members.map((x) => x.nodeId).join(', ')}`);
    return { address: m.address, nodeId: m.nodeId, status: s };
  } finally {
    c.close();
  }
}

/** decommission NODE: the node streams its ranges away, with a progress bar, then leaves. */
export async function decommission(argv: string[], io: Out): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...COMMON, 'dry-run': { type: 'boolean' } });
  if (p.length !== 1) throw new CliError('usage: dkv decommission NODE [--dry-run]');
  const { address } = await nodeAddress(v, p[0]);
  const c = new DkvClient({ nodes: [address], timeoutMs: 10_000 });
  try {
    const r = await c.decommission(!!v['dry-run']);
    io.out(`${v['dry-run'] ? 'would move' : 'moving'}:\n  ${r.plan.join('\n  ')}`);
    if (v['dry-run']) return 0;
    for (;;) {
      const { s, me, op } = await follow(c, 'decommission', io);
      if (me?.status === MemberStatus.MEMBER_STATUS_LEFT) {
        await untilPeersSeeLeft(s.nodeId, s.members, io);
        io.out(`${s.nodeId} has LEFT the ring: ${op?.message ?? ''}; stop it now, then run dkv cleanup on the others`);
        return 0;
      }
    }
  } finally {
    c.close();
  }
}

/**
 * follow waits half a second, then prints the progress bar of the node's latest operation of
 * `kind` (and a failed attempt, which the node retries by itself); returns what it read.
 */
async function follow(c: DkvClient, kind: string, io: Out) {
  await new Promise((res) => setTimeout(res, 500));
  const s = await c.status();
  const me = s.members.find((m) => m.nodeId === s.nodeId);
  const op = s.operations.filter((o) => o.kind === kind).pop();
  if (op) io.err(`${bar(Number(op.done), Number(op.total))} ${op.done}/${op.total} ranges, ${op.bytes} B, ${Math.round(op.rateBytesPerS)} B/s, ~${Math.round(Number(op.etaMs) / 1000)}s left`);
  if (op?.state === 'failed') io.err(`an attempt failed: ${op.message}; the node retries from its last confirmed keys (Ctrl-C leaves it running)`);
  return { s, me, op };
}

/**
 * untilPeersSeeLeft waits until one other live member reports `id` as LEFT (gossip spreads it
 * from there), so stopping the node right after cannot leave it LEAVING in the others' rings.
 */
async function untilPeersSeeLeft(id: string, members: Member[], io: Out): Promise<void> {
  const peers = members.filter((m) => m.nodeId !== id && m.status === MemberStatus.MEMBER_STATUS_NORMAL && m.address);
  if (peers.length === 0) return;
  for (let attempt = 0; attempt < 120; attempt++) {
    for (const peer of peers) {
      const c = new DkvClient({ nodes: [peer.address], timeoutMs: 2_000 });
      try {
        const view = (await c.status()).members.find((m) => m.nodeId === id);
        if (view?.status === MemberStatus.MEMBER_STATUS_LEFT) return;
      } catch {
        // try the next peer
      } finally {
        c.close();
      }
    }
    if (attempt % 10 === 0) io.err(`waiting for the other nodes to see ${id} LEFT`);
    await new Promise((res) => setTimeout(res, 500));
  }
  io.err(`no other node reports ${id} LEFT after 60 s; check dkv status on them before stopping it`);
}

/** summaryLine sums a plan: ring share, keys and bytes. */
function summaryLine(s: { share: number; keys: number; bytes: number } | undefined): string {
  return s ? `in all: ${pct(s.share)} of the ring, ~${s.keys} keys, ~${s.bytes} B` : '';
}

/** setWeight NODE W [--dry-run]: reweigh a node online, with a progress bar. */
export async function setWeight(argv: string[], io: Out): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...COMMON, 'dry-run': { type: 'boolean' } });
  if (p.length !== 2) throw new CliError('usage: dkv set-weight NODE WEIGHT [--dry-run]');
  const weight = Number(p[1]);
  if (!Number.isFinite(weight) || weight <= 0 || weight > 100) throw new CliError(`WEIGHT: expected a number in (0, 100], got ${JSON.stringify(p[1])}`);
  const { address, nodeId } = await nodeAddress(v, p[0]);
  const c = new DkvClient({ nodes: [address], timeoutMs: 10_000 });
  try {
    const r = await c.setWeight(weight, { dryRun: !!v['dry-run'], nodeId });
    if (v.json && v['dry-run']) {
      io.out(JSON.stringify(r));
      return 0;
    }
    io.out(`${v['dry-run'] ? 'would move' : 'moving'} (${r.tokensBefore} -> ${r.tokensAfter} tokens):\n  ${r.plan.join('\n  ')}\n${summaryLine(r.size)}`);
    if (v['dry-run']) return 0;
    for (;;) {
      const { s, me, op } = await follow(c, 'reweigh', io);
      if (me && me.weight === weight && (!op || op.state === 'done')) {
        io.out(`${s.nodeId} now has weight ${weight} and ${me.tokens} tokens${op ? `: ${op.message}` : ''}; the old replicas delete what they gave up after --cleanup-grace (or run dkv cleanup --all)`);
        return 0;
      }
    }
  } finally {
    c.close();
  }
}

/** removenode NODE: remove a dead node; every other node re-replicates its ranges. */
export async function removenode(argv: string[], io: Out): Promise<number> {
  const { values: v, positionals: p } = parse(argv, { ...COMMON, 'dry-run': { type: 'boolean' } });
  if (p.length !== 1) throw new CliError('usage: dkv removenode NODE [--dry-run]');
  const { status: s } = await nodeAddress(v, p[0]);
  const c = client(v);
  try {
    const r = await c.removeNode(p[0], !!v['dry-run']);
    io.out(`${v['dry-run'] ? 'would re-replicate' : 're-replicating'}:\n  ${r.plan.join('\n  ')}`);
    if (v['dry-run']) return 0;
    io.out(`${s.nodeId}: ${r.operation?.message ?? ''}`);
    for (const m of s.members.filter((x) => x.nodeId !== p[0] && x.nodeId !== s.nodeId && x.liveness === Liveness.LIVENESS_UP)) {
      const other = new DkvClient({ nodes: [m.address], timeoutMs: 10_000 });
      try {
        const done = await other.repair((pr) => io.err(`${m.nodeId} ${bar(pr.rangesDone, pr.rangesTotal)}`));
        io.out(`${m.nodeId}: ${done.message}`);
      } finally {
        other.close();
      }
    }
    return 0;
  } finally {
    c.close();
  }
}

/** cleanup: delete what the node (or, with --all, every node) no longer replicates. */
export async function cleanup(argv: string[], io: Out): Promise<number> {
  const { values: v } = parse(argv, { ...COMMON, all: { type: 'boolean' } });
  const c = client(v);
  try {
    const targets = v.all ? (await c.status()).members.filter((m) => m.liveness === Liveness.LIVENESS_UP && m.status === MemberStatus.MEMBER_STATUS_NORMAL).map((m) => m.address) : [undefined];
    for (const t of targets) {
      const one = t ? new DkvClient({ nodes: [t], timeoutMs: 10_000 }) : c;
      try {
        const r = await one.cleanup();
        io.out(`${t ?? 'node'}: ${r.operation?.message ?? 'done'}`);
      } finally {
        if (t) one.close();
      }
    }
    return 0;
  } finally {
    c.close();
  }
}
