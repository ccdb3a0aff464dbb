import { invalidArgument } from '../errors.js';
import type { MemberState as WireMember, ForwardRequest, ForwardResponse, Purpose as WirePurpose } from '../generated/dkv/internode/v1/internode.js';
import { Purpose as P } from '../generated/dkv/internode/v1/internode.js';
import { ConsistencyLevel, type Consistency, type Receipt as WireReceipt } from '../generated/dkv/v1/kv.js';
import { MEMBER_STATUSES, type MemberState, type MemberStatus } from '../membership/member-table.js';
import type { Receipt } from '../coordinator/receipt.js';
import type { ConsistencyRequest } from '../coordinator/quorum.js';
import { decodeContext, encodeContext } from '../storage/record-codec.js';
import type { ForwardOp, ForwardResult, Purpose } from './peer-transport.js';
import { validateConsistency, validateContext, validateKey, validateTtl, validateValue, type Limits } from '../api/validate.js';

/** Conversions between domain types and dkv.internode.v1 messages (both directions). */

export const PROTOCOL_VERSION = 1;

const PURPOSES: ReadonlyArray<[Purpose, WirePurpose]> = [
  ['write', P.PURPOSE_WRITE],
  ['read-repair', P.PURPOSE_READ_REPAIR],
  ['hint', P.PURPOSE_HINT],
  ['anti-entropy', P.PURPOSE_ANTI_ENTROPY],
  ['stream', P.PURPOSE_STREAM],
];

export function purposeToWire(p: Purpose): WirePurpose {
  return PURPOSES.find(([d]) => d === p)![1];
}

export function purposeFromWire(p: WirePurpose): Purpose {
  if (p === P.PURPOSE_UNSPECIFIED) return 'write';
  const found = PURPOSES.find(([, w]) => w === p);
  if (!found) throw invalidArgument('purpose', `unknown purpose ${p}`);
  return found[0];
}

export function memberToWire(m: MemberState): WireMember {
  const { pendingTokens, pendingWeight, ...rest } = m;
  return { ...rest, tokens: [...m.tokens], suspects: [...m.suspects], pendingTokens: [...(pendingTokens ?? [])], pendingWeight: pendingTokens?.length ? (pendingWeight ?? 0) : 0 };
}

/** memberFromWire decodes a gossiped row; a row with an unknown status is refused (undefined). */
export function memberFromWire(m: WireMember): MemberState | undefined {
  if (!MEMBER_STATUSES.includes(m.status as MemberStatus)) return undefined;
  const status = m.status as MemberStatus;
  return { nodeId: m.nodeId, address: m.address, zone: m.zone, weight: m.weight, tokens: m.tokens, status, incarnation: m.incarnation, version: m.version, heartbeat: m.heartbeat, suspects: m.suspects, ...(m.pendingTokens.length > 0 ? { pendingTokens: m.pendingTokens, pendingWeight: m.pendingWeight } : {}) };
}

export function consistencyToWire(c: ConsistencyRequest): Consistency {
  const level =
    c.level === 'one'
      ? ConsistencyLevel.CONSISTENCY_LEVEL_ONE
      : c.level === 'quorum'
        ? ConsistencyLevel.CONSISTENCY_LEVEL_QUORUM
        : c.level === 'all'
          ? ConsistencyLevel.CONSISTENCY_LEVEL_ALL
          : ConsistencyLevel.CONSISTENCY_LEVEL_UNSPECIFIED;
  return { level, r: c.r ?? 0, w: c.w ?? 0, strict: c.strict };
}

export function forwardToWire(from: string, op: ForwardOp, hops: number): ForwardRequest {
  const consistency = consistencyToWire(op.consistency);
  const context = encodeContext(op.context);
  return op.kind === 'put'
    ? { protocolVersion: PROTOCOL_VERSION, from, hops, put: { key: op.key, value: op.value, context, ttlMs: op.ttlMs, consistency } }
    : { protocolVersion: PROTOCOL_VERSION, from, hops, delete: { key: op.key, context, consistency } };
}

/**
 * forwardFromWire decodes a forwarded client write and validates it exactly as the client
 * API does (a peer's request gets no more trust than a client's).
 */
export function forwardFromWire(req: ForwardRequest, limits: Limits): ForwardOp {
  if (req.put && req.delete) throw invalidArgument('put', 'a forwarded write carries put or delete, not both');
  if (req.put) {
    const p = req.put;
    const key = validateKey(p.key, limits);
    return { kind: 'put', key, value: validateValue(key, p.value, limits), context: validateContext(p.context), ttlMs: validateTtl(p.ttlMs), consistency: validateConsistency(p.consistency) };
  }
  if (req.delete) {
    const d = req.delete;
    return { kind: 'delete', key: validateKey(d.key, limits), context: validateContext(d.context), consistency: validateConsistency(d.consistency) };
  }
  throw invalidArgument('put', 'a forwarded write needs put or delete');
}

export function receiptToWire(r: Receipt): WireReceipt {
  return {
    coordinator: r.coordinator,
    required: r.required,
    n: r.n,
    readRepaired: r.readRepaired,
    replicas: r.replicas.map((a) => ({ nodeId: a.nodeId, fallback: a.fallback, hintedFor: a.hintedFor ?? '' })),
    version: r.version ?? '',
  };
}

export function receiptFromWire(r: WireReceipt | undefined): Receipt {
  return {
    coordinator: r?.coordinator ?? '',
    required: r?.required ?? 0,
    n: r?.n ?? 0,
    readRepaired: r?.readRepaired ?? [],
    replicas: (r?.replicas ?? []).map((a) => ({ nodeId: a.nodeId, fallback: a.fallback, hintedFor: a.hintedFor || undefined })),
    ...(r?.version ? { version: r.version } : {}),
  };
}

export function forwardResultToWire(kind: 'put' | 'delete', r: ForwardResult): ForwardResponse {
  const receipt = receiptToWire(r.receipt);
  return kind === 'put' ? { put: { context: encodeContext(r.context), receipt } } : { delete: { receipt } };
}

export function forwardResultFromWire(res: ForwardResponse): ForwardResult {
  if (res.put) return { context: decodeContext(res.put.context), receipt: receiptFromWire(res.put.receipt) };
  return { context: new Map(), receipt: receiptFromWire(res.delete?.receipt) };
}
