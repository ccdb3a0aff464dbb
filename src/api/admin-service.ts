import type { sendUnaryData, ServerUnaryCall, ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import { DkvError } from '../errors.js';
import {
  Liveness,
  MemberStatus,
  type AdminServer,
  type DecommissionRequest,
  type JoinRequest,
  type RemoveNodeRequest,
  type RepairRequest,
  type RepairResponse,
  type RingResponse,
  type SetWeightRequest,
  type PlanSize as WirePlanSize,
  type StatusResponse,
} from '../generated/dkv/v1/admin.js';
import type { DkvNode } from '../node/node.js';
import type { ChangePlan } from '../node/topology.js';
import type { MemberStatus as DomainStatus } from '../membership/member-table.js';
import type { Liveness as DomainLiveness } from '../membership/membership.js';
import { ownership, replicatedOwnership } from '../ring/ownership.js';
import { toServiceError } from './status.js';
import { describeMoves, moves } from '../rebalance/plan.js';

export const DKV_VERSION = '0.1.0';

const STATUS: Record<DomainStatus, MemberStatus> = {
  joining: MemberStatus.MEMBER_STATUS_JOINING,
  normal: MemberStatus.MEMBER_STATUS_NORMAL,
  leaving: MemberStatus.MEMBER_STATUS_LEAVING,
  left: MemberStatus.MEMBER_STATUS_LEFT,
};
const LIVENESS: Record<DomainLiveness, Liveness> = {
  up: Liveness.LIVENESS_UP,
  suspect: Liveness.LIVENESS_SUSPECT,
  down: Liveness.LIVENESS_DOWN,
};

/** statusOf builds Admin.Status from a node's current state. */
export async function statusOf(node: DkvNode): Promise<StatusResponse> {
  const ring = node.membership.ring();
  const own = ownership(ring);
  const effectiveN = Math.min(node.config.n, ring.ownerCount);
  const warnings: string[] = [];
  if (ring.ownerCount === 0) warnings.push('this node has not joined a ring yet: requests fail with UNAVAILABLE');
  else if (ring.ownerCount < node.config.n)
    warnings.push(`the cluster has ${ring.ownerCount} node(s) owning data, fewer than N=${node.config.n}: every key has only ${effectiveN} replica(s)`);
  const members = node.membership.members().map((m) => ({
    nodeId: m.nodeId,
    address: m.address,
    zone: m.zone,
    weight: m.weight,
    status: STATUS[m.status],
    liveness: LIVENESS[node.membership.liveness(m.nodeId)],
    incarnation: m.incarnation,
    heartbeat: m.heartbeat,
    tokens: m.tokens.length,
    ownership: own.get(m.nodeId) ?? 0,
    pendingWeight: m.pendingTokens?.length ? (m.pendingWeight ?? 0) : 0,
  }));
  for (const m of members) if (m.liveness !== Liveness.LIVENESS_UP) warnings.push(`${m.nodeId} is ${Liveness[m.liveness].replace('LIVENESS_', '').toLowerCase()}`);
  const st = node.store.stats();
  const lookups = st.cache.hits + st.cache.misses;
  return {
    nodeId: node.id,
    version: DKV_VERSION,
    n: node.config.n,
    effectiveN,
    ringChecksum: ring.ownerCount > 0 ? ring.checksum() : '',
    members,
    keys: 0,
    diskBytes: await node.store.approximateDiskBytes().catch(() => 0),
    hints: ((await node.hints?.backlogs()) ?? []).map((h) => ({ target: h.target, count: h.count, bytes: h.bytes, oldestAgeMs: h.oldestMs })),
    operations: node.rebalancer.operations().map((o) => ({ kind: o.kind, state: o.state, done: o.done, total: o.total, bytes: o.bytes, rateBytesPerS: o.rateBytesPerS, etaMs: o.etaMs, message: o.message })),
    warnings,
    uptimeMs: Math.round(node.clock.monotonic() - node.startedAt),
    incarnation: node.store.incarnation,
    fsync: node.config.fsync,
    cacheHitRatio: lookups === 0 ? 0 : st.cache.hits / lookups,
  };
}

/** ringOf builds Admin.Ring. */
export function ringOf(node: DkvNode): RingResponse {
  const ring = node.membership.ring();
  const own = ownership(ring);
  const rep = replicatedOwnership(ring, Math.min(node.config.n, Math.max(1, ring.ownerCount)));
  return {
    checksum: ring.ownerCount > 0 ? ring.checksum() : '',
    n: node.config.n,
    nodes: ring.nodes().map((r) => ({
      nodeId: r.id,
      zone: r.zone,
      weight: r.weight,
      tokens: [...r.tokens],
      ownership: own.get(r.id) ?? 0,
      replicatedOwnership: rep.get(r.id) ?? 0,
      status: STATUS[node.membership.member(r.id)?.status ?? 'normal'],
    })),
  };
}

/** planLines renders a sized plan: one line per move with its keys and bytes. */
function planLines(p: ChangePlan): string[] {
  return describeMoves(p.moves, (_m, i) => {
    const s = p.size.sizes[i];
    return `${s.estimated ? '~' : ''}${s.keys} keys, ${s.estimated ? '~' : ''}${s.bytes} B${s.estimated ? ' (estimated from this node\'s key density)' : ''}`;
  });
}

function planSize(p: ChangePlan): WirePlanSize {
  return { share: p.size.share, keys: p.size.keys, bytes: p.size.bytes };
}

/** adminService implements dkv.v1.Admin. Operations not built yet answer UNIMPLEMENTED, saying so. */
export function adminService(node: DkvNode): AdminServer & UntypedServiceImplementation {
  const unary =
    <Req, Res>(fn: (req: Req) => Promise<Res> | Res) =>
    (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
      Promise.resolve()
        .then(() => fn(call.request))
        .then(
          (res) => cb(null, res),
          (e) => cb(toServiceError(e), null),
        );
    };
  return {
    status: unary(() => statusOf(node)),
    ring: unary(() => ringOf(node)),
    join: unary(async (req: JoinRequest) => {
      const me = node.membership.selfState();
      if (req.dryRun && req.nodeId && req.nodeId !== node.id) {
        const plan = await node.planJoin(req.nodeId, req.weight === 0 ? 1 : req.weight, req.zone);
        return { plan: planLines(plan), operation: undefined, size: planSize(plan) };
      }
      if (me.tokens.length > 0)
        throw new DkvError('FAILED_PRECONDITION', `${node.id} is already a member (${me.status}); a new node joins by starting it with --seeds ${req.seeds.join(',') || 'HOST:PORT'}`);
      return { plan: describeMoves(node.rebalancer.plannedMoves('join')), operation: undefined, size: undefined };
    }),
    decommission: unary(async (req: DecommissionRequest) => {
      if (req.nodeId && req.nodeId !== node.id) {
        const addr = node.membership.address(req.nodeId);
        throw new DkvError('FAILED_PRECONDITION', `send Decommission to ${req.nodeId} itself${addr ? ` at ${addr}` : ''} (dkv decommission does this for you)`);
      }
      const plan = describeMoves(node.rebalancer.plannedMoves('decommission'));
      if (!req.dryRun) await node.decommission();
      return { plan, operation: undefined };
    }),
    setWeight: unary(async (req: SetWeightRequest) => {
      if (req.nodeId && req.nodeId !== node.id) {
        const addr = node.membership.address(req.nodeId);
        if (!addr) throw new DkvError('NOT_FOUND', `no member named ${JSON.stringify(req.nodeId)}`);
        throw new DkvError('FAILED_PRECONDITION', `send SetWeight to ${req.nodeId} itself at ${addr} (dkv set-weight does this for you)`);
      }
      const before = node.membership.selfState().tokens.length;
      const plan = req.dryRun ? await node.planReweigh(req.weight) : await node.setWeight(req.weight);
      return { plan: planLines(plan), size: planSize(plan), tokensBefore: before, tokensAfter: plan.tokens.length };
    }),
    removeNode: unary(async (req: RemoveNodeRequest) => {
      const target = node.membership.member(req.nodeId);
      if (!target) throw new DkvError('NOT_FOUND', `no member named ${JSON.stringify(req.nodeId)}`);
      if (req.nodeId === node.id) throw new DkvError('FAILED_PRECONDITION', 'a node cannot remove itself: decommission it instead');
      if (node.membership.liveness(req.nodeId) === 'up') throw new DkvError('FAILED_PRECONDITION', `${req.nodeId} is up: decommission a live node instead of removing it`);
      node.refuseWhileChanging(req.nodeId);
      const cur = node.membership.ring();
      const plan = describeMoves(moves(cur, cur.withoutNode(req.nodeId), node.config.n));
      if (req.dryRun) return { plan, operation: undefined };
      const op = await node.rebalancer.removeNode(req.nodeId);
      return { plan, operation: { kind: op.kind, state: op.state, done: op.done, total: op.total, bytes: op.bytes, rateBytesPerS: 0, etaMs: 0, message: op.message } };
    }),
    cleanup: unary(async () => {
      const op = await node.rebalancer.cleanup();
      return { operation: { kind: op.kind, state: op.state, done: op.done, total: op.total, bytes: 0, rateBytesPerS: 0, etaMs: 0, message: op.message } };
    }),
    repair: (call: ServerWritableStream<RepairRequest, RepairResponse>) => {
      let last = 0;
      node.antiEntropy
        .repair((p) => {
          // Progress at most every 100 ms, and always the final summary.
          const now = node.clock.monotonic();
          if (!p.done && now - last < 100) return;
          last = now;
          call.write({ rangesDone: p.rangesDone, rangesTotal: p.rangesTotal, keysCompared: p.keysCompared, keysRepaired: p.keysRepaired, bytesExchanged: p.bytesExchanged, done: p.done, message: p.message });
        }, call.request.peer || undefined)
        .then(
          () => call.end(),
          (e) => call.emit('error', toServiceError(e)),
        );
    },
  };
}
